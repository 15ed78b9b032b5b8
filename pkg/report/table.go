package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"unicode"
)

// WriteTable writes the human summary of r: a table with one row per
// component (applied, ready and duration in seconds, then the status and
// reason), the critical path with its time and, on sim, the lower bound,
// the diagnostics bundle of each component that has one, and a warning
// for each container that restarted:
//
//	COMPONENT    APPLIED  READY   DURATION  STATUS
//	postgresql   2.2 s    10.3 s  8.1 s     ready
//	datastorage  -        -       -         skipped
//	critical path: postgresql → migrations (21.4 s; lower bound 21.0 s)
//
// When r has images, a second table follows: per image, its build and
// load times ("unchanged", or "-" for what was not done), status and
// reference, then each image's reason.
//
// It uses no colour. Control characters in names and reasons are replaced
// by spaces, so every row stays on one line.
func WriteTable(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("report: nil report")
	}
	ew := &errWriter{w: w}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tAPPLIED\tREADY\tDURATION\tSTATUS")
	for _, c := range r.Components {
		dur := "-"
		if d, ok := c.duration(r.Seconds); ok {
			dur = secs(d)
		}
		status := string(c.Status)
		if c.Reason != "" {
			status += ": " + c.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", oneLine(c.Name), secsPtr(c.AppliedAt), secsPtr(c.ReadyAt), dur, oneLine(status))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: writing table: %w", err)
	}
	if len(r.CriticalPath) > 0 {
		total := r.Seconds
		last := r.CriticalPath[len(r.CriticalPath)-1]
		for _, c := range r.Components {
			if c.Name == last && c.ReadyAt != nil {
				total = *c.ReadyAt
			}
		}
		fmt.Fprintf(ew, "critical path: %s (%s", oneLine(strings.Join(r.CriticalPath, " → ")), secs(total))
		if r.LowerBoundSeconds != nil {
			fmt.Fprintf(ew, "; lower bound %s", secs(*r.LowerBoundSeconds))
		}
		fmt.Fprintln(ew, ")")
	}
	for _, c := range r.Components {
		if c.Diagnostics != "" {
			fmt.Fprintf(ew, "%s diagnostics: %s\n", oneLine(c.Name), oneLine(c.Diagnostics))
		}
	}
	for _, c := range r.Components {
		for _, rs := range c.Restarts {
			fmt.Fprintf(ew, "warning: %s: %s\n", oneLine(c.Name), oneLine(rs.String()))
		}
	}
	if len(r.Images) > 0 {
		writeImages(ew, r.Images)
	}
	if ew.err != nil {
		return fmt.Errorf("report: writing table: %w", ew.err)
	}
	return nil
}

// writeImages writes the images' table and their reasons; write errors
// are left in ew.
func writeImages(ew *errWriter, images []Image) {
	fmt.Fprintln(ew)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tBUILD\tLOAD\tSTATUS\tREF")
	for _, img := range images {
		build := spanSecs(img.Build)
		if img.Unchanged {
			build = "unchanged"
		}
		ref := oneLine(img.Ref)
		if ref == "" {
			ref = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", oneLine(img.Name), build, spanSecs(img.Load), oneLine(string(img.Status)), ref)
	}
	_ = tw.Flush() // its only error is ew's
	for _, img := range images {
		if img.Reason != "" {
			fmt.Fprintf(ew, "%s %s: %s\n", oneLine(img.Name), oneLine(string(img.Status)), oneLine(img.Reason))
		}
	}
}

// spanSecs formats how long a span took, or "-" for one not done.
func spanSecs(sp *Span) string {
	if sp == nil {
		return "-"
	}
	return secs(max(sp.End-sp.Start, 0))
}

// secs formats seconds for people: "21.4 s".
func secs(s float64) string { return fmt.Sprintf("%.1f s", math.Round(s*10)/10) }

func secsPtr(p *float64) string {
	if p == nil {
		return "-"
	}
	return secs(*p)
}

// oneLine replaces control characters (newlines, tabs, escapes) by spaces
// and trims the ends, so s cannot break a table row or a terminal.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// errWriter remembers the first write error and drops later writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
