package ready

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// WaitScheduled tracks refs and blocks until the cluster has placed each
// one's pods: a workload once its controller has observed its latest
// generation and the pods it controls (a Deployment's newest ReplicaSet's,
// a StatefulSet's at its update revision) number as many as it starts with
// (see startPods; a Deployment as many as that ReplicaSet wants), each
// bound to a node; a Pod once it is bound. Objects of kinds without pods
// count as placed at once. An object that is Ready or Failed, or one of
// whose pods the scheduler did not place (condition PodScheduled False:
// unschedulable, gated), ends the wait for it too: there is nothing left to
// wait for. It returns nil; Track's error for an invalid ref; ctx's error
// when ctx ends first; ErrStopped once the tracker is stopped.
//
// A caller that holds other work back until the cluster has started on
// some objects (Up applies the head of the longest dependsOn chain first)
// bounds the wait with ctx: scheduling can take as long as the cluster
// needs to find a node.
func (t *Tracker) WaitScheduled(ctx context.Context, refs []ObjectRef) error {
	if err := t.Track(refs...); err != nil {
		return err
	}
	wake := make(chan struct{}, 1)
	t.mu.Lock()
	t.schedWaiters[wake] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.schedWaiters, wake)
		t.mu.Unlock()
	}()
	for {
		done := true
		for _, r := range refs {
			if !t.scheduled(r) {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		select {
		case <-wake:
		case <-t.stopCh:
			return ErrStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// wakeScheduledLocked wakes every WaitScheduled, without blocking: on
// every event of a watch and every change of a tracked object's status
// (some come from a timer, not an event). They are few and short. t.mu is
// held.
func (t *Tracker) wakeScheduledLocked() {
	for w := range t.schedWaiters {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// scheduled reports whether ref's pods are placed, from the watch caches
// (see WaitScheduled).
func (t *Tracker) scheduled(ref ObjectRef) bool {
	t.mu.Lock()
	w, podW, rsW := t.watches[ref.GVR], t.watches[podsGVR], t.watches[replicaSetsGVR]
	minGen := t.minGen[ref]
	var status Status
	if e := t.tracked[ref]; e != nil {
		status = e.published.Result.Status
	}
	t.mu.Unlock()
	if status == Ready || status == Failed {
		return true
	}
	isPod := ref.GVR.Group == "" && ref.Kind == "Pod"
	if !isPod && !workloadKind(ref.GVR.Group, ref.Kind) {
		return true
	}
	obj, ok := w.get(ref.Namespace, ref.Name)
	if !ok || obj.GetGeneration() < minGen {
		return false // not seen yet, or an older copy than the one applied
	}
	if obj.GetKind() == "" {
		obj = obj.DeepCopy()
		obj.SetAPIVersion(ref.GVR.GroupVersion().String())
		obj.SetKind(ref.Kind)
	}
	want, known := startPods(obj)
	if obj.GetKind() == "Deployment" {
		// A rollout starts the newest ReplicaSet with a surge, or none
		// until the old pods are gone: as many as that ReplicaSet wants.
		rs := currentReplicaSet(obj, rsW.byIndex(controllerIndex, controllerKey(obj.GetNamespace(), "Deployment", obj.GetName())))
		if rs == nil {
			return false
		}
		want, known = newFields(rs.Object).intOr(1, "spec", "replicas"), true
	}
	if !known || rolloutPending(obj) && obj.GetKind() != "Job" && obj.GetKind() != "Pod" {
		return false
	}
	pods, _ := currentPods(obj, podW, rsW)
	bound := 0
	for _, p := range pods {
		f := newFields(p.Object)
		if c, ok := f.cond("PodScheduled"); ok && c.Status == "False" {
			return true
		}
		if f.str("spec", "nodeName") != "" {
			bound++
		}
	}
	return int64(bound) >= want
}

// startPods returns how many pods a workload has once its controller has
// started it: a Deployment's or ReplicaSet's replicas; a StatefulSet's
// replicas if its pods start in parallel, else its first one (the next
// waits for it to be ready); the nodes a DaemonSet's controller found
// (known only once it observed the DaemonSet); a Job's parallelism, at
// most its completions, none while it is suspended; a Pod itself. Absent
// fields take their API defaults.
func startPods(obj *unstructured.Unstructured) (n int64, known bool) {
	f := newFields(obj.Object)
	switch obj.GetKind() {
	case "Pod":
		return 1, true
	case "Deployment", "ReplicaSet":
		return f.intOr(1, "spec", "replicas"), true
	case "StatefulSet":
		n := f.intOr(1, "spec", "replicas")
		if f.str("spec", "podManagementPolicy") != "Parallel" {
			n = min(n, 1)
		}
		return n, true
	case "DaemonSet":
		if rolloutPending(obj) {
			return 0, false
		}
		return f.intOr(0, "status", "desiredNumberScheduled"), true
	case "Job":
		if suspended, _ := f.boolean("spec", "suspend"); suspended {
			return 0, true
		}
		p := f.intOr(1, "spec", "parallelism")
		if c, ok := f.integer("spec", "completions"); ok {
			p = min(p, c)
		}
		return p, true
	}
	return 0, true
}
