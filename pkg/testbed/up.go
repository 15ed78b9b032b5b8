package testbed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/kubetestbed/testbed/internal/apigroups"
	"github.com/kubetestbed/testbed/internal/apply"
	"github.com/kubetestbed/testbed/internal/cluster"
	"github.com/kubetestbed/testbed/internal/engine"
	"github.com/kubetestbed/testbed/internal/image"
	"github.com/kubetestbed/testbed/internal/ready"
	"github.com/kubetestbed/testbed/internal/runstep"
	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// applyConcurrency bounds the objects of one component applied at once.
const applyConcurrency = 16

// run is the state of one Up.
type run struct {
	s        *stack.Stack
	opts     Options
	plan     *Plan
	id       string
	provider cluster.Provider
	start    time.Time
	emit     func(Event)

	vars  stack.Vars
	docs  map[string][]stack.Document
	cfg   *rest.Config
	kcfg  string
	app   *apply.Applier
	track *ready.Tracker

	createdCluster bool
	// deadlinePassed: the stack's own deadline ended the run (not a
	// component's timeout, not an interruption).
	deadlinePassed bool
	// died: the cluster stopped working during the run (Monitor).
	died error
	// onDeath stops the run when the cluster dies; stopMonitor ends the
	// cluster's monitor, before teardown.
	onDeath     func(error)
	stopMonitor func()

	// tool builds and saves images (runs that build or load them).
	tool *image.Tool
	// g is the run's graph, once planned.
	g *engine.Graph

	mu       sync.Mutex
	images   map[string]*imageState
	owner    map[ready.ObjectRef]string // applied object -> component
	comps    map[string]*compState
	failures map[string]error
}

type compState struct {
	applied, readyAt time.Time
	refs             []ready.ObjectRef
	started          bool
}

// Up brings stack s up and returns once every component is ready, or at the
// first failure. The provider's preparation (building the sim control
// plane the first time) comes first, outside the stack's timeout and the
// report's clock. The returned Env (and its Report) is non-nil whenever the
// stack got past validation, also with an error; the error is an *Error
// whose Kind maps to the CLI's exit codes. On failure, everything the run
// started is torn down unless opts.KeepOnFailure.
func Up(ctx context.Context, s *stack.Stack, opts Options) (*Env, error) {
	opts = opts.withDefaults()
	r := &run{s: s, opts: opts, comps: map[string]*compState{}, failures: map[string]error{}, owner: map[ready.ObjectRef]string{}, stopMonitor: func() {}}
	var emitMu sync.Mutex
	r.emit = func(ev Event) {
		if opts.OnEvent == nil {
			return
		}
		emitMu.Lock()
		defer emitMu.Unlock()
		opts.OnEvent(ev)
	}
	plan, err := newPlan(ctx, s, opts, r.emit, true)
	if err != nil {
		return nil, err
	}
	if opts.provider == nil {
		// A finished run lets go of its port locks; a running cluster
		// keeps its ports claimed until it is deleted.
		defer closeProvider(plan.provider)
	}
	r.plan, r.id, r.provider, r.vars, r.docs = plan, plan.Run, plan.provider, plan.vars, plan.docs
	for _, c := range s.Spec.Components {
		r.comps[c.Name] = &compState{}
	}
	if err := r.prepare(ctx); err != nil {
		r.start = time.Now()
		env := &Env{Stack: s, Ports: r.vars.Ports}
		result, kind := report.ResultFailed, KindInfra
		if ctx.Err() != nil {
			result, kind, err = report.ResultInterrupted, KindInterrupted, fmt.Errorf("stack %s: interrupted", s.Metadata.Name)
		} else if KindOf(err) == KindInvalid {
			result, kind = report.ResultInvalid, KindInvalid
		}
		env.Report = r.report(nil, result)
		env.Report.Reason = err.Error()
		return env, &Error{Kind: kind, Err: err}
	}
	r.start = time.Now()

	timeout := s.Spec.Timeout
	if opts.Timeout > 0 {
		timeout = opts.Timeout
	}
	if timeout <= 0 {
		timeout = stack.DefaultTimeout
	}
	causeCtx, cancelCause := context.WithCancelCause(ctx)
	defer cancelCause(nil)
	runCtx, cancel := context.WithTimeout(causeCtx, timeout)
	defer cancel()
	r.onDeath = func(err error) {
		r.mu.Lock()
		r.died = err
		r.mu.Unlock()
		r.emit(Event{State: StateCluster, Detail: "the cluster stopped working: " + strings.TrimSuffix(firstLine(err.Error()), ":"), At: time.Now()})
		cancelCause(err)
	}

	g, err := r.graph()
	if err != nil {
		return nil, invalidf("%v", err)
	}
	r.g = g
	res, runErr := g.Run(runCtx, engine.Options{OnEvent: r.onNodeEvent, Concurrency: map[string]int{engine.PhaseBuild: r.buildConcurrency()}})
	r.stopMonitor()
	r.deadlinePassed = runCtx.Err() != nil && ctx.Err() == nil && r.clusterDied() == nil
	env := &Env{Stack: s, Kubeconfig: r.kcfg, Ports: r.vars.Ports, cfg: r.cfg, teardown: r.teardown}
	if r.track != nil {
		defer r.track.Stop()
	}

	result, kind := r.classify(ctx, runCtx, runErr)
	env.Report = r.report(res, result)
	r.restarts(ctx, env.Report)
	if runErr == nil {
		return env, nil
	}
	if died := r.clusterDied(); died != nil {
		runErr = died
	} else if runCtx.Err() != nil && ctx.Err() == nil && !errors.Is(runErr, context.Canceled) {
		runErr = fmt.Errorf("not ready within the stack's timeout (%s): %w", timeout, runErr)
	}
	runErr = r.summarize(runErr, result)
	env.Report.Reason = runErr.Error()
	r.diagnose(env.Report)
	if r.track != nil {
		r.track.Stop() // before teardown: its watches would only fail
	}
	if !opts.KeepOnFailure {
		if err := r.teardown(context.Background()); err != nil {
			runErr = fmt.Errorf("%w; %w", runErr, err)
		}
	}
	return env, &Error{Kind: kind, Err: runErr}
}

