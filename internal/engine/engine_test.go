package engine_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/engine"
)

// testCtx bounds a test that would otherwise hang on a scheduling bug.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recorder collects events; it checks OnEvent is never called concurrently.
type recorder struct {
	inCall atomic.Bool
	mu     sync.Mutex
	events []engine.Event
	ch     chan engine.Event // optional: each event is also sent here
}

func (r *recorder) onEvent(e engine.Event) {
	if !r.inCall.CompareAndSwap(false, true) {
		panic("OnEvent called concurrently")
	}
	defer r.inCall.Store(false)
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if r.ch != nil {
		r.ch <- e
	}
}

// log returns the events as "type:node".
func (r *recorder) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Type+":"+e.Node.String())
	}
	return out
}

func mustAdd(t *testing.T, g *engine.Graph, nodes ...engine.Node) {
	t.Helper()
	for _, n := range nodes {
		if err := g.Add(n); err != nil {
			t.Fatalf("Add(%s): %v", n.ID, err)
		}
	}
}

// nid parses "kind:name", or "kind", into a NodeID.
func nid(s string) engine.NodeID {
	kind, name, _ := strings.Cut(s, ":")
	return engine.ID(engine.NodeKind(kind), name)
}

// ids parses each of s with nid.
func ids(s ...string) []engine.NodeID {
	out := make([]engine.NodeID, len(s))
	for i, x := range s {
		out[i] = nid(x)
	}
	return out
}

func timing(t *testing.T, res *engine.Result, id engine.NodeID) engine.Timing {
	t.Helper()
	for _, tm := range res.Timings {
		if tm.Node == id {
			return tm
		}
	}
	t.Fatalf("no timing for %s", id)
	return engine.Timing{}
}

func TestNodeIDString(t *testing.T) {
	tests := []struct {
		id   engine.NodeID
		want string
	}{
		{engine.ID(engine.KindCluster, ""), "cluster"},
		{engine.ID(engine.KindApply, "redis"), "apply:redis"},
		{engine.ID("custom", "x"), "custom:x"},
		{engine.NodeID{}, ""},
	}
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.id, got, tt.want)
		}
		if tt.want != "" && nid(tt.want) != tt.id {
			t.Errorf("nid(%q) = %#v, want %#v", tt.want, nid(tt.want), tt.id)
		}
	}
}

func TestAddRejects(t *testing.T) {
	tests := []struct {
		name  string
		nodes []engine.Node // all but the last are added successfully
		want  string
	}{
		{
			name:  "empty ID",
			nodes: []engine.Node{{}},
			want:  "empty ID",
		},
		{
			name:  "no kind",
			nodes: []engine.Node{{ID: engine.NodeID{Name: "redis"}}},
			want:  `node ":redis" has no kind`,
		},
		{
			name:  "duplicate",
			nodes: []engine.Node{{ID: nid("apply:redis")}, {ID: nid("apply:redis")}},
			want:  `duplicate node "apply:redis"`,
		},
		{
			name:  "self dependency",
			nodes: []engine.Node{{ID: nid("a"), Deps: ids("a")}},
			want:  `node "a" closes a dependency cycle: a → a`,
		},
		{
			name:  "two-node cycle",
			nodes: []engine.Node{{ID: nid("a"), Deps: ids("b")}, {ID: nid("b"), Deps: ids("a")}},
			want:  `node "b" closes a dependency cycle: b → a → b`,
		},
		{
			name: "three-node cycle declared forward",
			nodes: []engine.Node{
				{ID: nid("x")},
				{ID: nid("a"), Deps: ids("x", "b")},
				{ID: nid("c"), Deps: ids("a")},
				{ID: nid("b"), Deps: ids("x", "c")},
			},
			want: `node "b" closes a dependency cycle: b → c → a → b`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g engine.Graph
			last := len(tt.nodes) - 1
			mustAdd(t, &g, tt.nodes[:last]...)
			err := g.Add(tt.nodes[last])
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Add: got %v, want an error containing %q", err, tt.want)
			}
			if g.Len() != last {
				t.Errorf("Len = %d after a rejected Add, want %d", g.Len(), last)
			}
		})
	}
}

