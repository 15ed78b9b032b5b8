package report_test

import (
	"bytes"
	"encoding/xml"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kubetestbed/testbed/pkg/report"
)

// node is the test's own reading of an SVG element, independent of the
// writer's code.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []*node    `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n *node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *node) num(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr(name), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.XMLName.Local, name, n.attr(name), err)
	}
	return v
}

func (n *node) hasClass(c string) bool { return slices.Contains(strings.Fields(n.attr("class")), c) }

// all returns n and its descendants, in document order, that match.
func (n *node) all(match func(*node) bool) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		if match(m) {
			out = append(out, m)
		}
		for _, c := range m.Nodes {
			walk(c)
		}
	}
	walk(n)
	return out
}

func (n *node) byClass(elem, class string) []*node {
	return n.all(func(m *node) bool { return (elem == "" || m.XMLName.Local == elem) && m.hasClass(class) })
}

func (n *node) byID(id string) *node {
	if found := n.all(func(m *node) bool { return m.attr("id") == id }); len(found) == 1 {
		return found[0]
	}
	return nil
}

// text is all the character data of n and its descendants.
func (n *node) text() string {
	var b strings.Builder
	for _, m := range n.all(func(*node) bool { return true }) {
		b.WriteString(m.Text)
	}
	return b.String()
}

func (n *node) child(elem string) *node {
	for _, c := range n.Nodes {
		if c.XMLName.Local == elem {
			return c
		}
	}
	return nil
}

// timeline writes r's timeline and parses it, failing the test unless it
// is well-formed SVG without a NaN or infinite number.
func timeline(t *testing.T, r *report.Report) (*node, string) {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteTimeline(&b, r); err != nil {
		t.Fatalf("WriteTimeline: %v", err)
	}
	var root node
	if err := xml.Unmarshal(b.Bytes(), &root); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
	}
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element is %v, want svg in the SVG namespace", root.XMLName)
	}
	for _, bad := range []string{"NaN", "Inf", "<script", "href=", "@import", "url(http"} {
		if strings.Contains(b.String(), bad) {
			t.Errorf("output contains %q:\n%s", bad, b.String())
		}
	}
	w, h := root.num(t, "width"), root.num(t, "height")
	if w <= 0 || h <= 0 || root.attr("viewBox") != "0 0 "+root.attr("width")+" "+root.attr("height") {
		t.Errorf("svg width %v height %v viewBox %q", w, h, root.attr("viewBox"))
	}
	return &root, b.String()
}

