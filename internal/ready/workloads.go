package ready

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The workload rules below restate kstatus's (core.go) where it is right,
// with reasons that name the counts that differ, and depart from it where
// it is wrong for a test environment; each rule says which.

// deployment: observedGeneration current, then Progressing=False
// ProgressDeadlineExceeded is Failed, then updated = ready = available =
// replicas with no old replicas left (the order kubectl rollout status
// uses). kstatus agrees on the verdict, except that it also waits for the
// Progressing reason NewReplicaSetAvailable and the Available condition,
// which the controller sets shortly after the counts match; the counts are
// the rule of docs/design.md, "Readiness rules" and are what a reader can act on.
//
// The generation is checked first: after a re-apply the status still carries
// the old generation's ProgressDeadlineExceeded until the controller catches
// up, and that must not fail the new rollout.
func deployment(f *fields) Result {
	if r, ok := generationPending(f); ok {
		return r
	}
	if c, ok := f.cond("Progressing"); ok && c.Status == "False" && c.Reason == "ProgressDeadlineExceeded" {
		return Result{Status: Failed, Reason: "progress deadline exceeded (Progressing=False ProgressDeadlineExceeded)", Message: c.Message}
	}
	want := f.intOr(1, "spec", "replicas") // the API's default
	total := f.intOr(0, "status", "replicas")
	updated := f.intOr(0, "status", "updatedReplicas")
	readyN := f.intOr(0, "status", "readyReplicas")
	available := f.intOr(0, "status", "availableReplicas")

	var r Result
	switch {
	case updated < want:
		r = inProgress("%d/%d replicas updated", updated, want)
	case total > updated:
		r = inProgress("%d old replicas pending termination", total-updated)
	case readyN < want:
		r = inProgress("%d/%d replicas ready", readyN, want)
	case available < want:
		r = inProgress("%d/%d replicas available (ready, waiting for minReadySeconds)", available, want)
	default:
		return ready("%d/%d replicas available", available, want)
	}
	if isTrue(f, "spec", "paused") {
		r.Reason += "; rollout is paused (spec.paused)"
	}
	return withReplicaFailure(f, r)
}

// replicaSet: observedGeneration current; fullyLabeled = ready = available =
// replicas (a ReplicaSet has no updatedReplicas), and no extra replicas. Same
// verdict as kstatus.
func replicaSet(f *fields) Result {
	if r, ok := generationPending(f); ok {
		return r
	}
	want := f.intOr(1, "spec", "replicas")
	total := f.intOr(0, "status", "replicas")
	labeled := f.intOr(0, "status", "fullyLabeledReplicas")
	readyN := f.intOr(0, "status", "readyReplicas")
	available := f.intOr(0, "status", "availableReplicas")

	var r Result
	switch {
	case labeled < want:
		r = inProgress("%d/%d replicas created with matching labels", labeled, want)
	case readyN < want:
		r = inProgress("%d/%d replicas ready", readyN, want)
	case available < want:
		r = inProgress("%d/%d replicas available (ready, waiting for minReadySeconds)", available, want)
	case total > want:
		r = inProgress("%d extra replicas pending termination", total-want)
	default:
		return ready("%d/%d replicas available", available, want)
	}
	return withReplicaFailure(f, r)
}

// withReplicaFailure adds a ReplicaFailure=True condition (pods cannot be
// created: quota, admission, …) to a not-ready result. It stays InProgress as
// in kstatus and docs/design.md, "Readiness rules"; the progress deadline turns it into a failure.
func withReplicaFailure(f *fields, r Result) Result {
	if c, ok := f.cond("ReplicaFailure"); ok && c.Status == "True" {
		r.Reason += "; ReplicaFailure: " + c.Reason
		r.Message = c.Message
	}
	return r
}

