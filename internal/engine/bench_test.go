package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kubetestbed/testbed/internal/engine"
)

// BenchmarkRun500 measures the scheduler's own overhead: 500 no-op nodes,
// shaped as one chain, as one fan-out and fan-in, and as 20 interleaved
// chains from one root.
func BenchmarkRun500(b *testing.B) {
	const n = 500
	noop := func(context.Context) error { return nil }
	shapes := []struct {
		name string
		deps func(i int) []engine.NodeID
	}{
		{"chain", func(i int) []engine.NodeID {
			if i == 0 {
				return nil
			}
			return []engine.NodeID{id(i - 1)}
		}},
		{"fanout", func(i int) []engine.NodeID {
			switch i {
			case 0:
				return nil
			case n - 1:
				var all []engine.NodeID
				for j := 1; j < n-1; j++ {
					all = append(all, id(j))
				}
				return all
			}
			return []engine.NodeID{id(0)}
		}},
		{"chains", func(i int) []engine.NodeID {
			if i == 0 {
				return nil
			}
			return []engine.NodeID{id(max(0, i-20))}
		}},
	}
	for _, shape := range shapes {
		b.Run(shape.name, func(b *testing.B) {
			var g engine.Graph
			for i := range n {
				if err := g.Add(engine.Node{ID: id(i), Phase: engine.PhaseDeploy, Deps: shape.deps(i), Run: noop}); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.Run(ctx, engine.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/node")
		})
	}
}

func id(i int) engine.NodeID { return engine.ID(engine.KindApply, fmt.Sprintf("n%03d", i)) }
