package ready

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// doomedWaiting are the container waiting reasons that do not resolve
// without a change to the manifest, the image or the cluster (docs/design.md, "Readiness rules").
var doomedWaiting = map[string]bool{
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"ErrImageNeverPull":          true,
	"InvalidImageName":           true,
	"CreateContainerConfigError": true,
	"CrashLoopBackOff":           true,
}

// pod: condition Ready=True or phase Succeeded is ready; phase Failed is
// Failed; a doomed container is Failed. Departs from kstatus, which calls a
// Failed pod Current ("completed, but not successfully"), sees only
// CrashLoopBackOff (and only in phase Running, so not ImagePullBackOff in
// Pending), and decides Unschedulable against the wall clock. Unschedulable
// needs a clock, so here it stays InProgress; PodDoomed decides it.
func pod(f *fields) Result {
	switch f.str("status", "phase") {
	case "Succeeded":
		return ready("succeeded")
	case "Failed":
		return podFailed(f)
	}
	if f.is("Ready", "True") {
		return ready("Ready")
	}
	if reason, ok := doomedContainer(f); ok {
		return Result{Status: Failed, Reason: reason}
	}
	if c, ok := f.cond("PodScheduled"); ok && c.Status == "False" {
		if c.Reason == "Unschedulable" {
			return inProgress("unschedulable").withMessage(c.Message)
		}
		return inProgress("not scheduled: %s", c.Reason).withMessage(c.Message)
	}
	if f.str("spec", "nodeName") == "" && !f.is("PodScheduled", "True") {
		return inProgress("not scheduled yet")
	}
	return notReadyPod(f)
}

// notReadyPod describes a scheduled pod that is not ready: how many
// containers are ready and what the first one that is not is doing.
func notReadyPod(f *fields) Result {
	statuses := f.objects("status", "containerStatuses")
	var readyN int
	var first string
	for _, cs := range statuses {
		ok, _ := cs.boolean("ready")
		if ok {
			readyN++
		} else if first == "" {
			first = describeContainer(cs)
		}
	}
	var reason string
	switch {
	case len(statuses) == 0:
		reason = "containers not started yet"
	case readyN == len(statuses):
		reason = "containers ready, pod not Ready (readiness gates?)"
	default:
		reason = fmt.Sprintf("%d/%d containers ready; %s", readyN, len(statuses), first)
	}
	for _, cs := range f.objects("status", "initContainerStatuses") {
		if ok, _ := cs.boolean("ready"); !ok && cs.object("state", "terminated") == nil {
			reason = "initializing; init " + describeContainer(cs)
			break
		}
	}
	r := inProgress("%s", reason)
	if c, ok := f.cond("Ready"); ok {
		r.Message = c.Message
	}
	return r
}

// describeContainer says what a not-ready container is doing.
func describeContainer(cs *fields) string {
	name := cs.str("name")
	if w := cs.object("state", "waiting"); w != nil {
		return fmt.Sprintf("container %q waiting: %s", name, cs.str("state", "waiting", "reason"))
	}
	if cs.object("state", "running") != nil {
		return fmt.Sprintf("container %q running, not ready (readiness probe?)", name)
	}
	if t := cs.object("state", "terminated"); t != nil {
		return fmt.Sprintf("container %q terminated: %s (exit code %d)", name,
			cs.str("state", "terminated", "reason"), cs.intOr(0, "state", "terminated", "exitCode"))
	}
	return fmt.Sprintf("container %q not ready", name)
}

// podFailed explains a pod in phase Failed: the pod's own reason (Evicted,
// DeadlineExceeded, …) or the first container that exited non-zero.
func podFailed(f *fields) Result {
	if reason := f.str("status", "reason"); reason != "" {
		return Result{Status: Failed, Reason: "pod failed: " + reason, Message: f.str("status", "message")}
	}
	for _, list := range [][]string{{"status", "initContainerStatuses"}, {"status", "containerStatuses"}} {
		for _, cs := range f.objects(list...) {
			code := cs.intOr(0, "state", "terminated", "exitCode")
			if cs.object("state", "terminated") == nil || code == 0 {
				continue
			}
			prefix := "container"
			if list[1] == "initContainerStatuses" {
				prefix = "init container"
			}
			return Result{
				Status:  Failed,
				Reason:  fmt.Sprintf("pod failed: %s %q exited with code %d (%s)", prefix, cs.str("name"), code, cs.str("state", "terminated", "reason")),
				Message: cs.str("state", "terminated", "message"),
			}
		}
	}
	return Result{Status: Failed, Reason: "pod failed", Message: f.str("status", "message")}
}

