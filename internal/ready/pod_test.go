package ready

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var now = time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC) // 60s after the fixtures' transitions

const grace = 30 * time.Second

func TestPodDoomed(t *testing.T) {
	cases := []struct {
		name   string
		pod    string
		grace  time.Duration // default: grace
		doomed bool
		reason string // the exact reason
	}{{
		name: "CrashLoopBackOff",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Running
  containerStatuses:
  - {name: sidecar, ready: true, state: {running: {}}}
  - name: api
    restartCount: 3
    state: {waiting: {reason: CrashLoopBackOff, message: back-off 10s restarting failed container}}
`,
		doomed: true,
		reason: `container "api" CrashLoopBackOff (restarts: 3): back-off 10s restarting failed container`,
	}, {
		// The reason the container crashed: its last exit and the first
		// line of its termination message.
		name: "CrashLoopBackOff with a termination message",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: datastorage-x}
status:
  phase: Running
  containerStatuses:
  - name: datastorage
    restartCount: 1
    state: {waiting: {reason: CrashLoopBackOff, message: back-off 10s restarting failed container}}
    lastState: {terminated: {exitCode: 1, reason: Error, message: "\nschema missing: relation \"audit_events\" does not exist\nsecond line"}}
`,
		doomed: true,
		reason: `container "datastorage" CrashLoopBackOff (restarts: 1): back-off 10s restarting failed container; last exit 1: schema missing: relation "audit_events" does not exist`,
	}, {
		name: "ImagePullBackOff",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  containerStatuses:
  - name: api
    state: {waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image "api:typo"'}}
`,
		doomed: true,
		reason: `container "api" ImagePullBackOff: Back-off pulling image "api:typo"`,
	}, {
		name: "ErrImagePull without message",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  containerStatuses: [{name: api, state: {waiting: {reason: ErrImagePull}}}]
`,
		doomed: true,
		reason: `container "api" ErrImagePull`,
	}, {
		name: "ErrImageNeverPull",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  containerStatuses: [{name: api, state: {waiting: {reason: ErrImageNeverPull, message: 'Container image "api:dev" is not present with pull policy of Never'}}}]
`,
		doomed: true,
		reason: `container "api" ErrImageNeverPull: Container image "api:dev" is not present with pull policy of Never`,
	}, {
		name: "InvalidImageName",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  containerStatuses: [{name: api, state: {waiting: {reason: InvalidImageName, message: 'couldn''t parse image name "API:x"'}}}]
`,
		doomed: true,
		reason: `container "api" InvalidImageName: couldn't parse image name "API:x"`,
	}, {
		name: "init container CrashLoopBackOff",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  initContainerStatuses:
  - {name: migrate, restartCount: 5, state: {waiting: {reason: CrashLoopBackOff, message: back-off 2m40s}}}
  containerStatuses:
  - {name: api, state: {waiting: {reason: PodInitializing}}}
`,
		doomed: true,
		reason: `init container "migrate" CrashLoopBackOff (restarts: 5): back-off 2m40s`,
	}, {
		name: "CreateContainerConfigError",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  containerStatuses: [{name: api, state: {waiting: {reason: CreateContainerConfigError, message: 'configmap "cfg" not found'}}}]
`,
		doomed: true,
		reason: `container "api" CreateContainerConfigError: configmap "cfg" not found`,
	}, {
		name: "ContainerCreating is not doomed",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  containerStatuses: [{name: api, state: {waiting: {reason: ContainerCreating}}}]
`,
	}, {
		name: "running and ready is not doomed",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
  containerStatuses: [{name: api, ready: true, restartCount: 1, state: {running: {}}}]
`,
	}, {
		name: "unschedulable within grace",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x, creationTimestamp: "2026-01-01T00:00:00Z"}
status:
  phase: Pending
  conditions:
  - {type: PodScheduled, status: "False", reason: Unschedulable, lastTransitionTime: "2026-01-01T00:00:45Z", message: "0/1 nodes are available: 1 Insufficient cpu."}
`,
	}, {
		name: "unschedulable after grace",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x, creationTimestamp: "2026-01-01T00:00:00Z"}
status:
  phase: Pending
  conditions:
  - {type: PodScheduled, status: "False", reason: Unschedulable, lastTransitionTime: "2026-01-01T00:00:00Z", message: "0/1 nodes are available: 1 Insufficient cpu."}
`,
		doomed: true,
		reason: "unschedulable for 1m0s: 0/1 nodes are available: 1 Insufficient cpu.",
	}, {
		name: "unschedulable exactly at grace is not yet doomed",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  conditions:
  - {type: PodScheduled, status: "False", reason: Unschedulable, lastTransitionTime: "2026-01-01T00:00:30Z"}
`,
	}, {
		name: "unschedulable without lastTransitionTime: creationTimestamp",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x, creationTimestamp: "2026-01-01T00:00:00Z"}
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: "False", reason: Unschedulable}]
`,
		doomed: true,
		reason: "unschedulable for 1m0s",
	}, {
		name: "unschedulable with no time at all: cannot tell",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: "False", reason: Unschedulable}]
`,
	}, {
		name: "unschedulable, short grace",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: "False", reason: Unschedulable, lastTransitionTime: "2026-01-01T00:00:59Z"}]
`,
		grace:  500 * time.Millisecond,
		doomed: true,
		reason: "unschedulable for 1s",
	}, {
		name: "being deleted is not doomed",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x, deletionTimestamp: "2026-01-01T00:00:50Z"}