// scale reads the time axis: x(seconds) from the ticks' positions.
func scale(t *testing.T, root *node) func(float64) float64 {
	t.Helper()
	ticks := root.byClass("g", "tick")
	if len(ticks) < 2 {
		t.Fatalf("%d ticks, want at least 2", len(ticks))
	}
	pos := func(g *node) (s, x float64) { return g.num(t, "data-seconds"), g.child("line").num(t, "x1") }
	s0, x0 := pos(ticks[0])
	s1, x1 := pos(ticks[len(ticks)-1])
	if s0 != 0 {
		t.Fatalf("first tick at %v s, want 0", s0)
	}
	return func(s float64) float64 { return x0 + s*(x1-x0)/s1 }
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.05 { // coordinates are written to 0.01
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestWriteTimeline(t *testing.T) {
	r := renderSample()
	root, _ := timeline(t, r)
	x := scale(t, root)

	title := root.byClass("text", "title")
	if len(title) != 1 {
		t.Fatalf("%d title lines, want 1", len(title))
	}
	for _, want := range []string{"gateway-e2e", "run k3x9q", "failed after 11.6 s", "lower bound 7.0 s"} {
		if !strings.Contains(title[0].text(), want) {
			t.Errorf("title %q lacks %q", title[0].text(), want)
		}
	}

	rows := root.byClass("g", "row")
	var names []string
	for _, g := range rows {
		names = append(names, g.attr("data-component"))
	}
	if want := []string{"postgresql", "redis", "migrations", "api", "webhook", "gateway"}; !slices.Equal(names, want) {
		t.Errorf("rows %q, want one per component in report order %q", names, want)
	}

	// One bar per applied component, from applied to ready, or to the end
	// of the run (11.6 s) for webhook, which never was ready.
	want := []struct {
		name, class string
		from, to    float64
	}{
		{"postgresql", "bar ready critical", 2.1, 5.8},
		{"redis", "bar ready", 2.1, 3.6},
		{"migrations", "bar ready critical", 5.8, 8.9},
		{"api", "bar ready critical", 8.9, 11.2},
		{"webhook", "bar failed", 3.6, 11.6},
	}
	bars := root.byClass("rect", "bar")
	bars = slices.DeleteFunc(bars, func(n *node) bool { return n.attr("data-component") == "" }) // legend swatches
	if len(bars) != len(want) {
		t.Fatalf("%d bars, want %d", len(bars), len(want))
	}
	for i, w := range want {
		bar := bars[i]
		if bar.attr("data-component") != w.name || bar.attr("class") != w.class {
			t.Errorf("bar %d: %s class %q, want %s class %q", i, bar.attr("data-component"), bar.attr("class"), w.name, w.class)
		}
		near(t, w.name+" x", bar.num(t, "x"), x(w.from))
		near(t, w.name+" width", bar.num(t, "width"), x(w.to)-x(w.from))
		if tip := bar.child("title"); tip == nil || !strings.Contains(tip.Text, "applied at "+strconv.FormatFloat(w.from, 'f', 2, 64)+" s") {
			t.Errorf("%s: tooltip %v lacks the exact applied time", w.name, tip)
		}
	}
	if tip := bars[0].child("title").Text; !strings.Contains(tip, "ready at 5.80 s") || !strings.Contains(tip, "took 3.70 s") {
		t.Errorf("postgresql tooltip = %q", tip)
	}
	if fill := bars[0].attr("fill"); fill != "#2e9d58" {
		t.Errorf("ready bar fill %s", fill)
	}
	if fill := bars[4].attr("fill"); fill != "#d6453d" {
		t.Errorf("failed bar fill %s", fill)
	}

	// The failed component's reason, and no bar for the skipped one.
	if reason := rows[4].byClass("text", "reason"); len(reason) != 1 || !strings.HasPrefix(reason[0].Text, "Pod webhook-6f9c4 container server: CrashLoopBackOff") {
		t.Errorf("webhook reason = %v", reason)
	}
	if notes := rows[5].byClass("text", "note"); len(notes) != 1 || notes[0].Text != "not applied (skipped)" {
		t.Errorf("gateway note = %v", notes)
	}

	// The critical path: exactly its components, joined in order.
	var critical []string
	for _, n := range root.byClass("", "critical") {
		if n.hasClass("row") {
			critical = append(critical, n.attr("data-component"))
		}
	}
	if !slices.Equal(critical, r.CriticalPath) {
		t.Errorf("critical rows %q, want %q", critical, r.CriticalPath)
	}
	for _, g := range rows {
		isCritical := slices.Contains(r.CriticalPath, g.attr("data-component"))
		for _, bar := range g.byClass("rect", "bar") {
			if bar.hasClass("critical") != isCritical {
				t.Errorf("%s: bar class %q", g.attr("data-component"), bar.attr("class"))
			}
		}
	}
	var links []string
	for _, p := range root.byClass("path", "critical-link") {
		links = append(links, p.attr("data-from")+"→"+p.attr("data-to"))
	}
	if want := []string{"postgresql→migrations", "migrations→api"}; !slices.Equal(links, want) {
		t.Errorf("critical links %q, want %q", links, want)
	}

	// The lower bound: 7 s after deploy started (2.1 s).
	lb := root.byID("lower-bound")
	if lb == nil {
		t.Fatal(`no element with id="lower-bound"`)
	}
	near(t, "lower bound x1", lb.num(t, "x1"), x(9.1))
	near(t, "lower bound x2", lb.num(t, "x2"), x(9.1))
	if l := root.byID("lower-bound-label"); l == nil || l.Text != "lower bound 7.0 s" {
		t.Errorf("lower bound label = %v", l)
	}

	// The phases, as bands over the chart.
	phases := root.byClass("g", "phase")
	if len(phases) != len(r.Phases) {
		t.Fatalf("%d phases, want %d", len(phases), len(r.Phases))
	}
	for i, p := range r.Phases {
		g := phases[i]
		band := g.byClass("rect", "band")
		if !g.hasClass(p.Name) || g.attr("data-phase") != p.Name || len(band) != 1 {
			t.Errorf("phase %d: class %q, data-phase %q, %d bands", i, g.attr("class"), g.attr("data-phase"), len(band))
			continue
		}
		near(t, p.Name+" band x", band[0].num(t, "x"), x(p.Start))
		near(t, p.Name+" band width", band[0].num(t, "width"), x(p.End)-x(p.Start))
	}
	if txt := phases[3].text(); !strings.Contains(txt, "deploy 9.5 s") {
		t.Errorf("deploy phase label %q", txt)
	}
}

// TestWriteTimelineTicks: the axis steps by round numbers and covers the run.
func TestWriteTimelineTicks(t *testing.T) {
	for _, tc := range []struct {
		seconds float64
		step    float64
		last    string
	}{
		{0, 0.5, "1.0 s"}, // a run that took no time still has an axis
		{1, 0.5, "1.0 s"},
		{9.1, 1, "9 s"},
		{21.4, 2, "20 s"},
		{62, 5, "60 s"},
		{187.3, 30, "180 s"},
		{700, 60, "11 min"},
		{3 * 3600, 1800, "3 h"},
	} {
		r := &report.Report{Stack: "s", Result: report.ResultReady, StartedAt: start, Seconds: tc.seconds}
		root, _ := timeline(t, r)
		ticks := root.byClass("g", "tick")
		if len(ticks) < 2 || len(ticks) > 15 {
			t.Errorf("%v s: %d ticks", tc.seconds, len(ticks))
			continue
		}
		if step := ticks[1].num(t, "data-seconds"); step != tc.step {
			t.Errorf("%v s: step %v, want %v", tc.seconds, step, tc.step)
		}
		if last := ticks[len(ticks)-1].child("text").Text; last != tc.last {
			t.Errorf("%v s: last tick %q, want %q", tc.seconds, last, tc.last)
		}
	}
}

// TestWriteTimelineEscapes feeds markup, quotes and characters XML cannot
// hold through every string that reaches the document.
func TestWriteTimelineEscapes(t *testing.T) {
	nasty := `<&>"'` + "\x00\x1b]]><!--"
	r := &report.Report{
		Stack: "s<&>\"", Run: nasty, Provider: nasty, Result: report.ResultFailed, StartedAt: start, Seconds: 4,
		Phases: []report.Phase{{Name: `de"ploy<`, Start: 0, End: 4}},
		Components: []report.Component{
			{Name: `a<&>"b`, Status: report.StatusFailed, AppliedAt: f(1), Reason: `bad <&>" thing`, Diagnostics: nasty},
			{Name: "c'd", Status: report.Status(`x" onload="y`), AppliedAt: f(2), ReadyAt: f(3)},
		},
		CriticalPath: []string{`a<&>"b`, "c'd"},
	}
	root, raw := timeline(t, r)
	if strings.ContainsAny(raw, "\x00\x1b") {
		t.Errorf("raw control characters in the SVG")
	}
	rows := root.byClass("g", "row")
	if len(rows) != 2 || rows[0].attr("data-component") != `a<&>"b` || rows[1].attr("data-component") != "c'd" {
		t.Fatalf("rows: %v", rows)
	}
	if reason := rows[0].byClass("text", "reason"); len(reason) != 1 || reason[0].Text != `bad <&>" thing` {
		t.Errorf("reason read back as %v", reason)
	}
	if name := rows[0].byClass("text", "name"); len(name) != 1 || name[0].Text != `a<&>"b` {
		t.Errorf("name read back as %v", name)
	}
	// A status the writer does not know cannot inject classes or attributes.
	if rows[1].attr("class") != "row unknown critical" || rows[1].attr("data-status") != `x" onload="y` || rows[1].attr("onload") != "" {
		t.Errorf("row of an unknown status: %v", rows[1].Attrs)
	}
	if g := root.byClass("g", "phase"); len(g) != 1 || g[0].attr("class") != "phase other" || g[0].attr("data-phase") != `de"ploy<` {
		t.Errorf("phase of an unknown name: %v", g)
	}
	if title := root.byClass("text", "title"); len(title) != 1 || !strings.HasPrefix(title[0].text(), `s<&>"`) {
		t.Errorf("title read back as %v", title)
	}
	if links := root.byClass("path", "critical-link"); len(links) != 1 || links[0].attr("data-from") != `a<&>"b` {
		t.Errorf("critical links: %v", links)
	}
}

// TestWriteTimelineDegenerate: reports with nothing to draw, or numbers no
// real run has, still give a valid chart with a bar for each applied
// component.
func TestWriteTimelineDegenerate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		r    *report.Report
		bars int
	}{
		{"zero value", &report.Report{}, 0},
		{"invalid run", &report.Report{Stack: "x", Result: report.ResultInvalid, Phases: []report.Phase{}, Components: []report.Component{}, CriticalPath: []string{}}, 0},
		{"no time at all", &report.Report{Stack: "x", Result: report.ResultReady,
			Phases:       []report.Phase{{Name: "deploy"}},
			Components:   []report.Component{{Name: "a", Status: report.StatusReady, AppliedAt: f(0), ReadyAt: f(0)}},
			CriticalPath: []string{"a"}, LowerBoundSeconds: f(0)}, 1},
		{"never applied", &report.Report{Stack: "x", Result: report.ResultInterrupted, Seconds: 3,
			Components:   []report.Component{{Name: "a", Status: report.StatusSkipped}, {Name: "b", Status: report.StatusPending}},
			CriticalPath: []string{"a", "b"}, LowerBoundSeconds: f(2)}, 0},
		{"critical path names unknown components", &report.Report{Stack: "x", Result: report.ResultReady, Seconds: 2,
			Components:   []report.Component{{Name: "a", Status: report.StatusReady, AppliedAt: f(0), ReadyAt: f(2)}},
			CriticalPath: []string{"ghost", "a", "phantom"}}, 1},
		{"not finite", &report.Report{Stack: "x", Result: report.ResultTimeout, Seconds: nan,
			Phases: []report.Phase{{Name: "deploy", Start: nan, End: inf}, {Name: "load", Start: -inf, End: nan}},
			Components: []report.Component{
				{Name: "a", Status: report.StatusTimeout, AppliedAt: f(nan), ReadyAt: f(inf)},
				{Name: "b", Status: report.StatusReady, AppliedAt: f(1), ReadyAt: f(nan)},
				{Name: "c", Status: report.StatusReady, AppliedAt: f(-1), ReadyAt: f(-1)},
				{Name: "d", Status: report.StatusReady, AppliedAt: f(-inf), ReadyAt: f(1)},
			},
			CriticalPath: []string{"a", "b", "c"}, LowerBoundSeconds: f(inf)}, 2},
		{"huge", &report.Report{Stack: "x", Result: report.ResultReady, Seconds: math.MaxFloat64,
			Phases:       []report.Phase{{Name: "deploy", Start: math.MaxFloat64 / 2, End: math.MaxFloat64}},
			Components:   []report.Component{{Name: "a", Status: report.StatusReady, AppliedAt: f(1e300), ReadyAt: f(math.MaxFloat64)}},
			CriticalPath: []string{"a"}, LowerBoundSeconds: f(math.MaxFloat64)}, 1},
		{"ready before applied", &report.Report{Stack: "x", Result: report.ResultReady, Seconds: 5,
			Components: []report.Component{{Name: "a", Status: report.StatusReady, AppliedAt: f(4), ReadyAt: f(1)}}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := timeline(t, tc.r)
			bars := slices.DeleteFunc(root.byClass("rect", "bar"), func(n *node) bool { return n.attr("data-component") == "" })
			if len(bars) != tc.bars {
				t.Errorf("%d bars, want %d", len(bars), tc.bars)
			}
			for _, bar := range bars {
				if w := bar.num(t, "width"); w <= 0 {
					t.Errorf("%s: width %v; every applied component must show", bar.attr("data-component"), w)
				}
			}
			if rows := root.byClass("g", "row"); len(rows) != len(tc.r.Components) {
				t.Errorf("%d rows, want %d", len(rows), len(tc.r.Components))
			}
		})
	}
}

