package report_test

import (
	"bytes"
	"errors"
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
