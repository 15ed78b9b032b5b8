package main

import (
	"slices"
	"time"

	"github.com/kubetestbed/testbed/pkg/stack"
)

// compTimes is when a bring-up had a component applied (a run step:
// started) and ready, since the deploy start.
type compTimes struct {
	applied, ready time.Duration
}

// split divides a bring-up along its actual critical path: back from the
// component ready last, through the dependsOn or sim.requires component
// that was ready last, to one that waits for nothing. For each component
// on it, with prev its predecessor's ready (0 for the first):
//
//   - apply: from prev to the component applied (0 when it was applied
//     before prev, across a requires edge): scheduling, discovery,
//     namespaces, the server-side applies;
//   - beyond: from the later of applied and prev to ready, less its
//     readyAfter: what the cluster (pod creation, scheduling, kwok, the
//     controllers' status) and the readiness tracking added.
//
// The parts telescope: the last component's ready is Σ apply + Σ
// readyAfter + Σ beyond along the path.
type split struct {
	path          []string
	apply, beyond time.Duration
}

func criticalSplit(s *stack.Stack, times map[string]compTimes) split {
	last := ""
	for name, t := range times {
		if last == "" || t.ready > times[last].ready || (t.ready == times[last].ready && name < last) {
			last = name
		}
	}
	var path []string
	for name := last; name != ""; {
		path = append(path, name)
		c := s.Component(name)
		next := ""
		if c != nil {
			preds := slices.Clone(c.DependsOn)
			if c.Sim != nil {
				preds = append(preds, c.Sim.Requires...)
			}
			for _, d := range preds {
				t, ok := times[d]
				if ok && !slices.Contains(path, d) && (next == "" || t.ready > times[next].ready) {
					next = d
				}
			}
		}
		name = next
	}
	slices.Reverse(path)
	var out split
	out.path = path
	var prev time.Duration
	for _, name := range path {
		t := times[name]
		out.apply += max(0, t.applied-prev)
		out.beyond += t.ready - max(t.applied, prev) - readyAfter(s.Component(name))
		prev = t.ready
	}
	return out
}

func readyAfter(c *stack.Component) time.Duration {
	if c == nil || c.Run != nil || c.Sim == nil {
		return 0
	}
	return c.Sim.ReadyAfter
}
