package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteTimeline draws r as a Gantt chart in one self-contained SVG
// document (no scripts, external fonts or style sheets): a title line with
// the stack, run, result, total time and lower bound; the phases as
// translucent bands labelled at the top; a time axis; one row per
// component, in report order, with a bar from when it was applied to when
// it was ready (or to the end of the run if it never was), coloured by its
// status, its duration after the bar and, for a failed or timed out one,
// its reason under it. The components on the critical path have a bold
// name and an outlined bar, joined by arrows; the lower bound is a dashed
// line measured from the start of the deploy phase.
//
// A report with images gets one row per image above the components, in
// report order: its build bar (purple, as the build phase) and its load bar
// (teal, as the load phase), each from its start to its end. A build that
// was not rebuilt because its inputs had not changed is a thin bar of the
// same span; an image that did not get ready has its last bar in its
// status's colour and its reason under it. After the bars, each row says
// how long the build and the load took, or "unchanged".
//
// The document carries stable hooks for tools and tests: each component's
// <g class="row STATUS [critical]" data-component=NAME> holds a
// <rect class="bar STATUS [critical]"> (only if it was applied) with a
// <title> tooltip giving exact times; phases are <g class="phase NAME">;
// the arrows are <path class="critical-link">; the lower bound is
// <line id="lower-bound">. Images are in <g id="images">: each
// <g class="image-row STATUS" data-image=NAME> holds a
// <rect class="image-bar build [unchanged] [STATUS]" data-image=NAME> and a
// <rect class="image-bar load [STATUS]" data-image=NAME> for the spans
// that were done, each with a <title> tooltip (STATUS only on the bar
// the status is about). STATUS and phase NAME classes are one of the
// known values, or "unknown" and "other".
//
// Every text is escaped. Any report, even one with no components, no
// duration or times that are not finite, gives a valid document.
func WriteTimeline(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("report: nil report")
	}
	var b strings.Builder
	newTimeline(r).draw(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: writing timeline: %w", err)
	}
	return nil
}

// Layout, in SVG user units (pixels at 100%).
const (
	tlWidth     = 1120.0
	tlPad       = 16.0
	tlTitleY    = 28.0
	tlSubY      = 48.0
	tlLanesTop  = 64.0
	tlLaneH     = 16.0
	tlRowH      = 30.0
	tlBarH      = 16.0
	tlThinH     = 4.0  // an unchanged build's bar
	tlGroupGap  = 10.0 // between the images and the components
	tlReasonH   = 16.0
	tlRightW    = 128.0 // room after the longest bar for its duration
	tlMinBarW   = 2.0   // so a component ready at once still shows
	tlMaxLanes  = 6
	tlMaxTicks  = 14
	tlReasonMax = 120   // runes
	tlNameW     = 220.0 // at most, for the names column
	tlFontSize  = 13.0
	tlSmallFont = 11.0
)

// charWidth estimates the advance of one character of the sans-serif
// system font at size; generous, so that estimated text never overlaps.
func charWidth(size float64) float64 { return size * 0.6 }

func textWidth(s string, size float64) float64 {
	return float64(utf8.RuneCountInString(s)) * charWidth(size)
}

// Colours of statuses and phases; the legend and the tests use the same.
var (
	statusFill = map[string]string{
		"ready":   "#2e9d58",
		"failed":  "#d6453d",
		"timeout": "#ee8b23",
		"pending": "#9aa0a6",
		"skipped": "#d9dce0",
		"unknown": "#9aa0a6",
	}
	phaseFill = map[string]string{
		"build":   "#8e5cc2",
		"cluster": "#3b7dd8",
		"load":    "#17a2a2",
		"deploy":  "#7d8ea3",
		"other":   "#b08d3c",
	}
	resultFill = map[Result]string{
		ResultReady:       statusFill["ready"],
		ResultFailed:      statusFill["failed"],
		ResultTimeout:     statusFill["timeout"],
		ResultInterrupted: "#6b7280",
		ResultInvalid:     statusFill["failed"],
	}
)