func (r *run) clusterDied() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.died
}

func applyID(c string) engine.NodeID { return engine.ID(engine.KindApply, c) }
func readyID(c string) engine.NodeID { return engine.ID(engine.KindReady, c) }

// scheduledID is the node after a leader's apply (see applyFirst) that
// ends once its pods are scheduled.
func scheduledID(c string) engine.NodeID { return engine.ID(engine.KindScheduled, c) }

var clusterID = engine.ID(engine.KindCluster, "")

// graph is the planner: it turns the stack into the dataflow graph the
// engine executes: the cluster; on a provider that loads images, a build
// node per image to build (at once, bounded) and a load node per image a
// component uses (after its build and the cluster); per component an apply
// node (after the cluster, its images' loads and its dependsOn components'
// ready nodes) and a ready node; a run step as one node.
func (r *run) graph() (*engine.Graph, error) {
	g := &engine.Graph{}
	strict := r.opts.Phases == PhasesStrict
	var builds, loads []engine.NodeID
	if _, loader := r.provider.(cluster.ImageLoader); loader {
		for _, img := range r.usedImages() {
			if r.builds(img) {
				builds = append(builds, buildID(img.Name))
			}
			loads = append(loads, loadID(img.Name))
		}
	}
	var clusterDeps []engine.NodeID
	if strict {
		clusterDeps = builds // the seed's order: every build, then the cluster
	}
	if err := g.Add(engine.Node{ID: clusterID, Phase: engine.PhaseCluster, Deps: clusterDeps, Run: r.cluster}); err != nil {
		return nil, err
	}
	leads := r.plan.ApplyFirst
	loaded := map[string]bool{}
	if len(loads) > 0 {
		for _, img := range r.usedImages() {
			deps := []engine.NodeID{clusterID}
			if r.builds(img) {
				if err := g.Add(engine.Node{ID: buildID(img.Name), Phase: engine.PhaseBuild,
					Run: func(ctx context.Context) error { return r.build(ctx, img) }}); err != nil {
					return nil, err
				}
				deps = append(deps, buildID(img.Name))
			}
			if err := g.Add(engine.Node{ID: loadID(img.Name), Phase: engine.PhaseLoad, Deps: deps,
				Run: func(ctx context.Context) error { return r.load(ctx, img) }}); err != nil {
				return nil, err
			}
			loaded[img.Name] = true
		}
	}
	for i := range r.s.Spec.Components {
		c := &r.s.Spec.Components[i]
		deps := []engine.NodeID{clusterID}
		for _, img := range r.plan.imagesOf[c.Name] {
			if loaded[img] {
				deps = append(deps, loadID(img))
			}
		}
		if strict {
			deps = append(deps, loads...) // then every load, then the deploy
		}
		for _, d := range c.DependsOn {
			deps = append(deps, readyID(d))
		}
		if waitsForNothing(c) && !slices.Contains(leads, c.Name) {
			for _, l := range leads {
				deps = append(deps, scheduledID(l))
			}
		}
		if c.Run != nil {
			if err := g.Add(engine.Node{ID: readyID(c.Name), Phase: engine.PhaseDeploy, Component: c.Name, Deps: deps,
				Run: func(ctx context.Context) error { return r.runStep(ctx, c) }}); err != nil {
				return nil, err
			}
			continue
		}
		if err := g.Add(engine.Node{ID: applyID(c.Name), Phase: engine.PhaseDeploy, Component: c.Name, Deps: deps,
			Run: func(ctx context.Context) error { return r.applyComponent(ctx, c) }}); err != nil {
			return nil, err
		}
		if slices.Contains(leads, c.Name) {
			if err := g.Add(engine.Node{ID: scheduledID(c.Name), Phase: engine.PhaseDeploy, Deps: []engine.NodeID{applyID(c.Name)},
				Run: func(ctx context.Context) error { return r.waitScheduled(ctx, c) }}); err != nil {
				return nil, err
			}
		}
		if err := g.Add(engine.Node{ID: readyID(c.Name), Phase: engine.PhaseDeploy, Component: c.Name, Deps: []engine.NodeID{applyID(c.Name)},
			Run: func(ctx context.Context) error { return r.waitComponent(ctx, c) }}); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// applyFirst returns the components Up applies first at the deploy start:
// of those that wait for nothing (run steps aside), the ones at the head of
// the longest chain of dependsOn edges. Up applies the other components
// that wait for nothing (not run steps) once the cluster has scheduled
// these components' pods (for at most scheduleGate), not once they are
// ready, so that the first pods of the longest chain are not queued
// behind every other object of the stack. None when no component has a
// dependsOn, or when a head applies a kind the API server does not serve
// itself: its CRD may come from a component held back behind it.
func applyFirst(s *stack.Stack, docs map[string][]stack.Document) []string {
	// depth: the longest chain of dependsOn edges waiting on a component.
	// Order puts a component after its dependsOn, so walking it backwards
	// meets every component's dependents before the component.
	depth := map[string]int{}
	order := s.Order()
	for i := len(order) - 1; i >= 0; i-- {
		if c := s.Component(order[i]); c != nil {
			for _, d := range c.DependsOn {
				if d != c.Name {
					depth[d] = max(depth[d], depth[c.Name]+1)
				}
			}
		}
	}
	best := 0
	for i := range s.Spec.Components {
		if c := &s.Spec.Components[i]; waitsForNothing(c) {
			best = max(best, depth[c.Name])
		}
	}
	if best == 0 {
		return nil
	}
	var out []string
	for i := range s.Spec.Components {
		c := &s.Spec.Components[i]
		if !waitsForNothing(c) || depth[c.Name] != best {
			continue
		}
		for _, d := range docs[c.Name] {
			if !apigroups.Builtin(docGVK(d).Group) {
				return nil
			}
		}
		out = append(out, c.Name)
	}
	return out
}

// waitsForNothing: a component (not a run step) without a dependsOn, applied
// at the deploy start.
func waitsForNothing(c *stack.Component) bool { return len(c.DependsOn) == 0 && c.Run == nil }

func (r *run) onNodeEvent(ev engine.Event) {
	kind, comp := ev.Node.Kind, ev.Node.Name
	if comp == "" {
		return
	}
	switch {
	case kind == engine.KindApply && ev.Type == engine.EventStart:
		r.emit(Event{Component: comp, State: StateApplying, At: ev.At})
	case ev.Type == engine.EventSkipped && kind == engine.KindReady:
		r.emit(Event{Component: comp, State: StateSkipped, Detail: "not started: the run stopped first", At: ev.At})
	}
}

// cluster makes the cluster the stack runs on, or reuses the one that
// runs (`up` again re-applies and re-waits), starts its monitor, and
// connects the applier and the tracker.
func (r *run) cluster(ctx context.Context) error {
	c, created, err := r.provider.Ensure(ctx, r.s.Metadata.Name)
	if err != nil {
		return infraErr(err)
	}
	r.createdCluster = created
	if m, ok := c.(cluster.Monitor); ok {
		mctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		var once sync.Once
		r.stopMonitor = func() { once.Do(func() { stop(); <-done }) }
		go func() {
			defer close(done)
			if err := m.Monitor(mctx); err != nil && mctx.Err() == nil {
				r.onDeath(err)
			}
		}()
	}
	r.kcfg = c.KubeconfigPath()
	if r.cfg, err = c.RESTConfig(); err != nil {
		return infraErr(err)
	}
	app, err := apply.New(r.cfg, apply.Options{})
	if err != nil {
		return &Error{Kind: KindInfra, Err: err}
	}
	// Discovery and the stack's namespace now, off the first component's
	// critical path.
	if err := app.Prepare(ctx, r.s.Spec.Namespace, map[string]string{
		apply.LabelManagedBy: apply.ManagedBy, apply.LabelStack: r.s.Metadata.Name,
	}); err != nil {
		return &Error{Kind: KindInfra, Err: err}
	}
	r.app = app
	tr, err := ready.NewTracker(r.cfg, ready.TrackerOptions{Selector: apply.Selector(r.s.Metadata.Name), OnChange: r.onObject})
	if err != nil {
		return &Error{Kind: KindInfra, Err: err}
	}
	r.track = tr
	// The watches the stack's objects will need, now: their initial lists
	// are done before the first apply, off the critical path.
	tr.Watch(r.builtinRefs()...)
	return nil
}

// builtinRefs are the stack's objects of the API server's own kinds, as
// the tracker knows them (custom kinds may not be served yet).
func (r *run) builtinRefs() []ready.ObjectRef {
	var refs []ready.ObjectRef
	for _, docs := range r.docs {
		for _, d := range docs {
			gvk := docGVK(d)
			if !apigroups.Builtin(gvk.Group) {
				continue
			}
			m, err := r.app.Mapping(gvk)
			if err != nil {
				continue // applying it says why
			}
			u := unstructured.Unstructured{Object: d.Object}
			refs = append(refs, ready.ObjectRef{GVR: m.Resource, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()})
		}
	}
	return refs
}

// onObject reports an object's readiness change as an EventObject.
func (r *run) onObject(st ready.ObjectStatus) {
	r.mu.Lock()
	comp := r.owner[st.Ref]
	r.mu.Unlock()
	kind := st.Ref.Kind
	if kind == "" {
		kind = st.Ref.GVR.Resource
	}
	r.emit(Event{Component: comp, State: StateObject, At: st.At,
		Object: &ObjectEvent{Kind: kind, Namespace: st.Ref.Namespace, Name: st.Ref.Name,
			Ready: st.Result.Status == ready.Ready, Failed: st.Result.Status == ready.Failed, Reason: st.Result.Reason},
		Detail: fmt.Sprintf("%s: %s %s", st.Ref, st.Result.Status, st.Result.Reason)})
}

// simAnnotations are the pod annotations of a component's sim block, on a
// provider that simulates pods.
func (r *run) simAnnotations(c *stack.Component) map[string]string {
	ps, ok := r.provider.(cluster.PodSimulator)
	if !ok || c.Sim == nil {
		return nil
	}
	return ps.PodAnnotations(c.Sim.ReadyAfter, c.Sim.Requires, string(c.Sim.Fail))
}

// applyComponent decorates and server-side-applies every object of c at
// once (bounded), each CR waiting only for its own CRD.
func (r *run) applyComponent(ctx context.Context, c *stack.Component) error {
	docs := r.docs[c.Name]
	refs := make([]ready.ObjectRef, len(docs))
	ann := r.simAnnotations(c)
	pending := r.resolvePending()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(applyConcurrency)
	for i, d := range docs {
		g.Go(func() error {
			obj := &unstructured.Unstructured{Object: deepCopy(d.Object)}
			if pending != nil {
				replaceStrings(obj.Object, pending)
			}
			source := d.Source()
			if err := apply.Decorate(obj, r.s.Metadata.Name, c.Name, ann); err != nil {
				return fmt.Errorf("%s: %w", source, err)
			}
			out, err := r.app.ApplyFrom(gctx, obj, r.s.Spec.Namespace, source)
			if err != nil {
				return err
			}
			m, err := r.app.Mapping(out.GroupVersionKind())
			if err != nil {
				return fmt.Errorf("%s: %w", source, err)
			}
			refs[i] = ready.ObjectRef{GVR: m.Resource, Kind: out.GetKind(), Namespace: out.GetNamespace(), Name: out.GetName()}
			r.track.Applied(refs[i], out.GetGeneration())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("component %s: %w", c.Name, err)
	}
	now := time.Now()
	r.mu.Lock()
	st := r.comps[c.Name]
	st.refs, st.applied, st.started = refs, now, true
	for _, ref := range refs {
		r.owner[ref] = c.Name
	}
	r.mu.Unlock()
	r.emit(Event{Component: c.Name, State: StateApplied, Detail: plural(len(refs), "object"), At: now})
	return nil
}

// scheduleGate bounds how long Up holds the components that wait for
// nothing back behind the scheduling of the pods of the components it
// applies first (see applyFirst): a cluster may take longer to find a node.
const scheduleGate = time.Second

// waitScheduled waits, through the shared tracker, until the cluster has
// scheduled the pods of leader c (see applyFirst), for at most
// scheduleGate. It fails only when the run stops meanwhile: the wait only
// orders applies, and c's ready node says what went wrong with c.
func (r *run) waitScheduled(ctx context.Context, c *stack.Component) error {
	r.mu.Lock()
	refs := r.comps[c.Name].refs
	r.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, scheduleGate)
	defer cancel()
	if err := r.track.WaitScheduled(wctx, refs); err != nil && ctx.Err() != nil {
		return fmt.Errorf("component %s: waiting for its pods to be scheduled: %w", c.Name, ctx.Err())
	}
	return nil
}

// waitComponent waits, through the shared tracker, until every object of c
// is ready (fail fast on a doomed pod or failed Job), within c's timeout.
func (r *run) waitComponent(ctx context.Context, c *stack.Component) error {
	r.mu.Lock()
	refs := r.comps[c.Name].refs
	r.mu.Unlock()
	wctx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	if err := r.track.Wait(wctx, refs); err != nil {
		if c.Timeout > 0 && wctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("not ready within its timeout (%s): %w", c.Timeout, err)
		}
		r.fail(c.Name, err)
		return fmt.Errorf("component %s: %w", c.Name, err)
	}
	if r.simulated() && len(c.Checks) > 0 {
		r.emit(Event{Component: c.Name, State: StateApplied, Detail: fmt.Sprintf("%d checks skipped: nothing listens behind a Service on sim", len(c.Checks)), At: time.Now()})
	} else if err := r.checks(wctx, c); err != nil {
		r.fail(c.Name, err)
		return fmt.Errorf("component %s: %w", c.Name, err)
	}
	r.ready(c.Name)
	return nil
}

func (r *run) ready(name string) {
	now := time.Now()
	r.mu.Lock()
	r.comps[name].readyAt = now
	r.mu.Unlock()
	r.emit(Event{Component: name, State: StateReady, At: now})
}

func (r *run) fail(name string, err error) {
	r.mu.Lock()
	r.failures[name] = err
	r.mu.Unlock()
	state := StateFailed
	var te *ready.TimeoutError
	if errors.As(err, &te) && errors.Is(err, context.DeadlineExceeded) {
		state = StateTimeout
	}
	if errors.Is(err, context.Canceled) {
		return // another component failed, or the user interrupted
	}
	r.emit(Event{Component: name, State: state, Detail: err.Error(), At: time.Now()})
}

// runStep runs a component's host command (argv, no shell) with the
// stack's substitutions and the cluster's kubeconfig in KUBECONFIG; it is
// ready when the command exits 0.
func (r *run) runStep(ctx context.Context, c *stack.Component) error {
	r.mu.Lock()
	r.comps[c.Name].applied, r.comps[c.Name].started = time.Now(), true
	r.mu.Unlock()
	r.emit(Event{Component: c.Name, State: StateRunning, Detail: strings.Join(c.Run.Command, " "), At: time.Now()})
	if err := r.runCommand(ctx, c); err != nil {
		return r.stepErr(c, err)
	}
	r.ready(c.Name)
	return nil
}

func (r *run) stepErr(c *stack.Component, err error) error {
	r.fail(c.Name, err)
	return fmt.Errorf("component %s: %w", c.Name, err)
}

func deepCopy(m map[string]any) map[string]any {
	return (&unstructured.Unstructured{Object: m}).DeepCopy().Object
}

// classify maps the run's error to a report result and an error kind.
func (r *run) classify(parent, runCtx context.Context, err error) (report.Result, Kind) {
	if err == nil {
		return report.ResultReady, 0
	}
	if parent.Err() != nil {
		return report.ResultInterrupted, KindInterrupted
	}
	if r.clusterDied() != nil {
		return report.ResultFailed, KindInfra
	}
	var te *Error
	if errors.As(err, &te) {
		switch te.Kind {
		case KindInvalid:
			return report.ResultInvalid, KindInvalid
		case KindInfra:
			return report.ResultFailed, KindInfra
		}
	}
	if runCtx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return report.ResultTimeout, KindFailed
	}
	return report.ResultFailed, KindFailed
}

func (r *run) summarize(err error, result report.Result) error {
	// The graph's node IDs ("ready:api") mean nothing to users: the
	// component's own error already names it.
	var ne *engine.NodeError
	if errors.As(err, &ne) {
		err = ne.Err
	}
	switch result {
	case report.ResultTimeout:
		return fmt.Errorf("stack %s not ready: %w", r.s.Metadata.Name, err)
	case report.ResultInterrupted:
		return fmt.Errorf("stack %s: interrupted", r.s.Metadata.Name)
	}
	return fmt.Errorf("stack %s failed: %w", r.s.Metadata.Name, err)
}

// teardown removes what this run started: the cluster it created, or, on
// a cluster testbed does not own, the objects and namespaces it applied.
// It takes at most 2 minutes.
func (r *run) teardown(ctx context.Context) error {
	r.stopMonitor()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	d, owns := r.provider.(cluster.Deleter)
	switch {
	case owns && r.createdCluster:
		r.emit(Event{State: StateCluster, Detail: fmt.Sprintf("tearing down the %s cluster this run created", r.provider.Name()), At: time.Now()})
		if err := d.Delete(ctx, r.s.Metadata.Name); err != nil {
			return fmt.Errorf("stack %s: tear down: %w", r.s.Metadata.Name, err)
		}
	case !owns && r.app != nil:
		r.emit(Event{State: StateCluster, Detail: "deleting what this run applied", At: time.Now()})
		if err := r.app.DeleteAll(ctx, apply.Selector(r.s.Metadata.Name), r.app.CreatedNamespaces()); err != nil {
			return fmt.Errorf("stack %s: tear down: %w", r.s.Metadata.Name, err)
		}
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// runCommand runs c's host command with the stack's substitutions and the
// cluster's kubeconfig in KUBECONFIG, within the step's timeout.
func (r *run) runCommand(ctx context.Context, c *stack.Component) error {
	rc, err := r.s.RunCommand(c, r.runVars(), r.kcfg)
	if err != nil {
		return err
	}
	return runstep.Run(ctx, runstep.Step{Argv: rc.Argv, Env: rc.Env, Dir: rc.Dir, Timeout: c.Run.Timeout})
}

// prepare does what comes before the bring-up's clock: the provider's
// preparation, and choosing the container tool of a run with images.
func (r *run) prepare(ctx context.Context) error {
	if p, ok := r.provider.(cluster.Preparer); ok {
		if err := p.Prepare(ctx); err != nil {
			return err
		}
	}
	if !r.needsTool() {
		return nil
	}
	if err := r.findGo(); err != nil {
		return err
	}
	name := r.opts.ContainerTool
	if rt, ok := r.provider.(cluster.ContainerRuntime); ok {
		name = rt.Runtime() // one container tool per run: the nodes'
	}
	tool, err := image.NewTool(ctx, name)
	if err != nil {
		return &Error{Kind: KindInfra, Err: fmt.Errorf("stack %s has images to build or load: %w", r.s.Metadata.Name, err)}
	}
	r.tool = tool
	r.emit(Event{State: StatePrepare, Detail: "images: built and saved with " + tool.String(), At: time.Now()})
	return nil
}