// doomedContainer finds the first init container, then container, waiting
// with a doomed reason, and describes it.
func doomedContainer(f *fields) (string, bool) {
	for _, list := range [][]string{{"status", "initContainerStatuses"}, {"status", "containerStatuses"}} {
		for _, cs := range f.objects(list...) {
			reason := cs.str("state", "waiting", "reason")
			if !doomedWaiting[reason] {
				continue
			}
			prefix := "container"
			if list[1] == "initContainerStatuses" {
				prefix = "init container"
			}
			s := fmt.Sprintf("%s %q %s", prefix, cs.str("name"), reason)
			if reason == "CrashLoopBackOff" {
				s += fmt.Sprintf(" (restarts: %d)", cs.intOr(0, "restartCount"))
			}
			if msg := cs.str("state", "waiting", "message"); msg != "" {
				s += ": " + msg
			}
			if reason == "CrashLoopBackOff" && cs.object("lastState", "terminated") != nil {
				// Why it crashed: its exit code and termination message
				// (what it wrote to /dev/termination-log, or its last log
				// lines under FallbackToLogsOnError).
				s += fmt.Sprintf("; last exit %d", cs.intOr(0, "lastState", "terminated", "exitCode"))
				if msg := firstLine(cs.str("lastState", "terminated", "message"), 300); msg != "" {
					s += ": " + msg
				}
			}
			return s, true
		}
	}
	return "", false
}

// PodDoomed reports whether a pod will not become ready without a change,
// and why: a container or init container waiting with ImagePullBackOff,
// ErrImagePull, ErrImageNeverPull, InvalidImageName,
// CreateContainerConfigError or CrashLoopBackOff, or PodScheduled=False
// Unschedulable for longer than unschedulableGrace before now (measured from
// the condition's lastTransitionTime, or the pod's creationTimestamp if that
// is missing). The reason names the container and its waiting reason and
// message, e.g.
//
//	container "api" CrashLoopBackOff (restarts: 3): back-off 10s restarting failed container
//
// A pod that has finished (Succeeded, Failed) or is being deleted is not
// doomed: its controller replaces or retries it, or Compute judges it. A
// malformed pod is not doomed (nothing can be concluded from it).
func PodDoomed(pod *unstructured.Unstructured, now time.Time, unschedulableGrace time.Duration) (bool, string) {
	if pod == nil || pod.Object == nil {
		return false, ""
	}
	f := newFields(pod.Object)
	doomed, reason := podDoomed(f, now, unschedulableGrace)
	if f.bad() != "" {
		return false, ""
	}
	return doomed, reason
}

func podDoomed(f *fields, now time.Time, grace time.Duration) (bool, string) {
	if f.str("metadata", "deletionTimestamp") != "" {
		return false, ""
	}
	switch f.str("status", "phase") {
	case "Succeeded", "Failed":
		return false, ""
	}
	if reason, ok := doomedContainer(f); ok {
		return true, reason
	}
	c, ok := f.cond("PodScheduled")
	if !ok || c.Status != "False" || c.Reason != "Unschedulable" {
		return false, ""
	}
	since, err := time.Parse(time.RFC3339, c.LastTransitionTime)
	if err != nil {
		if since, err = time.Parse(time.RFC3339, f.str("metadata", "creationTimestamp")); err != nil {
			return false, "" // no clock to measure against
		}
	}
	if d := now.Sub(since); d > grace {
		s := fmt.Sprintf("unschedulable for %s", d.Round(time.Second))
		if c.Message != "" {
			s += ": " + c.Message
		}
		return true, s
	}
	return false, ""
}

// WithDoomedPods folds a workload's pods into its result: if the workload
// (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, or a Pod itself) is
// InProgress and one of its pods is doomed (see PodDoomed), the result is
// Failed with that pod's reason, e.g.
//
//	pod "api-7d9f8-x2x4q": container "api" CrashLoopBackOff (restarts: 3): back-off …
//
// with the workload's own reason kept as Message. Ready and Failed results
// are returned unchanged: a ready workload has all the pods it needs, and a
// straggler does not unready it. Pass the pods of the workload's current
// revision (for a Deployment, those of its newest ReplicaSet), so that a
// crash-looping old version does not fail the rollout that replaces it. When
// several pods are doomed, the one with the smallest name is reported, and
// how many more there are.
func WithDoomedPods(workload Result, pods []*unstructured.Unstructured, now time.Time, unschedulableGrace time.Duration) Result {
	if workload.Status != InProgress {
		return workload
	}
	type doomed struct{ name, reason string }
	var all []doomed
	for _, p := range pods {
		if ok, reason := PodDoomed(p, now, unschedulableGrace); ok {
			all = append(all, doomed{p.GetName(), reason})
		}
	}
	if len(all) == 0 {
		return workload
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	reason := fmt.Sprintf("pod %q: %s", all[0].name, all[0].reason)
	if n := len(all) - 1; n == 1 {
		reason += " (and 1 more doomed pod)"
	} else if n > 1 {
		reason += fmt.Sprintf(" (and %d more doomed pods)", n)
	}
	return Result{Status: Failed, Reason: reason, Message: workload.Reason}
}

// firstLine returns the first non-empty line of s, cut to at most n bytes
// (at a character's start: a termination message may be any UTF-8).
func firstLine(s string, n int) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			if len(line) > n {
				for n > 0 && !utf8.RuneStart(line[n]) {
					n--
				}
				line = line[:n] + "…"
			}
			return line
		}
	}
	return ""
}
