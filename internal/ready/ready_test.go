package ready

import "testing"

// computeCase is a Compute fixture. kstatus records kstatus's verdict where
// it differs from ours, so every departure from kstatus is written down here
// and checked; empty means kstatus agrees.
type computeCase struct {
	name    string
	obj     string
	want    Status
	reason  string // a substring of Reason
	kstatus Status
}

func runCompute(t *testing.T, cases []computeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := y2u(t, tc.obj)
			check(t, Compute(obj), tc.want, tc.reason)

			wantK := tc.kstatus
			if wantK == "" {
				wantK = tc.want
			}
			gotK, err := kstatusVerdict(obj)
			if err != nil {
				t.Fatalf("kstatus: %v", err)
			}
			if gotK != wantK {
				t.Errorf("kstatus says %s, the fixture records %s: update the case", gotK, wantK)
			}
		})
	}
}

func TestDeployment(t *testing.T) {
	runCompute(t, []computeCase{{
		name: "ready",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: ns, generation: 2}
spec: {replicas: 3, progressDeadlineSeconds: 600}
status:
  observedGeneration: 2
  replicas: 3
  updatedReplicas: 3
  readyReplicas: 3
  availableReplicas: 3
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable}
  - {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
`,
		want:   Ready,
		reason: "3/3 replicas available",
	}, {
		name: "replicas default to 1",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
`,
		want:    Ready,
		reason:  "1/1 replicas available",
		kstatus: InProgress, // kstatus also waits for the Available condition, set just after the counts match
	}, {
		name: "scaled to zero",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
spec: {replicas: 0}
status: {observedGeneration: 1}
`,
		want:    Ready,
		reason:  "0/0",
		kstatus: InProgress, // kstatus waits for the Progressing/Available conditions
	}, {
		name: "no status yet",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
spec: {replicas: 2}
`,
		want:   InProgress,
		reason: "no status.observedGeneration",
	}, {
		name: "old observedGeneration",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 3}
spec: {replicas: 1}
status: {observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
`,
		want:   InProgress,
		reason: "generation 3 not yet observed by its controller (observedGeneration 2)",
	}, {
		name: "old observedGeneration hides a stale ProgressDeadlineExceeded",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 3}
spec: {replicas: 1}
status:
  observedGeneration: 2
  conditions:
  - {type: Progressing, status: "False", reason: ProgressDeadlineExceeded}
`,
		want:   InProgress,
		reason: "generation 3",
	}, {
		name: "ProgressDeadlineExceeded",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
spec: {replicas: 2}
status:
  observedGeneration: 1
  replicas: 2
  updatedReplicas: 2
  conditions:
  - type: Progressing
    status: "False"
    reason: ProgressDeadlineExceeded
    message: ReplicaSet "api-7d9f8" has timed out progressing.
`,
		want:   Failed,
		reason: "progress deadline exceeded",
	}, {
		name: "rollout: 1/3 updated",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3}
`,
		want:   InProgress,
		reason: "1/3 replicas updated",
	}, {
		name: "rollout: old replicas pending termination",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 4, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3}
`,
		want:   InProgress,
		reason: "1 old replicas pending termination",
	}, {
		name: "2/3 ready",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
spec: {replicas: 3}
status: {observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2}
`,
		want:   InProgress,
		reason: "2/3 replicas ready",
	}, {
		name: "ready but not yet available",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
spec: {replicas: 3, minReadySeconds: 30}
status: {observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 1}
`,
		want:   InProgress,
		reason: "1/3 replicas available",
	}, {
		name: "ReplicaFailure is shown, paused too",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
spec: {replicas: 2, paused: true}
status:
  observedGeneration: 1
  conditions:
  - type: ReplicaFailure
    status: "True"
    reason: FailedCreate
    message: 'pods "api-x" is forbidden: exceeded quota: compute'
`,
		want:   InProgress,
		reason: "0/2 replicas updated; rollout is paused (spec.paused); ReplicaFailure: FailedCreate",
	}, {
		name: "being deleted",
		obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1, deletionTimestamp: "2026-01-01T00:00:00Z", finalizers: [foregroundDeletion]}
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
`,
		want:   InProgress,
		reason: "being deleted; waiting for finalizers: foregroundDeletion",
	}})
}

func TestReplicaSet(t *testing.T) {
	runCompute(t, []computeCase{{
		name: "ready",
		obj: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: api-7d9f8, generation: 1}
spec: {replicas: 2}
status: {observedGeneration: 1, replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2}
`,
		want:   Ready,
		reason: "2/2 replicas available",
	}, {
		name: "not yet created",
		obj: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: api-7d9f8, generation: 1}
