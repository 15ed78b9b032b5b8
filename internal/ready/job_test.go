package ready

import (
	"fmt"
	"testing"
)

func TestWithSucceededJobPods(t *testing.T) {
	job := func(spec string) string {
		return `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: app, uid: job-uid}
spec:
` + spec + `
status:
  startTime: "2026-01-01T00:00:00Z"
  active: 1
`
	}
	// A pod of the Job in phase, finished (if it has) 40 s after the Job
	// started, with restarts container restarts.
	podAt := func(name, phase, index, finishedAt string, restarts int) string {
		ann := ""
		if index != "" {
			ann = fmt.Sprintf("annotations: {batch.kubernetes.io/job-completion-index: %q}", index)
		}
		state := "{running: {}}"
		if phase == "Succeeded" || phase == "Failed" {
			state = fmt.Sprintf("{terminated: {finishedAt: %q}}", finishedAt)
		}
		return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: app
  %s
  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: migrate, uid: job-uid, controller: true}]
status:
  phase: %s
  containerStatuses: [{name: migrate, restartCount: %d, state: %s}]
`, name, ann, phase, restarts, state)
	}
	pod := func(name, phase, index string) string {
		return podAt(name, phase, index, "2026-01-01T00:00:40Z", 0)
	}
	const one = "  completions: 1\n  parallelism: 1\n  backoffLimit: 6"
	cases := []struct {
		name   string
		job    string
		pods   []string
		want   Status
		reason string
	}{
		{"no pods", job(one), nil, InProgress, "running"},
		{"pod running", job(one), []string{pod("migrate-a", "Running", "")}, InProgress, "running"},
		{"pod succeeded", job(one), []string{pod("migrate-a", "Succeeded", "")}, Ready, "1/1 pods succeeded"},
		{"retry succeeded after a failure", job(one), []string{pod("migrate-a", "Failed", ""), pod("migrate-b", "Succeeded", "")}, Ready, "1/1 pods succeeded"},
		{"backoffLimit may be used up", job("  completions: 1\n  backoffLimit: 1"),
			[]string{pod("migrate-a", "Failed", ""), pod("migrate-b", "Failed", ""), pod("migrate-c", "Succeeded", "")}, InProgress, "running"},
		{"two of three", job("  completions: 3\n  parallelism: 3"),
			[]string{pod("migrate-a", "Succeeded", ""), pod("migrate-b", "Succeeded", ""), pod("migrate-c", "Running", "")}, InProgress, "running"},
		{"three of three", job("  completions: 3\n  parallelism: 3"),
			[]string{pod("migrate-a", "Succeeded", ""), pod("migrate-b", "Succeeded", ""), pod("migrate-c", "Succeeded", "")}, Ready, "3/3 pods succeeded"},
		{"indexed: one index twice", job("  completions: 2\n  completionMode: Indexed"),
			[]string{pod("migrate-0-a", "Succeeded", "0"), pod("migrate-0-b", "Succeeded", "0")}, InProgress, "running"},
		{"indexed: index out of range", job("  completions: 2\n  completionMode: Indexed"),
			[]string{pod("migrate-0", "Succeeded", "0"), pod("migrate-7", "Succeeded", "7")}, InProgress, "running"},
		{"indexed: every index", job("  completions: 2\n  completionMode: Indexed"),
			[]string{pod("migrate-0", "Succeeded", "0"), pod("migrate-1", "Succeeded", "1")}, Ready, "2/2 pods succeeded"},
		{"work queue (no completions)", job("  parallelism: 2"), []string{pod("migrate-a", "Succeeded", "")}, InProgress, "running"},
		{"success policy", job(one + "\n  completionMode: Indexed\n  successPolicy: {rules: [{succeededIndexes: \"0\"}]}"),
			[]string{pod("migrate-0", "Succeeded", "0")}, InProgress, "running"},
		{"active deadline far off", job(one + "\n  activeDeadlineSeconds: 300"), []string{pod("migrate-a", "Succeeded", "")}, Ready, "1/1 pods succeeded"},
		{"active deadline within the margin of the finish", job(one + "\n  activeDeadlineSeconds: 45"), []string{pod("migrate-a", "Succeeded", "")}, InProgress, "running"},
		{"active deadline passed", job(one + "\n  activeDeadlineSeconds: 30"), []string{pod("migrate-a", "Succeeded", "")}, InProgress, "running"},
		{"active deadline, no finish time", job(one + "\n  activeDeadlineSeconds: 300"), []string{podAt("migrate-a", "Succeeded", "", "", 0)}, InProgress, "running"},
		{"no deadline, no finish time", job(one), []string{podAt("migrate-a", "Succeeded", "", "", 0)}, Ready, "1/1 pods succeeded"},
		{"OnFailure with restarts", job(one + "\n  template: {spec: {restartPolicy: OnFailure}}"), []string{podAt("migrate-a", "Succeeded", "", "2026-01-01T00:00:40Z", 2)}, InProgress, "running"},
		{"OnFailure without restarts", job(one + "\n  template: {spec: {restartPolicy: OnFailure}}"), []string{pod("migrate-a", "Succeeded", "")}, Ready, "1/1 pods succeeded"},
		{"Never with restarts (not counted by the controller)", job(one + "\n  template: {spec: {restartPolicy: Never}}"), []string{podAt("migrate-a", "Succeeded", "", "2026-01-01T00:00:40Z", 2)}, Ready, "1/1 pods succeeded"},
		{"indexed: one index written two ways", job("  completions: 2\n  completionMode: Indexed"),
			[]string{pod("migrate-1-a", "Succeeded", "1"), pod("migrate-1-b", "Succeeded", "01")}, InProgress, "running"},
		{"pod failure policy and a failed pod", job(one + "\n  podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {operator: In, values: [42]}}]}"),
			[]string{pod("migrate-a", "Failed", ""), pod("migrate-b", "Succeeded", "")}, InProgress, "running"},
		{"pod failure policy, no failure", job(one + "\n  podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {operator: In, values: [42]}}]}"),
			[]string{pod("migrate-b", "Succeeded", "")}, Ready, "1/1 pods succeeded"},
		{"suspended", job(one + "\n  suspend: true"), []string{pod("migrate-a", "Succeeded", "")}, InProgress, "suspended"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := y2u(t, tc.job)
			r := WithSucceededJobPods(Compute(obj), obj, y2us(t, joinDocs(tc.pods)))
			check(t, r, tc.want, tc.reason)
		})
	}

	// Verdicts the Job controller has written are kept.
	failed := y2u(t, job(one)+`  conditions: [{type: Failed, status: "True", reason: BackoffLimitExceeded}]`)
	check(t, WithSucceededJobPods(Compute(failed), failed, y2us(t, pod("migrate-a", "Succeeded", ""))), Failed, "BackoffLimitExceeded")
	complete := y2u(t, job(one)+`  succeeded: 1
  conditions: [{type: Complete, status: "True"}]`)
	check(t, WithSucceededJobPods(Compute(complete), complete, nil), Ready, "complete")
}

func joinDocs(docs []string) string {
	out := ""
	for _, d := range docs {
		out += d + "\n---\n"
	}
	return out
}

// A failed Job's reason names its last failed pod, the container that
// exited and its code; the termination message joins the Job's message.
func TestWithFailedJobPods(t *testing.T) {
	failed := Result{Status: Failed, Reason: "Job failed: BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}
	pods := y2us(t, `
