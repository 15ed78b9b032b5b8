package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

// outcome is one strategy's bring-up of one stack on a fresh cluster.
type outcome struct {
	// deploy is from "start deploying" (the cluster ready, the strategy's
	// clients made) until the strategy knows every component is ready.
	deploy time.Duration
	// readyAt is, per component, when the strategy knew it ready.
	readyAt map[string]time.Duration
	// races are the dependsOn edges the bring-up did not respect, as the
	// cluster's own timestamps show them (strategies that ignore dependsOn).
	races []race
	// latency is the cluster's apply-to-ready latency of a Deployment, and
	// latencyJob of a Job, measured on the cluster after the bring-up
	// (testbed's round only).
	latency, latencyJob time.Duration
	// split is testbed's critical path, divided (testbed's round only).
	split *split
}

// strategy is one way of bringing a stack up.
type strategy struct {
	name  string // for -strategies
	title string // the table's column
	// ignoresDependsOn: everything is applied at once, so its time is not
	// comparable with the lower bound (see race).
	ignoresDependsOn bool
	run              func(ctx context.Context, e *env, p *plan, cl *cluster) (*outcome, error)
}

// allStrategies in the table's order.
var allStrategies = []strategy{
	{name: "sequential", title: "sequential", run: runSequential},
	{name: "seed", title: "seed phase 4", ignoresDependsOn: true, run: runSeed},
	{name: "seed-retry", title: "seed, dependsOn as retries ‡", run: runSeedRetry},
	{name: "kubectl", title: "kubectl", run: runKubectl},
	{name: "testbed", title: "testbed", run: runTestbed},
	{name: "helm", title: "helm v4", ignoresDependsOn: true, run: runHelm},
}

// debugf, if set (-v), receives detail lines.
var debugf func(format string, args ...any)

// logPoll sends a poll's verdict to debugf.
func logPoll(start time.Time, comp string, ok bool, why string) {
	if debugf == nil {
		return
	}
	if ok {
		why = "ready"
	}
	debugf("  poll %+8.3f %-20s %s", time.Since(start).Seconds(), comp, why)
}

// runSequential is what the seed replaced: component after component in
// dependency order, each applied, then polled every 5 s (Gomega's
// Eventually(…, 2m, 5s), first poll at once) until ready. Run steps run in
// their place in the order.
func runSequential(ctx context.Context, _ *env, p *plan, cl *cluster) (*outcome, error) {
	c, err := newClient(cl.cfg, p)
	if err != nil {
		return nil, err
	}
	out := &outcome{readyAt: map[string]time.Duration{}}
	start := time.Now()
	for _, name := range p.order {
		pc := p.component(name)
		if pc.c.Run != nil {
			if err := runStep(ctx, p, pc.c, cl.c.Kubeconfig); err != nil {
				return nil, err
			}
		} else {
			refs, err := c.applyComponent(ctx, p, pc)
			if err != nil {
				return nil, err
			}
			if _, err := eventually(ctx, realClock{}, seedTimeout, seedInterval, func(ctx context.Context) (bool, string) {
				ok, why := c.ready(ctx, refs)
				logPoll(start, name, ok, why)
				return ok, why
			}); err != nil {
				return nil, fmt.Errorf("component %s: %w", name, err)
			}
		}
		out.readyAt[name] = time.Since(start)
	}
	out.deploy = time.Since(start)
	return out, nil
}

// runSeed is exactly the seed's Phase 4: a goroutine per component applying
// all its objects (dependsOn ignored), each sending its result on a
// channel; collect them all; then one wait that polls each component in
// turn, in the stack file's order, with Eventually(…, 2m, 5s) — the next
// component's polling starts only once the previous one is ready. Run steps
// come after, as the seed's post-deployment steps did.
func runSeed(ctx context.Context, _ *env, p *plan, cl *cluster) (*outcome, error) {
	return seedPhase4(ctx, p, cl, true)
}