const tlStyle = `
text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif;font-size:13px;fill:#1f2328;font-variant-numeric:tabular-nums}
.title{font-size:16px;font-weight:700}
.phase text{font-size:11px;font-weight:600}
.subtitle,.tick text,.duration,.legend text,.note{font-size:11px;fill:#57606a}
.name{fill:#424a53}
.row.critical .name{font-weight:700;fill:#1f2328}
.row.critical .duration{font-weight:700;fill:#1f2328}
.reason{font-size:11px;fill:#b42318}
.duration,.reason,.tick text,.phase text,.note{paint-order:stroke;stroke:#ffffff;stroke-width:3px;stroke-linejoin:round}
.row.timeout .reason{fill:#a4500f}
.grid{stroke:#d0d7de;stroke-width:1}
.axis{stroke:#8c959f;stroke-width:1}
.band{stroke:none}
.edge{stroke-width:1;stroke-opacity:.55}
.bar{stroke:none}
.bar.critical{stroke:#111827;stroke-width:2.5}
.bar.skipped{fill:url(#hatch);stroke:#8c959f;stroke-width:1}
.critical-link{fill:none;stroke:#111827;stroke-width:1.6;marker-end:url(#arrow)}
.critical-stripe{fill:#fff4c2}
#lower-bound{stroke:#7c3aed;stroke-width:1.6;stroke-dasharray:6 4}
#lower-bound-label{font-size:11px;font-weight:700;fill:#7c3aed}
`

// tlImageStyle is added to tlStyle when there are images, so that the
// chart of a report without them stays as it was.
const tlImageStyle = `.image-row .name{font-style:italic}
.image-bar{stroke:none}
.separator{stroke:#d0d7de;stroke-width:1;stroke-dasharray:3 3}
`

// tlRow is one component laid out.
type tlRow struct {
	c          *Component
	status     string // class token
	critical   bool
	applied    bool
	start, end float64 // seconds
	top        float64 // y of the row
	h          float64
}

func (r *tlRow) barY() float64   { return barY(r.top) }
func (r *tlRow) midY() float64   { return midY(r.top) }
func (r *tlRow) hasReason() bool { return r.applied && r.c.Reason != "" && r.status != "ready" }

// barY and midY are the top and the middle of the bar of a row at top.
func barY(top float64) float64 { return top + (tlRowH-tlBarH)/2 }
func midY(top float64) float64 { return barY(top) + tlBarH/2 }

// tlImage is one image laid out.
type tlImage struct {
	img         *Image
	status      string // class token
	build, load *Span  // finite, end ≥ start; nil if not done
	// last is the bar the image's status is about, "build" or "load",
	// when it is not ready: the last one done; empty otherwise.
	last string
	top  float64
	h    float64
}

func (ir *tlImage) drawn() bool     { return ir.build != nil || ir.load != nil }
func (ir *tlImage) hasReason() bool { return ir.last != "" && ir.img.Reason != "" }

// finSpan is finPtr for a span: nil if it is missing or its start is not
// a finite number; it never ends before it starts.
func finSpan(sp *Span) *Span {
	if sp == nil {
		return nil
	}
	start := finPtr(&sp.Start)
	if start == nil {
		return nil
	}
	return &Span{Start: *start, End: max(fin(sp.End), *start)}
}

type timeline struct {
	r        *Report
	total    float64 // seconds: the end of the time axis
	deploy   float64 // when the deploy phase started
	lower    *float64
	rows     []*tlRow
	images   []*tlImage
	sepY     float64 // the line between the images and the components
	critical []string
	nameW    float64
	nameMax  int // runes of a name that fit
	plotL    float64
	plotR    float64
	lanes    []int // phase label lane per phase
	nLanes   int
	axisY    float64
	rowsTop  float64
	rowsEnd  float64
	height   float64
}

// tlMaxSeconds caps every time drawn (about 30 years), so that sums and
// scales of the times in any report stay finite.
const tlMaxSeconds = 1e9

// fin returns v, or 0 if it is not a finite number; times before the
// start count as the start, and times are capped at tlMaxSeconds.
func fin(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return min(v, tlMaxSeconds)
}

// finPtr is fin for a time that may be missing; a time that is not a
// finite number counts as missing.
func finPtr(p *float64) *float64 {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return nil
	}
	v := fin(*p)
	return &v
}

