package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// cell is one strategy's rounds on one stack.
type cell struct {
	secs  []float64 // deploy seconds of the rounds that succeeded
	errs  []string  // why the others failed
	races []race    // from the latest round that found any
}

// stackResult is every round of every strategy on one stack.
type stackResult struct {
	name, path  string
	lowerBound  float64
	critical    []string
	hops        int
	latencies   []time.Duration // the cluster's latency, per round (testbed's cluster)
	jobLats     []time.Duration // the same for a Job
	applies     []time.Duration // testbed's critical path: apply part, per round
	beyonds     []time.Duration // testbed's critical path: beyond readyAfter, per round
	paths       [][]string      // testbed's actual critical path, per round
	targets     []float64       // the target, per round with a latency
	margins     []float64       // testbed - target, per round with both
	kindMargins []float64       // testbed - kindTarget, per round with both
	jobHops     int
	cells       map[string]*cell
}

func newStackResult(p *plan, path string) *stackResult {
	return &stackResult{name: p.s.Metadata.Name, path: path, lowerBound: p.lowerBound,
		critical: p.critical, hops: p.hops, jobHops: p.jobHops, cells: map[string]*cell{}}
}

func (r *stackResult) cell(strategy string) *cell {
	if r.cells[strategy] == nil {
		r.cells[strategy] = &cell{}
	}
	return r.cells[strategy]
}

