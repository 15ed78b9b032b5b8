package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// NodeKind says what a node does.
type NodeKind string

// The kinds of node testbed's planner makes. The engine accepts any
// non-empty kind.
const (
	KindCluster   NodeKind = "cluster"   // create or reuse the cluster
	KindBuild     NodeKind = "build"     // build an image
	KindLoad      NodeKind = "load"      // load an image into the cluster
	KindApply     NodeKind = "apply"     // apply a component's objects
	KindScheduled NodeKind = "scheduled" // a leader component's pods are scheduled
	KindReady     NodeKind = "ready"     // a component is ready
	KindRun       NodeKind = "run"       // a component's host command
)

// NodeID names a node: what it does and the component or image it is for
// (empty for the cluster).
type NodeID struct {
	Kind NodeKind
	Name string
}

// ID returns the NodeID of kind for name.
func ID(kind NodeKind, name string) NodeID { return NodeID{Kind: kind, Name: name} }

// String returns "kind:name", or "kind" when Name is empty.
func (id NodeID) String() string {
	if id.Name == "" {
		return string(id.Kind)
	}
	return string(id.Kind) + ":" + id.Name
}

// The phases testbed reports, in report order. Node.Phase may hold any
// string; these are the ones PhaseSpans orders first.
const (
	PhaseBuild   = "build"
	PhaseCluster = "cluster"
	PhaseLoad    = "load"
	PhaseDeploy  = "deploy"
)

// Node is one unit of work in a Graph.
type Node struct {
	// ID names the node; it must have a Kind and be unique within the
	// Graph.
	ID NodeID
	// Phase groups nodes for reporting (PhaseBuild, PhaseCluster,
	// PhaseLoad, PhaseDeploy) and for Options.Concurrency.
	Phase string
	// Component is the stack component the node belongs to, if any.
	Component string
	// Deps are the nodes that must be done before this one starts. They
	// may be added to the Graph before or after this node.
	Deps []NodeID
	// Run does the work. It must return when ctx is cancelled. A nil Run
	// is a node that succeeds at once (a join point). A panic in Run
	// becomes the node's error (a *PanicError).
	Run func(ctx context.Context) error
}

// Graph is a set of nodes and their dependencies. The zero Graph is empty
// and ready to use. Add must not be called concurrently with Add or Run;
// Run may be called more than once, and concurrently, on the same Graph.
type Graph struct {
	nodes []*Node        // in the order they were added
	index map[NodeID]int // ID -> position in nodes
}

// Add adds a node to the graph. It returns an error, and leaves the graph
// unchanged, if the ID has no Kind or is already taken, or if the node closes a
// dependency cycle with the nodes already added; the error names the cycle.
// Dependencies on nodes not added yet are allowed here and checked by Run.
// Duplicate entries in Deps are ignored.
func (g *Graph) Add(n Node) error {
	if n.ID.Kind == "" {
		if n.ID.Name == "" {
			return errors.New("engine: node has an empty ID")
		}
		return fmt.Errorf("engine: node %q has no kind", n.ID.String())
	}
	if _, dup := g.index[n.ID]; dup {
		return fmt.Errorf("engine: duplicate node %q", n.ID.String())
	}
	deps := make([]NodeID, 0, len(n.Deps))
	for _, d := range n.Deps {
		if !containsID(deps, d) {
			deps = append(deps, d)
		}
	}
	n.Deps = deps
	if cycle := g.cycleThrough(&n); cycle != nil {
		return fmt.Errorf("engine: node %q closes a dependency cycle: %s", n.ID.String(), formatCycle(cycle))
	}
	if g.index == nil {
		g.index = make(map[NodeID]int)
	}
	g.index[n.ID] = len(g.nodes)
	g.nodes = append(g.nodes, &n)
	return nil
}

// Len returns the number of nodes in the graph.
func (g *Graph) Len() int { return len(g.nodes) }

// Deps returns the dependencies of node id as added (duplicates dropped),
// and whether the graph has that node.
func (g *Graph) Deps(id NodeID) ([]NodeID, bool) {
	i, ok := g.index[id]
	if !ok {
		return nil, false
	}
	return slices.Clone(g.nodes[i].Deps), true
}

