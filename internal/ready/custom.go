package ready

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// CRD returns a CustomResourceDefinition's readiness: ready when its
// conditions Established and NamesAccepted are True and served is true, i.e.
// its group/version/kind is served by discovery (which lags Established:
// until then, applying a custom resource fails with "no matches for kind").
// NamesAccepted=False (a name conflicts with another CRD) is Failed.
//
// Departs from kstatus, which knows nothing of discovery and calls any
// Established=False that is not "Installing" Failed; here only NamesAccepted
// False fails (Established=False NotAccepted follows from it). Compute(crd)
// is CRD(crd, false).
func CRD(crd *unstructured.Unstructured, served bool) Result {
	return evaluate(crd, func(f *fields) Result { return crdRule(f, served) })
}

func crdRule(f *fields, served bool) Result {
	names, namesOK := f.cond("NamesAccepted")
	if namesOK && names.Status == "False" {
		return Result{Status: Failed, Reason: "names not accepted: " + names.Reason, Message: names.Message}
	}
	if est, ok := f.cond("Established"); !ok {
		return inProgress("not established yet (no Established condition)")
	} else if est.Status != "True" {
		return inProgress("not established yet (Established=%s %s)", est.Status, est.Reason).withMessage(est.Message)
	}
	if !namesOK || names.Status != "True" {
		return inProgress("names not accepted yet")
	}
	if !served {
		return inProgress("established, not yet served by discovery")
	}
	return ready("established and served")
}

// CustomResource returns the readiness of a custom resource, given whether
// its CRD declares a status subresource (for the object's version).
//
// Without a status subresource no controller is expected to report status:
// the object is ready on apply. With one, it is ready when a status is
// present, status.observedGeneration (if set) equals metadata.generation, no
// Reconciling=True condition is set, and condition Ready is True (or, with no
// Ready condition, Available is True). It is Failed on Stalled=True, or on
// Ready=False with reason Stalled or Failed.
//
// Departs from kstatus in two places: kstatus calls a resource with no Ready
// condition Current (we cannot tell "not reported yet" from "never
// reported" when the CRD promises a status, so we wait), and it treats every
// Ready=False as InProgress (we fail fast on the reasons Stalled and Failed).
// It agrees on observedGeneration, Reconciling and Stalled.
func CustomResource(obj *unstructured.Unstructured, hasStatusSubresource bool) Result {
	return evaluate(obj, func(f *fields) Result { return customResource(f, hasStatusSubresource) })
}

func customResource(f *fields, hasStatus bool) Result {
	if !hasStatus {
		return ready("exists (no status subresource: ready on apply)")
	}
	if len(f.object("status")) == 0 {
		return inProgress("no status reported yet")
	}
	gen := f.intOr(0, "metadata", "generation")
	if obs, ok := f.integer("status", "observedGeneration"); ok && obs < gen {
		return inProgress("generation %d not yet observed by its controller (observedGeneration %d)", gen, obs)
	}
	if c, ok := f.cond("Stalled"); ok && c.Status == "True" {
		return Result{Status: Failed, Reason: "Stalled: " + c.Reason, Message: c.Message}
	}
	readyC, hasReady := f.cond("Ready")
	if hasReady && readyC.Status == "False" && (readyC.Reason == "Stalled" || readyC.Reason == "Failed") {
		return Result{Status: Failed, Reason: "Ready=False " + readyC.Reason, Message: readyC.Message}
	}
	if c, ok := f.cond("Reconciling"); ok && c.Status == "True" {
		return inProgress("reconciling (Reconciling=True %s)", c.Reason).withMessage(c.Message)
	}
	if hasReady {
		if readyC.Status == "True" {
			return ready("Ready")
		}
		return inProgress("Ready=%s %s", readyC.Status, readyC.Reason).withMessage(readyC.Message)
	}
	if c, ok := f.cond("Available"); ok {
		if c.Status == "True" {
			return ready("Available")
		}
		return inProgress("Available=%s %s", c.Status, c.Reason).withMessage(c.Message)
	}
	return inProgress("no Ready or Available condition yet")
}