// runSeedRetry is runSeed on the plan as the seed claimed its services
// behave (plan.withRetries): every dependsOn on a component with pods is a
// retry in those pods, so nothing races, and the lower bound still holds.
// What remains is the cost of the seed's polling.
func runSeedRetry(ctx context.Context, _ *env, p *plan, cl *cluster) (*outcome, error) {
	return seedPhase4(ctx, p.retry, cl, false)
}

func seedPhase4(ctx context.Context, p *plan, cl *cluster, races bool) (*outcome, error) {
	c, err := newClient(cl.cfg, p)
	if err != nil {
		return nil, err
	}
	var manifests []*component
	for _, pc := range p.comps {
		if pc.c.Run == nil {
			manifests = append(manifests, pc)
		}
	}
	out := &outcome{readyAt: map[string]time.Duration{}}
	start := time.Now()

	type deployResult struct {
		name string
		refs []applied
		err  error
	}
	deployResults := make(chan deployResult, len(manifests))
	for _, pc := range manifests {
		go func() {
			refs, err := c.applyComponent(ctx, p, pc)
			deployResults <- deployResult{name: pc.c.Name, refs: refs, err: err}
		}()
	}
	refs := map[string][]applied{}
	var deployErrors []error
	for range manifests {
		r := <-deployResults
		if r.err != nil {
			deployErrors = append(deployErrors, r.err)
			continue
		}
		refs[r.name] = r.refs
	}
	if len(deployErrors) > 0 {
		return nil, fmt.Errorf("one or more service deployments failed: %w", errors.Join(deployErrors...))
	}

	for _, pc := range manifests {
		if _, err := eventually(ctx, realClock{}, seedTimeout, seedInterval, func(ctx context.Context) (bool, string) {
			ok, why := c.ready(ctx, refs[pc.c.Name])
			logPoll(start, pc.c.Name, ok, why)
			return ok, why
		}); err != nil {
			return nil, fmt.Errorf("services not ready: component %s: %w", pc.c.Name, err)
		}
		out.readyAt[pc.c.Name] = time.Since(start)
	}
	if err := runStepsAfter(ctx, p, cl, out, start); err != nil {
		return nil, err
	}
	out.deploy = time.Since(start)
	if races {
		out.races = findRaces(ctx, c, p, refs, start)
	}
	return out, nil
}

