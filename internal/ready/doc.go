// Package ready decides whether a Kubernetes object is ready, by the rules of
// docs/design.md, "Readiness rules" ("What ready means"), as pure functions over unstructured
// objects: no API calls, no clock, no watching. The tracker that watches
// objects and waits for a set of them is built on top of these functions.
//
// Each function returns a [Result]: a [Status] (InProgress, Ready or Failed;
// Failed means fail fast, the object will not become ready by waiting) and a
// short Reason a user can act on ("2/3 replicas ready", `container "api"
// CrashLoopBackOff (restarts: 3): …`).
//
// [Compute] judges an object from its own fields. Where readiness needs more
// than the object, the caller supplies it:
//
//	var r ready.Result
//	switch {
//	case kind == "Service":
//		r = ready.Service(svc, endpointSlices) // its EndpointSlices
//	case kind == "CustomResourceDefinition":
//		r = ready.CRD(crd, servedByDiscovery)
//	case isCustomResource:
//		r = ready.CustomResource(obj, crdHasStatusSubresource)
//	default:
//		r = ready.Compute(obj)
//	}
//	// Pods and the workloads that own them fail at once when a pod is doomed
//	// (crash looping, image pull failing, unschedulable for longer than grace).
//	r = ready.WithDoomedPods(r, podsOfCurrentRevision, time.Now(), 30*time.Second)
//	if r.Status == ready.Failed {
//		return fmt.Errorf("%s %s/%s: %s", kind, ns, name, r.Reason)
//	}
//
// The rules follow kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status) where
// its answer is right for a test environment and depart from it where it is
// not; each rule's comment says which. kstatus itself is used for kinds
// outside the built-in API groups when the CRD is not known.
//
// Malformed objects (fields of the wrong type) are InProgress with a reason
// naming the field; nothing here panics or prints.
package ready
