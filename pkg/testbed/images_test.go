package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetestbed/testbed/internal/cluster"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/internal/image"
	"github.com/kubetestbed/testbed/internal/testenv"
	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// loadingSim is the real sim provider with an image loader that records
// what it was asked to load, and when (sim pods never pull, so nothing
// needs to reach a node): the build and load nodes run for real against
// docker, the deploy against a real API server.
type loadingSim struct {
	*sim.Provider
	tool    *image.Tool
	mu      sync.Mutex
	loads   map[string]time.Time // ref -> when LoadImage was called
	ensured time.Time            // when Ensure returned
}

// newLoadingSim is a loadingSim keeping its clusters in state, asking tool
// which images the local engine has.
func newLoadingSim(t *testing.T, tool *image.Tool, state string) *loadingSim {
	return &loadingSim{Provider: sim.New(sim.Options{StateDir: state, Assets: testenv.Assets(t)}), tool: tool}
}

func (p *loadingSim) Ensure(ctx context.Context, name string) (cluster.Cluster, bool, error) {
	c, created, err := p.Provider.Ensure(ctx, name)
	p.mu.Lock()
	p.ensured = time.Now()
	p.mu.Unlock()
	return c, created, err
}

func (p *loadingSim) LoadImage(ctx context.Context, name, ref string) (cluster.Load, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loads == nil {
		p.loads = map[string]time.Time{}
	}
	p.loads[ref] = time.Now()
	if _, err := p.tool.ImageID(ctx, ref); err != nil {
		return cluster.Load{}, cluster.ErrNoLocalImage
	}
	return cluster.Load{Ref: ref, Loaded: []string{"node"}}, nil
}

// eventLog collects a run's events (add is its Options.OnEvent).
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

// take returns the events so far, and forgets them.
func (l *eventLog) take() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	events := l.events
	l.events = nil
	return events
}

// dockerOrSkip returns docker, or skips the test saying why.
func dockerOrSkip(t *testing.T) *image.Tool {
	t.Helper()
	tool, err := image.NewTool(context.Background(), "docker")
	if err != nil {
		t.Skipf("no docker engine answers here: %v", err)
	}
	return tool
}