// runTestbed is testbed.Up on the stack, on the fresh cluster (named after
// the stack, so Up finds it running and deploys into it): from its first
// component starting (the deploy phase's start) to its last component
// ready, from its own events. Then it measures the cluster's own
// apply-to-ready latency on the same cluster.
func runTestbed(ctx context.Context, e *env, p *plan, cl *cluster) (*outcome, error) {
	rec := &recorder{start: map[string]time.Time{}, applied: map[string]time.Time{}, ready: map[string]time.Time{}}
	env, err := testbed.Up(ctx, p.s, testbed.Options{
		Run:       p.vars.Run,
		AssetsDir: e.cacheDir,
		BinDir:    e.binDir,
		StateDir:  cl.stateDir,
		OnEvent:   rec.on,
	})
	if err != nil {
		return nil, fmt.Errorf("testbed up: %w%s", err, notReady(env))
	}
	var first, last time.Time
	for _, t := range rec.start {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	out := &outcome{readyAt: map[string]time.Duration{}}
	times := map[string]compTimes{}
	for name, t := range rec.ready {
		out.readyAt[name] = t.Sub(first)
		if t.After(last) {
			last = t
		}
		applied, ok := rec.applied[name]
		if !ok {
			applied = rec.start[name] // a run step
		}
		times[name] = compTimes{applied: applied.Sub(first), ready: t.Sub(first)}
	}
	out.deploy = last.Sub(first)
	sp := criticalSplit(p.s, times)
	out.split = &sp
	if debugf != nil {
		for _, ev := range rec.events {
			debugf("  testbed %+8.3f %-20s %-9s %s", ev.At.Sub(first).Seconds(), ev.Component, ev.State, ev.Detail)
		}
	}
	lat, err := clusterLatency(ctx, cl.cfg, latencyProbes, false)
	if err != nil {
		return nil, fmt.Errorf("cluster latency: %w", err)
	}
	latJob, err := clusterLatency(ctx, cl.cfg, latencyProbes, true)
	if err != nil {
		return nil, fmt.Errorf("cluster latency (Job): %w", err)
	}
	out.latency, out.latencyJob = median(lat), median(latJob)
	return out, nil
}

// recorder keeps, per component, when testbed started it (applying, or a
// run step running), had it applied and had it ready, and every event.
type recorder struct {
	mu                    sync.Mutex
	start, applied, ready map[string]time.Time
	events                []testbed.Event
}

func (r *recorder) on(ev testbed.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	if ev.Component == "" {
		return
	}
	switch ev.State {
	case testbed.StateApplying, testbed.StateRunning:
		if _, ok := r.start[ev.Component]; !ok {
			r.start[ev.Component] = ev.At
		}
	case testbed.StateApplied:
		if _, ok := r.applied[ev.Component]; !ok {
			r.applied[ev.Component] = ev.At
		}
	case testbed.StateReady:
		r.ready[ev.Component] = ev.At
	}
}

func notReady(env *testbed.Env) string {
	if env == nil || env.Report == nil {
		return ""
	}
	var s string
	for _, c := range env.Report.Components {
		if c.Status != report.StatusReady {
			s += fmt.Sprintf("\n  %s: %s %s", c.Name, c.Status, c.Reason)
		}
	}
	return s
}

// race is a dependsOn edge the bring-up did not respect: comp was started
// (its objects created) before dep was ready, as the cluster's timestamps
// (whole seconds) show.
type race struct {
	comp, dep                      string
	compStart, compReady, depReady time.Duration
}

func (r race) String() string {
	return fmt.Sprintf("%s created at ≈%.0f s, before its dependsOn %s was ready (≈%.0f s); %s itself ready at ≈%.0f s",
		r.comp, r.compStart.Seconds(), r.dep, r.depReady.Seconds(), r.comp, r.compReady.Seconds())
}

// findRaces reads, after a bring-up that ignored dependsOn, when the
// cluster had each component started and ready, and returns every
// dependsOn edge whose component started before its dependency was ready.
func findRaces(ctx context.Context, c *client, p *plan, refs map[string][]applied, start time.Time) []race {
	type times struct {
		start, ready time.Duration
		ok           bool
	}
	at := map[string]times{}
	for name, objs := range refs {
		s, r, ok := c.clusterTimes(ctx, objs, start)
		at[name] = times{s, r, ok}
	}
	var out []race
	for _, pc := range p.comps {
		ct, ok := at[pc.c.Name]
		if !ok || !ct.ok {
			continue
		}
		for _, d := range pc.c.DependsOn {
			dt, ok := at[d]
			if !ok || !dt.ok || ct.start >= dt.ready {
				continue
			}
			out = append(out, race{comp: pc.c.Name, dep: d, compStart: ct.start, compReady: ct.ready, depReady: dt.ready})
		}
	}
	slices.SortFunc(out, func(a, b race) int { return int(a.compReady - b.compReady) })
	return out
}

// runStepsAfter runs the stack's run steps in order once everything else is
// up (the seed's post-deployment steps), recording when each finished.
func runStepsAfter(ctx context.Context, p *plan, cl *cluster, out *outcome, start time.Time) error {
	for _, name := range p.order {
		if pc := p.component(name); pc.c.Run != nil {
			if err := runStep(ctx, p, pc.c, cl.c.Kubeconfig); err != nil {
				return err
			}
			out.readyAt[name] = time.Since(start)
		}
	}
	return nil
}
