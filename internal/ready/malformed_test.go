package ready

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Malformed objects (fields of the wrong type) never panic: the verdict is
// InProgress with a reason naming the field, and no pod is doomed.
func TestMalformed(t *testing.T) {
	cases := []struct {
		name  string
		obj   string
		field string // named in the reason
	}{{
		name: "replicas is a string",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
spec: {replicas: "three"}
status: {observedGeneration: 1}
`,
		field: "spec.replicas: got string, want integer",
	}, {
		name: "status is a string",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
status: oops
`,
		field: "status: got string, want object",
	}, {
		name: "generation is a string",
		obj: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: "1"}
status: {observedGeneration: 1}
`,
		field: "metadata.generation",
	}, {
		name: "conditions is a string",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
status: {observedGeneration: 1, conditions: nope}
`,
		field: "status.conditions: got string, want list",
	}, {
		name: "a condition is a number",
		obj: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status: {conditions: [42]}
`,
		field: "status.conditions.0: got number, want object",
	}, {
		name: "a condition status is a boolean",
		obj: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status: {conditions: [{type: Complete, status: true}]}
`,
		field: "status.conditions.0.status: got boolean, want string",
	}, {
		name: "revision is a number",
		obj: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 1}
spec: {replicas: 1}
status: {observedGeneration: 1, replicas: 1, readyReplicas: 1, currentRevision: 7, updateRevision: db-1}
`,
		field: "status.currentRevision",
	}, {
		name: "desiredNumberScheduled is a list",
		obj: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 1}
status: {observedGeneration: 1, desiredNumberScheduled: []}
`,
		field: "status.desiredNumberScheduled: got list",
	}, {
		name: "pod phase is a number",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status: {phase: 3}
`,
		field: "status.phase",
	}, {
		name: "container state is a string",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Running
  containerStatuses: [{name: api, state: waiting}]
`,
		field: "status.containerStatuses.0.state: got string, want object",
	}, {
		name: "containerStatuses is an object",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
spec: {nodeName: n1}
status: {phase: Running, containerStatuses: {api: {}}}
`,
		field: "status.containerStatuses: got object, want list",
	}, {
		name: "container name is a number",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status:
  phase: Running
  containerStatuses: [{name: 1, state: {waiting: {reason: CrashLoopBackOff}}}]
`,
		field: "status.containerStatuses.0.name",
	}, {
		name: "selector is a string",
		obj: `
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {clusterIP: 10.96.0.1, selector: app=api}
`,
		field: "spec.selector: got string, want object",
	}, {
		name: "PVC phase is an object",
		obj: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
status: {phase: {bound: true}}
`,
		field: "status.phase",
	}, {
		name: "metadata is a list",
		obj: `
apiVersion: v1
kind: ConfigMap
metadata: []
`,
		field: "metadata: got list, want object",
	}, {
		name: "custom resource with conditions of the wrong type",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
status: {conditions: 1}
`,
		field: "status.conditions: got number, want list",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := y2u(t, tc.obj)
			check(t, Compute(obj), InProgress, tc.field)
			if doomed, reason := PodDoomed(obj, now, grace); doomed {
				t.Errorf("PodDoomed = true, %q on a malformed object", reason)
			}
			// Every entry point, on every malformed object: no panic, never Ready.
			for name, r := range map[string]Result{
				"Service":        Service(obj, []*unstructured.Unstructured{obj}),
				"CRD":            CRD(obj, true),
				"CustomResource": CustomResource(obj, true),
				"WithDoomedPods": WithDoomedPods(inProgress("waiting"), []*unstructured.Unstructured{obj}, now, grace),
			} {
				if r.Status == Failed || r.Reason == "" {
					t.Errorf("%s = %s", name, r)
				}
			}
		})
	}
}

func TestMalformedEndpointSlice(t *testing.T) {
	svc := y2u(t, svcWithSelector)
	slices := y2us(t, `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-abc, namespace: ns, labels: {kubernetes.io/service-name: api}}
endpoints: [{addresses: [10.244.0.5], conditions: {ready: "yes"}}]
`)
	check(t, Service(svc, slices), InProgress, "EndpointSlice api-abc.endpoints.0.conditions.ready: got string, want boolean")
}

func TestNilAndEmpty(t *testing.T) {
	for name, obj := range map[string]*unstructured.Unstructured{
		"nil":            nil,
		"nil object":     {},
		"empty object":   {Object: map[string]any{}},
		"no kind":        {Object: map[string]any{"apiVersion": "v1", "metadata": map[string]any{"name": "x"}}},
		"bad apiVersion": {Object: map[string]any{"apiVersion": "a/b/c", "kind": "Deployment"}},
	} {
		t.Run(name, func(t *testing.T) {
			check(t, Compute(obj), InProgress, "")
			check(t, Service(obj, nil), InProgress, "")
			check(t, CRD(obj, true), InProgress, "")
			check(t, CustomResource(obj, true), InProgress, "")
			if doomed, _ := PodDoomed(obj, time.Time{}, 0); doomed {
				t.Error("PodDoomed = true")
			}
		})
	}
}