// cycleThrough returns the cycle that adding n would close, as the chain
// n, a dep of n, a dep of that, ..., n; or nil. Any cycle in the graph must
// pass through the node added last, so checking each new node is enough.
func (g *Graph) cycleThrough(n *Node) []NodeID {
	visited := make(map[NodeID]bool)
	var path []NodeID
	var visit func(id NodeID) bool
	visit = func(id NodeID) bool {
		path = append(path, id)
		if id == n.ID {
			return true
		}
		if !visited[id] {
			visited[id] = true
			if i, ok := g.index[id]; ok {
				for _, d := range g.nodes[i].Deps {
					if visit(d) {
						return true
					}
				}
			}
		}
		path = path[:len(path)-1]
		return false
	}
	for _, d := range n.Deps {
		path = append(path[:0], n.ID)
		if visit(d) {
			return path
		}
	}
	return nil
}

// formatCycle renders a cycle as `a → b → a`: each node depends on the next.
func formatCycle(ids []NodeID) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.String()
	}
	return strings.Join(parts, " → ") + " (each depends on the next)"
}

func containsID(ids []NodeID, id NodeID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// Validate reports every dependency on a node that is not in the graph.
// Run calls it first and starts nothing if it fails.
func (g *Graph) Validate() error {
	var errs []error
	for _, n := range g.nodes {
		for _, d := range n.Deps {
			if _, ok := g.index[d]; !ok {
				errs = append(errs, fmt.Errorf("engine: node %q depends on unknown node %q",
					n.ID.String(), d.String()))
			}
		}
	}
	return errors.Join(errs...)
}

// Options configures one Run.
type Options struct {
	// Concurrency limits how many nodes of a phase run at once, by
	// Node.Phase (for example PhaseBuild: runtime.NumCPU()). A phase that
	// is missing, or has a limit of 0 or less, is unlimited. Nodes held
	// back by a limit start in the order they became ready.
	Concurrency map[string]int
	// OnEvent, if set, is told when a node starts, is done, fails or is
	// skipped. Calls are serial (never concurrent) and in order for each
	// node; they block the scheduler, so OnEvent should be quick.
	OnEvent func(Event)
	// Clock returns the current time; it defaults to time.Now. It is
	// called from several goroutines and must be safe for that.
	Clock func() time.Time
}

// The Event types.
const (
	EventStart   = "start"
	EventDone    = "done"
	EventFailed  = "failed"
	EventSkipped = "skipped"
)

// Event reports a change in one node's state.
type Event struct {
	// Node is the node the event is about.
	Node NodeID
	// Type is EventStart, EventDone, EventFailed or EventSkipped.
	Type string
	// At is when it happened, by Options.Clock.
	At time.Time
	// Err is the node's error, for EventFailed.
	Err error
}

// Timing is what happened to one node in a Run.
type Timing struct {
	// Node, Phase and Component are copied from the Node.
	Node      NodeID
	Phase     string
	Component string
	// Start and End are when Run started and returned; both are zero for
	// a skipped node.
	Start, End time.Time
	// Err is the error the node returned, unwrapped; nil on success. A
	// node cancelled by a failure elsewhere usually returns a context
	// error here.
	Err error
	// Skipped is true if the node never started, because the run stopped
	// (a failure or cancellation) first.
	Skipped bool
}

// Result is the outcome of a Run.
type Result struct {
	// Timings holds one entry per node, in the order they were added.
	Timings []Timing
	// CriticalPath is the chain of nodes, first to last, that finished
	// last: from the last node to finish, back through the dependency
	// that finished last, to a node without dependencies. Ties go to the
	// node later in dependency order. Empty if no node started.
	CriticalPath []NodeID
}

// NodeError is the error Run returns when a node fails.
type NodeError struct {
	// Node, Phase and Component identify the node that failed.
	Node      NodeID
	Phase     string
	Component string
	// Err is the error the node returned.
	Err error
}

// Error returns "<node>: <error>".
func (e *NodeError) Error() string { return e.Node.String() + ": " + e.Err.Error() }

// Unwrap returns the node's error.
func (e *NodeError) Unwrap() error { return e.Err }

// PanicError is a node's error when its Run panicked.
type PanicError struct {
	// Value is what Run panicked with.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error returns "panic: <value>"; the stack is in Stack.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value if it is an error, or nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// errGoexit is a node's error when its Run called runtime.Goexit.
var errGoexit = errors.New("node called runtime.Goexit (t.FailNow?) and did not return")

// call runs fn, turning a panic into a *PanicError.
func call(ctx context.Context, fn func(context.Context) error) (err error) {
	if fn == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}