spec: {replicas: 2}
status: {observedGeneration: 1, replicas: 0}
`,
		want:   InProgress,
		reason: "0/2 replicas created",
	}, {
		name: "2/3 available",
		obj: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: api-7d9f8, generation: 1}
spec: {replicas: 3}
status: {observedGeneration: 1, replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 3, availableReplicas: 2}
`,
		want:   InProgress,
		reason: "2/3 replicas available",
	}, {
		name: "old observedGeneration",
		obj: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: api-7d9f8, generation: 2}
spec: {replicas: 1}
status: {observedGeneration: 1, replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 1, availableReplicas: 1}
`,
		want:   InProgress,
		reason: "generation 2",
	}, {
		name: "scaled down, extra replicas terminating",
		obj: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: api-7d9f8, generation: 2}
spec: {replicas: 1}
status: {observedGeneration: 2, replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 3, availableReplicas: 3}
`,
		want:   InProgress,
		reason: "2 extra replicas pending termination",
	}})
}

func TestStatefulSet(t *testing.T) {
	runCompute(t, []computeCase{{
		name: "ready",
		obj: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 1}
spec: {replicas: 3}
status: {observedGeneration: 1, replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, currentRevision: db-5c8, updateRevision: db-5c8}
`,
		want:   Ready,
		reason: "3/3 replicas ready",
	}, {
		name: "2/3 ready",
		obj: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 1}
spec: {replicas: 3}
status: {observedGeneration: 1, replicas: 3, readyReplicas: 2, currentReplicas: 3, currentRevision: db-5c8, updateRevision: db-5c8}
`,
		want:   InProgress,
		reason: "2/3 replicas ready",
	}, {
		name: "revision mismatch",
		obj: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 1, currentRevision: db-5c8, updateRevision: db-7d9}
`,
		want:   InProgress,
		reason: "rolling update: 1/3 replicas at revision db-7d9 (current revision db-5c8)",
	}, {
		name: "OnDelete skips the revision check",
		obj: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 2, updateStrategy: {type: OnDelete}}
status: {observedGeneration: 2, replicas: 2, readyReplicas: 2, currentRevision: db-5c8, updateRevision: db-7d9}
`,
		want:   Ready,
		reason: "2/2 replicas ready",
	}, {
		name: "OnDelete still needs ready replicas",
		obj: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 1}
spec: {replicas: 2, updateStrategy: {type: OnDelete}}
status: {observedGeneration: 1, replicas: 2, readyReplicas: 0}
`,
		want:    InProgress,
		reason:  "0/2 replicas ready",
		kstatus: Ready, // kstatus: OnDelete is Current whatever the replicas
	}, {
		name: "partition rollout done",
		obj: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 3, updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}}
status: {observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 2, currentRevision: db-5c8, updateRevision: db-7d9}
`,
		want:   Ready,
		reason: "3/3",
	}, {
		name: "partition rollout in progress",
		obj: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 3, updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}}
status: {observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 1, currentRevision: db-5c8, updateRevision: db-7d9}
`,
		want:   InProgress,
		reason: "1/2 replicas updated (partition 1)",
	}, {
		name: "old observedGeneration",
		obj: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 1}
status: {observedGeneration: 1, replicas: 1, readyReplicas: 1, currentReplicas: 1, currentRevision: a, updateRevision: a}
`,
		want:   InProgress,
		reason: "generation 2",
	}})
}