func TestRunRejectsUnknownDeps(t *testing.T) {
	var g engine.Graph
	ran := false
	mustAdd(t, &g,
		engine.Node{ID: nid("a"), Run: func(context.Context) error { ran = true; return nil }},
		engine.Node{ID: nid("load:api"), Deps: ids("a", "build:api")},
		engine.Node{ID: nid("apply:api"), Deps: ids("ready:db")},
	)
	res, err := g.Run(testCtx(t), engine.Options{})
	if err == nil {
		t.Fatal("Run: no error")
	}
	for _, want := range []string{
		`node "load:api" depends on unknown node "build:api"`,
		`node "apply:api" depends on unknown node "ready:db"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if res != nil || ran {
		t.Errorf("Run started nodes (res=%v, ran=%v) despite an invalid graph", res, ran)
	}
}

// TestRunOrder checks that every node runs once, after all its deps.
func TestRunOrder(t *testing.T) {
	tests := []struct {
		name  string
		nodes []engine.Node
	}{
		{"single", []engine.Node{{ID: nid("a")}}},
		{"chain", []engine.Node{
			{ID: nid("a")}, {ID: nid("b"), Deps: ids("a")},
			{ID: nid("c"), Deps: ids("b")}, {ID: nid("d"), Deps: ids("c")},
		}},
		{"diamond", []engine.Node{
			{ID: nid("top")}, {ID: nid("left"), Deps: ids("top")}, {ID: nid("right"), Deps: ids("top")},
			{ID: nid("bottom"), Deps: ids("left", "right")},
		}},
		{"declared bottom-up", []engine.Node{
			{ID: nid("bottom"), Deps: ids("left", "right", "left")}, {ID: nid("left"), Deps: ids("top")},
			{ID: nid("right"), Deps: ids("top")}, {ID: nid("top")},
		}},
		{"independent", []engine.Node{{ID: nid("a")}, {ID: nid("b")}, {ID: nid("c")}}},
		{"pipeline", []engine.Node{
			{ID: nid("cluster"), Phase: engine.PhaseCluster},
			{ID: nid("build:api"), Phase: engine.PhaseBuild},
			{ID: nid("load:api"), Phase: engine.PhaseLoad, Deps: ids("cluster", "build:api")},
			{ID: nid("apply:db"), Phase: engine.PhaseDeploy, Deps: ids("cluster")},
			{ID: nid("ready:db"), Phase: engine.PhaseDeploy, Deps: ids("apply:db")},
			{ID: nid("apply:api"), Phase: engine.PhaseDeploy, Deps: ids("load:api", "ready:db")},
			{ID: nid("ready:api"), Phase: engine.PhaseDeploy, Deps: ids("apply:api")},
			{ID: nid("run:register"), Phase: engine.PhaseDeploy, Deps: ids("ready:api")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g engine.Graph
			var runs sync.Map // NodeID -> *atomic.Int32
			for _, n := range tt.nodes {
				var count atomic.Int32
				runs.Store(n.ID, &count)
				if n.ID != nid("c") { // leave one nil Run: a join point
					n.Run = func(context.Context) error { count.Add(1); return nil }
				} else {
					count.Add(1)
				}
				mustAdd(t, &g, n)
			}
			rec := &recorder{}
			res, err := g.Run(testCtx(t), engine.Options{OnEvent: rec.onEvent})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			log := rec.log()
			for _, n := range tt.nodes {
				v, _ := runs.Load(n.ID)
				if c := v.(*atomic.Int32).Load(); c != 1 {
					t.Errorf("%s ran %d times", n.ID, c)
				}
				start := slices.Index(log, "start:"+n.ID.String())
				if start < 0 || !slices.Contains(log, "done:"+n.ID.String()) {
					t.Errorf("%s: missing start or done event in %v", n.ID, log)
				}
				for _, d := range n.Deps {
					if done := slices.Index(log, "done:"+d.String()); done < 0 || done > start {
						t.Errorf("%s started before its dep %s was done: %v", n.ID, d, log)
					}
				}
				tm := timing(t, res, n.ID)
				if tm.Err != nil || tm.Skipped || tm.Start.IsZero() || tm.End.Before(tm.Start) {
					t.Errorf("%s: bad timing %+v", n.ID, tm)
				}
			}
			if len(res.Timings) != len(tt.nodes) {
				t.Errorf("%d timings for %d nodes", len(res.Timings), len(tt.nodes))
			}
			for i, tm := range res.Timings {
				if tm.Node != tt.nodes[i].ID {
					t.Errorf("Timings[%d] = %s, want %s (order of Add)", i, tm.Node, tt.nodes[i].ID)
				}
			}
			if len(res.CriticalPath) == 0 {
				t.Error("empty critical path")
			}
		})
	}
}

func TestEmptyGraph(t *testing.T) {
	var g engine.Graph
	res, err := g.Run(testCtx(t), engine.Options{})
	if err != nil || len(res.Timings) != 0 || len(res.CriticalPath) != 0 {
		t.Fatalf("Run on an empty graph = %+v, %v", res, err)
	}
}

// TestIndependentNodesRunConcurrently: each node waits for the other to have
// started, so both complete only if they run at the same time.
func TestIndependentNodesRunConcurrently(t *testing.T) {
	ctx := testCtx(t)
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	waitFor := func(mine, other chan struct{}) func(context.Context) error {
		return func(ctx context.Context) error {
			close(mine)
			select {
			case <-other:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	var g engine.Graph
	mustAdd(t, &g,
		engine.Node{ID: nid("build:a"), Phase: engine.PhaseBuild, Run: waitFor(aStarted, bStarted)},
		engine.Node{ID: nid("cluster"), Phase: engine.PhaseCluster, Run: waitFor(bStarted, aStarted)},
	)
	if _, err := g.Run(ctx, engine.Options{}); err != nil {
		t.Fatalf("Run: %v (the nodes did not run concurrently)", err)
	}
}

// TestNodeStartsWhenItsOwnDepsAreDone: b depends only on a; it must run to
// completion while an unrelated slow node is still running.
func TestNodeStartsWhenItsOwnDepsAreDone(t *testing.T) {
	ctx := testCtx(t)
	release := make(chan struct{})
	bDone := make(chan struct{})
	var slowReturned atomic.Bool
	var g engine.Graph
	mustAdd(t, &g,
		engine.Node{ID: nid("slow"), Phase: engine.PhaseBuild, Run: func(ctx context.Context) error {
			select {
			case <-release:
				slowReturned.Store(true)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}},
		engine.Node{ID: nid("after-slow"), Deps: ids("slow")},
		engine.Node{ID: nid("a"), Phase: engine.PhaseCluster},
		engine.Node{ID: nid("b"), Phase: engine.PhaseDeploy, Deps: ids("a"), Run: func(context.Context) error {
			if slowReturned.Load() {
				return errors.New("b started only after the unrelated slow node")
			}
			close(bDone)
			return nil
		}},
	)
	errc := make(chan error, 1)
	go func() {
		_, err := g.Run(ctx, engine.Options{})
		errc <- err
	}()
	select {
	case <-bDone:
	case <-ctx.Done():
		t.Fatal("b never ran while the slow node was held")
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	const builds, limit, deploys = 12, 3, 8
	ctx := testCtx(t)
	var inFlight, maxInFlight atomic.Int32
	started := make(chan string, builds)
	proceed := make(chan struct{})
	// Every deploy node waits until all deploy nodes have started: they
	// complete only if the unlimited phase really is unlimited.
	var deploying atomic.Int32
	allDeploying := make(chan struct{})

	var g engine.Graph
	for i := range builds {
		id := engine.ID(engine.KindBuild, fmt.Sprintf("%02d", i))
		mustAdd(t, &g, engine.Node{ID: id, Phase: engine.PhaseBuild,
			Run: func(ctx context.Context) error {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
				}
				started <- id.String()
				select {
				case <-proceed:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}})
	}
	for i := range deploys {
		mustAdd(t, &g, engine.Node{ID: engine.ID(engine.KindApply, fmt.Sprint(i)), Phase: engine.PhaseDeploy,
			Run: func(ctx context.Context) error {
				if deploying.Add(1) == deploys {
					close(allDeploying)
				}
				select {
				case <-allDeploying:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}})
	}

	errc := make(chan error, 1)
	go func() {
		_, err := g.Run(ctx, engine.Options{Concurrency: map[string]int{engine.PhaseBuild: limit}})
		errc <- err
	}()
	var order []string
	for range limit {
		order = append(order, <-started)
	}
	if n := inFlight.Load(); n != limit {
		t.Errorf("%d builds in flight after %d started, want %d", n, limit, limit)
	}
	for range builds - limit {
		proceed <- struct{}{}            // let one build finish ...
		order = append(order, <-started) // ... and the next one start
	}
	for range limit {
		proceed <- struct{}{}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if m := maxInFlight.Load(); m != limit {
		t.Errorf("max builds in flight = %d, want %d", m, limit)
	}
	// Held-back nodes start in the order they became ready.
	if !slices.IsSorted(order[limit:]) {
		t.Errorf("queued builds started out of order: %v", order)
	}
}

var errBoom = errors.New("boom")

func TestFailFast(t *testing.T) {
	ctx := testCtx(t)
	slowStarted := make(chan struct{})
	var slowCause error
	var g engine.Graph
	mustAdd(t, &g,
		engine.Node{ID: nid("slow"), Phase: engine.PhaseBuild, Run: func(ctx context.Context) error {
			close(slowStarted)
			<-ctx.Done() // only a failure elsewhere ends it
			slowCause = context.Cause(ctx)
			return ctx.Err()
		}},
		engine.Node{ID: nid("apply:api"), Phase: engine.PhaseDeploy, Component: "api", Run: func(ctx context.Context) error {
			<-slowStarted
			return errBoom
		}},
		engine.Node{ID: nid("ready:api"), Phase: engine.PhaseDeploy, Component: "api", Deps: ids("apply:api")},
		engine.Node{ID: nid("after-slow"), Deps: ids("slow")},
		// Held back by the build limit behind "slow": ready, never started.
		engine.Node{ID: nid("queued"), Phase: engine.PhaseBuild},
	)
	rec := &recorder{}
	res, err := g.Run(ctx, engine.Options{OnEvent: rec.onEvent, Concurrency: map[string]int{engine.PhaseBuild: 1}})

	var nerr *engine.NodeError
	if !errors.As(err, &nerr) || nerr.Node != nid("apply:api") || nerr.Component != "api" || !errors.Is(err, errBoom) {
		t.Fatalf("Run error = %#v, want a *NodeError for apply:api wrapping boom", err)
	}
	if got, want := err.Error(), "apply:api: boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if tm := timing(t, res, nid("slow")); !errors.Is(tm.Err, context.Canceled) || tm.Skipped {
		t.Errorf("slow: %+v, want a cancelled node", tm)
	}
	if slowCause == nil || !strings.Contains(slowCause.Error(), "apply:api: boom") {
		t.Errorf("context cause seen by running nodes = %v, want it to name apply:api", slowCause)
	}
	for _, id := range ids("ready:api", "after-slow", "queued") {
		if tm := timing(t, res, id); !tm.Skipped || !tm.Start.IsZero() {
			t.Errorf("%s: %+v, want skipped", id, tm)
		}
	}
	log := rec.log()
	for _, want := range []string{"failed:apply:api", "failed:slow", "skipped:ready:api", "skipped:after-slow", "skipped:queued"} {
		if !slices.Contains(log, want) {
			t.Errorf("events %v lack %s", log, want)
		}
	}
	if slices.Contains(log, "start:queued") {
		t.Errorf("queued node started after the failure: %v", log)
	}
}

func TestCancellation(t *testing.T) {
	t.Run("while running", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		var sawCancel atomic.Bool
		var g engine.Graph
		mustAdd(t, &g,
			engine.Node{ID: nid("running"), Run: func(ctx context.Context) error {
				cancel()
				<-ctx.Done()
				sawCancel.Store(true)
				return ctx.Err()
			}},
			engine.Node{ID: nid("next"), Deps: ids("running")},
		)
		res, err := g.Run(ctx, engine.Options{})
		if err != context.Canceled {
			t.Fatalf("Run error = %v, want context.Canceled itself", err)
		}
		if !sawCancel.Load() {
			t.Error("the running node did not see a cancelled context")
		}
		if !timing(t, res, nid("next")).Skipped {
			t.Error("next was not skipped")
		}
	})
	t.Run("before Run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(testCtx(t))
		cancel()
		var g engine.Graph
		ran := false
		mustAdd(t, &g, engine.Node{ID: nid("a"), Run: func(context.Context) error { ran = true; return nil }})
		res, err := g.Run(ctx, engine.Options{})
		if !errors.Is(err, context.Canceled) || ran || !timing(t, res, nid("a")).Skipped {
			t.Fatalf("Run = %v, ran=%v, timing %+v; want Canceled and nothing run", err, ran, res.Timings)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(testCtx(t), time.Now()) // already passed
		defer cancel()
		var g engine.Graph
		mustAdd(t, &g, engine.Node{ID: nid("a")})
		if _, err := g.Run(ctx, engine.Options{}); err != context.DeadlineExceeded {
			t.Fatalf("Run error = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestPanicBecomesNodeError(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"string", "kaboom", "run:hook: panic: kaboom"},
		{"error", errBoom, "run:hook: panic: boom"},
		{"nil map", nil, "run:hook: panic: assignment to entry in nil map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g engine.Graph
			mustAdd(t, &g,
				engine.Node{ID: nid("run:hook"), Run: func(context.Context) error {
					if tt.value == nil {
						var m map[string]int
						//lint:ignore SA5000 a runtime panic on purpose
						m["x"] = 1
					}
					panic(tt.value)
				}},
				engine.Node{ID: nid("after"), Deps: ids("run:hook")},
			)
			res, err := g.Run(testCtx(t), engine.Options{})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Run error = %v, want %q", err, tt.want)
			}
			var perr *engine.PanicError
			if !errors.As(err, &perr) || len(perr.Stack) == 0 {
				t.Fatalf("error %v does not hold a *PanicError with a stack", err)
			}
			if tt.value == errBoom && !errors.Is(err, errBoom) {
				t.Error("a panic with an error value does not unwrap to it")
			}
			if !timing(t, res, nid("after")).Skipped {
				t.Error("the dependent of a panicking node was not skipped")
			}
		})
	}
}

func TestGoexitBecomesNodeError(t *testing.T) {
	var g engine.Graph
	mustAdd(t, &g, engine.Node{ID: nid("a"), Run: func(context.Context) error { runtime.Goexit(); return nil }})
	_, err := g.Run(testCtx(t), engine.Options{})
	if err == nil || !strings.Contains(err.Error(), "Goexit") {
		t.Fatalf("Run error = %v, want one about runtime.Goexit", err)
	}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t0.Add(d)
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// TestCriticalPathAndPhases drives a small pipeline with a fake clock: each
// node runs until the test releases it at a chosen time.
//
//	cluster [0,2] ─┬─> load:api [3,4] ─> apply:api [4,5] ─> ready:api [5,9]
//	build:api [0,3] ┘
//	cluster ─> apply:db [2,3] ─> ready:db [3,7]
func TestCriticalPathAndPhases(t *testing.T) {
	ctx := testCtx(t)
	clock := &fakeClock{now: t0}
	release := map[engine.NodeID]chan struct{}{}
	node := func(id, phase, comp string, deps ...string) engine.Node {
		ch := make(chan struct{})
		release[nid(id)] = ch
		return engine.Node{ID: nid(id), Phase: phase, Component: comp, Deps: ids(deps...),
			Run: func(ctx context.Context) error {
				select {
				case <-ch:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}}
	}
	var g engine.Graph
	mustAdd(t, &g,
		node("cluster", engine.PhaseCluster, ""),
		node("build:api", engine.PhaseBuild, "api"),
		node("load:api", engine.PhaseLoad, "api", "cluster", "build:api"),
		node("apply:api", engine.PhaseDeploy, "api", "load:api", "ready:db"),
		node("ready:api", engine.PhaseDeploy, "api", "apply:api"),
		node("apply:db", engine.PhaseDeploy, "db", "cluster"),
		node("ready:db", engine.PhaseDeploy, "db", "apply:db"),
	)
	rec := &recorder{ch: make(chan engine.Event, 64)}
	type outcome struct {
		res *engine.Result
		err error
	}
	out := make(chan outcome, 1)
	go func() {
		res, err := g.Run(ctx, engine.Options{Clock: clock.Now, OnEvent: rec.onEvent})
		out <- outcome{res, err}
	}()
	// await consumes events until all of want ("type:node") have been seen.
	await := func(want ...string) {
		t.Helper()
		for len(want) > 0 {
			select {
			case e := <-rec.ch:
				want = slices.DeleteFunc(want, func(w string) bool { return w == e.Type+":"+e.Node.String() })
			case <-ctx.Done():
				t.Fatalf("still waiting for %v", want)
			}
		}
	}
	step := func(at time.Duration, id string, then ...string) {
		t.Helper()
		clock.Set(at)
		close(release[nid(id)])
		await(append([]string{"done:" + id}, then...)...)
	}
	await("start:cluster", "start:build:api")
	step(2*time.Second, "cluster", "start:apply:db")
	step(3*time.Second, "apply:db", "start:ready:db")
	step(3*time.Second, "build:api", "start:load:api")
	step(4*time.Second, "load:api")
	step(7*time.Second, "ready:db", "start:apply:api")
	step(8*time.Second, "apply:api", "start:ready:api")
	step(9*time.Second, "ready:api")
	o := <-out
	if o.err != nil {
		t.Fatalf("Run: %v", o.err)
	}

	want := map[string][2]time.Duration{
		"cluster":   {0, 2 * time.Second},
		"build:api": {0, 3 * time.Second},
		"load:api":  {3 * time.Second, 4 * time.Second},
		"apply:db":  {2 * time.Second, 3 * time.Second},
		"ready:db":  {3 * time.Second, 7 * time.Second},
		"apply:api": {7 * time.Second, 8 * time.Second},
		"ready:api": {8 * time.Second, 9 * time.Second},
	}
	for id, w := range want {
		tm := timing(t, o.res, nid(id))
		if got := [2]time.Duration{tm.Start.Sub(t0), tm.End.Sub(t0)}; got != w {
			t.Errorf("%s ran %v, want %v", id, got, w)
		}
	}
	// ready:api waited on apply:api, which waited on ready:db (done at 7)
	// rather than load:api (done at 4).
	if got, want := o.res.CriticalPath, ids("cluster", "apply:db", "ready:db", "apply:api", "ready:api"); !slices.Equal(got, want) {
		t.Errorf("CriticalPath = %v, want %v", got, want)
	}

	var got []string
	for _, s := range engine.PhaseSpans(o.res.Timings) {
		got = append(got, fmt.Sprintf("%s %v-%v", s.Name, s.Start.Sub(t0), s.End.Sub(t0)))
	}
	if want := []string{"build 0s-3s", "cluster 0s-2s", "load 3s-4s", "deploy 2s-9s"}; !slices.Equal(got, want) {
		t.Errorf("PhaseSpans = %v, want %v", got, want)
	}
}

// TestCriticalPathTies: with zero-duration nodes every end time is equal;
// the path must still follow dependencies to the last node.
func TestCriticalPathTies(t *testing.T) {
	var g engine.Graph
	mustAdd(t, &g,
		engine.Node{ID: nid("d"), Deps: ids("b", "c")},
		engine.Node{ID: nid("b"), Deps: ids("a")},
		engine.Node{ID: nid("c"), Deps: ids("b")},
		engine.Node{ID: nid("a")},
		engine.Node{ID: nid("x")},
	)
	res, err := g.Run(testCtx(t), engine.Options{Clock: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if want := ids("a", "b", "c", "d"); !slices.Equal(res.CriticalPath, want) {
		t.Errorf("CriticalPath = %v, want %v", res.CriticalPath, want)
	}
}

func TestPhaseSpans(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	timings := []engine.Timing{
		{Node: nid("hook"), Phase: "hooks", Start: at(9), End: at(10)},
		{Node: nid("apply:a"), Phase: engine.PhaseDeploy, Start: at(5), End: at(6)},
		{Node: nid("apply:b"), Phase: engine.PhaseDeploy, Start: at(4), End: at(8)},
		{Node: nid("apply:c"), Phase: engine.PhaseDeploy, Skipped: true},
		{Node: nid("load:x"), Phase: engine.PhaseLoad, Skipped: true},
		{Node: nid("cluster"), Phase: engine.PhaseCluster, Start: at(0), End: at(4)},
		{Node: nid("join"), Start: at(0), End: at(11)},
		{Node: nid("extra"), Phase: "extra", Start: at(1), End: at(2)},
	}
	want := []engine.Span{
		{Name: engine.PhaseCluster, Start: at(0), End: at(4)},
		{Name: engine.PhaseDeploy, Start: at(4), End: at(8)},
		{Name: "hooks", Start: at(9), End: at(10)},
		{Name: "extra", Start: at(1), End: at(2)},
	}
	if got := engine.PhaseSpans(timings); !slices.Equal(got, want) {
		t.Errorf("PhaseSpans =\n%v\nwant\n%v", got, want)
	}
	if got := engine.PhaseSpans(nil); len(got) != 0 {
		t.Errorf("PhaseSpans(nil) = %v", got)
	}
}

func TestRunTwice(t *testing.T) {
	var g engine.Graph
	var n atomic.Int32
	mustAdd(t, &g,
		engine.Node{ID: nid("a"), Run: func(context.Context) error { n.Add(1); return nil }},
		engine.Node{ID: nid("b"), Deps: ids("a"), Run: func(context.Context) error { n.Add(1); return nil }},
	)
	for range 2 {
		if _, err := g.Run(testCtx(t), engine.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if n.Load() != 4 {
		t.Errorf("%d node runs in two Runs of two nodes", n.Load())
	}
}

// TestNoGoroutineLeaks runs the success, failure, cancellation and panic
// paths, then checks the goroutine count comes back to where it was.
func TestNoGoroutineLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, mode := range []string{"ok", "fail", "cancel", "panic"} {
		ctx, cancel := context.WithCancel(testCtx(t))
		var g engine.Graph
		block := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
		for i := range 50 {
			n := engine.Node{ID: engine.ID(engine.KindBuild, fmt.Sprint(i)), Phase: engine.PhaseBuild}
			if i >= 10 {
				n.Deps = []engine.NodeID{engine.ID(engine.KindBuild, fmt.Sprint(i%10))}
			}
			if mode != "ok" && i < 5 {
				n.Run = block
			}
			mustAdd(t, &g, n)
		}
		switch mode {
		case "fail":
			mustAdd(t, &g, engine.Node{ID: nid("x"), Run: func(context.Context) error { return errBoom }})
		case "cancel":
			mustAdd(t, &g, engine.Node{ID: nid("x"), Run: func(context.Context) error { cancel(); return nil }})
		case "panic":
			mustAdd(t, &g, engine.Node{ID: nid("x"), Run: func(context.Context) error { panic("x") }})
		}
		_, err := g.Run(ctx, engine.Options{Concurrency: map[string]int{engine.PhaseBuild: 4}})
		if (err == nil) != (mode == "ok") {
			t.Errorf("%s: Run error = %v", mode, err)
		}
		cancel()
	}
	// Node goroutines may still be between their send and their exit.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}