status:
  phase: Running
  containerStatuses: [{name: api, state: {waiting: {reason: CrashLoopBackOff}}}]
`,
	}, {
		name: "finished pod is not doomed",
		pod: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Failed
  containerStatuses: [{name: api, state: {waiting: {reason: CrashLoopBackOff}}}]
`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := grace
			if tc.grace != 0 {
				g = tc.grace
			}
			doomed, reason := PodDoomed(y2u(t, tc.pod), now, g)
			if doomed != tc.doomed || reason != tc.reason {
				t.Errorf("PodDoomed = %v, %q; want %v, %q", doomed, reason, tc.doomed, tc.reason)
			}
		})
	}
}

func TestWithDoomedPods(t *testing.T) {
	const (
		healthy = `
apiVersion: v1
kind: Pod
metadata: {name: api-7d9f8-aaaaa}
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
  containerStatuses: [{name: api, ready: true, state: {running: {}}}]
`
		crashing = `
apiVersion: v1
kind: Pod
metadata: {name: api-7d9f8-bbbbb}
status:
  phase: Running
  containerStatuses:
  - {name: api, restartCount: 3, state: {waiting: {reason: CrashLoopBackOff, message: back-off 10s restarting failed container}}}
`
		pulling = `
apiVersion: v1
kind: Pod
metadata: {name: api-7d9f8-ccccc}
status:
  phase: Pending
  containerStatuses: [{name: api, state: {waiting: {reason: ImagePullBackOff}}}]
`
		pulling2 = `
apiVersion: v1
kind: Pod
metadata: {name: api-7d9f8-ddddd}
status:
  phase: Pending
  containerStatuses: [{name: api, state: {waiting: {reason: ImagePullBackOff}}}]
`
		terminating = `
apiVersion: v1
kind: Pod
metadata: {name: api-5c8aa-aaaaa, deletionTimestamp: "2026-01-01T00:00:30Z"}
status:
  phase: Running
  containerStatuses: [{name: api, state: {waiting: {reason: CrashLoopBackOff}}}]
`
	)
	waiting := inProgress("1/3 replicas ready")
	cases := []struct {
		name     string
		workload Result
		pods     []string
		want     Result
	}{{
		name:     "no pods",
		workload: waiting,
		want:     waiting,
	}, {
		name:     "healthy pods",
		workload: waiting,
		pods:     []string{healthy},
		want:     waiting,
	}, {
		name:     "a doomed pod fails the workload",
		workload: waiting,
		pods:     []string{healthy, crashing},
		want: Result{
			Status:  Failed,
			Reason:  `pod "api-7d9f8-bbbbb": container "api" CrashLoopBackOff (restarts: 3): back-off 10s restarting failed container`,
			Message: "1/3 replicas ready",
		},
	}, {
		name:     "several doomed pods: the first by name, and a count",
		workload: waiting,
		pods:     []string{pulling2, pulling, crashing},
		want: Result{
			Status:  Failed,
			Reason:  `pod "api-7d9f8-bbbbb": container "api" CrashLoopBackOff (restarts: 3): back-off 10s restarting failed container (and 2 more doomed pods)`,
			Message: "1/3 replicas ready",
		},
	}, {
		name:     "two doomed pods",
		workload: waiting,
		pods:     []string{pulling2, pulling},
		want: Result{
			Status:  Failed,
			Reason:  `pod "api-7d9f8-ccccc": container "api" ImagePullBackOff (and 1 more doomed pod)`,
			Message: "1/3 replicas ready",
		},
	}, {
		name:     "a pod being deleted is ignored",
		workload: waiting,
		pods:     []string{terminating},
		want:     waiting,
	}, {
		name:     "a ready workload stays ready",
		workload: ready("3/3 replicas available"),
		pods:     []string{crashing},
		want:     ready("3/3 replicas available"),
	}, {
		name:     "a failed workload keeps its reason",
		workload: Result{Status: Failed, Reason: "Job failed: BackoffLimitExceeded"},
		pods:     []string{crashing},
		want:     Result{Status: Failed, Reason: "Job failed: BackoffLimitExceeded"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var pods []*unstructured.Unstructured
			for _, p := range tc.pods {
				pods = append(pods, y2u(t, p))
			}
			pods = append(pods, nil) // tolerated
			if got := WithDoomedPods(tc.workload, pods, now, grace); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// A Pod judged by Compute, then by its own doom (the clock-dependent part).
func TestPodComputeWithDoom(t *testing.T) {
	pod := y2u(t, `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Pending
  conditions:
  - {type: PodScheduled, status: "False", reason: Unschedulable, lastTransitionTime: "2026-01-01T00:00:00Z", message: "0/1 nodes are available: 1 node(s) had untolerated taint."}
`)
	pods := []*unstructured.Unstructured{pod}
	check(t, WithDoomedPods(Compute(pod), pods, now.Add(-45*time.Second), grace), InProgress, "unschedulable")
	check(t, WithDoomedPods(Compute(pod), pods, now, grace), Failed, `pod "api-x": unschedulable for 1m0s: 0/1 nodes`)
}

// A long termination message is cut at a character's start, never inside
// one, and only its first non-empty line is kept.
func TestFirstLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"\n  schema missing\nsecond", 300, "schema missing"},
		{"abcdef", 3, "abc…"},
		{"ééé", 3, "é…"}, // é is 2 bytes: byte 3 is inside the second
		{"ééé", 4, "éé…"},
		{"\n\n", 10, ""},
	} {
		if got := firstLine(tc.in, tc.n); got != tc.want {
			t.Errorf("firstLine(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
