package engine_test

import (
	"context"
	"fmt"

	"github.com/kubetestbed/testbed/internal/engine"
)

func ExampleGraph_Run() {
	var g engine.Graph
	step := func(name string) func(context.Context) error {
		return func(context.Context) error { return nil } // build, apply, wait, ...
	}
	cluster := engine.ID(engine.KindCluster, "")
	apply, ready := engine.ID(engine.KindApply, "db"), engine.ID(engine.KindReady, "db")
	for _, n := range []engine.Node{
		{ID: cluster, Phase: engine.PhaseCluster, Run: step("create cluster")},
		{ID: apply, Phase: engine.PhaseDeploy, Component: "db", Deps: []engine.NodeID{cluster}, Run: step("apply")},
		{ID: ready, Phase: engine.PhaseDeploy, Component: "db", Deps: []engine.NodeID{apply}, Run: step("wait")},
	} {
		if err := g.Add(n); err != nil {
			fmt.Println(err)
			return
		}
	}
	res, err := g.Run(context.Background(), engine.Options{
		OnEvent: func(e engine.Event) { fmt.Println(e.Type, e.Node) },
	})
	fmt.Println("error:", err)
	fmt.Println("critical path:", res.CriticalPath)
	// Output:
	// start cluster
	// done cluster
	// start apply:db
	// done apply:db
	// start ready:db
	// done ready:db
	// error: <nil>
	// critical path: [cluster apply:db ready:db]
}

func ExampleGraph_Add_cycle() {
	var g engine.Graph
	migrations := engine.ID(engine.KindReady, "migrations")
	datastorage := engine.ID(engine.KindReady, "datastorage")
	_ = g.Add(engine.Node{ID: migrations, Deps: []engine.NodeID{datastorage}})
	err := g.Add(engine.Node{ID: datastorage, Deps: []engine.NodeID{migrations}})
	fmt.Println(err)
	// Output:
	// engine: node "ready:datastorage" closes a dependency cycle: ready:datastorage → ready:migrations → ready:datastorage (each depends on the next)
}
