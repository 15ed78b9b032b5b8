package ready

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubetestbed/testbed/internal/apigroups"
)

const (
	// revisionAnnotation is the rollout revision the Deployment controller
	// writes on a Deployment and on each of its ReplicaSets.
	revisionAnnotation = "deployment.kubernetes.io/revision"
	// revisionHashLabel is the controller revision of a StatefulSet's pod.
	revisionHashLabel = "controller-revision-hash"
)

// evaluate judges ref from the watch caches. It returns the result and,
// when the answer will change with time alone (a pod's Unschedulable grace
// running out), when to evaluate again.
func (t *Tracker) evaluate(ref ObjectRef) (Result, time.Time) {
	t.mu.Lock()
	w := t.watches[ref.GVR]
	crdW, podW, rsW, sliceW := t.watches[crdsGVR], t.watches[podsGVR], t.watches[replicaSetsGVR], t.watches[endpointSlicesGVR]
	minGen, applied := t.minGen[ref], t.applied[ref]
	t.mu.Unlock()

	var none time.Time
	if applied {
		return ready("applied (%s has no readiness rule: ready on apply)", ref.Kind), none
	}
	obj, ok := w.get(ref.Namespace, ref.Name)
	if !ok {
		switch {
		case w == nil:
			return inProgress("not watched"), none
		case !w.synced():
			if err := w.lastErr(); err != nil {
				return inProgress("cannot watch %s: %v", resourceName(ref.GVR), err), none
			}
			return inProgress("starting the watch on %s", resourceName(ref.GVR)), none
		case t.selector != "":
			return inProgress("not seen (watching objects labelled %s)", t.selector), none
		}
		return inProgress("not seen"), none
	}
	if g := obj.GetGeneration(); g < minGen {
		return inProgress("waiting for the watch to see generation %d (it has %d)", minGen, g), none
	}
	if obj.GetKind() == "" {
		obj = obj.DeepCopy()
		obj.SetAPIVersion(ref.GVR.GroupVersion().String())
		obj.SetKind(ref.Kind)
	}

	gk := obj.GroupVersionKind().GroupKind()
	switch {
	case gk == crdGK:
		return CRD(obj, t.crdServed(obj)), none
	case gk == serviceGK:
		return Service(obj, sliceW.byIndex(serviceIndex, obj.GetNamespace()+"/"+obj.GetName())), none
	case !apigroups.Builtin(gk.Group):
		if !crdW.synced() {
			return inProgress("starting the watch on %s", resourceName(crdsGVR)), none
		}
		crd, ok := crdW.get("", ref.GVR.Resource+"."+ref.GVR.Group)
		if !ok {
			// Not defined by a CRD (an aggregated API): kstatus's rules.
			return Compute(obj), none
		}
		return CustomResource(obj, hasStatusSubresource(crd, obj.GroupVersionKind().Version)), none
	}

	r := Compute(obj)
	pods, ok := currentPods(obj, podW, rsW)
	if !ok {
		return r, none
	}
	if gk == jobGK {
		r = WithSucceededJobPods(r, obj, pods)
		r = WithFailedJobPods(r, pods)
	}
	r = WithDoomedPods(r, pods, time.Now(), t.grace)
	if r.Status != InProgress {
		return r, none
	}
	return r, unschedulableDeadline(pods, t.grace)
}

// resourceName returns "deployments.apps" (or "pods" for the core group).
func resourceName(gvr schema.GroupVersionResource) string { return gvr.GroupResource().String() }

// hasStatusSubresource reports whether a CRD declares a status subresource
// for the given version.
func hasStatusSubresource(crd *unstructured.Unstructured, version string) bool {
	f := newFields(crd.Object)
	for _, v := range f.objects("spec", "versions") {
		if v.str("name") == version {
			_, ok := v.get("subresources", "status")
			return ok
		}
	}
	return false
}

