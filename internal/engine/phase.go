package engine

import (
	"slices"
	"time"
)

// Span is the time a phase took: from the first start to the last end of
// its nodes.
type Span struct {
	Name       string
	Start, End time.Time
}

// phaseOrder is the order of the known phases in reports.
var phaseOrder = []string{PhaseBuild, PhaseCluster, PhaseLoad, PhaseDeploy}

// PhaseSpans returns, for each phase with at least one node that started,
// the earliest start and the latest end of its nodes. Skipped nodes and
// nodes without a Phase are ignored. The known phases come first, in the
// order build, cluster, load, deploy; any others follow in the order they
// first appear in timings. Phases overlap: that is the point of the engine.
func PhaseSpans(timings []Timing) []Span {
	var spans []Span
	for _, t := range timings {
		if t.Skipped || t.Phase == "" || t.Start.IsZero() {
			continue
		}
		end := t.End
		if end.Before(t.Start) {
			end = t.Start
		}
		i := slices.IndexFunc(spans, func(s Span) bool { return s.Name == t.Phase })
		if i < 0 {
			spans = append(spans, Span{Name: t.Phase, Start: t.Start, End: end})
			continue
		}
		if t.Start.Before(spans[i].Start) {
			spans[i].Start = t.Start
		}
		if end.After(spans[i].End) {
			spans[i].End = end
		}
	}
	rank := func(name string) int {
		if i := slices.Index(phaseOrder, name); i >= 0 {
			return i
		}
		return len(phaseOrder)
	}
	slices.SortStableFunc(spans, func(a, b Span) int { return rank(a.Name) - rank(b.Name) })
	return spans
}