func TestDaemonSet(t *testing.T) {
	runCompute(t, []computeCase{{
		name: "ready",
		obj: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 1}
status: {observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberReady: 3, numberAvailable: 3}
`,
		want:   Ready,
		reason: "3/3 pods ready",
	}, {
		name: "2/3 ready",
		obj: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 1}
status: {observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 3, numberReady: 2, numberAvailable: 2}
`,
		want:   InProgress,
		reason: "2/3 pods ready",
	}, {
		name: "1/3 updated",
		obj: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 2}
status: {observedGeneration: 2, desiredNumberScheduled: 3, currentNumberScheduled: 3, updatedNumberScheduled: 1, numberReady: 3, numberAvailable: 3}
`,
		want:   InProgress,
		reason: "1/3 pods updated",
	}, {
		name: "no node to run on",
		obj: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 1}
status: {observedGeneration: 1, desiredNumberScheduled: 0, currentNumberScheduled: 0, numberReady: 0}
`,
		want:   Ready,
		reason: "desiredNumberScheduled 0",
	}, {
		name: "no status yet",
		obj: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 1}
`,
		want:   InProgress,
		reason: "not yet observed",
	}, {
		name: "old observedGeneration",
		obj: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, generation: 2}
status: {observedGeneration: 1, desiredNumberScheduled: 1, currentNumberScheduled: 1, updatedNumberScheduled: 1, numberReady: 1, numberAvailable: 1}
`,
		want:   InProgress,
		reason: "generation 2",
	}})
}

func TestJob(t *testing.T) {
	runCompute(t, []computeCase{{
		name: "running is InProgress",
		obj: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, generation: 1}
spec: {completions: 1, backoffLimit: 4}
status: {startTime: "2026-01-01T00:00:00Z", active: 1, failed: 2}
`,
		want:    InProgress,
		reason:  "running: 0/1 succeeded, 1 active, 2 failed (backoffLimit 4)",
		kstatus: Ready, // kstatus: a started Job is Current; for us a Job is done when it completes
	}, {
		name: "not started",
		obj: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, generation: 1}
`,
		want:   InProgress,
		reason: "not started",
	}, {
		name: "suspended",
		obj: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, generation: 1}
spec: {suspend: true}
status:
  conditions: [{type: Suspended, status: "True", reason: JobSuspended}]
`,
		want:   InProgress,
		reason: "suspended",
	}, {
		name: "complete",
		obj: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, generation: 1}
spec: {completions: 1}
status:
  startTime: "2026-01-01T00:00:00Z"
  succeeded: 1
  conditions:
  - {type: SuccessCriteriaMet, status: "True"}
  - {type: Complete, status: "True"}
`,
		want:   Ready,
		reason: "complete (1/1 succeeded)",
	}, {
		name: "failed",
		obj: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, generation: 1}
status:
  startTime: "2026-01-01T00:00:00Z"
  failed: 7
  conditions:
  - {type: FailureTarget, status: "True", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}
  - {type: Failed, status: "True", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}
`,
		want:   Failed,
		reason: "Job failed: BackoffLimitExceeded",
	}, {
		name: "failure target, pods still terminating",
		obj: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, generation: 1}
status:
  startTime: "2026-01-01T00:00:00Z"
  conditions:
  - {type: FailureTarget, status: "True", reason: DeadlineExceeded, message: Job was active longer than specified deadline}
`,
		want:    Failed,
		reason:  "Job failed: DeadlineExceeded",
		kstatus: Ready, // kstatus knows only Failed, and calls a started Job Current
	}})
}