// imageStack writes a stack of two images built FROM scratch and one
// pre-built ref the engine does not have, used by two components.
func imageStack(t *testing.T, failing bool) *stack.Stack {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("api/msg.txt", "hello "+t.Name()+"\n")
	write("api/Dockerfile", "FROM scratch\nCOPY msg.txt /msg.txt\n")
	second := "FROM scratch\nCOPY msg.txt /worker.txt\n"
	if failing {
		second = "FROM scratch\nCOPY msg.txt /worker.txt\nCOPY missing.txt /missing.txt\n"
	}
	write("worker/msg.txt", "worker "+t.Name()+"\n") // no image shared with another test
	write("worker/Dockerfile", second)
	write("testbed.yaml", `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: imgs}
spec:
  images:
    - {name: api, context: api}
    - {name: worker, context: worker}
    - {name: cache, ref: "example.invalid/cache:1"}
  components:
    - {name: db, manifests: [db.yaml]}
    - {name: api, images: [api, cache], manifests: [api.yaml], dependsOn: [db]}
    - {name: worker, images: [worker], manifests: [worker.yaml]}
`)
	for _, c := range []string{"db", "api", "worker"} {
		write(c+".yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+c+"}\ndata: {image: \"${image:api}\"}\n")
	}
	s, err := stack.Load(filepath.Join(dir, "testbed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// On a provider that loads images, each image is built (at once, beside the
// cluster's creation), loaded once it is built and the cluster exists, and
// the components that use it are applied after its load; a second run
// builds nothing (inputs unchanged).
func TestBuildsAndLoads(t *testing.T) {
	tool := dockerOrSkip(t)
	s := imageStack(t, false)
	p := newLoadingSim(t, tool, t.TempDir())
	var log eventLog
	opts := Options{provider: p, DiagDir: t.TempDir(), OnEvent: log.add}
	env, err := Up(context.Background(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := NewPlan(s, Options{provider: p})
	apiRef, workerRef := plan.vars.Images["api"], plan.vars.Images["worker"]
	t.Cleanup(func() {
		_ = env.Teardown(context.Background())
		_ = tool.Remove(context.Background(), apiRef, workerRef)
	})
	for _, ref := range []string{apiRef, workerRef} {
		if !strings.HasPrefix(ref, "testbed.local/imgs/") {
			t.Errorf("ref %q is not a content tag of the stack", ref)
		}
		if _, err := tool.ImageID(context.Background(), ref); err != nil {
			t.Errorf("%s was not built: %v", ref, err)
		}
		if at, ok := p.loads[ref]; !ok || at.Before(p.ensured) {
			t.Errorf("%s loaded at %v, cluster ready at %v: want a load after both", ref, at, p.ensured)
		}
	}
	if _, ok := p.loads["example.invalid/cache:1"]; !ok {
		t.Error("the ref image was not offered to the loader")
	}
	applying := map[string]time.Time{}
	loadedAt := map[string]time.Time{}
	for _, ev := range log.take() {
		switch {
		case ev.State == StateApplying:
			applying[ev.Component] = ev.At
		case ev.State == StateLoaded:
			loadedAt[ev.Image] = ev.At
		}
	}
	// db lists no image but its manifest refers to ${image:api}: it waits
	// for that load too.
	if applying["db"].Before(loadedAt["api"]) || applying["api"].Before(loadedAt["api"]) || applying["api"].Before(loadedAt["cache"]) || applying["worker"].Before(loadedAt["worker"]) {
		t.Errorf("a component was applied before its images were loaded: applying %v, loaded %v", applying, loadedAt)
	}
	// The report's phases include the builds and the loads.
	var phases []string
	for _, ph := range env.Report.Phases {
		phases = append(phases, ph.Name)
	}
	if strings.Join(phases, ",") != "build,cluster,load,deploy" {
		t.Errorf("report phases %v", phases)
	}
	// ... and a line per image: built, then loaded after the cluster.
	if len(env.Report.Images) != 3 {
		t.Fatalf("report images %+v, want api, worker, cache", env.Report.Images)
	}
	for _, ri := range env.Report.Images {
		built := ri.Name != "cache"
		if ri.Status != "ready" || ri.Load == nil || (ri.Build != nil) != built || (built && ri.Build.End > ri.Load.Start) {
			t.Errorf("report image %+v (build %+v, load %+v)", ri, ri.Build, ri.Load)
		}
	}

	// Again, on the running cluster: nothing is rebuilt.
	log.take()
	if _, err := Up(context.Background(), s, opts); err != nil {
		t.Fatal(err)
	}
	unchanged := 0
	for _, ev := range log.take() {
		if ev.State == StateBuilt {
			t.Errorf("rebuilt %s with unchanged inputs", ev.Image)
		}
		if ev.State == StateUnchanged {
			unchanged++
		}
	}
	if unchanged != 2 {
		t.Errorf("%d images reported unchanged, want 2", unchanged)
	}

	// A code change, then up on the running stack (the developer's inner
	// loop): only the changed image is rebuilt and loaded, under a new tag,
	// and what uses it is applied with the new reference.
	if err := os.WriteFile(filepath.Join(s.Dir, "api", "msg.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2, err := stack.Load(s.File)
	if err != nil {
		t.Fatal(err)
	}
	log.take()
	env2, err := Up(context.Background(), s2, opts)
	if err != nil {
		t.Fatal(err)
	}
	newRef := ""
	for _, ri := range env2.Report.Images {
		if ri.Name == "api" {
			newRef = ri.Ref
		}
	}
	t.Cleanup(func() { _ = tool.Remove(context.Background(), newRef) })
	if newRef == apiRef || newRef == "" {
		t.Fatalf("api's reference %q after a change, was %q: want a new tag", newRef, apiRef)
	}
	built := map[string]bool{}
	for _, ev := range log.take() {
		if ev.State == StateBuilt {
			built[ev.Image] = true
		}
	}
	if !built["api"] || built["worker"] {
		t.Errorf("rebuilt %v after a change to api only", built)
	}
	if _, ok := p.loads[newRef]; !ok {
		t.Errorf("the new api image %s was not loaded", newRef)
	}
	cs, err := kubernetes.NewForConfig(env2.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps(s2.Spec.Namespace).Get(context.Background(), "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["image"] != newRef {
		t.Errorf("the api component still runs %q, want %q", cm.Data["image"], newRef)
	}
}

// A build that fails fails the run at once as an infrastructure failure
// naming the image, the Dockerfile and the step, with the log in the
// diagnostics directory, and the cluster the run created is removed.
func TestBuildFailure(t *testing.T) {
	tool := dockerOrSkip(t)
	s := imageStack(t, true)
	state := t.TempDir()
	p := newLoadingSim(t, tool, state)
	diag := t.TempDir()
	_, err := Up(context.Background(), s, Options{provider: p, DiagDir: diag})
	plan, _ := NewPlan(s, Options{provider: p})
	t.Cleanup(func() { _ = tool.Remove(context.Background(), plan.vars.Images["api"]) })
	if KindOf(err) != KindInfra {
		t.Fatalf("Up = %v; want an infrastructure failure", err)
	}
	var be *image.BuildError
	if !errors.As(err, &be) || be.Image != "worker" || !strings.Contains(err.Error(), "missing.txt") || !strings.Contains(be.Step, "COPY missing.txt") {
		t.Fatalf("error %v; want the worker image's failed COPY step", err)
	}
	if data, err := os.ReadFile(filepath.Join(diag, "images", "worker.log")); err != nil || !strings.Contains(string(data), "missing.txt") {
		t.Errorf("build log: %v %q", err, data)
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("cluster state left after a failed build: %v", entries)
	}
}

// Strict phases keep the seed's order: every build, then the cluster, then
// every load, then the deploy.
func TestStrictPhases(t *testing.T) {
	tool := dockerOrSkip(t)
	s := imageStack(t, false)
	p := newLoadingSim(t, tool, t.TempDir())
	var log eventLog
	env, err := Up(context.Background(), s, Options{provider: p, Phases: PhasesStrict, DiagDir: t.TempDir(), OnEvent: log.add})
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := NewPlan(s, Options{provider: p})
	t.Cleanup(func() {
		_ = env.Teardown(context.Background())
		_ = tool.Remove(context.Background(), plan.vars.Images["api"], plan.vars.Images["worker"])
	})
	var lastBuild, lastLoad, firstApply time.Time
	for _, ev := range log.take() {
		switch ev.State {
		case StateBuilt, StateUnchanged:
			lastBuild = later(lastBuild, ev.At)
		case StateLoaded:
			lastLoad = later(lastLoad, ev.At)
		case StateApplying:
			if firstApply.IsZero() || ev.At.Before(firstApply) {
				firstApply = ev.At
			}
		}
	}
	if p.ensured.Before(lastBuild) {
		t.Errorf("cluster ready at %v, before the last build ended at %v", p.ensured, lastBuild)
	}
	for ref, at := range p.loads {
		if at.Before(p.ensured) {
			t.Errorf("%s loaded at %v, before the cluster at %v", ref, at, p.ensured)
		}
	}
	if firstApply.Before(lastLoad) {
		t.Errorf("first apply at %v, before the last load at %v", firstApply, lastLoad)
	}
	// Every component waited for the last load: the path runs through it.
	if cp := env.Report.CriticalPath; len(cp) < 2 || !strings.HasPrefix(cp[0], "image:") {
		t.Errorf("critical path %q: want it to start at the image loaded last", cp)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// blockingLoads is a loadingSim whose loads wait for the run to stop and
// then fail as a real one does (the engine's command killed).
type blockingLoads struct {
	*loadingSim
	started chan struct{}
	once    sync.Once
}

func (p *blockingLoads) LoadImage(ctx context.Context, name, ref string) (cluster.Load, error) {
	p.once.Do(func() { close(p.started) })
	<-ctx.Done()
	return cluster.Load{}, fmt.Errorf("load image %s: docker save: %w", ref, ctx.Err())
}

// A run interrupted while images load reports the loads as stopped, not
// as failures of their own.
func TestInterruptDuringLoads(t *testing.T) {
	tool := dockerOrSkip(t)
	s := imageStack(t, false)
	p := &blockingLoads{loadingSim: newLoadingSim(t, tool, t.TempDir()), started: make(chan struct{})}
	var log eventLog
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-p.started
		cancel()
	}()
	env, err := Up(ctx, s, Options{provider: p, DiagDir: t.TempDir(), OnEvent: log.add})
	plan, _ := NewPlan(s, Options{provider: p})
	t.Cleanup(func() { _ = tool.Remove(context.Background(), plan.vars.Images["api"], plan.vars.Images["worker"]) })
	if KindOf(err) != KindInterrupted {
		t.Fatalf("Up = %v; want interrupted", err)
	}
	for _, ev := range log.take() {
		if ev.Image != "" && ev.State == StateFailed {
			t.Errorf("image event %s %s: %s; want no image failure after an interrupt", ev.Image, ev.State, ev.Detail)
		}
	}
	for _, img := range env.Report.Images {
		if img.Status == report.StatusFailed {
			t.Errorf("image %s reported failed: %s", img.Name, img.Reason)
		}
	}
}
