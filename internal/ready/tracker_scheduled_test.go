package ready

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestStartPods(t *testing.T) {
	for _, tc := range []struct {
		name  string
		obj   string
		want  int64
		known bool
	}{
		{"a pod", `{apiVersion: v1, kind: Pod, metadata: {name: p}}`, 1, true},
		{"a Deployment without replicas: the default", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}`, 1, true},
		{"a Deployment of three", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}, spec: {replicas: 3}}`, 3, true},
		{"a Deployment scaled to zero", `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}, spec: {replicas: 0}}`, 0, true},
		{"a ReplicaSet", `{apiVersion: apps/v1, kind: ReplicaSet, metadata: {name: r}, spec: {replicas: 2}}`, 2, true},
		{"an ordered StatefulSet starts with one", `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: s}, spec: {replicas: 3}}`, 1, true},
		{"a parallel StatefulSet starts with all", `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: s}, spec: {replicas: 3, podManagementPolicy: Parallel}}`, 3, true},
		{"a DaemonSet not yet observed", `{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: ds, generation: 1}}`, 0, false},
		{"a DaemonSet on the nodes found", `{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: ds, generation: 1}, status: {observedGeneration: 1, desiredNumberScheduled: 4}}`, 4, true},
		{"a Job: one pod", `{apiVersion: batch/v1, kind: Job, metadata: {name: j}}`, 1, true},
		{"a Job's parallelism", `{apiVersion: batch/v1, kind: Job, metadata: {name: j}, spec: {parallelism: 4}}`, 4, true},
		{"a Job's parallelism, at most its completions", `{apiVersion: batch/v1, kind: Job, metadata: {name: j}, spec: {parallelism: 4, completions: 2}}`, 2, true},
		{"a suspended Job", `{apiVersion: batch/v1, kind: Job, metadata: {name: j}, spec: {suspend: true}}`, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, known := startPods(y2u(t, tc.obj))
			if n != tc.want || known != tc.known {
				t.Errorf("startPods = %d, %v; want %d, %v", n, known, tc.want, tc.known)
			}
		})
	}
}

// WaitScheduled returns once a workload has all its starting pods bound
// to nodes, at once for kinds without pods, and not before.
func TestTrackerWaitScheduled(t *testing.T) {
	objs := y2us(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: ns, uid: d1, generation: 1, annotations: {deployment.kubernetes.io/revision: "1"}}
spec: {replicas: 2}
status: {observedGeneration: 1}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: db-1
  namespace: ns
  uid: rs1
  annotations: {deployment.kubernetes.io/revision: "1"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: db, uid: d1, controller: true}]
---
apiVersion: v1
kind: Pod
metadata:
  name: db-1-a
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: db-1, uid: rs1, controller: true}]
spec: {nodeName: node-1}
status: {phase: Pending}
---
apiVersion: v1
kind: Pod
metadata:
  name: db-1-b
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: db-1, uid: rs1, controller: true}]
status: {phase: Pending}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: init, namespace: ns}
`)
	tr, dyn := fakeTracker(t, nil, TrackerOptions{}, objs...)
	db := ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: "db"}
	cm := ObjectRef{GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Kind: "ConfigMap", Namespace: "ns", Name: "init"}
	wait := func(d time.Duration, refs ...ObjectRef) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return tr.WaitScheduled(ctx, refs)
	}

	if err := wait(5*time.Second, cm); err != nil {
		t.Fatalf("WaitScheduled(ConfigMap) = %v, want nil at once: it has no pods", err)
	}
	if err := wait(300*time.Millisecond, db, cm); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitScheduled = %v with one of two pods bound, want the deadline", err)
	}
	// The scheduler binds the second pod: one pod event ends the wait.
	done := make(chan error, 1)
	go func() { done <- wait(5*time.Second, db, cm) }()
	bound := objs[3].DeepCopy()
	if err := unstructured.SetNestedField(bound.Object, "node-1", "spec", "nodeName"); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(podsGVR).Namespace("ns").Update(context.Background(), bound, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitScheduled = %v once both pods are bound, want nil", err)
	}
}

// A pod the scheduler does not place ends the wait: waiting longer only
// holds the rest of the stack back. A workload its controller has not
// observed yet has no current pods to wait for: the wait goes on.
func TestTrackerWaitScheduledEnds(t *testing.T) {
	objs := y2us(t, `
apiVersion: v1
kind: Pod
metadata: {name: big, namespace: ns}
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: "False", reason: Unschedulable, message: "0/1 nodes are available: 1 Insufficient memory."}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, uid: d1, generation: 2, annotations: {deployment.kubernetes.io/revision: "1"}}
spec: {replicas: 1}
status: {observedGeneration: 1}
`)
	tr, _ := fakeTracker(t, nil, TrackerOptions{}, objs...)
	big := ObjectRef{GVR: podsGVR, Kind: "Pod", Namespace: "ns", Name: "big"}
	web := ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: "web"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.WaitScheduled(ctx, []ObjectRef{big}); err != nil {
		t.Errorf("WaitScheduled(unschedulable pod) = %v, want nil", err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if err := tr.WaitScheduled(short, []ObjectRef{web}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitScheduled(Deployment at generation 2, observed 1) = %v, want the deadline", err)
	}
	tr.Stop()
	if err := tr.WaitScheduled(context.Background(), []ObjectRef{web}); !errors.Is(err, ErrStopped) {
		t.Errorf("WaitScheduled after Stop = %v, want ErrStopped", err)
	}
}