// add records a round of a strategy.
func (r *stackResult) add(strategy string, o *outcome, err error) {
	c := r.cell(strategy)
	if err != nil {
		c.errs = append(c.errs, err.Error())
		return
	}
	c.secs = append(c.secs, o.deploy.Seconds())
	if len(o.races) > 0 {
		c.races = o.races
	}
	if o.split != nil {
		r.applies = append(r.applies, o.split.apply)
		r.beyonds = append(r.beyonds, o.split.beyond)
		r.paths = append(r.paths, o.split.path)
	}
	if o.latencyJob > 0 {
		r.jobLats = append(r.jobLats, o.latencyJob)
	}
	if o.latency > 0 {
		r.latencies = append(r.latencies, o.latency)
		t := target(r.lowerBound, r.hops, o.latency)
		r.targets = append(r.targets, t)
		r.margins = append(r.margins, o.deploy.Seconds()-t)
		kt := kindTarget(r.lowerBound, r.hops, r.jobHops, o.latency, o.latencyJob)
		r.kindMargins = append(r.kindMargins, o.deploy.Seconds()-kt)
	}
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median[T float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// formatSeconds writes a median and its ratio to the lower bound:
// "45.2 (1.23×)"; without a lower bound, the seconds alone.
func formatSeconds(secs, lowerBound float64) string {
	if lowerBound <= 0 {
		return fmt.Sprintf("%.1f", secs)
	}
	return fmt.Sprintf("%.1f (%.2f×)", secs, secs/lowerBound)
}

// formatCell is a table cell: the median over the rounds that succeeded,
// with how many failed when some did.
func formatCell(c *cell, lowerBound float64) string {
	if c == nil {
		return "—"
	}
	if len(c.secs) == 0 {
		if len(c.errs) > 0 {
			return "failed"
		}
		return "—"
	}
	s := formatSeconds(median(c.secs), lowerBound)
	if len(c.errs) > 0 {
		s += fmt.Sprintf(" (%d/%d failed)", len(c.errs), len(c.errs)+len(c.secs))
	}
	return s
}

// verdict says whether testbed met its target: "✓ −0.4 s" or "✗ +1.2 s",
// from the median of the per-round margins.
func verdict(margins []float64) string {
	if len(margins) == 0 {
		return "—"
	}
	m := median(margins)
	mark := "✓"
	if m > 0 {
		mark = "✗"
	}
	return fmt.Sprintf("%s %+.2f s", mark, m)
}

// runInfo is how and where the benchmark ran.
type runInfo struct {
	command            string
	rounds             int
	m                  machine
	loadStart, loadEnd string
	started            time.Time
	took               time.Duration
	notes              []string
}

// done returns info with the load average and the duration as of now.
func (info runInfo) done() runInfo {
	info.loadEnd, info.took = loadAverage(), time.Since(info.started)
	return info
}

// writeMarkdown writes the results table, the details and the machine.
func writeMarkdown(w io.Writer, results []*stackResult, strategies []strategy, info runInfo) {
	fmt.Fprintf(w, "Median seconds over %d round(s) from \"start deploying\" (the cluster ready) to every component ready, and the ratio to the stack's sim lower bound. Target: lower bound + hops × the cluster's apply-to-ready latency (measured in the same round) + 0.3 s.\n\n", info.rounds)
	head := []string{"stack", "lower bound", "target"}
	for _, s := range strategies {
		t := s.title
		if s.ignoresDependsOn {
			t += " †"
		}
		head = append(head, t)
	}
	head = append(head, "testbed vs target")
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---:|", len(head)-1))
	for _, r := range results {
		row := []string{r.name, fmt.Sprintf("%.1f", r.lowerBound), "—"}
		if len(r.targets) > 0 {
			row[2] = fmt.Sprintf("%.1f", median(r.targets))
		}
		for _, s := range strategies {
			row = append(row, formatCell(r.cells[s.name], r.lowerBound))
		}
		row = append(row, verdict(r.margins))
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	if slices.ContainsFunc(strategies, func(s strategy) bool { return s.ignoresDependsOn }) {
		fmt.Fprintf(w, "\n† ignores dependsOn: everything is applied at once, so on sim a component whose dependency is not ready yet still turns ready on its own clock (only `requires` holds pods); the time is not a valid bring-up. The races it ran, from the cluster's own timestamps (whole seconds):\n\n")
		for _, r := range results {
			for _, s := range strategies {
				c := r.cells[s.name]
				if !s.ignoresDependsOn || c == nil || len(c.races) == 0 {
					continue
				}
				var parts []string
				for _, rc := range c.races {
					parts = append(parts, rc.String())
				}
				fmt.Fprintf(w, "- %s, %s: %s.\n", r.name, s.title, strings.Join(parts, "; "))
			}
		}
	}
	if slices.ContainsFunc(strategies, func(s strategy) bool { return s.name == "seed-retry" }) {
		fmt.Fprintf(w, "\n‡ the seed's pattern on the stack as the seed claimed its services behave: every dependsOn on a component with pods is a retry inside those pods (sim requires: they are applied at once and wait), so nothing races and the lower bound holds; what it takes over the lower bound is the seed's 5-s polling, one component after the other.\n")
	}

	fmt.Fprintf(w, "\nWhere testbed's time goes (medians): the lower bound's critical path and its hops (dependsOn edges + 1); the cluster's apply-to-ready latency of a zero-delay Deployment (the target's) and of a zero-delay Job; testbed's own critical path (the last round's) split into apply (from the predecessor ready to the component applied) and beyond (ready, less readyAfter, after the later of applied and the predecessor ready: the cluster and the tracker); testbed against the target, and against the target with each Job hop's latency a Job's.\n\n")
	fmt.Fprintf(w, "| stack | critical path (lower bound) | hops (Jobs) | latency Deployment / Job (s) | testbed's critical path | apply (s) | beyond (s) | testbed − target (s) | testbed − target per kind (s) |\n|---|---|---:|---:|---|---:|---:|---:|---:|\n")
	for _, r := range results {
		lat, margin, kindMargin, apply, beyond, path := "—", "—", "—", "—", "—", "—"
		if len(r.latencies) > 0 {
			lat = fmt.Sprintf("%.3f / %.3f", median(r.latencies).Seconds(), median(r.jobLats).Seconds())
		}
		if len(r.margins) > 0 {
			margin = fmt.Sprintf("%+.2f", median(r.margins))
			kindMargin = fmt.Sprintf("%+.2f", median(r.kindMargins))
		}
		if len(r.applies) > 0 {
			apply = fmt.Sprintf("%.2f", median(r.applies).Seconds())
			beyond = fmt.Sprintf("%.2f", median(r.beyonds).Seconds())
			path = strings.Join(r.paths[len(r.paths)-1], " → ")
		}
		fmt.Fprintf(w, "| %s | %s | %d (%d) | %s | %s | %s | %s | %s | %s |\n", r.name, strings.Join(r.critical, " → "), r.hops, r.jobHops, lat, path, apply, beyond, margin, kindMargin)
	}

	var failures []string
	for _, r := range results {
		for _, s := range strategies {
			if c := r.cells[s.name]; c != nil {
				for _, e := range c.errs {
					failures = append(failures, fmt.Sprintf("- %s, %s: %s", r.name, s.title, firstLine(e)))
				}
			}
		}
	}
	if len(failures) > 0 {
		fmt.Fprintf(w, "\nFailed rounds:\n\n%s\n", strings.Join(failures, "\n"))
	}
	if len(info.notes) > 0 {
		fmt.Fprintf(w, "\nNotes:\n\n")
		for _, n := range info.notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}

	fmt.Fprintf(w, "\nEvery round (seconds):\n\n| stack | %s |\n|---|%s\n", strings.Join(titles(strategies), " | "), strings.Repeat("---|", len(strategies)))
	for _, r := range results {
		row := []string{r.name}
		for _, s := range strategies {
			var xs []string
			if c := r.cells[s.name]; c != nil {
				for _, x := range c.secs {
					xs = append(xs, fmt.Sprintf("%.1f", x))
				}
				for range c.errs {
					xs = append(xs, "failed")
				}
			}
			row = append(row, strings.Join(xs, ", "))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}

	fmt.Fprintf(w, "\nMachine: %d CPUs, %s, %s RAM, Linux %s, %s; load average %s at the start, %s at the end; %s, took %s.\n",
		info.m.CPUs, info.m.Model, info.m.MemTotal, info.m.Kernel, info.m.GoVersion, info.loadStart, info.loadEnd,
		info.started.UTC().Format("2006-01-02 15:04 UTC"), info.took.Round(time.Second))
	fmt.Fprintf(w, "\nCommand:\n\n    %s\n", info.command)
}

func titles(strategies []strategy) []string {
	var out []string
	for _, s := range strategies {
		out = append(out, s.title)
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