func newTimeline(r *Report) *timeline {
	t := &timeline{r: r, total: fin(r.Seconds)}
	t.deploy = math.NaN()
	for _, p := range r.Phases {
		if p.Name == "deploy" {
			t.deploy = fin(p.Start)
		}
		t.total = max(t.total, fin(p.Start), fin(p.End))
	}
	critical := make(map[string]bool)
	for _, n := range r.CriticalPath {
		critical[n] = true
	}
	firstApplied := math.NaN()
	longest := 0
	for i := range r.Components {
		c := &r.Components[i]
		row := &tlRow{c: c, status: statusClass(c.Status), critical: critical[c.Name]}
		if a := finPtr(c.AppliedAt); a != nil {
			row.applied, row.start = true, *a
			if math.IsNaN(firstApplied) || *a < firstApplied {
				firstApplied = *a
			}
			t.total = max(t.total, *a)
		}
		if rd := finPtr(c.ReadyAt); rd != nil {
			t.total = max(t.total, *rd)
		}
		longest = max(longest, utf8.RuneCountInString(oneLine(c.Name)))
		t.rows = append(t.rows, row)
	}
	for i := range r.Images {
		img := &r.Images[i]
		ir := &tlImage{img: img, status: statusClass(img.Status), build: finSpan(img.Build), load: finSpan(img.Load)}
		for _, sp := range []*Span{ir.build, ir.load} {
			if sp != nil {
				t.total = max(t.total, sp.End)
			}
		}
		switch ir.status {
		case "ready", "skipped":
		default:
			if ir.load != nil {
				ir.last = "load"
			} else if ir.build != nil {
				ir.last = "build"
			}
		}
		longest = max(longest, utf8.RuneCountInString(oneLine(img.Name)))
		t.images = append(t.images, ir)
	}
	if math.IsNaN(t.deploy) {
		t.deploy = 0
		if !math.IsNaN(firstApplied) {
			t.deploy = firstApplied
		}
	}
	if lb := finPtr(r.LowerBoundSeconds); lb != nil {
		at := t.deploy + *lb
		t.lower = &at
		t.total = max(t.total, at)
	}
	if t.total <= 0 {
		t.total = 1 // a run that took no time still gets an axis
	}
	for _, row := range t.rows {
		if !row.applied {
			continue
		}
		row.end = t.total
		if rd := finPtr(row.c.ReadyAt); rd != nil {
			row.end = *rd
		} else if s := fin(r.Seconds); s > 0 {
			row.end = s
		}
		row.end = max(row.end, row.start)
	}
	// The critical path, as far as it names applied components, in order.
	byName := make(map[string]*tlRow, len(t.rows))
	for _, row := range t.rows {
		byName[row.c.Name] = row
	}
	for _, n := range r.CriticalPath {
		if row := byName[n]; row != nil && row.applied {
			t.critical = append(t.critical, n)
		}
	}

	// Bold names are wider; names longer than the column are cut.
	t.nameW = min(max(float64(longest)*charWidth(tlFontSize)*1.1, 90), tlNameW)
	t.nameMax = int(t.nameW / (charWidth(tlFontSize) * 1.1))
	t.plotL = tlPad + t.nameW + 14
	t.plotR = tlWidth - tlRightW
	t.layoutPhaseLabels()
	t.axisY = tlLanesTop + float64(t.nLanes)*tlLaneH + 22
	y := t.axisY + 6
	for _, ir := range t.images {
		ir.top, ir.h = y, rowHeight(ir.hasReason())
		y += ir.h
	}
	if len(t.images) > 0 {
		t.sepY = y + tlGroupGap/2
		y += tlGroupGap
	}
	t.rowsTop = y
	for _, row := range t.rows {
		row.top, row.h = y, rowHeight(row.hasReason())
		y += row.h
	}
	if len(t.rows) == 0 {
		y += tlRowH
	}
	t.rowsEnd = y
	t.height = t.rowsEnd + 24 /* lower bound label */ + 30 /* legend */
	return t
}

// rowHeight is the height of a row, with room for a reason under its bars
// or not.
func rowHeight(reason bool) float64 {
	if reason {
		return tlRowH + tlReasonH
	}
	return tlRowH
}

// statusClass is the class token of a status: the status itself if known.
func statusClass(s Status) string {
	switch s {
	case StatusReady, StatusFailed, StatusTimeout, StatusPending, StatusSkipped:
		return string(s)
	}
	return "unknown"
}

func phaseClass(name string) string {
	switch name {
	case "build", "cluster", "load", "deploy":
		return name
	}
	return "other"
}

// x maps seconds to the horizontal coordinate.
func (t *timeline) x(s float64) float64 {
	return t.plotL + min(fin(s)/t.total, 1)*(t.plotR-t.plotL)
}

// phaseLabel is the text above a phase's band.
func phaseLabel(p Phase) string {
	return oneLine(p.Name) + " " + secs(max(fin(p.End)-fin(p.Start), 0))
}

