// Package report renders the outcome of `testbed up`: the JSON report of
// docs/design.md, "The report" (WriteJSON, ReadJSON), a JUnit XML file for CI (WriteJUnit),
// the final human table (WriteTable) and live progress lines (Progress).
//
// The package is pure: it formats what it is given and writes to the
// io.Writer it is handed. It uses no colour; the CLI decides that.
//
// A Report records times as seconds since the run started, rounded to
// 0.01 s. Times a component or object never reached (it was never applied,
// or never became ready) are nil and left out of the JSON, so "appliedAt":
// 0 always means "at the start". Since and At convert clock times.
//
// Typical use, at the end of `testbed up`:
//
//	r := &report.Report{
//		Stack: s.Metadata.Name, Run: runID, Provider: "sim",
//		Result: report.ResultReady, StartedAt: start,
//		Seconds: report.Since(start, time.Now()),
//	}
//	for _, sp := range engine.PhaseSpans(res.Timings) {
//		r.Phases = append(r.Phases, report.Phase{Name: sp.Name,
//			Start: report.Since(start, sp.Start), End: report.Since(start, sp.End)})
//	}
//	r.Components = append(r.Components, report.Component{
//		Name: "postgresql", Status: report.StatusReady,
//		AppliedAt: report.At(start, applied), ReadyAt: report.At(start, ready),
//	})
//	_ = report.WriteJSON(f, r)        // --report out.json
//	_ = report.WriteJUnit(x, r)       // --junit out.xml
//	_ = report.WriteTable(os.Stdout, r)
//
// and, while it runs, on stderr:
//
//	p := report.NewProgress(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())), time.Now)
//	defer p.Close()
//	p.Component("postgresql", "applied", "")
//	p.Component("postgresql", "ready", "")
package report
