package report_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/kubetestbed/testbed/pkg/report"
)

// The test's own reading of JUnit, independent of the writer's types.
type suite struct {
	XMLName   xml.Name `xml:"testsuite"`
	Name      string   `xml:"name,attr"`
	Tests     int      `xml:"tests,attr"`
	Failures  int      `xml:"failures,attr"`
	Skipped   int      `xml:"skipped,attr"`
	Time      string   `xml:"time,attr"`
	Timestamp string   `xml:"timestamp,attr"`
	Props     []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"properties>property"`
	Cases []struct {
		Classname string `xml:"classname,attr"`
		Name      string `xml:"name,attr"`
		Time      string `xml:"time,attr"`
		Failure   *struct {
			Message string `xml:"message,attr"`
			Type    string `xml:"type,attr"`
			Text    string `xml:",chardata"`
		} `xml:"failure"`
		Skipped *struct {
			Message string `xml:"message,attr"`
		} `xml:"skipped"`
	} `xml:"testcase"`
}

func parseJUnit(t *testing.T, r *report.Report) (suite, string) {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteJUnit(&b, r); err != nil {
		t.Fatalf("WriteJUnit: %v", err)
	}
	var s suite
	if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatalf("output is not valid XML: %v\n%s", err, b.String())
	}
	return s, b.String()
}

func TestWriteJUnit(t *testing.T) {
	r := sample()
	r.Components = append(r.Components, report.Component{Name: "redis", Status: report.StatusPending, AppliedAt: f(3)})
	s, raw := parseJUnit(t, r)
	if !strings.HasPrefix(raw, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("no XML declaration:\n%s", raw)
	}
	if s.Name != "gateway-e2e" || s.Tests != 4 || s.Failures != 1 || s.Skipped != 2 || s.Time != "21.40" ||
		s.Timestamp != "2026-11-25T10:00:00Z" {
		t.Errorf("testsuite = %+v", s)
	}
	props := map[string]string{}
	for _, p := range s.Props {
		props[p.Name] = p.Value
	}
	if props["run"] != "k3x9q" || props["provider"] != "sim" || props["result"] != "failed" {
		t.Errorf("properties = %v", props)
	}
	want := []struct {
		name, time, failure, skipped string
	}{
		{"postgresql", "8.10", "", ""},
		{"datastorage", "11.00", "Pod datastorage-7d9 container api: CrashLoopBackOff", ""},
		{"gateway", "0.00", "", "not applied: the run stopped first"},
		{"redis", "18.40", "", "pending when the run ended (failed)"},
	}
	for i, w := range want {
		c := s.Cases[i]
		if c.Classname != "gateway-e2e" || c.Name != w.name || c.Time != w.time {
			t.Errorf("testcase %d = %s/%s time %s, want gateway-e2e/%s time %s", i, c.Classname, c.Name, c.Time, w.name, w.time)
		}
		if (c.Failure != nil) != (w.failure != "") || c.Failure != nil && c.Failure.Message != w.failure {
			t.Errorf("%s: failure = %+v, want %q", w.name, c.Failure, w.failure)
		}
		if (c.Skipped != nil) != (w.skipped != "") || c.Skipped != nil && c.Skipped.Message != w.skipped {
			t.Errorf("%s: skipped = %+v, want %q", w.name, c.Skipped, w.skipped)
		}
	}
	if f := s.Cases[1].Failure; f.Type != "failed" || !strings.Contains(f.Text, "diagnostics: /tmp/testbed/k3x9q/datastorage") {
		t.Errorf("failure = %+v, want type failed and the diagnostics path", f)
	}
}

// TestWriteJUnitEscapes feeds markup, quotes, newlines and characters XML
// cannot hold through every string that reaches the document.
func TestWriteJUnitEscapes(t *testing.T) {
	nasty := "a<b>&c \"d\" 'e'\n]]><!-- \x1b[31mred\x00"
	r := &report.Report{
		Stack: "s<&>\"", Run: nasty, Provider: "sim", Result: report.ResultTimeout, StartedAt: start, Seconds: 5,
		Components: []report.Component{{Name: "c&<", Status: report.StatusTimeout, AppliedAt: f(1), Reason: nasty, Diagnostics: nasty}},
	}
	s, raw := parseJUnit(t, r)
	if strings.ContainsAny(raw, "\x1b\x00") {
		t.Errorf("raw control characters in the XML:\n%q", raw)
	}
	wantText := "a<b>&c \"d\" 'e'\n]]><!-- \uFFFD[31mred\uFFFD"
	if s.Name != "s<&>\"" || s.Cases[0].Name != "c&<" || s.Cases[0].Failure.Message != wantText ||
		s.Cases[0].Failure.Type != "timeout" || !strings.HasPrefix(s.Cases[0].Failure.Text, wantText) {
		t.Errorf("parsed back: %+v", s)
	}
	if s.Failures != 1 || s.Tests != 1 {
		t.Errorf("a timed out component counts as %d failures of %d tests, want 1 of 1", s.Failures, s.Tests)
	}
}

// TestWriteJUnitRunFailure: a run that failed with no failed component
// (here: the cluster could not be created) must not read as passed.
func TestWriteJUnitRunFailure(t *testing.T) {
	for _, result := range []report.Result{report.ResultFailed, report.ResultInterrupted, report.ResultInvalid} {
		r := &report.Report{Stack: "s", Result: result, StartedAt: start, Seconds: 2,
			Components: []report.Component{{Name: "a", Status: report.StatusSkipped}}}
		s, _ := parseJUnit(t, r)
		if s.Tests != 2 || s.Failures != 1 || s.Cases[1].Name != report.RunCaseName ||
			s.Cases[1].Failure == nil || s.Cases[1].Failure.Message != "run "+string(result) {
			t.Errorf("%s: %+v", result, s)
		}
	}
	// The run's reason, when the report has one, is the failure's message
	// and text: CI shows one or the other.
	r := &report.Report{Stack: "s", Result: report.ResultFailed, StartedAt: start, Seconds: 2,
		Reason: "sim cluster s: kube-apiserver exited: status 1"}
	s, _ := parseJUnit(t, r)
	want := "run failed: sim cluster s: kube-apiserver exited: status 1"
	if len(s.Cases) != 1 || s.Cases[0].Failure == nil || s.Cases[0].Failure.Message != want || s.Cases[0].Failure.Text != want {
		t.Errorf("run failure with a reason: %+v; want message and text %q", s, want)
	}
	r = &report.Report{Stack: "s", Result: report.ResultReady, StartedAt: start, Seconds: 2,
		Components: []report.Component{{Name: "a", Status: report.StatusReady, AppliedAt: f(0), ReadyAt: f(2)}}}
	if s, _ := parseJUnit(t, r); s.Tests != 1 || s.Failures != 0 || s.Skipped != 0 {
		t.Errorf("ready run: %+v", s)
	}
}
