// Package testbed brings a stack (see package stack) up on a Kubernetes
// cluster as fast as its components allow, says why when it cannot, and
// tears it down:
//
//	s, err := stack.Load("testbed.yaml")
//	...
//	env, err := testbed.Up(ctx, s, testbed.Options{})
//	if err != nil {
//		// testbed.KindOf(err) says which: a component failed or timed out,
//		// invalid input, the infrastructure, or an interruption; env.Report
//		// says why, component by component.
//	}
//	defer env.Teardown(ctx)
//
// Up plans the stack (NewPlan: the provider, the substitutions, the
// manifests read once), prepares the provider outside the bring-up's clock
// (the sim control plane is built once), then runs one dataflow graph: each
// component is applied as soon as what it depends on is ready, and one
// watch-based tracker judges every object by its kind's rule. The zero
// Options work. The library never prints; progress arrives as Events.
// For Go tests, package testbedtest wraps all this in one call.
package testbed