func TestPod(t *testing.T) {
	runCompute(t, []computeCase{{
		name: "ready",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
spec: {nodeName: n1}
status:
  phase: Running
  conditions: [{type: PodScheduled, status: "True"}, {type: Ready, status: "True"}]
`,
		want:   Ready,
		reason: "Ready",
	}, {
		name: "succeeded",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: migrate-x}
status: {phase: Succeeded}
`,
		want:   Ready,
		reason: "succeeded",
	}, {
		name: "failed with a container exit code",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: migrate-x}
status:
  phase: Failed
  containerStatuses:
  - name: migrate
    state: {terminated: {exitCode: 2, reason: Error, message: "relation users does not exist"}}
`,
		want:    Failed,
		reason:  `pod failed: container "migrate" exited with code 2 (Error)`,
		kstatus: Ready, // kstatus: a Failed pod is Current ("completed, but not successfully")
	}, {
		name: "failed: evicted",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status: {phase: Failed, reason: Evicted, message: "The node was low on resource: memory."}
`,
		want:    Failed,
		reason:  "pod failed: Evicted",
		kstatus: Ready,
	}, {
		name: "CrashLoopBackOff",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
spec: {nodeName: n1}
status:
  phase: Running
  conditions: [{type: Ready, status: "False", reason: ContainersNotReady}]
  containerStatuses:
  - name: api
    ready: false
    restartCount: 3
    state: {waiting: {reason: CrashLoopBackOff, message: back-off 10s restarting failed container}}
`,
		want:   Failed,
		reason: `container "api" CrashLoopBackOff (restarts: 3): back-off 10s restarting failed container`,
	}, {
		name: "ImagePullBackOff",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
spec: {nodeName: n1}
status:
  phase: Pending
  containerStatuses:
  - name: api
    image: registry.local/api:typo
    state: {waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image "registry.local/api:typo"'}}
`,
		want:    Failed,
		reason:  `container "api" ImagePullBackOff: Back-off pulling image "registry.local/api:typo"`,
		kstatus: InProgress, // kstatus sees only CrashLoopBackOff, and only in phase Running
	}, {
		name: "init container CreateContainerConfigError",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
spec: {nodeName: n1}
status:
  phase: Pending
  initContainerStatuses:
  - name: wait-db
    state: {waiting: {reason: CreateContainerConfigError, message: 'secret "db" not found'}}
  containerStatuses:
  - name: api
    state: {waiting: {reason: PodInitializing}}
`,
		want:    Failed,
		reason:  `init container "wait-db" CreateContainerConfigError: secret "db" not found`,
		kstatus: InProgress,
	}, {
		name: "unschedulable stays InProgress without a clock",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x, creationTimestamp: "2020-01-01T00:00:00Z"}
status:
  phase: Pending
  conditions:
  - {type: PodScheduled, status: "False", reason: Unschedulable, message: "0/1 nodes are available: 1 Insufficient cpu."}
`,
		want:    InProgress,
		reason:  "unschedulable",
		kstatus: Failed, // kstatus reads the wall clock against creationTimestamp; PodDoomed decides this
	}, {
		name: "not scheduled yet",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
status: {phase: Pending}
`,
		want:   InProgress,
		reason: "not scheduled yet",
	}, {
		name: "container creating",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
spec: {nodeName: n1}
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: "True"}, {type: Ready, status: "False", reason: ContainersNotReady, message: "containers with unready status: [api]"}]
  containerStatuses:
  - {name: sidecar, ready: true, state: {running: {}}}
  - {name: api, ready: false, state: {waiting: {reason: ContainerCreating}}}
`,
		want:   InProgress,
		reason: `1/2 containers ready; container "api" waiting: ContainerCreating`,
	}, {
		name: "running, readiness probe failing",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
spec: {nodeName: n1}
status:
  phase: Running
  conditions: [{type: PodScheduled, status: "True"}, {type: Ready, status: "False"}]
  containerStatuses:
  - {name: api, ready: false, restartCount: 0, state: {running: {startedAt: "2026-01-01T00:00:00Z"}}}
`,
		want:   InProgress,
		reason: `0/1 containers ready; container "api" running, not ready`,
	}, {
		name: "initializing",
		obj: `
apiVersion: v1
kind: Pod
metadata: {name: api-x}
spec: {nodeName: n1}
status:
  phase: Pending
  initContainerStatuses:
  - {name: migrate, ready: false, state: {running: {}}}
  containerStatuses:
  - {name: api, ready: false, state: {waiting: {reason: PodInitializing}}}
`,
		want:   InProgress,
		reason: `initializing; init container "migrate" running`,
	}})
}

func TestOtherKinds(t *testing.T) {
	runCompute(t, []computeCase{{
		name: "PVC pending",
		obj: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
status: {phase: Pending}
`,
		want:   InProgress,
		reason: "not bound yet (phase Pending)",
	}, {
		name: "PVC bound",
		obj: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {volumeName: pv-1}
status: {phase: Bound}
`,
		want:   Ready,
		reason: "bound to PersistentVolume pv-1",
	}, {
		name: "APIService available",
		obj: `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
status:
  conditions: [{type: Available, status: "True", reason: Passed}]
`,
		want:   Ready,
		reason: "Available",
	}, {
		name: "APIService not available",
		obj: `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
status:
  conditions:
  - {type: Available, status: "False", reason: FailedDiscoveryCheck, message: "failing or missing response from https://10.96.0.5:443"}
`,
		want:    InProgress,
		reason:  "Available=False FailedDiscoveryCheck",
		kstatus: Ready, // kstatus has no APIService rule
	}, {
		name: "ConfigMap",
		obj: `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: b}
`,
		want:   Ready,
		reason: "ready on apply",
	}, {
		name: "Secret",
		obj: `
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: hunter2}
`,
		want:   Ready,
		reason: "ready on apply",
	}, {
		name: "ClusterRole",
		obj: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: []
`,
		want:   Ready,
		reason: "ready on apply",
	}, {
		name: "ServiceAccount",
		obj: `
apiVersion: v1
kind: ServiceAccount
metadata: {name: api}
`,
		want: Ready,
	}, {
		name: "Namespace active",
		obj: `
apiVersion: v1
kind: Namespace
metadata: {name: ns}
status: {phase: Active}
`,
		want:   Ready,
		reason: "Active",
	}, {
		name: "Namespace terminating",
		obj: `
apiVersion: v1
kind: Namespace
metadata: {name: ns, deletionTimestamp: "2026-01-01T00:00:00Z"}
spec: {finalizers: [kubernetes]}
status: {phase: Terminating}
`,
		want:   InProgress,
		reason: "being deleted",
	}, {
		name: "Service without selector",
		obj: `
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: ns}
spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
`,
		want:   Ready,
		reason: "no selector",
	}, {
		name: "Service with selector needs its EndpointSlices",
		obj: `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: ns}
spec: {clusterIP: 10.96.0.10, selector: {app: api}}
`,
		want:    InProgress,
		reason:  "no EndpointSlices yet (selector app=api)",
		kstatus: Ready, // kstatus does not look at endpoints
	}, {
		name: "CRD needs discovery",
		obj: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
status:
  conditions: [{type: NamesAccepted, status: "True"}, {type: Established, status: "True"}]
`,
		want:    InProgress,
		reason:  "not yet served by discovery",
		kstatus: Ready, // kstatus does not know about discovery
	}, {
		name: "custom resource without its CRD: kstatus, Ready=False",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status:
  conditions: [{type: Ready, status: "False", reason: Provisioning}]
`,
		want:   InProgress,
		reason: "Provisioning",
	}, {
		name: "custom resource without its CRD: kstatus, no status",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
`,
		want: Ready,
	}, {
		name: "custom resource without its CRD: kstatus, Stalled",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status:
  conditions: [{type: Stalled, status: "True", reason: InvalidSpec, message: spec.size must be positive}]
`,
		want:   Failed,
		reason: "spec.size must be positive",
	}})
}
