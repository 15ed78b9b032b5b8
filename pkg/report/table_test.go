package report_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kubetestbed/testbed/pkg/report"
)

func TestWriteTable(t *testing.T) {
	tests := []struct {
		name string
		r    *report.Report
		want string
	}{
		{
			name: "failed sim run",
			r:    sample(),
			want: `COMPONENT    APPLIED  READY   DURATION  STATUS
postgresql   2.2 s    10.3 s  8.1 s     ready
datastorage  10.4 s   -       11.0 s    failed: Pod datastorage-7d9 container api: CrashLoopBackOff
gateway      -        -       -         skipped
critical path: postgresql → datastorage (21.4 s; lower bound 21.0 s)
datastorage diagnostics: /tmp/testbed/k3x9q/datastorage
`,
		},
		{
			name: "ready kind run",
			r: &report.Report{
				Stack: "s", Provider: "kind", Result: report.ResultReady, StartedAt: start, Seconds: 30.02,
				Components: []report.Component{
					{Name: "db", Status: report.StatusReady, AppliedAt: f(12.5), ReadyAt: f(20)},
					{Name: "api", Status: report.StatusReady, AppliedAt: f(20.01), ReadyAt: f(29.96)},
					{Name: "hook\tx", Status: report.StatusReady, AppliedAt: f(29.97), ReadyAt: f(30.02)},
				},
				CriticalPath: []string{"db", "api"},
			},
			want: `COMPONENT  APPLIED  READY   DURATION  STATUS
db         12.5 s   20.0 s  7.5 s     ready
api        20.0 s   30.0 s  10.0 s    ready
hook x     30.0 s   30.0 s  0.1 s     ready
critical path: db → api (30.0 s)
`,
		},
		{
			name: "multi-line reason, no critical path",
			r: &report.Report{
				Stack: "s", Result: report.ResultTimeout, StartedAt: start, Seconds: 600,
				Components: []report.Component{
					{Name: "db", Status: report.StatusTimeout, AppliedAt: f(1), Reason: "StatefulSet db: 0/1 ready\nPod db-0: Unschedulable"},
				},
			},
			want: `COMPONENT  APPLIED  READY  DURATION  STATUS
db         1.0 s    -      599.0 s   timeout: StatefulSet db: 0/1 ready Pod db-0: Unschedulable
`,
		},
		{
			name: "images: built and loaded, unchanged, a reference loaded, a failed build",
			r:    imageSample(),
			want: `COMPONENT  APPLIED  READY   DURATION  STATUS
db         21.8 s   23.9 s  2.1 s     ready
api        23.9 s   24.8 s  0.9 s     ready
frontend   -        -       -         skipped
critical path: db → api (24.8 s)

IMAGE     BUILD      LOAD   STATUS  REF
api       12.3 s     2.5 s  ready   testbed.local/shop-e2e/api:3f9a1c2b
worker    unchanged  0.3 s  ready   testbed.local/shop-e2e/worker:77e0d4aa
postgres  -          1.8 s  ready   docker.io/library/postgres:16
frontend  25.0 s     -      failed  testbed.local/shop-e2e/frontend:0c1d2e3f
frontend failed: image frontend: docker build: exit status 1 (log /tmp/testbed/p2r7m/images/frontend.log)
`,
		},
		{
			name: "images, no components, no refs",
			r: &report.Report{
				Stack: "s", Result: report.ResultInterrupted, StartedAt: start, Seconds: 3,
				Images: []report.Image{
					{Name: "a\tb", Build: &report.Span{Start: 0.5, End: 3}, Status: report.StatusPending, Reason: "interrupted\nby a signal"},
					{Name: "c", Status: report.StatusSkipped},
				},
			},
			want: `COMPONENT  APPLIED  READY  DURATION  STATUS

IMAGE  BUILD  LOAD  STATUS   REF
a b    2.5 s  -     pending  -
c      -      -     skipped  -
a b pending: interrupted by a signal
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.WriteTable(&b, tt.r); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("WriteTable:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	for name, write := range map[string]func() error{
		"table": func() error { return report.WriteTable(failingWriter{}, sample()) },
		"json":  func() error { return report.WriteJSON(failingWriter{}, sample()) },
		"junit": func() error { return report.WriteJUnit(failingWriter{}, sample()) },
	} {
		if err := write(); err == nil {
			t.Errorf("%s: no error from a failing writer", name)
		}
	}
}

// shortWriter takes n bytes, then fails.
type shortWriter struct{ n int }

func (w *shortWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

// TestWriteTableImagesError: a write that fails in the images' table is
// an error too.
func TestWriteTableImagesError(t *testing.T) {
	var full bytes.Buffer
	if err := report.WriteTable(&full, imageSample()); err != nil {
		t.Fatal(err)
	}
	n := strings.Index(full.String(), "IMAGE")
	if err := report.WriteTable(&shortWriter{n: n}, imageSample()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error = %v, want the write error", err)
	}
}

// A component that came up after a crash says so under the table.
func TestWriteTableRestarts(t *testing.T) {
	ready := 9.4
	r := &report.Report{Components: []report.Component{{
		Name: "datastorage", Status: report.StatusReady, ReadyAt: &ready,
		Restarts: []report.Restart{{Pod: "datastorage-7c9f", Container: "datastorage", Count: 1, ExitCode: 1,
			Message: `schema missing: relation "audit_events" does not exist`}},
	}}}
	var b strings.Builder
	if err := report.WriteTable(&b, r); err != nil {
		t.Fatal(err)
	}
	want := `warning: datastorage: container "datastorage" of pod datastorage-7c9f restarted 1 time; last exit 1: schema missing: relation "audit_events" does not exist` + "\n"
	if !strings.HasSuffix(b.String(), want) {
		t.Errorf("table:\n%s\nwant it to end with\n%s", b.String(), want)
	}
}