// layoutPhaseLabels puts each phase's label in the first lane where it
// does not overlap an earlier one.
func (t *timeline) layoutPhaseLabels() {
	var ends []float64
	for _, p := range t.r.Phases {
		x0 := t.labelX(p)
		x1 := x0 + textWidth(phaseLabel(p), tlSmallFont) + 10
		lane := -1
		for i, e := range ends {
			if e <= x0 {
				lane = i
				break
			}
		}
		if lane < 0 && len(ends) < tlMaxLanes {
			ends = append(ends, 0)
			lane = len(ends) - 1
		}
		if lane < 0 {
			lane = len(ends) - 1
		}
		ends[lane] = x1
		t.lanes = append(t.lanes, lane)
	}
	t.nLanes = max(len(ends), 1)
}

// labelX is where a phase's label starts: at the band, kept on the page.
func (t *timeline) labelX(p Phase) float64 {
	x := t.x(p.Start) + 3
	return max(min(x, tlWidth-tlPad-textWidth(phaseLabel(p), tlSmallFont)), tlPad)
}

func (t *timeline) draw(b *strings.Builder) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-labelledby="timeline-title">`+"\n",
		num(tlWidth), num(t.height), num(tlWidth), num(t.height))
	fmt.Fprintf(b, `<title id="timeline-title">testbed timeline: %s</title>`+"\n", esc(t.titleText()))
	style := tlStyle
	if len(t.images) > 0 {
		style += tlImageStyle
	}
	b.WriteString("<defs>\n<style>" + style + "</style>\n")
	b.WriteString(`<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#111827"/></marker>` + "\n")
	b.WriteString(`<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eef0f2"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c4c9cf" stroke-width="2"/></pattern>` + "\n")
	b.WriteString("</defs>\n")
	fmt.Fprintf(b, `<rect class="background" width="%s" height="%s" fill="#ffffff"/>`+"\n", num(tlWidth), num(t.height))
	t.drawHeader(b)
	t.drawPhases(b)
	t.drawAxis(b)
	t.drawLowerBound(b, false)
	t.drawImages(b)
	t.drawRows(b)
	t.drawCriticalPath(b)
	t.drawLowerBound(b, true)
	t.drawLegend(b)
	b.WriteString("</svg>\n")
}

func (t *timeline) titleText() string {
	r := t.r
	s := oneLine(r.Stack)
	if s == "" {
		s = "(unnamed stack)"
	}
	if r.Run != "" {
		s += " · run " + oneLine(r.Run)
	}
	s += " · " + t.resultText()
	if t.lower != nil {
		s += " · lower bound " + secs(fin(*r.LowerBoundSeconds))
	}
	return s
}

func (t *timeline) resultText() string {
	res := oneLine(string(t.r.Result))
	if res == "" {
		res = "no result"
	}
	if t.r.Result == ResultReady {
		return "ready in " + secs(fin(t.r.Seconds))
	}
	return res + " after " + secs(fin(t.r.Seconds))
}