apiVersion: v1
kind: Pod
metadata: {name: migrate-a, namespace: app, creationTimestamp: "2026-01-01T00:00:00Z"}
status:
  phase: Failed
  containerStatuses: [{name: migrate, state: {terminated: {exitCode: 2, reason: Error, message: "first try"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: migrate-b, namespace: app, creationTimestamp: "2026-01-01T00:00:30Z"}
status:
  phase: Failed
  containerStatuses: [{name: migrate, state: {terminated: {exitCode: 1, reason: Error, message: "relation \"users\" does not exist"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: migrate-c, namespace: app, creationTimestamp: "2026-01-01T00:01:00Z"}
status: {phase: Running}
`)
	got := WithFailedJobPods(failed, pods)
	check(t, got, Failed, `Job failed: BackoffLimitExceeded; last failed pod "migrate-b": container "migrate" exited with code 1 (Error)`)
	if want := `Job has reached the specified backoff limit; relation "users" does not exist`; got.Message != want {
		t.Errorf("message = %q, want %q", got.Message, want)
	}
	// Not failed, or no failed pod: unchanged.
	running := Result{Status: InProgress, Reason: "running"}
	if r := WithFailedJobPods(running, pods); r != running {
		t.Errorf("in progress: %v, want it unchanged", r)
	}
	if r := WithFailedJobPods(failed, pods[2:]); r != failed {
		t.Errorf("no failed pod: %v, want it unchanged", r)
	}
}
