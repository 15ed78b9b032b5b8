package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The JUnit XML schema, as far as CI systems read it.
type junitSuite struct {
	XMLName    xml.Name        `xml:"testsuite"`
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// RunCaseName is the name of the extra test case WriteJUnit adds when the
// run did not end ready but no component failed or timed out (the cluster
// could not be created, the run was interrupted, ...), so that CI never
// reads such a run as passed.
const RunCaseName = "(testbed up)"

// WriteJUnit writes r as a JUnit XML document: one <testsuite name=stack>
// holding one <testcase classname=stack name=component> per component,
// timed from apply to ready (or to the end of the run). A failed or timed
// out component gets a <failure> whose message is its reason; a pending or
// skipped one gets <skipped>. If the run was not ready and no component
// failed, a test case named RunCaseName fails with the run's result and
// reason.
// Everything is escaped; characters XML cannot hold become U+FFFD.
func WriteJUnit(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("report: nil report")
	}
	suite := junitSuite{
		Name: r.Stack,
		Time: seconds(r.Seconds),
		Properties: []junitProperty{
			{Name: "run", Value: r.Run},
			{Name: "provider", Value: r.Provider},
			{Name: "result", Value: string(r.Result)},
		},
	}
	if !r.StartedAt.IsZero() {
		suite.Timestamp = r.StartedAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	for _, c := range r.Components {
		d, _ := c.duration(r.Seconds)
		tc := junitCase{Classname: r.Stack, Name: c.Name, Time: seconds(d)}
		switch c.Status {
		case StatusReady:
		case StatusFailed, StatusTimeout:
			text := c.Reason
			if c.Diagnostics != "" {
				text += "\ndiagnostics: " + c.Diagnostics
			}
			tc.Failure = &junitFailure{Message: c.Reason, Type: string(c.Status), Text: text}
			suite.Failures++
		case StatusSkipped:
			tc.Skipped = &junitSkipped{Message: "not applied: the run stopped first"}
			suite.Skipped++
		default: // pending, or a status this version does not know
			tc.Skipped = &junitSkipped{Message: fmt.Sprintf("%s when the run ended (%s)", c.Status, r.Result)}
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	if r.Result != ResultReady && suite.Failures == 0 {
		suite.Cases = append(suite.Cases, junitCase{
			Classname: r.Stack, Name: RunCaseName, Time: seconds(r.Seconds),
			Failure: runFailure(r),
		})
		suite.Failures++
	}
	suite.Tests = len(suite.Cases)

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("report: writing JUnit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suite); err != nil {
		return fmt.Errorf("report: writing JUnit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("report: writing JUnit: %w", err)
	}
	return nil
}

// runFailure is the failure of the RunCaseName test case: the run's result
// and, when the report has one, its reason (as message and text: CI shows
// one or the other).
func runFailure(r *Report) *junitFailure {
	msg := "run " + string(r.Result)
	if r.Reason != "" {
		msg += ": " + r.Reason
	}
	return &junitFailure{Message: msg, Type: string(r.Result), Text: msg}
}

// seconds formats a duration in seconds for JUnit's time attributes.
func seconds(s float64) string { return strconv.FormatFloat(Round(s), 'f', 2, 64) }

// duration is how long c took: from apply to ready, or to the end of the
// run (end) if it never was ready. ok is false if it was never applied.
func (c *Component) duration(end float64) (d float64, ok bool) {
	if c.AppliedAt == nil {
		return 0, false
	}
	if c.ReadyAt != nil {
		end = *c.ReadyAt
	}
	return max(end-*c.AppliedAt, 0), true
}