// statefulSet: observedGeneration current; readyReplicas = replicas with no
// extra replicas; currentRevision = updateRevision. Departs from kstatus,
// which calls an OnDelete StatefulSet Current without looking at its
// replicas: we still require them ready and skip only the revision check
// (with OnDelete, pods move to a new revision only when someone deletes
// them). With a rolling-update partition, as kstatus and kubectl do, the
// revisions never converge, so the rule is updatedReplicas >= replicas -
// partition instead.
func statefulSet(f *fields) Result {
	if r, ok := generationPending(f); ok {
		return r
	}
	want := f.intOr(1, "spec", "replicas")
	total := f.intOr(0, "status", "replicas")
	readyN := f.intOr(0, "status", "readyReplicas")
	switch {
	case readyN < want:
		return inProgress("%d/%d replicas ready", readyN, want)
	case total > want:
		return inProgress("%d extra replicas pending termination", total-want)
	}
	done := ready("%d/%d replicas ready", readyN, want)
	if f.str("spec", "updateStrategy", "type") == "OnDelete" {
		return done
	}
	if p := f.intOr(0, "spec", "updateStrategy", "rollingUpdate", "partition"); p > 0 {
		updated := f.intOr(0, "status", "updatedReplicas")
		if target := want - p; updated < target {
			return inProgress("%d/%d replicas updated (partition %d)", updated, target, p)
		}
		return done
	}
	cur, upd := f.str("status", "currentRevision"), f.str("status", "updateRevision")
	if cur != upd {
		updated := f.intOr(0, "status", "updatedReplicas")
		return inProgress("rolling update: %d/%d replicas at revision %s (current revision %s)", updated, want, upd, cur)
	}
	return done
}

// daemonSet: observedGeneration current; numberReady = updatedNumberScheduled
// = desiredNumberScheduled; desiredNumberScheduled 0 is ready. Same verdict
// as kstatus, except that kstatus also waits for numberAvailable
// (minReadySeconds), which docs/design.md, "Readiness rules" does not ask for.
func daemonSet(f *fields) Result {
	if r, ok := generationPending(f); ok {
		return r
	}
	desired, ok := f.integer("status", "desiredNumberScheduled")
	if !ok {
		return inProgress("no status.desiredNumberScheduled yet")
	}
	if desired == 0 {
		return ready("no node to run on (desiredNumberScheduled 0)")
	}
	updated := f.intOr(0, "status", "updatedNumberScheduled")
	readyN := f.intOr(0, "status", "numberReady")
	switch {
	case updated < desired:
		return inProgress("%d/%d pods updated", updated, desired)
	case readyN < desired:
		return inProgress("%d/%d pods ready", readyN, desired)
	}
	return ready("%d/%d pods ready", readyN, desired)
}

// job: Ready only on Complete=True; Failed on Failed=True, or earlier on
// FailureTarget=True (the Job controller sets it as soon as the Job is
// doomed, and Failed only once its pods are gone). Departs from kstatus,
// which calls a started Job Current: for us a Job is a step (a migration)
// that later components depend on, so it is ready when it has finished.
func job(f *fields) Result {
	succeeded := f.intOr(0, "status", "succeeded")
	completions := f.intOr(1, "spec", "completions")
	for _, c := range f.conditions() {
		if c.Status != "True" {
			continue
		}
		switch c.Type {
		case "Failed", "FailureTarget":
			reason := c.Reason
			if reason == "" {
				reason = c.Type
			}
			return Result{Status: Failed, Reason: "Job failed: " + reason, Message: c.Message}
		}
	}
	if f.is("Complete", "True") {
		return ready("complete (%d/%d succeeded)", succeeded, completions)
	}
	if f.is("Suspended", "True") || isTrue(f, "spec", "suspend") {
		return inProgress("suspended (spec.suspend)")
	}
	if f.str("status", "startTime") == "" {
		return inProgress("not started yet")
	}
	active := f.intOr(0, "status", "active")
	failedN := f.intOr(0, "status", "failed")
	reason := fmt.Sprintf("running: %d/%d succeeded, %d active", succeeded, completions, active)
	if failedN > 0 {
		reason += fmt.Sprintf(", %d failed (backoffLimit %d)", failedN, f.intOr(6, "spec", "backoffLimit"))
	}
	return inProgress("%s", reason)
}

func isTrue(f *fields, path ...string) bool {
	b, _ := f.boolean(path...)
	return b
}

// jobCompletionIndex is the annotation the Job controller puts on each pod
// of an Indexed Job.
const jobCompletionIndex = "batch.kubernetes.io/job-completion-index"

// jobDeadlineMargin: a Job whose activeDeadlineSeconds ends sooner than
// this after its pods finished is judged by the Job controller alone (see
// WithSucceededJobPods): time for the controller to count the pods.
const jobDeadlineMargin = 10 * time.Second