// currentPods returns the pods whose doom fails obj: for a Pod, itself; for
// a workload, the pods it controls at its current revision (a Deployment's
// newest ReplicaSet, a StatefulSet's updateRevision), none while its
// controller has not observed its latest generation (the pods of the
// previous one must not fail a new rollout), and none being deleted. ok is
// false when obj is not a kind with pods.
func currentPods(obj *unstructured.Unstructured, podW, rsW *watch) (pods []*unstructured.Unstructured, ok bool) {
	gvk := obj.GroupVersionKind()
	if gvk.Group == "" && gvk.Kind == "Pod" {
		return []*unstructured.Unstructured{obj}, true
	}
	if !workloadKind(gvk.Group, gvk.Kind) {
		return nil, false
	}
	ns, name := obj.GetNamespace(), obj.GetName()
	controlled := func(owner *unstructured.Unstructured) []*unstructured.Unstructured {
		return controlledBy(owner, podW.byIndex(controllerIndex, controllerKey(ns, owner.GetKind(), owner.GetName())))
	}
	if gvk.Kind != "Job" && rolloutPending(obj) {
		return nil, true
	}
	switch gvk.Kind {
	case "Deployment":
		rs := currentReplicaSet(obj, rsW.byIndex(controllerIndex, controllerKey(ns, "Deployment", name)))
		if rs == nil {
			return nil, true
		}
		if rs.GetKind() == "" {
			rs = rs.DeepCopy()
			rs.SetKind("ReplicaSet")
		}
		return controlled(rs), true
	case "StatefulSet":
		pods = controlled(obj)
		rev, _, _ := unstructured.NestedString(obj.Object, "status", "updateRevision")
		if rev == "" {
			return pods, true
		}
		var out []*unstructured.Unstructured
		for _, p := range pods {
			if p.GetLabels()[revisionHashLabel] == rev {
				out = append(out, p)
			}
		}
		return out, true
	}
	return controlled(obj), true
}

// rolloutPending reports whether a workload's controller has not yet
// observed its latest spec.
func rolloutPending(obj *unstructured.Unstructured) bool {
	f := newFields(obj.Object)
	obs, ok := f.integer("status", "observedGeneration")
	return !ok || obs < f.intOr(0, "metadata", "generation")
}

// controlledBy returns the objects whose controller is owner (by UID) and
// that are not being deleted.
func controlledBy(owner *unstructured.Unstructured, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		c := metav1.GetControllerOf(o)
		if c == nil || c.UID != owner.GetUID() || o.GetDeletionTimestamp() != nil {
			continue
		}
		out = append(out, o)
	}
	return out
}

// currentReplicaSet returns the ReplicaSet of a Deployment's current
// revision (the one whose revision annotation is the Deployment's), among
// candidates, or nil if it is not known yet.
func currentReplicaSet(deploy *unstructured.Unstructured, candidates []*unstructured.Unstructured) *unstructured.Unstructured {
	rev := deploy.GetAnnotations()[revisionAnnotation]
	if rev == "" {
		return nil
	}
	for _, rs := range controlledBy(deploy, candidates) {
		if rs.GetAnnotations()[revisionAnnotation] == rev {
			return rs
		}
	}
	return nil
}

// unschedulableDeadline returns the earliest time one of pods, now
// Unschedulable, will have been so for longer than grace (the zero time if
// none is Unschedulable). It measures as PodDoomed does.
func unschedulableDeadline(pods []*unstructured.Unstructured, grace time.Duration) time.Time {
	var first time.Time
	for _, p := range pods {
		f := newFields(p.Object)
		if f.str("metadata", "deletionTimestamp") != "" {
			continue
		}
		if phase := f.str("status", "phase"); phase == "Succeeded" || phase == "Failed" {
			continue
		}
		c, ok := f.cond("PodScheduled")
		if !ok || c.Status != "False" || c.Reason != "Unschedulable" {
			continue
		}
		since, err := time.Parse(time.RFC3339, c.LastTransitionTime)
		if err != nil {
			if since, err = time.Parse(time.RFC3339, f.str("metadata", "creationTimestamp")); err != nil {
				continue
			}
		}
		if at := since.Add(grace); first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first
}