func (t *timeline) drawHeader(b *strings.Builder) {
	r := t.r
	b.WriteString(`<g id="header">` + "\n")
	name := oneLine(r.Stack)
	if name == "" {
		name = "(unnamed stack)"
	}
	fmt.Fprintf(b, `<text class="title" x="%s" y="%s"><tspan class="stack">%s</tspan>`, num(tlPad), num(tlTitleY), esc(truncate(name, 60)))
	if r.Run != "" {
		fmt.Fprintf(b, `<tspan class="run" font-weight="400" fill="#57606a">  run %s</tspan>`, esc(truncate(oneLine(r.Run), 40)))
	}
	color, ok := resultFill[r.Result]
	if !ok {
		color = "#6b7280"
	}
	fmt.Fprintf(b, `<tspan class="result" fill="%s">  %s</tspan>`, color, esc(truncate(t.resultText(), 60)))
	if t.lower != nil {
		fmt.Fprintf(b, `<tspan class="bound" font-weight="400" fill="#7c3aed">  · lower bound %s</tspan>`, esc(secs(fin(*r.LowerBoundSeconds))))
	}
	b.WriteString("</text>\n")

	var sub []string
	if len(t.critical) > 0 {
		last := t.rowByName(t.critical[len(t.critical)-1])
		s := "critical path: " + strings.Join(t.critical, " → ")
		if last.c.ReadyAt != nil {
			took := last.end - t.deploy
			s += ", ready " + secs(took) + " after deploy started"
			if t.lower != nil {
				lb := fin(*t.r.LowerBoundSeconds)
				s += fmt.Sprintf(" (lower bound %s, %+.1f s)", secs(lb), math.Round((took-lb)*10)/10)
			}
		}
		sub = append(sub, s)
	}
	if r.Provider != "" {
		sub = append(sub, "provider "+r.Provider)
	}
	if !r.StartedAt.IsZero() {
		sub = append(sub, "started "+r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if len(sub) > 0 {
		fmt.Fprintf(b, `<text class="subtitle" x="%s" y="%s">%s</text>`+"\n", num(tlPad), num(tlSubY),
			esc(truncate(oneLine(strings.Join(sub, "  ·  ")), 170)))
	}
	b.WriteString("</g>\n")
}

func (t *timeline) rowByName(name string) *tlRow {
	for _, row := range t.rows {
		if row.c.Name == name {
			return row
		}
	}
	return nil
}

func (t *timeline) drawPhases(b *strings.Builder) {
	b.WriteString(`<g id="phases">` + "\n")
	top, bottom := tlLanesTop, t.rowsEnd
	for i, p := range t.r.Phases {
		cls := phaseClass(p.Name)
		color := phaseFill[cls]
		x0, x1 := t.x(p.Start), t.x(p.End)
		x1 = max(x1, x0)
		fmt.Fprintf(b, `<g class="phase %s" data-phase="%s">`, cls, esc(p.Name))
		fmt.Fprintf(b, `<title>%s: %s → %s (%s)</title>`, esc(oneLine(p.Name)), esc(secs2(fin(p.Start))), esc(secs2(fin(p.End))), esc(secs2(max(fin(p.End)-fin(p.Start), 0))))
		fmt.Fprintf(b, `<rect class="band" x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="0.09"/>`,
			num(x0), num(top), num(x1-x0), num(bottom-top), color)
		fmt.Fprintf(b, `<line class="edge" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(x0), num(top), num(x0), num(bottom), color)
		ly := top + float64(t.lanes[i])*tlLaneH
		fmt.Fprintf(b, `<rect class="span" x="%s" y="%s" width="%s" height="3" fill="%s"/>`, num(x0), num(ly+tlLaneH-4), num(max(x1-x0, 2)), color)
		fmt.Fprintf(b, `<text x="%s" y="%s" style="fill:%s">%s</text>`, num(t.labelX(p)), num(ly+tlLaneH-7), color, esc(phaseLabel(p)))
		b.WriteString("</g>\n")
	}
	b.WriteString("</g>\n")
}

// tickStep picks a round step giving at most tlMaxTicks ticks over total.
func tickStep(total float64) float64 {
	for _, s := range []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600} {
		if total/s <= tlMaxTicks-1 {
			return s
		}
	}
	s := 3600.0
	for total/s > tlMaxTicks-1 {
		s *= 2
	}
	return s
}

// tickLabel formats a tick at t seconds of an axis stepping by step.
func tickLabel(t, step float64) string {
	switch {
	case step < 1:
		return strconv.FormatFloat(t, 'f', 1, 64) + " s"
	case step < 60:
		return strconv.FormatFloat(t, 'f', 0, 64) + " s"
	case step < 1800:
		return strconv.FormatFloat(t/60, 'g', 6, 64) + " min"
	}
	return strconv.FormatFloat(t/3600, 'g', 6, 64) + " h"
}

func (t *timeline) drawAxis(b *strings.Builder) {
	b.WriteString(`<g id="axis">` + "\n")
	step := tickStep(t.total)
	for i := 0; i < tlMaxTicks+1; i++ {
		s := float64(i) * step
		if s > t.total*(1+1e-9) {
			break
		}
		x := t.x(s)
		anchor := "middle"
		if i == 0 {
			anchor = "start"
		}
		fmt.Fprintf(b, `<g class="tick" data-seconds="%s"><line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/><text x="%s" y="%s" text-anchor="%s">%s</text></g>`+"\n",
			num(s), num(x), num(t.axisY), num(x), num(t.rowsEnd), num(x), num(t.axisY-6), anchor, esc(tickLabel(s, step)))
	}
	fmt.Fprintf(b, `<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", num(t.plotL), num(t.axisY), num(t.plotR), num(t.axisY))
	b.WriteString("</g>\n")
}

func (t *timeline) drawRows(b *strings.Builder) {
	b.WriteString(`<g id="rows">` + "\n")
	if len(t.rows) == 0 {
		fmt.Fprintf(b, `<text class="note" x="%s" y="%s">no components</text>`+"\n", num(t.plotL), num(t.rowsTop+tlRowH/2+4))
	}
	for _, row := range t.rows {
		c := row.c
		cls := row.status
		if row.critical {
			cls += " critical"
		}
		fmt.Fprintf(b, `<g class="row %s" data-component="%s" data-status="%s">`+"\n", cls, esc(c.Name), esc(string(c.Status)))
		if row.critical {
			fmt.Fprintf(b, `<rect class="critical-stripe" x="%s" y="%s" width="%s" height="%s" rx="3"/>`,
				num(tlPad-6), num(row.top+2), num(t.nameW+14), num(tlRowH-4))
		}
		t.drawName(b, c.Name, row.top)
		if !row.applied {
			t.drawNote(b, notDoneText("not applied", c.Status, c.Reason), row.top)
			b.WriteString("</g>\n")
			continue
		}
		x0, x1 := t.x(row.start), t.x(row.end)
		fmt.Fprintf(b, `<rect class="bar %s" data-component="%s" x="%s" y="%s" width="%s" height="%s" rx="2" fill="%s"><title>%s</title></rect>`+"\n",
			cls, esc(c.Name), num(x0), num(row.barY()), num(max(x1-x0, tlMinBarW)), num(tlBarH), statusFill[row.status], esc(t.barTitle(row)))
		dur := secs(row.end - row.start)
		if row.status != "ready" {
			dur += ", " + oneLine(string(c.Status))
		}
		drawDuration(b, dur, max(x1, x0+tlMinBarW), row.top)
		if row.hasReason() {
			drawReason(b, c.Reason, x0, row.top)
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</g>\n")
}

// drawName writes the name of the row at top, in the names column.
func (t *timeline) drawName(b *strings.Builder, name string, top float64) {
	fmt.Fprintf(b, `<text class="name" x="%s" y="%s" text-anchor="end">%s</text>`+"\n",
		num(t.plotL-10), num(midY(top)+4.5), esc(truncate(oneLine(name), t.nameMax)))
}

// drawNote writes the note of the row at top in place of its bars.
func (t *timeline) drawNote(b *strings.Builder, note string, top float64) {
	fmt.Fprintf(b, `<text class="note" x="%s" y="%s">%s</text>`+"\n", num(t.plotL+4), num(midY(top)+4), esc(note))
}

// drawDuration writes text after the bars of the row at top, which end at x.
func drawDuration(b *strings.Builder, text string, x, top float64) {
	fmt.Fprintf(b, `<text class="duration" x="%s" y="%s">%s</text>`+"\n", num(x+6), num(midY(top)+4), esc(text))
}

// drawReason writes reason under the bars of the row at top, from x or
// as near it as the page allows.
func drawReason(b *strings.Builder, reason string, x, top float64) {
	reason = truncate(oneLine(reason), tlReasonMax)
	rx := max(min(x, tlWidth-tlPad-textWidth(reason, tlSmallFont)), tlPad)
	fmt.Fprintf(b, `<text class="reason" x="%s" y="%s">%s</text>`+"\n", num(rx), num(barY(top)+tlBarH+tlReasonH-2), esc(reason))
}

// notDoneText is the note of a row without bars: what was not done, the
// status and the reason.
func notDoneText(what string, status Status, reason string) string {
	s := what
	if status != "" {
		s += " (" + oneLine(string(status)) + ")"
	}
	if reason != "" {
		s += ": " + truncate(oneLine(reason), tlReasonMax)
	}
	return s
}

// drawImages writes a row per image, with its build and load bars, and a
// line under them; nothing if there are no images.
func (t *timeline) drawImages(b *strings.Builder) {
	if len(t.images) == 0 {
		return
	}
	b.WriteString(`<g id="images">` + "\n")
	for _, ir := range t.images {
		img := ir.img
		fmt.Fprintf(b, `<g class="image-row %s" data-image="%s" data-status="%s">`+"\n", ir.status, esc(img.Name), esc(string(img.Status)))
		t.drawName(b, img.Name, ir.top)
		if !ir.drawn() {
			note := "not built or loaded"
			if img.Unchanged {
				note = "unchanged, not loaded"
			}
			t.drawNote(b, notDoneText(note, img.Status, img.Reason), ir.top)
			b.WriteString("</g>\n")
			continue
		}
		var parts []string
		x0, x1 := math.Inf(1), 0.0 // the bars' extent
		if sp := ir.build; sp != nil {
			l, r := t.drawImageBar(b, ir, "build", sp)
			x0, x1 = min(x0, l), max(x1, r)
			if img.Unchanged {
				parts = append(parts, "unchanged")
			} else {
				parts = append(parts, "build "+secs(sp.End-sp.Start))
			}
		} else if img.Unchanged {
			parts = append(parts, "unchanged")
		}
		if sp := ir.load; sp != nil {
			l, r := t.drawImageBar(b, ir, "load", sp)
			x0, x1 = min(x0, l), max(x1, r)
			parts = append(parts, "load "+secs(sp.End-sp.Start))
		}
		text := strings.Join(parts, " · ")
		if ir.status != "ready" {
			text += ", " + oneLine(string(img.Status))
		}
		drawDuration(b, text, x1, ir.top)
		if ir.hasReason() {
			drawReason(b, img.Reason, x0, ir.top)
		}
		b.WriteString("</g>\n")
	}
	fmt.Fprintf(b, `<line class="separator" x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", num(tlPad), num(t.sepY), num(tlWidth-tlPad), num(t.sepY))
	b.WriteString("</g>\n")
}

// drawImageBar writes the bar of an image's build or load (kind) and
// returns its left and right ends.
func (t *timeline) drawImageBar(b *strings.Builder, ir *tlImage, kind string, sp *Span) (x0, x1 float64) {
	img := ir.img
	cls, fill := "image-bar "+kind, phaseFill[kind]
	y, h := barY(ir.top), tlBarH
	state := "built"
	if kind == "load" {
		state = "loaded"
	}
	if kind == "build" && img.Unchanged {
		cls += " unchanged"
		y, h = midY(ir.top)-tlThinH/2, tlThinH
		state = "unchanged, not rebuilt (its inputs had not changed)"
	}
	if ir.last == kind {
		cls += " " + ir.status
		fill = statusFill[ir.status]
		state = oneLine(string(img.Status))
	}
	tip := oneLine(img.Name) + " " + kind + ": " + state + "\nfrom " + secs2(sp.Start) + " to " + secs2(sp.End) + "\ntook " + secs2(sp.End-sp.Start)
	if img.Ref != "" {
		tip += "\nref " + img.Ref
	}
	if ir.last == kind && img.Reason != "" {
		tip += "\n" + img.Reason
	}
	x0, x1 = t.x(sp.Start), t.x(sp.End)
	w := max(x1-x0, tlMinBarW)
	fmt.Fprintf(b, `<rect class="%s" data-image="%s" x="%s" y="%s" width="%s" height="%s" rx="2" fill="%s"><title>%s</title></rect>`+"\n",
		cls, esc(img.Name), num(x0), num(y), num(w), num(h), fill, esc(tip))
	return x0, x0 + w
}

// barTitle is a bar's tooltip: the exact times.
func (t *timeline) barTitle(row *tlRow) string {
	c := row.c
	s := oneLine(c.Name) + ": " + oneLine(string(c.Status)) + "\napplied at " + secs2(row.start)
	if rd := finPtr(c.ReadyAt); rd != nil {
		s += ", ready at " + secs2(*rd)
	} else {
		s += ", not ready at the end of the run (" + secs2(row.end) + ")"
	}
	s += "\ntook " + secs2(row.end-row.start)
	if row.critical {
		s += " (critical path)"
	}
	if c.Reason != "" {
		s += "\n" + c.Reason
	}
	if c.Diagnostics != "" {
		s += "\ndiagnostics: " + c.Diagnostics
	}
	return s
}

func (t *timeline) drawCriticalPath(b *strings.Builder) {
	b.WriteString(`<g id="critical-path">` + "\n")
	for i := 1; i < len(t.critical); i++ {
		from, to := t.rowByName(t.critical[i-1]), t.rowByName(t.critical[i])
		x1, x2 := t.x(from.end), t.x(to.start)
		var y1, y2 float64
		if to.top >= from.top {
			y1, y2 = from.barY()+tlBarH, to.barY()
		} else {
			y1, y2 = from.barY(), to.barY()+tlBarH
		}
		var d string
		if math.Abs(x2-x1) < 3 {
			d = fmt.Sprintf("M%s,%sV%s", num(x1), num(y1), num(y2))
		} else {
			// Down (or up) from the end of one bar, across to the next.
			d = fmt.Sprintf("M%s,%sV%sH%s", num(x1), num(y1), num(to.midY()), num(x2))
		}
		fmt.Fprintf(b, `<path class="critical-link" data-from="%s" data-to="%s" d="%s"/>`+"\n", esc(from.c.Name), esc(to.c.Name), d)
	}
	b.WriteString("</g>\n")
}

// drawLowerBound draws the lower bound's line, under the bars, or its
// label, over everything.
func (t *timeline) drawLowerBound(b *strings.Builder, label bool) {
	if t.lower == nil {
		return
	}
	x := t.x(*t.lower)
	text := "lower bound " + secs(fin(*t.r.LowerBoundSeconds))
	if !label {
		fmt.Fprintf(b, `<line id="lower-bound" x1="%s" y1="%s" x2="%s" y2="%s" data-seconds="%s"><title>%s: no bring-up of this stack can be faster, counted from the start of deploy (%s) to %s</title></line>`+"\n",
			num(x), num(t.axisY), num(x), num(t.rowsEnd+6), num(*t.lower), esc(text), esc(secs2(t.deploy)), esc(secs2(*t.lower)))
		return
	}
	w := textWidth(text, tlSmallFont)
	lx := max(min(x-w/2, tlWidth-tlPad-w), tlPad)
	fmt.Fprintf(b, `<text id="lower-bound-label" x="%s" y="%s">%s</text>`+"\n", num(lx), num(t.rowsEnd+19), esc(text))
}

func (t *timeline) drawLegend(b *strings.Builder) {
	b.WriteString(`<g id="legend" class="legend">` + "\n")
	x, y := tlPad, t.height-14
	item := func(swatch, label string) {
		fmt.Fprintf(b, `<g transform="translate(%s,%s)">%s<text x="18" y="10">%s</text></g>`+"\n", num(x), num(y-10), swatch, esc(label))
		x += 18 + textWidth(label, tlSmallFont) + 18
	}
	seen := make(map[string]bool)
	for _, row := range t.rows {
		seen[row.status] = seen[row.status] || row.applied
	}
	var build, unchanged, load bool
	for _, ir := range t.images {
		seen[ir.status] = seen[ir.status] || ir.last != ""
		build = build || ir.build != nil && !ir.img.Unchanged && ir.last != "build"
		unchanged = unchanged || ir.build != nil && ir.img.Unchanged
		load = load || ir.load != nil && ir.last != "load"
	}
	for _, s := range []string{"ready", "failed", "timeout", "pending", "skipped", "unknown"} {
		if !seen[s] {
			continue
		}
		sw := fmt.Sprintf(`<rect class="bar %s" width="12" height="12" rx="2" fill="%s"/>`, s, statusFill[s])
		item(sw, s)
	}
	if build {
		item(fmt.Sprintf(`<rect class="image-bar build" width="12" height="12" rx="2" fill="%s"/>`, phaseFill["build"]), "image build")
	}
	if unchanged {
		item(fmt.Sprintf(`<rect class="image-bar build unchanged" y="4" width="12" height="%s" rx="2" fill="%s"/>`, num(tlThinH), phaseFill["build"]), "build unchanged")
	}
	if load {
		item(fmt.Sprintf(`<rect class="image-bar load" width="12" height="12" rx="2" fill="%s"/>`, phaseFill["load"]), "image load")
	}
	if len(t.critical) > 0 {
		item(`<rect width="12" height="12" rx="2" fill="#ffffff" stroke="#111827" stroke-width="2.5"/>`, "critical path")
	}
	if t.lower != nil {
		item(`<line x1="6" y1="-1" x2="6" y2="13" stroke="#7c3aed" stroke-width="1.6" stroke-dasharray="4 3"/>`, "lower bound, from deploy start")
	}
	b.WriteString("</g>\n")
}

// num formats a coordinate; never NaN or Inf.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// secs2 formats exact seconds for tooltips: "3.70 s".
func secs2(s float64) string { return strconv.FormatFloat(s, 'f', 2, 64) + " s" }

// esc escapes s for XML text and attribute values; characters XML cannot
// hold become U+FFFD.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// truncate shortens s to at most n runes, ending it with "…" if cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return strings.TrimRight(string(rs[:n-1]), " ") + "…"
}
