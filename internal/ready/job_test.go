package ready

import (
	"fmt"
	"testing"
	"time"
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
	pod := func(name, phase, index string) string {
		ann := ""
		if index != "" {
			ann = fmt.Sprintf("annotations: {batch.kubernetes.io/job-completion-index: %q}", index)
		}
		return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: app
  %s
  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: migrate, uid: job-uid, controller: true}]
status: {phase: %s}
`, name, ann, phase)
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
		{"active deadline within the margin", job(one + "\n  activeDeadlineSeconds: 65"), []string{pod("migrate-a", "Succeeded", "")}, InProgress, "running"},
		{"active deadline passed", job(one + "\n  activeDeadlineSeconds: 30"), []string{pod("migrate-a", "Succeeded", "")}, InProgress, "running"},
		{"pod failure policy and a failed pod", job(one + "\n  podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {operator: In, values: [42]}}]}"),
			[]string{pod("migrate-a", "Failed", ""), pod("migrate-b", "Succeeded", "")}, InProgress, "running"},
		{"pod failure policy, no failure", job(one + "\n  podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {operator: In, values: [42]}}]}"),
			[]string{pod("migrate-b", "Succeeded", "")}, Ready, "1/1 pods succeeded"},
		{"suspended", job(one + "\n  suspend: true"), []string{pod("migrate-a", "Succeeded", "")}, InProgress, "suspended"},
	}
	// startTime is 2026-01-01T00:00:00Z; a minute later:
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := y2u(t, tc.job)
			r := WithSucceededJobPods(Compute(obj), obj, y2us(t, joinDocs(tc.pods)), now)
			check(t, r, tc.want, tc.reason)
		})
	}

	// Verdicts the Job controller has written are kept.
	failed := y2u(t, job(one)+`  conditions: [{type: Failed, status: "True", reason: BackoffLimitExceeded}]`)
	check(t, WithSucceededJobPods(Compute(failed), failed, y2us(t, pod("migrate-a", "Succeeded", "")), now), Failed, "BackoffLimitExceeded")
	complete := y2u(t, job(one)+`  succeeded: 1
  conditions: [{type: Complete, status: "True"}]`)
	check(t, WithSucceededJobPods(Compute(complete), complete, nil, now), Ready, "complete")
}

func joinDocs(docs []string) string {
	out := ""
	for _, d := range docs {
		out += d + "\n---\n"
	}
	return out
}