func TestWriteTimelineErrors(t *testing.T) {
	if err := report.WriteTimeline(&bytes.Buffer{}, nil); err == nil {
		t.Error("nil report: no error")
	}
	if err := report.WriteTimeline(failingWriter{}, renderSample()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("write error = %v, want it passed on", err)
	}
}

// TestTimelineFromJSON draws a report as `testbed timeline` does: read
// back from its JSON.
func TestTimelineFromJSON(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteJSON(&b, renderSample()); err != nil {
		t.Fatal(err)
	}
	r, err := report.ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := timeline(t, r)
	if n := len(root.byClass("path", "critical-link")); n != 2 {
		t.Errorf("%d critical links, want 2", n)
	}
}

// TestWriteTimelineImages: a row per image above the components, with a
// bar per build and load done, each where its span is.
func TestWriteTimelineImages(t *testing.T) {
	r := imageSample()
	root, _ := timeline(t, r)
	x := scale(t, root)

	rows := root.byClass("g", "image-row")
	var names []string
	for _, g := range rows {
		names = append(names, g.attr("data-image")+" "+g.attr("class"))
	}
	if want := []string{"api image-row ready", "worker image-row ready", "postgres image-row ready", "frontend image-row failed"}; !slices.Equal(names, want) {
		t.Fatalf("image rows %q, want %q", names, want)
	}
	if images := root.byID("images"); images == nil || len(images.byClass("g", "image-row")) != len(rows) {
		t.Errorf(`the image rows are not all in <g id="images">`)
	}
	// Above the components: every image bar is higher than every component's.
	lowest := 0.0
	for _, bar := range root.byClass("rect", "image-bar") {
		if bar.attr("data-image") != "" {
			lowest = max(lowest, bar.num(t, "y")+bar.num(t, "height"))
		}
	}
	for _, bar := range root.byClass("rect", "bar") {
		if bar.attr("data-component") != "" && bar.num(t, "y") <= lowest {
			t.Errorf("%s: bar at y %v, not under the images (%v)", bar.attr("data-component"), bar.num(t, "y"), lowest)
		}
	}

	want := []struct {
		image, class string
		from, to     float64
		fill         string
		tip          []string
	}{
		{"api", "image-bar build", 0, 12.3, "#8e5cc2", []string{"api build: built\nfrom 0.00 s to 12.30 s\ntook 12.30 s\nref testbed.local/shop-e2e/api:3f9a1c2b"}},
		{"api", "image-bar load", 20, 22.5, "#17a2a2", []string{"api load: loaded\nfrom 20.00 s to 22.50 s\ntook 2.50 s"}},
		{"worker", "image-bar build unchanged", 0, 0.4, "#8e5cc2", []string{"worker build: unchanged, not rebuilt", "from 0.00 s to 0.40 s"}},
		{"worker", "image-bar load", 20, 20.3, "#17a2a2", []string{"worker load: loaded", "took 0.30 s", "ref testbed.local/shop-e2e/worker:77e0d4aa"}},
		{"postgres", "image-bar load", 20, 21.8, "#17a2a2", []string{"postgres load: loaded", "ref docker.io/library/postgres:16"}},
		{"frontend", "image-bar build failed", 0, 25, "#d6453d", []string{"frontend build: failed\nfrom 0.00 s to 25.00 s", "\nimage frontend: docker build: exit status 1 (log "}},
	}
	bars := slices.DeleteFunc(root.byClass("rect", "image-bar"), func(n *node) bool { return n.attr("data-image") == "" }) // legend swatches
	if len(bars) != len(want) {
		t.Fatalf("%d image bars, want %d", len(bars), len(want))
	}
	for i, w := range want {
		bar := bars[i]
		what := w.image + " " + w.class
		if bar.attr("data-image") != w.image || bar.attr("class") != w.class || bar.attr("fill") != w.fill {
			t.Errorf("image bar %d: %s class %q fill %s, want %s fill %s", i, bar.attr("data-image"), bar.attr("class"), bar.attr("fill"), what, w.fill)
		}
		near(t, what+" x", bar.num(t, "x"), x(w.from))
		near(t, what+" width", bar.num(t, "width"), x(w.to)-x(w.from))
		tip := bar.child("title")
		for _, s := range w.tip {
			if tip == nil || !strings.Contains(tip.Text, s) {
				t.Errorf("%s: tooltip %v lacks %q", what, tip, s)
			}
		}
	}
	// The unchanged build is a thin mark on its row's middle; the others
	// are full bars.
	if thin, full := bars[2].num(t, "height"), bars[0].num(t, "height"); thin > full/3 {
		t.Errorf("unchanged build is %v high, a full bar %v; want a thin mark", thin, full)
	}
	near(t, "unchanged mark middle", bars[2].num(t, "y")+bars[2].num(t, "height")/2, bars[3].num(t, "y")+bars[3].num(t, "height")/2)

	var texts []string
	for _, g := range rows {
		texts = append(texts, g.byClass("text", "duration")[0].Text)
	}
	if want := []string{"build 12.3 s · load 2.5 s", "unchanged · load 0.3 s", "load 1.8 s", "build 25.0 s, failed"}; !slices.Equal(texts, want) {
		t.Errorf("image durations %q, want %q", texts, want)
	}
	if reason := rows[3].byClass("text", "reason"); len(reason) != 1 || !strings.HasPrefix(reason[0].Text, "image frontend: docker build: exit status 1") {
		t.Errorf("frontend reason = %v", reason)
	}
	for _, g := range rows[:3] {
		if n := len(g.byClass("text", "reason")); n != 0 {
			t.Errorf("%s: %d reasons for a ready image", g.attr("data-image"), n)
		}
	}

	// The legend tells the builds, the unchanged builds and the loads apart.
	legend := root.byID("legend").text()
	for _, s := range []string{"ready", "failed", "image build", "build unchanged", "image load", "critical path"} {
		if !strings.Contains(legend, s) {
			t.Errorf("legend %q lacks %q", legend, s)
		}
	}

	// The components are drawn as without images.
	comps := slices.DeleteFunc(root.byClass("rect", "bar"), func(n *node) bool { return n.attr("data-component") == "" })
	if len(comps) != 2 || comps[0].attr("data-component") != "db" || comps[1].attr("data-component") != "api" {
		t.Fatalf("component bars: %v", comps)
	}
	near(t, "db x", comps[0].num(t, "x"), x(21.8))
	near(t, "api width", comps[1].num(t, "width"), x(24.8)-x(23.9))
	if links := root.byClass("path", "critical-link"); len(links) != 1 || links[0].attr("data-from") != "db" || links[0].attr("data-to") != "api" {
		t.Errorf("critical links: %v", links)
	}
}

