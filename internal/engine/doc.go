// Package engine is testbed's dataflow graph and its scheduler.
//
// A bring-up is a graph of nodes: build an image, create the cluster, load
// an image, apply a component, wait for a component to be ready, run a hook.
// Each node names the nodes it needs. Run starts a node the moment its own
// dependencies are done, with no layer or phase barriers (docs/design.md, "The pipeline"), bounded
// only by an optional per-phase concurrency limit, and stops at the first
// failure: it cancels the context of the nodes still running and skips the
// nodes not yet started.
//
// The package is pure: it knows nothing of Kubernetes, never prints and
// never sleeps. Progress is reported through Options.OnEvent; timings and
// the critical path come back in the Result.
//
// Typical use:
//
//	cluster := engine.ID(engine.KindCluster, "")
//	build, load := engine.ID(engine.KindBuild, "api"), engine.ID(engine.KindLoad, "api")
//	var g engine.Graph
//	must(g.Add(engine.Node{ID: cluster, Phase: engine.PhaseCluster, Run: createCluster}))
//	must(g.Add(engine.Node{ID: build, Phase: engine.PhaseBuild, Component: "api", Run: buildAPI}))
//	must(g.Add(engine.Node{ID: load, Phase: engine.PhaseLoad, Component: "api",
//		Deps: []engine.NodeID{cluster, build}, Run: loadAPI}))
//	must(g.Add(engine.Node{ID: engine.ID(engine.KindApply, "api"), Phase: engine.PhaseDeploy,
//		Component: "api", Deps: []engine.NodeID{load}, Run: applyAPI}))
//
//	res, err := g.Run(ctx, engine.Options{
//		Concurrency: map[string]int{engine.PhaseBuild: runtime.NumCPU()},
//		OnEvent:     func(e engine.Event) { progress(e) },
//	})
//	// res.Timings holds every node's start, end and error (or Skipped);
//	// res.CriticalPath the chain that finished last;
//	// engine.PhaseSpans(res.Timings) the span of each phase.
//	// err is nil, ctx.Err(), or a *NodeError naming the first node that failed.
package engine