// WithSucceededJobPods returns r, the Job rule's answer for job, or Ready
// when job is still InProgress but enough of its pods have already
// succeeded: completions pods (NonIndexed), or one for every index
// (Indexed). The work a dependent waits for (a migration, a seed) is done
// when its pod exits 0; the Job controller batches pod updates and writes
// Complete about a second later, which would put that second on every
// critical path through a Job. Pass the pods the Job controls (by UID).
//
// The answer depends only on the objects (no clock), so it does not change
// until the controller writes its own verdict. Where the controller could
// still decide otherwise, r is returned unchanged and the rule waits for
// Complete, because the controller judges failures before successes:
//   - a successPolicy, no spec.completions (a work queue: done when every
//     pod has finished), or spec.suspend;
//   - an activeDeadlineSeconds that ends less than jobDeadlineMargin after
//     the last counted pod finished (or a pod without a finish time);
//   - failures that may have used up backoffLimit (counted generously:
//     status.failed plus every failed pod), a failed pod under a
//     podFailurePolicy, or container restarts under restartPolicy
//     OnFailure (which count against backoffLimit too);
//   - a Job that is not InProgress.
func WithSucceededJobPods(r Result, job *unstructured.Unstructured, pods []*unstructured.Unstructured) Result {
	if r.Status != InProgress {
		return r
	}
	f := newFields(job.Object)
	completions, ok := f.integer("spec", "completions")
	if !ok || completions < 1 || isTrue(f, "spec", "suspend") {
		return r
	}
	if _, ok := f.get("spec", "successPolicy"); ok {
		return r
	}
	onFailure := f.str("spec", "template", "spec", "restartPolicy") == "OnFailure"
	indexed := f.str("spec", "completionMode") == "Indexed"
	done := map[string]bool{}
	failed := f.intOr(0, "status", "failed")
	var restarts int64
	var finished time.Time // the last counted pod's last container finish
	finishKnown := true
	for _, p := range pods {
		pf := newFields(p.Object)
		for _, cs := range pf.objects("status", "containerStatuses") {
			restarts += cs.intOr(0, "restartCount")
		}
		switch pf.str("status", "phase") {
		case "Failed":
			failed++
			continue
		case "Succeeded":
		default:
			continue
		}
		key := p.GetName()
		if indexed {
			i, err := strconv.ParseInt(p.GetAnnotations()[jobCompletionIndex], 10, 64)
			if err != nil || i < 0 || i >= completions {
				continue
			}
			key = strconv.FormatInt(i, 10)
		}
		done[key] = true
		statuses := pf.objects("status", "containerStatuses")
		if len(statuses) == 0 {
			finishKnown = false
		}
		for _, cs := range statuses {
			at, err := time.Parse(time.RFC3339, cs.str("state", "terminated", "finishedAt"))
			if err != nil {
				finishKnown = false
				continue
			}
			if at.After(finished) {
				finished = at
			}
		}
	}
	_, policy := f.get("spec", "podFailurePolicy")
	switch {
	case int64(len(done)) < completions:
		return r
	case failed > f.intOr(6, "spec", "backoffLimit"), policy && failed > 0, onFailure && restarts > 0:
		return r
	}
	if d, ok := f.integer("spec", "activeDeadlineSeconds"); ok {
		start, err := time.Parse(time.RFC3339, f.str("status", "startTime"))
		if err != nil || !finishKnown || !finished.Add(jobDeadlineMargin).Before(start.Add(time.Duration(d)*time.Second)) {
			return r
		}
	}
	return ready("%d/%d pods succeeded (before the Job controller writes Complete)", len(done), completions)
}

// WithFailedJobPods adds to a failed Job's result what its last failed pod
// says: which container exited with which code, and its termination
// message. The Job's own condition says only BackoffLimitExceeded.
func WithFailedJobPods(r Result, pods []*unstructured.Unstructured) Result {
	if r.Status != Failed {
		return r
	}
	var last *unstructured.Unstructured
	for _, p := range pods {
		if phase, _, _ := unstructured.NestedString(p.Object, "status", "phase"); phase != "Failed" {
			continue
		}
		if last == nil {
			last = p
			continue
		}
		if a, b := last.GetCreationTimestamp().Time, p.GetCreationTimestamp().Time; b.After(a) || (b.Equal(a) && p.GetName() > last.GetName()) {
			last = p
		}
	}
	if last == nil {
		return r
	}
	pf := podFailed(newFields(last.Object))
	r.Reason += fmt.Sprintf("; last failed pod %q: %s", last.GetName(), strings.TrimPrefix(pf.Reason, "pod failed: "))
	if pf.Message != "" {
		if r.Message != "" {
			r.Message += "; "
		}
		r.Message += pf.Message
	}
	return r
}
