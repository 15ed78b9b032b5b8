package ready

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/kubetestbed/testbed/internal/apigroups"
)

// Status is an object's readiness: InProgress, Ready or Failed.
type Status string

const (
	// InProgress means the object is not ready yet and may still become ready.
	InProgress Status = "InProgress"
	// Ready means the object is ready (kstatus calls this Current).
	Ready Status = "Ready"
	// Failed means the object will not become ready without a change: fail fast.
	Failed Status = "Failed"
)

// Result is an object's readiness and why.
type Result struct {
	// Status is the verdict.
	Status Status
	// Reason is a short, human line saying what is (not) ready, specific
	// enough to act on: "2/3 replicas ready", "Job failed: BackoffLimitExceeded".
	Reason string
	// Message is detail in the controller's own words (a condition message),
	// or empty.
	Message string
}

// String returns "Status: reason" (and ": message" when there is one).
func (r Result) String() string {
	s := string(r.Status) + ": " + r.Reason
	if r.Message != "" {
		s += ": " + r.Message
	}
	return s
}

func inProgress(format string, args ...any) Result {
	return Result{Status: InProgress, Reason: fmt.Sprintf(format, args...)}
}

func ready(format string, args ...any) Result {
	return Result{Status: Ready, Reason: fmt.Sprintf(format, args...)}
}

// withMessage returns r with its Message set.
func (r Result) withMessage(m string) Result {
	r.Message = m
	return r
}

// Compute returns an object's readiness from its own fields, by the rules of
// docs/design.md, "Readiness rules". It is a pure function: no API calls, no clock. For the kinds
// whose readiness depends on more than the object, Compute gives the answer
// for "nothing else known", which is never Ready where the context could say
// otherwise:
//   - Service with a selector: InProgress (no endpoints known); call [Service].
//   - CustomResourceDefinition: at most InProgress (not known to be served); call [CRD].
//   - Pod: a doomed container is Failed, but Unschedulable stays InProgress
//     (the grace period needs a clock); call [PodDoomed] or [WithDoomedPods].
//   - Deployment, ReplicaSet, StatefulSet, DaemonSet, Job: their pods are not
//     seen; fold them in with [WithDoomedPods].
//   - Custom resources (a kind outside the built-in API groups): kstatus's
//     generic rules, which cannot tell "no status yet" from "never a
//     status"; call [CustomResource] with what the CRD says.
//
// Built-in kinds without a rule (ConfigMap, Secret, RBAC, ServiceAccount, …)
// are ready as soon as they exist. An object being deleted is InProgress.
// Malformed objects (fields of the wrong type) are InProgress, never a panic.
func Compute(obj *unstructured.Unstructured) Result {
	return evaluate(obj, func(f *fields) Result {
		gk := obj.GroupVersionKind().GroupKind()
		if gk.Kind == "" {
			return inProgress("object has no kind")
		}
		if rule, ok := rules[gk]; ok {
			return rule(f)
		}
		if apigroups.Builtin(gk.Group) {
			return ready("exists (%s has no readiness rule: ready on apply)", gk.Kind)
		}
		return kstatusGeneric(f, obj)
	})
}

// rules holds the per-kind rules of docs/design.md, "Readiness rules", by API group and kind.
var rules = map[schema.GroupKind]func(*fields) Result{
	{Group: "apps", Kind: "Deployment"}:       deployment,
	{Group: "apps", Kind: "ReplicaSet"}:       replicaSet,
	{Group: "apps", Kind: "StatefulSet"}:      statefulSet,
	{Group: "apps", Kind: "DaemonSet"}:        daemonSet,
	{Group: "extensions", Kind: "Deployment"}: deployment,
	{Group: "extensions", Kind: "ReplicaSet"}: replicaSet,
	{Group: "extensions", Kind: "DaemonSet"}:  daemonSet,
	{Group: "batch", Kind: "Job"}:             job,

	{Kind: "Pod"}:                   pod,
	{Kind: "Service"}:               serviceAlone,
	{Kind: "PersistentVolumeClaim"}: pvc,
	{Kind: "Namespace"}:             namespace,

	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: crdAlone,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:             apiService,
}

// serviceAlone and crdAlone are the Service and CRD rules with nothing known
// but the object.
func serviceAlone(f *fields) Result { return service(f, nil) }
func crdAlone(f *fields) Result     { return crdRule(f, false) }

