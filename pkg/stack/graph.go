package stack

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// edge is a "waits for" edge of the component graph: from a component to
// one in its dependsOn (or sim.requires), with the path of that entry.
type edge struct {
	to   int
	path string
}

// edges returns, per component, the components it waits for: those in its
// dependsOn and, if withRequires, then those in its sim.requires. Unknown
// names and self-references are left out (validation reports them).
func (s *Stack) edges(withRequires bool) [][]edge {
	index := map[string]int{}
	for i, c := range s.Spec.Components {
		if _, dup := index[c.Name]; !dup {
			index[c.Name] = i
		}
	}
	out := make([][]edge, len(s.Spec.Components))
	add := func(i int, names []string, field string) {
		for j, name := range names {
			if to, ok := index[name]; ok && to != i {
				out[i] = append(out[i], edge{to: to, path: fmt.Sprintf("%s.%s[%d]", componentPath(i), field, j)})
			}
		}
	}
	for i, c := range s.Spec.Components {
		add(i, c.DependsOn, "dependsOn")
		if withRequires && c.Sim != nil {
			add(i, c.Sim.Requires, "sim.requires")
		}
	}
	return out
}

// order returns component indexes so that each comes after the components
// it waits for (dependsOn and sim.requires), and otherwise in file order.
// On a cycle, which a valid stack does not have, it still returns each
// component once.
func (s *Stack) order() []int {
	edges := s.edges(true)
	visited := make([]bool, len(edges))
	out := make([]int, 0, len(edges))
	var visit func(i int)
	visit = func(i int) {
		if visited[i] {
			return
		}
		visited[i] = true
		for _, e := range edges[i] {
			visit(e.to)
		}
		out = append(out, i)
	}
	for i := range edges {
		visit(i)
	}
	return out
}

// Order returns the component names in an order where each component comes
// after the components in its DependsOn and Sim.Requires, and otherwise in
// file order.
func (s *Stack) Order() []string {
	var names []string
	for _, i := range s.order() {
		names = append(names, s.Spec.Components[i].Name)
	}
	return names
}

// LowerBound returns the shortest time, in seconds, in which the stack can
// be ready on the sim provider, and the critical path that sets it: the
// components, first to last, whose readiness the last one waits for.
//
// A component is ready ReadyAfter after the latest of the components in its
// DependsOn and Sim.Requires is ready: DependsOn delays its apply and
// Requires delays its pods' clocks, and either way the clock starts then.
// Run steps and components without Sim take no time. Sim.Fail is ignored.
func (s *Stack) LowerBound() (seconds float64, criticalPath []string) {
	comps := s.Spec.Components
	if len(comps) == 0 {
		return 0, nil
	}
	edges := s.edges(true)
	ready := make([]time.Duration, len(comps))
	via := make([]int, len(comps)) // the component whose readiness starts the clock, or -1
	last := -1
	for _, i := range s.order() {
		via[i] = -1
		var start time.Duration
		for _, e := range edges[i] {
			if via[i] == -1 || ready[e.to] > start {
				via[i], start = e.to, ready[e.to]
			}
		}
		ready[i] = start + comps[i].simReadyAfter()
		if last == -1 || ready[i] >= ready[last] {
			last = i
		}
	}

	seen := make([]bool, len(comps))
	for i := last; i != -1 && !seen[i]; i = via[i] {
		seen[i] = true
		criticalPath = append(criticalPath, comps[i].Name)
	}
	slices.Reverse(criticalPath)
	return ready[last].Seconds(), criticalPath
}

// simReadyAfter is how long the component's pods take to be ready on sim.
func (c *Component) simReadyAfter() time.Duration {
	if c.Run != nil || c.Sim == nil {
		return 0
	}
	return c.Sim.ReadyAfter
}

// SimTimeouts reports where, on the sim provider, a timeout is certain
// before anything starts: sim timings are exact, so a component whose
// sim.readyAfter is not less than its timeout can never be ready in time,
// and neither can a stack whose lower bound is not less than timeout (the
// stack's, or the override a caller runs it with; 0: the stack's). A
// stack with a component that sim.fail fails on purpose is not judged on
// its lower bound. It returns nil or an ErrorList.
func (s *Stack) SimTimeouts(timeout time.Duration) error {
	if timeout <= 0 {
		timeout = s.Spec.Timeout
	}
	var errs ErrorList
	failing := false
	for i, c := range s.Spec.Components {
		if c.Run != nil || c.Sim == nil {
			continue
		}
		if c.Sim.Fail != "" {
			failing = true
			continue
		}
		if c.Timeout > 0 && c.Sim.ReadyAfter >= c.Timeout {
			errs.add(s.File, s.line(componentPath(i)+".sim.readyAfter"), s.componentLabel(i),
				"sim.readyAfter %s is not less than the component's timeout %s: on sim it can never be ready in time", c.Sim.ReadyAfter, c.Timeout)
		}
	}
	if len(errs) == 0 && !failing && timeout > 0 {
		if lb, path := s.LowerBound(); lb >= timeout.Seconds() {
			errs.add(s.File, s.line("spec.timeout"), "",
				"the stack's sim lower bound, %.1f s (critical path %s), is not less than its timeout %s: on sim it can never be ready in time",
				lb, strings.Join(path, " → "), timeout)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
