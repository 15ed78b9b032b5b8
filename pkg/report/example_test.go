package report_test

import (
	"os"
	"time"

	"github.com/kubetestbed/testbed/pkg/report"
)

func ExampleWriteTable() {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	lower := 12.0
	r := &report.Report{
		Stack: "gateway-e2e", Run: "k3x9q", Provider: "sim", Result: report.ResultReady,
		StartedAt: start, Seconds: report.Since(start, at(12440)),
		Components: []report.Component{
			{Name: "postgresql", Status: report.StatusReady, AppliedAt: report.At(start, at(2150)), ReadyAt: report.At(start, at(10210))},
			{Name: "migrations", Status: report.StatusReady, AppliedAt: report.At(start, at(10230)), ReadyAt: report.At(start, at(12440))},
		},
		CriticalPath:      []string{"postgresql", "migrations"},
		LowerBoundSeconds: &lower,
	}
	_ = report.WriteTable(os.Stdout, r)
	// Output:
	// COMPONENT   APPLIED  READY   DURATION  STATUS
	// postgresql  2.2 s    10.2 s  8.1 s     ready
	// migrations  10.2 s   12.4 s  2.2 s     ready
	// critical path: postgresql → migrations (12.4 s; lower bound 12.0 s)
}

func ExampleProgress() {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	now := start
	p := report.NewProgress(os.Stdout, false, func() time.Time { return now })
	now = now.Add(1234 * time.Millisecond)
	p.Component("postgresql", "applied", "")
	now = now.Add(8 * time.Second)
	p.Component("postgresql", "ready", "")
	_ = p.Close()
	// Output:
	// 2026-11-25T10:00:01.234Z postgresql applied
	// 2026-11-25T10:00:09.234Z postgresql ready
}
