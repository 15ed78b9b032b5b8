package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// status is where a node is in one Run.
type status int

const (
	waiting status = iota // deps not done yet
	queued                // deps done, held back by its phase's limit
	running
	done
	failed
	skipped
)

// state is one node's state in one Run.
type state struct {
	node       *Node
	topo       int      // position in a topological order (deps first)
	deps       []*state // resolved Node.Deps
	dependents []*state
	pending    int // deps not done yet
	status     status
	start, end time.Time
	err        error
}

// completion is what a node's goroutine sends back when Run returns.
type completion struct {
	s   *state
	end time.Time
	err error
}

// scheduler is the state of one Run. Every field is owned by the goroutine
// that called Run; node goroutines only send on done.
type scheduler struct {
	ctx     context.Context // the caller's
	runCtx  context.Context // given to nodes; cancelled on the first failure
	cancel  context.CancelCauseFunc
	opts    Options
	clock   func() time.Time
	states  []*state // in the order nodes were added
	done    chan completion
	queues  map[string][]*state // per phase, nodes held back by its limit
	active  map[string]int      // per phase, nodes running
	running int
	stopped bool
	err     error // what Run returns
}

// Run runs the graph: it starts every node whose dependencies are done, as
// soon as they are, within the per-phase limits of opts.Concurrency, and
// returns when no node is running and none can start.
//
// The first node to fail stops the run: the context given to running nodes
// is cancelled (its cause names the failed node), nodes not yet started are
// skipped, and Run returns a *NodeError wrapping that node's error once the
// running nodes have returned. Errors of nodes that fail afterwards are kept
// in Result.Timings. If ctx is cancelled first, Run stops the same way and
// returns ctx.Err(). Run returns only after every node it started has
// returned; it leaves no goroutine behind.
//
// If the graph is invalid (see Validate), Run starts nothing and returns a
// nil Result. Otherwise the Result is complete, on failure as on success.
func (g *Graph) Run(ctx context.Context, opts Options) (*Result, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	s := &scheduler{
		ctx:    ctx,
		opts:   opts,
		clock:  opts.Clock,
		states: make([]*state, len(g.nodes)),
		done:   make(chan completion, len(g.nodes)), // senders never block
		queues: make(map[string][]*state),
		active: make(map[string]int),
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	for i, n := range g.nodes {
		s.states[i] = &state{node: n}
	}
	for _, st := range s.states {
		for _, d := range st.node.Deps {
			dep := s.states[g.index[d]]
			st.deps = append(st.deps, dep)
			dep.dependents = append(dep.dependents, st)
		}
		st.pending = len(st.deps)
	}
	if err := s.sortTopologically(); err != nil {
		return nil, err
	}

	var cancel context.CancelCauseFunc
	s.runCtx, cancel = context.WithCancelCause(ctx)
	s.cancel = cancel
	defer cancel(nil)

	if err := ctx.Err(); err != nil {
		s.stop(err)
	} else {
		for _, st := range s.states {
			if st.pending == 0 {
				s.ready(st)
			}
		}
	}
	ctxDone := ctx.Done()
	for s.running > 0 {
		select {
		case c := <-s.done:
			s.finish(c)
		case <-ctxDone:
			ctxDone = nil
			s.stop(ctx.Err())
		}
	}
	return s.result(), s.err
}

// sortTopologically sets each state's topo index (Kahn's algorithm, ties in
// the order nodes were added). Add rules out cycles, so the error is only a
// safeguard.
func (s *scheduler) sortTopologically() error {
	indeg := make(map[*state]int, len(s.states))
	var order []*state
	for _, st := range s.states {
		indeg[st] = len(st.deps)
		if len(st.deps) == 0 {
			order = append(order, st)
		}
	}
	for i := 0; i < len(order); i++ {
		order[i].topo = i
		for _, d := range order[i].dependents {
			if indeg[d]--; indeg[d] == 0 {
				order = append(order, d)
			}
		}
	}
	if len(order) != len(s.states) {
		return errors.New("engine: the graph has a dependency cycle")
	}
	return nil
}

// ready starts st, or queues it if its phase is at its limit.
func (s *scheduler) ready(st *state) {
	if s.atLimit(st.node.Phase) {
		st.status = queued
		s.queues[st.node.Phase] = append(s.queues[st.node.Phase], st)
		return
	}
	s.start(st)
}

func (s *scheduler) atLimit(phase string) bool {
	limit := s.opts.Concurrency[phase]
	return limit > 0 && s.active[phase] >= limit
}

// start runs st's node in a goroutine of its own.
func (s *scheduler) start(st *state) {
	st.status = running
	st.start = s.clock()
	s.active[st.node.Phase]++
	s.running++
	s.emit(Event{Node: st.node.ID, Type: EventStart, At: st.start})
	if st.node.Run == nil { // a join point: done at once, no goroutine
		s.done <- completion{s: st, end: s.clock()} // buffered for every node
		return
	}
	go func() {
		err := errGoexit // unless call returns
		defer func() { s.done <- completion{s: st, end: s.clock(), err: err} }()
		err = call(s.runCtx, st.node.Run)
	}()
}

// finish records a node's completion and starts whatever it unblocks.
func (s *scheduler) finish(c completion) {
	st := c.s
	st.end, st.err = c.end, c.err
	s.running--
	phase := st.node.Phase
	s.active[phase]--
	if c.err != nil {
		st.status = failed
		s.emit(Event{Node: st.node.ID, Type: EventFailed, At: c.end, Err: c.err})
		if err := s.ctx.Err(); err != nil {
			s.stop(err) // the failure is the caller's cancellation
		} else {
			s.stop(&NodeError{Node: st.node.ID, Phase: phase, Component: st.node.Component, Err: c.err})
		}
		return
	}
	st.status = done
	s.emit(Event{Node: st.node.ID, Type: EventDone, At: c.end})
	if s.stopped {
		return
	}
	// The longest-waiting node of this phase first, then what st unblocks.
	if q := s.queues[phase]; len(q) > 0 && !s.atLimit(phase) {
		s.queues[phase] = q[1:]
		s.start(q[0])
	}
	for _, d := range st.dependents {
		if d.pending--; d.pending == 0 {
			s.ready(d)
		}
	}
}

// stop ends the run after its first failure or cancellation: running nodes
// are cancelled, the rest skipped. Later calls do nothing.
func (s *scheduler) stop(err error) {
	if s.stopped {
		return
	}
	s.stopped = true
	s.err = err
	s.cancel(fmt.Errorf("engine: run stopped: %w", err))
	var now time.Time
	for _, st := range s.states {
		if st.status == waiting || st.status == queued {
			if now.IsZero() {
				now = s.clock()
			}
			st.status = skipped
			s.emit(Event{Node: st.node.ID, Type: EventSkipped, At: now})
		}
	}
	clear(s.queues)
}

func (s *scheduler) emit(e Event) {
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
}

func (s *scheduler) result() *Result {
	r := &Result{Timings: make([]Timing, len(s.states))}
	for i, st := range s.states {
		r.Timings[i] = Timing{
			Node:      st.node.ID,
			Phase:     st.node.Phase,
			Component: st.node.Component,
			Start:     st.start,
			End:       st.end,
			Err:       st.err,
			Skipped:   st.status == skipped,
		}
	}
	r.CriticalPath = s.criticalPath()
	return r
}

// criticalPath walks back from the node that finished last through the
// dependency that finished last.
func (s *scheduler) criticalPath() []NodeID {
	finished := func(st *state) bool { return st.status == done || st.status == failed }
	later := func(a, b *state) bool {
		return b == nil || a.end.After(b.end) || (a.end.Equal(b.end) && a.topo > b.topo)
	}
	var last *state
	for _, st := range s.states {
		if finished(st) && later(st, last) {
			last = st
		}
	}
	var path []NodeID
	for cur := last; cur != nil; {
		path = append(path, cur.node.ID)
		var next *state
		for _, d := range cur.deps {
			if finished(d) && later(d, next) {
				next = d
			}
		}
		cur = next
	}
	slices.Reverse(path)
	return path
}