// TestWriteTimelineWithoutImages: an empty list of images draws exactly
// what no list does.
func TestWriteTimelineWithoutImages(t *testing.T) {
	r := renderSample()
	_, without := timeline(t, r)
	r.Images = []report.Image{}
	if _, empty := timeline(t, r); empty != without {
		t.Errorf("Images: [] changes the timeline")
	}
	if strings.Contains(without, "image") {
		t.Errorf("a timeline without images mentions them")
	}
}

// TestWriteTimelineImagesDegenerate: images with nothing done, times no
// real run has, or markup in their strings still give a valid chart.
func TestWriteTimelineImagesDegenerate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	nasty := `<&>"'` + "\x00\x1b]]><!--"
	r := &report.Report{
		Stack: "x", Result: report.ResultInterrupted, Seconds: 4,
		Images: []report.Image{
			{Name: "skipped", Status: report.StatusSkipped},
			{Name: "cached", Unchanged: true, Status: report.StatusSkipped, Reason: "cluster failed"},
			{Name: `a<&>"b`, Ref: nasty, Build: &report.Span{Start: 1, End: 2}, Status: report.Status(`x" onload="y`), Reason: nasty},
			{Name: "nan", Build: &report.Span{Start: nan, End: 1}, Load: &report.Span{Start: 1, End: inf}, Status: report.StatusPending},
			{Name: "reversed", Load: &report.Span{Start: 3, End: 2}, Status: report.StatusReady},
		},
	}
	root, raw := timeline(t, r)
	if strings.ContainsAny(raw, "\x00\x1b") {
		t.Errorf("raw control characters in the SVG")
	}
	rows := root.byClass("g", "image-row")
	if len(rows) != len(r.Images) {
		t.Fatalf("%d image rows, want %d", len(rows), len(r.Images))
	}
	for i, want := range []string{"not built or loaded (skipped)", "unchanged, not loaded (skipped): cluster failed"} {
		if notes := rows[i].byClass("text", "note"); len(notes) != 1 || notes[0].Text != want {
			t.Errorf("%s: note %v, want %q", rows[i].attr("data-image"), notes, want)
		}
	}
	if rows[2].attr("class") != "image-row unknown" || rows[2].attr("data-image") != `a<&>"b` || rows[2].attr("onload") != "" {
		t.Errorf("row of an unknown status: %v", rows[2].Attrs)
	}
	if bars := rows[2].byClass("rect", "image-bar"); len(bars) != 1 || bars[0].attr("class") != "image-bar build unknown" ||
		!strings.Contains(bars[0].child("title").Text, `ref <&>"'`) {
		t.Errorf("bar of an unknown status: %v", bars)
	}
	// A build with no start is not drawn; a load that never ends, or ends
	// before it starts, is a bar that still shows.
	if bars := rows[3].byClass("rect", "image-bar"); len(bars) != 1 || bars[0].attr("class") != "image-bar load pending" {
		t.Errorf("nan: bars %v, want only the pending load", bars)
	}
	for _, g := range rows[3:] {
		for _, bar := range g.byClass("rect", "image-bar") {
			if w := bar.num(t, "width"); w <= 0 {
				t.Errorf("%s: width %v", g.attr("data-image"), w)
			}
		}
	}
}