// evaluate runs a rule on obj with the checks every rule shares: a missing
// object, deletion, and malformed fields.
func evaluate(obj *unstructured.Unstructured, rule func(*fields) Result) Result {
	if obj == nil || obj.Object == nil {
		return inProgress("no object")
	}
	f := newFields(obj.Object)
	var r Result
	if f.str("metadata", "deletionTimestamp") != "" {
		r = inProgress("being deleted")
		var fin []string
		for _, v := range f.list("metadata", "finalizers") {
			if s, ok := v.(string); ok {
				fin = append(fin, s)
			}
		}
		if len(fin) > 0 {
			r.Reason += "; waiting for finalizers: " + strings.Join(fin, ", ")
		}
	} else {
		r = rule(f)
	}
	if f.bad() != "" {
		return inProgress("cannot read %s", f.bad())
	}
	return r
}

// generationPending returns InProgress when the controller has not yet
// observed the object's latest spec (status.observedGeneration missing or
// behind metadata.generation). Every count and condition in the status
// describes the generation it observed, so nothing else can be trusted until
// then. Stricter than kstatus, which skips the check when observedGeneration
// is missing; for the workloads that use this the field is always set once
// their controller has seen the object.
func generationPending(f *fields) (Result, bool) {
	gen := f.intOr(0, "metadata", "generation")
	obs, ok := f.integer("status", "observedGeneration")
	if !ok {
		return inProgress("not yet observed by its controller (no status.observedGeneration)"), true
	}
	if obs < gen {
		return inProgress("generation %d not yet observed by its controller (observedGeneration %d)", gen, obs), true
	}
	return Result{}, false
}

// kstatusGeneric is Compute for kinds without a rule outside the built-in
// groups (custom resources seen without their CRD). kstatus is right here:
// its generic rules read the conventions custom controllers follow
// (observedGeneration, Reconciling, Stalled, Ready) and call everything else
// Current, which is all one can say without the CRD. No kstatus per-kind code
// runs for these groups, so nothing in it can panic on a malformed object; the
// fields its generic rules read are checked here first, so that a malformed
// one is reported like any other (kstatus's errors would quote its value).
func kstatusGeneric(f *fields, obj *unstructured.Unstructured) Result {
	f.integer("metadata", "generation")
	f.integer("status", "observedGeneration")
	f.conditions()
	if f.bad() != "" {
		return Result{} // evaluate reports the field
	}
	res, err := kstatus.Compute(obj)
	if err != nil {
		return inProgress("cannot compute status: %v", err)
	}
	reason := res.Message
	if reason == "" && len(res.Conditions) > 0 {
		reason = res.Conditions[0].Reason
	}
	switch res.Status {
	case kstatus.CurrentStatus:
		return Result{Status: Ready, Reason: reason}
	case kstatus.FailedStatus:
		return Result{Status: Failed, Reason: reason}
	case kstatus.InProgressStatus:
		return Result{Status: InProgress, Reason: reason}
	}
	return inProgress("%s: %s", res.Status, reason)
}

// pvc: Bound. Same as kstatus.
func pvc(f *fields) Result {
	phase := f.str("status", "phase")
	switch phase {
	case "Bound":
		if v := f.str("spec", "volumeName"); v != "" {
			return ready("bound to PersistentVolume %s", v)
		}
		return ready("bound")
	case "":
		return inProgress("not bound yet (no status.phase)")
	case "Lost":
		return inProgress("phase Lost: its PersistentVolume is gone")
	}
	return inProgress("not bound yet (phase %s)", phase)
}

// namespace: phase Active. kstatus has no rule (Current unless deleted); a
// namespace is Active from creation, so the two agree in practice.
func namespace(f *fields) Result {
	phase := f.str("status", "phase")
	if phase == "Active" {
		return ready("Active")
	}
	if phase == "" {
		return inProgress("no status.phase yet")
	}
	return inProgress("phase %s", phase)
}

// apiService: condition Available=True. kstatus has no rule and calls an
// APIService Current whatever its Available condition says, so an
// aggregated API whose backend is down (FailedDiscoveryCheck) would pass.
func apiService(f *fields) Result {
	c, ok := f.cond("Available")
	switch {
	case !ok:
		return inProgress("no Available condition yet")
	case c.Status == "True":
		return ready("Available")
	}
	return inProgress("Available=%s %s", c.Status, c.Reason).withMessage(c.Message)
}