// Objects decoded with encoding/json carry float64 numbers; whole ones are
// integers, fractions are malformed.
func TestJSONNumbers(t *testing.T) {
	decode := func(s string) *unstructured.Unstructured {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return &unstructured.Unstructured{Object: m}
	}
	check(t, Compute(decode(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","generation":2},
		"spec":{"replicas":2},"status":{"observedGeneration":2,"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2}}`)),
		Ready, "2/2 replicas available")
	check(t, Compute(decode(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","generation":1},
		"spec":{"replicas":1.5},"status":{"observedGeneration":1}}`)),
		InProgress, "spec.replicas: got number, want integer")
}

// Reasons never carry the values of malformed fields (they could be
// anything, even secret data).
func TestMalformedReasonHidesValues(t *testing.T) {
	r := Compute(y2u(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
spec: {replicas: "s3cr3t"}
status: {observedGeneration: 1}
`))
	if strings.Contains(r.String(), "s3cr3t") {
		t.Errorf("reason shows the field's value: %s", r)
	}
}

// Every field of a few rich fixtures, replaced by a value of every JSON
// type: no entry point panics, and every result has a reason.
func TestNoPanicOnAnyMutation(t *testing.T) {
	fixtures := y2us(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1, deletionTimestamp: null, finalizers: [a]}
spec: {replicas: 1, paused: false, updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 0}}}
status:
  observedGeneration: 1
  replicas: 1
  updatedReplicas: 1
  readyReplicas: 1
  availableReplicas: 1
  conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded, message: m, lastTransitionTime: "2026-01-01T00:00:00Z"}]
---
apiVersion: v1
kind: Pod
metadata: {name: api-x, creationTimestamp: "2026-01-01T00:00:00Z"}
spec: {nodeName: n1}
status:
  phase: Running
  reason: Evicted
  conditions: [{type: PodScheduled, status: "False", reason: Unschedulable, lastTransitionTime: "2026-01-01T00:00:00Z"}]
  initContainerStatuses: [{name: i, ready: false, state: {terminated: {exitCode: 1, reason: Error}}}]
  containerStatuses:
  - {name: api, ready: false, restartCount: 1, state: {waiting: {reason: CrashLoopBackOff, message: m}, running: {}}}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: ns, labels: {kubernetes.io/service-name: api}}
spec: {type: ClusterIP, clusterIP: 10.0.0.1, selector: {app: api}}
endpoints: [{addresses: [10.244.0.1], conditions: {ready: true}}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec: {completions: 1, suspend: false, backoffLimit: 1}
status: {startTime: t, active: 1, failed: 1, succeeded: 0, conditions: [{type: Complete, status: "True"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: d, generation: 1}
status: {observedGeneration: 1, desiredNumberScheduled: 1, updatedNumberScheduled: 1, numberReady: 1}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s, generation: 1}
spec: {replicas: 1, updateStrategy: {type: OnDelete, rollingUpdate: {partition: 1}}}
status: {observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 1, currentRevision: a, updateRevision: b}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status: {observedGeneration: 1, conditions: [{type: Ready, status: "True"}]}
`)
	alternatives := []any{"x", int64(-1), 1.5, true, nil, []any{"x", int64(1)}, map[string]any{"x": int64(1)}}
	var paths [][]string
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		paths = append(paths, append([]string(nil), path...))
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(c, append(path, k))
			}
		case []any:
			for i, c := range v {
				walk(c, append(path, fmt.Sprint(i)))
			}
		}
	}
	var calls int
	for _, fx := range fixtures {
		paths = nil
		walk(fx.Object, nil)
		for _, path := range paths[1:] { // not the root
			for _, alt := range alternatives {
				obj := fx.DeepCopy()
				set(obj.Object, path, alt)
				all := []*unstructured.Unstructured{obj, fx}
				for _, r := range []Result{
					Compute(obj),
					Service(obj, all),
					Service(fx, all),
					CRD(obj, true),
					CustomResource(obj, true),
					WithDoomedPods(inProgress("waiting"), all, now, grace),
				} {
					calls++
					if r.Reason == "" {
						t.Errorf("%s with %v = %#v: %s", strings.Join(path, "."), alt, alt, r)
					}
				}
				PodDoomed(obj, now, grace)
			}
		}
	}
	t.Logf("%d mutated evaluations", calls)
}

// set replaces the value at path (map keys and list indexes).
func set(v any, path []string, val any) {
	for i, p := range path {
		last := i == len(path)-1
		switch c := v.(type) {
		case map[string]any:
			if last {
				c[p] = val
				return
			}
			v = c[p]
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil {
				return
			}
			if last {
				c[n] = val
				return
			}
			v = c[n]
		}
	}
}
