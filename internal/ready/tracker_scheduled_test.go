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
spec: {replicas: 2}
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
// holds the rest of the stack back. A Deployment waits for as many pods as
// its newest ReplicaSet wants; the previous ReplicaSet's do not count, nor
// any while its controller has not observed its latest generation.
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
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-1
  namespace: ns
  uid: rs1
  annotations: {deployment.kubernetes.io/revision: "1"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
spec: {replicas: 0}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: ns, uid: d2, generation: 2, annotations: {deployment.kubernetes.io/revision: "2"}}
spec: {replicas: 1}
status: {observedGeneration: 2}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: api-1
  namespace: ns
  uid: rs2
  annotations: {deployment.kubernetes.io/revision: "1"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: api, uid: d2, controller: true}]
spec: {replicas: 1}
---
apiVersion: v1
kind: Pod
metadata:
  name: api-1-a
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-1, uid: rs2, controller: true}]
spec: {nodeName: node-1}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: api-2
  namespace: ns
  uid: rs3
  annotations: {deployment.kubernetes.io/revision: "2"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: api, uid: d2, controller: true}]
spec: {replicas: 1}
---
apiVersion: v1
kind: Pod
metadata:
  name: api-2-a
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: api-2, uid: rs3, controller: true}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: surge, namespace: ns, uid: d3, generation: 2, annotations: {deployment.kubernetes.io/revision: "2"}}
spec: {replicas: 3}
status: {observedGeneration: 2}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: surge-2
  namespace: ns
  uid: rs4
  annotations: {deployment.kubernetes.io/revision: "2"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: surge, uid: d3, controller: true}]
spec: {replicas: 1}
---
apiVersion: v1
kind: Pod
metadata:
  name: surge-2-a
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: surge-2, uid: rs4, controller: true}]
spec: {nodeName: node-1}
`)
	tr, _ := fakeTracker(t, nil, TrackerOptions{}, objs...)
	big := ObjectRef{GVR: podsGVR, Kind: "Pod", Namespace: "ns", Name: "big"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.WaitScheduled(ctx, []ObjectRef{big}); err != nil {
		t.Errorf("WaitScheduled(unschedulable pod) = %v, want nil", err)
	}
	// A rolling update starts the newest ReplicaSet with a surge of one
	// pod, not the Deployment's three: that one placed, the wait ends.
	surge := ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: "surge"}
	if err := tr.WaitScheduled(ctx, []ObjectRef{surge}); err != nil {
		t.Errorf("WaitScheduled(Deployment rolling out, its surge pod bound) = %v, want nil", err)
	}
	for _, name := range []string{
		"web", // scaled up from none at generation 2, observed 1: its ReplicaSet still wants none
		"api", // its newest ReplicaSet's pod is not bound; the previous one's is
	} {
		ref := ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: name}
		short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := tr.WaitScheduled(short, []ObjectRef{ref})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitScheduled(%s) = %v, want the deadline", ref, err)
		}
	}

	// Stopping the tracker ends a wait in progress.
	web := ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: "web"}
	done := make(chan error, 1)
	go func() { done <- tr.WaitScheduled(context.Background(), []ObjectRef{web}) }()
	time.Sleep(50 * time.Millisecond)
	tr.Stop()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopped) {
			t.Errorf("WaitScheduled across Stop = %v, want ErrStopped", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitScheduled did not return after Stop")
	}
}

// A re-applied object is not judged on the cache's older copy, whose pods
// are all bound.
func TestTrackerWaitScheduledWaitsForTheAppliedGeneration(t *testing.T) {
	objs := y2us(t, `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: ns, uid: j1, generation: 1}
---
apiVersion: v1
kind: Pod
metadata:
  name: migrate-a
  namespace: ns
  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: migrate, uid: j1, controller: true}]
spec: {nodeName: node-1}
`)
	tr, _ := fakeTracker(t, nil, TrackerOptions{}, objs...)
	job := ObjectRef{GVR: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, Kind: "Job", Namespace: "ns", Name: "migrate"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.WaitScheduled(ctx, []ObjectRef{job}); err != nil {
		t.Fatalf("WaitScheduled(Job with its pod bound) = %v, want nil", err)
	}
	tr.ExpectGeneration(job, 2)
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if err := tr.WaitScheduled(short, []ObjectRef{job}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitScheduled after ExpectGeneration(2) on a cached generation 1 = %v, want the deadline", err)
	}
}
