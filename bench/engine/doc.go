// Package engine holds testbed's engine benchmark: how far `testbed up`
// comes from the sim lower bound of a stack, once the cluster's own
// latency is taken out, for a 5-component chain, 50 independent
// components and 500 independent components (with and without ClusterIP
// Services); stacks of independent components also against a plain
// parallel create of the same objects, and the 500-component ones with
// the peak RSS and CPU of `testbed up`.
//
// The benchmarks need the sim control plane (built once, see
// internal/testenv) and run only with -bench:
//
//	go test -run '^$' -bench . -benchtime 3x -timeout 60m ./bench/engine/
//
// See bench/README.md for what each number means and what was measured.
package engine
