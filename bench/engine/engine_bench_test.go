package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubetestbed/testbed/internal/apply"
	"github.com/kubetestbed/testbed/internal/testenv"
	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// Settings of the measurements.
const (
	// probes is how many cluster-latency probes a round takes the median of.
	probes = 5
	// plainConcurrency bounds the plain parallel create's requests in
	// flight; its client-side rate limit is the sim REST config's (500
	// QPS, burst 1000), the same as testbed's.
	plainConcurrency = 64
	// roundTimeout bounds one round: cluster, bring-up, probes, teardown.
	roundTimeout = 15 * time.Minute
)

// BenchmarkUp measures how long `testbed up` takes from the start of its
// deploy phase until every component is ready, and takes out of it the
// stack's sim lower bound and, once per component on the critical path,
// the cluster's own latency measured in the same round (see README.md):
//
//	overhead = (last readyAt - deploy start) - lowerBound - hops × clusterLatency
//
// hops is the number of components on the lower bound's critical path
// (dependsOn edges on it + 1): each of them is applied only once its
// predecessor is ready, and then pays one apply → Available of the cluster
// before its own readiness, the first one included.
//
// Stacks of independent components are also compared with a plain
// parallel create and a plain parallel server-side apply of the same
// objects, each on a fresh cluster of its own (see round).
// The 500-component stacks are brought up through the real CLI, as a
// subprocess, so that its peak RSS is testbed's alone; the others through
// the library, whose events time each component exactly. The headless
// variant takes the API server's ClusterIP allocator, which serialises
// Service creation, out of the picture.
func BenchmarkUp(b *testing.B) {
	for _, bc := range []benchCase{
		{name: "chain-5", sh: shape{n: 5, chain: true, readyAfter: time.Second}},
		{name: "independent-50", sh: shape{n: 50, readyAfter: time.Second}, plain: true},
		{name: "independent-500-headless", sh: shape{n: 500, headless: true, readyAfter: time.Second}, plain: true, cli: true},
		{name: "independent-500", sh: shape{n: 500, readyAfter: time.Second}, plain: true, cli: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			testenv.Assets(b)
			testenv.Binary(b)
			var m metrics
			for i := 0; b.Loop(); i++ {
				r := bc.round(b, i%2 == 1)
				r.log(b)
				m.addRound(r)
			}
			m.report(b)
		})
	}
}

// benchCase is one stack shape and how it is brought up.
type benchCase struct {
	name  string
	sh    shape
	plain bool // compare with a plain parallel create of the same objects
	cli   bool // through `testbed up` as a subprocess, rather than testbed.Up
}

// options are testbed's options for the benchmark: the assets the tests
// share, the state directory of this process (testenv.Main stops every
// cluster left in it).
func options(b *testing.B, onEvent func(testbed.Event)) testbed.Options {
	return testbed.Options{
		AssetsDir: testenv.AssetsCacheDir(),
		BinDir:    os.Getenv("TESTBED_BIN_DIR"),
		StateDir:  testenv.TempRoot(),
		OnEvent:   onEvent,
	}
}

// cluster is a round's sim cluster, created before the bring-up (which
// then finds it running and deploys into it) so that an independent watch
// can observe the whole deploy phase. Cluster creation is outside every
// number either way: the arithmetic starts at the deploy phase.
type cluster struct {
	cs kubernetes.Interface
	// watch is cs in protobuf, for the independent watches: the encoding
	// testbed's own watches of built-in kinds use, so that the API server
	// serialises each event once for both, and cheaper to decode on a
	// machine the API server shares.
	watch kubernetes.Interface
	down  func()
}

func newCluster(ctx context.Context, b *testing.B, s *stack.Stack) cluster {
	b.Helper()
	c, err := testenv.Provider(b, 0).Create(ctx, s.Metadata.Name)
	if err != nil {
		b.Fatalf("create sim cluster %s: %v", s.Metadata.Name, err)
	}
	// Once: a round calls it when it is done with the cluster and defers
	// it against a b.Fatal. The options are made out here: b.Fatal inside
	// a sync.OnceFunc would panic.
	opts := options(b, nil)
	down := sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := testbed.Down(ctx, s, opts); err != nil {
			b.Errorf("testbed down %s: %v", s.Metadata.Name, err)
		}
	})
	cfg, err := c.RESTConfig()
	if err != nil {
		down()
		b.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		down()
		b.Fatal(err)
	}
	pcfg := rest.CopyConfig(cfg)
	pcfg.ContentType = runtime.ContentTypeProtobuf
	pcfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	watch, err := kubernetes.NewForConfig(pcfg)
	if err != nil {
		down()
		b.Fatal(err)
	}
	return cluster{cs: cs, watch: watch, down: down}
}

// round brings a fresh stack of the case's shape up on a fresh cluster,
// watching the cluster independently, then measures the cluster's latency
// and tears the cluster down. If the case has the plain runs, each runs on
// a fresh cluster of its own too, one at a time, before the bring-up or
// (plainAfter) after it, alternating between rounds against drifts of the
// machine's load. Fresh clusters, because objects left by an earlier run
// slow the next one on a shared cluster: three runs of 1000 objects, one
// after the other on one cluster, took 27, 31 and 40 s, whatever ran
// third. Only the bring-up is timed.
func (bc benchCase) round(b *testing.B, plainAfter bool) *round {
	b.StopTimer()
	defer b.StartTimer()
	ctx, cancel := context.WithTimeout(b.Context(), roundTimeout)
	defer cancel()
	path, err := writeStack(b.TempDir(), testenv.UniqueName("bench"), bc.sh)
	if err != nil {
		b.Fatal(err)
	}
	s, err := stack.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	r := newRound(s, bc.sh)
	when := "before"
	if plainAfter {
		when = "after"
	}
	plain := func() {
		if !bc.plain {
			return
		}
		pc := newCluster(ctx, b, s)
		defer pc.down()
		p, err := plainCreate(ctx, pc, bc.sh, plainConcurrency)
		if err != nil {
			b.Fatal(err)
		}
		r.plain = &p
		logf(b, "plain parallel create (concurrency %d, %s testbed's): %d objects created in %.3f s, all ready after %.3f s; Create call latency p50 / p90 / max: Deployments %s s, Services %s s",
			plainConcurrency, when, p.objects, p.create.Seconds(), p.ready.Seconds(), quantiles(p.depCalls), quantiles(p.svcCalls))
	}
	plainSSA := func() {
		if !bc.plain {
			return
		}
		pc := newCluster(ctx, b, s)
		defer pc.down()
		p, err := plainApply(ctx, pc, bc.sh, apply.DefaultMaxInFlight)
		if err != nil {
			b.Fatal(err)
		}
		r.plainSSA = &p
		logf(b, "plain parallel server-side apply (concurrency %d, %s testbed's): %d objects applied in %.3f s, all ready after %.3f s; apply call latency p50 / p90 / max: Deployments %s s, Services %s s",
			apply.DefaultMaxInFlight, when, p.objects, p.create.Seconds(), p.ready.Seconds(), quantiles(p.depCalls), quantiles(p.svcCalls))
	}
	if !plainAfter {
		plain()
		plainSSA()
	}

	c := newCluster(ctx, b, s)
	defer c.down()
	obs, err := observe(ctx, c.watch, benchNamespace)
	if err != nil {
		b.Fatal(err)
	}
	defer obs.close()
	upStart := time.Now()
	if bc.cli {
		err = r.upCLI(ctx, b, path)
	} else {
		err = r.upLibrary(ctx, b, s)
	}
	if err != nil {
		var deps, svcs []time.Duration
		for _, name := range bc.sh.components() {
			t := obs.times(name)
			if !t[created].IsZero() {
				deps = append(deps, t[created].Sub(upStart))
			}
			if !t[svcCreated].IsZero() {
				svcs = append(svcs, t[svcCreated].Sub(upStart))
			}
		}
		logf(b, "testbed up failed; seen since its start (p50 / p90 / max, s): %d Deployments %s, %d Services %s",
			len(deps), quantiles(deps), len(svcs), quantiles(svcs))
		logf(b, "kube-apiserver's last warnings and errors:\n%s", apiserverLog(s.Metadata.Name, 15))
		b.Fatal(err)
	}
	// testbed's watch may see a component ready before the observer's does:
	// let the observer catch up before reading its timeline.
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	err = obs.wait(wctx, bc.sh.components(), available, endpoint)
	wcancel()
	if err != nil {
		b.Fatal(err)
	}
	for i := range r.comps {
		r.comps[i].obs = obs.times(r.comps[i].name)
	}
	r.finish()
	r.measureLatency(ctx, b, c)
	obs.close()
	c.down()
	if plainAfter {
		plainSSA()
		plain()
	}
	return r
}

// upLibrary brings s up with testbed.Up, timing each component from
// testbed's events (exact, unlike the report's 0.01 s).
func (r *round) upLibrary(ctx context.Context, b *testing.B, s *stack.Stack) error {
	rec := &recorder{applying: map[string]time.Time{}, applied: map[string]time.Time{}, ready: map[string]time.Time{}}
	b.StartTimer()
	env, err := testbed.Up(ctx, s, options(b, rec.on))
	b.StopTimer()
	if err != nil {
		return fmt.Errorf("testbed up: %w%s", err, failures(env))
	}
	for i := range r.comps {
		cm := &r.comps[i]
		cm.applying, cm.applied, cm.ready = rec.applying[cm.name], rec.applied[cm.name], rec.ready[cm.name]
		if r.start.IsZero() || cm.applying.Before(r.start) {
			r.start = cm.applying
		}
	}
	if dp := phaseStart(env.Report, "deploy"); dp != nil {
		r.reportStart = env.Report.StartedAt.Add(seconds(*dp))
	}
	return nil
}

// upCLI runs `testbed up -f path --report ...` as a subprocess and takes
// the timings from its report (0.01 s) and its peak RSS from the kernel
// (the control plane's processes outlive it and are never its reaped
// children, so they are not counted).
func (r *round) upCLI(ctx context.Context, b *testing.B, path string) error {
	reportPath := filepath.Join(filepath.Dir(path), "report.json")
	args := []string{"up", "-f", path, "--report", reportPath, "--state-dir", testenv.TempRoot(), "--assets-dir", testenv.AssetsCacheDir()}
	if d := os.Getenv("TESTBED_BIN_DIR"); d != "" {
		args = append(args, "--bin-dir", d)
	}
	cmd := exec.CommandContext(ctx, testenv.Binary(b), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b.StartTimer()
	err := cmd.Run()
	b.StopTimer()
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss := float64(ru.Maxrss) / 1024 // KiB on Linux
			r.peakRSS = &rss
		}
		cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		r.cpu = &cpu
	}
	if err != nil {
		usage := ""
		if r.peakRSS != nil && r.cpu != nil {
			usage = fmt.Sprintf(" (peak RSS %.0f MiB, CPU %.1f s)", *r.peakRSS, r.cpu.Seconds())
		}
		return fmt.Errorf("testbed %s: %w%s\n%s", strings.Join(args, " "), err, usage, tailLines(stderr.String(), 30))
	}
	if r.peakRSS == nil {
		return errors.New("no rusage for the testbed subprocess")
	}
	f, err := os.Open(reportPath)
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := report.ReadJSON(f)
	if err != nil {
		return err
	}
	at := func(p *float64) time.Time {
		if p == nil {
			return time.Time{}
		}
		return rep.StartedAt.Add(seconds(*p))
	}
	dp := phaseStart(rep, "deploy")
	if dp == nil {
		return errors.New("the report has no deploy phase")
	}
	r.start = at(dp)
	r.reportStart = r.start
	byName := map[string]report.Component{}
	for _, rc := range rep.Components {
		byName[rc.Name] = rc
	}
	for i := range r.comps {
		cm := &r.comps[i]
		cm.applied, cm.ready = at(byName[cm.name].AppliedAt), at(byName[cm.name].ReadyAt)
	}
	return nil
}

// logf writes a line to the benchmark's log and to stderr: a benchmark's
// log keeps only its first 10 lines.
func logf(b *testing.B, format string, args ...any) {
	b.Helper()
	line := fmt.Sprintf(format, args...)
	b.Log(line)
	fmt.Fprintf(os.Stderr, "%s: %s\n", b.Name(), line)
}

// apiserverLog returns the last n lines of the sim cluster's kube-apiserver
// log that are not informational.
func apiserverLog(cluster string, n int) string {
	data, err := os.ReadFile(filepath.Join(testenv.StateDir(), cluster, "logs", "kube-apiserver.log"))
	if err != nil {
		return err.Error()
	}
	var keep []string
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && !strings.HasPrefix(line, "I") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep[max(0, len(keep)-n):], "\n")
}

func failures(env *testbed.Env) string {
	if env == nil || env.Report == nil {
		return ""
	}
	var sb strings.Builder
	for _, c := range env.Report.Components {
		if c.Status != report.StatusReady {
			fmt.Fprintf(&sb, "\n  %s: %s %s", c.Name, c.Status, c.Reason)
		}
	}
	return sb.String()
}

func phaseStart(rep *report.Report, name string) *float64 {
	for _, p := range rep.Phases {
		if p.Name == name {
			return &p.Start
		}
	}
	return nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// recorder keeps, per component, the first time testbed reported it
// applying, applied and ready.
type recorder struct {
	mu                       sync.Mutex
	applying, applied, ready map[string]time.Time
}

func (r *recorder) on(ev testbed.Event) {
	var m map[string]time.Time
	switch ev.State {
	case testbed.StateApplying:
		m = r.applying
	case testbed.StateApplied:
		m = r.applied
	case testbed.StateReady:
		m = r.ready
	default:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := m[ev.Component]; !ok && ev.Component != "" {
		m[ev.Component] = ev.At
	}
}

// compTimes is one component's timeline: testbed's (applying is zero when
// only the report is known) and the cluster's, as the observer saw it.
type compTimes struct {
	name                     string
	deps                     []int
	applying, applied, ready time.Time
	obs                      [nMilestones]time.Time
}

// clusterReady is when the cluster had the component ready by testbed's
// rules: its Deployment available and its Service with a ready endpoint.
func (c *compTimes) clusterReady() time.Time { return latest(c.obs[available], c.obs[endpoint]) }

// round is one bring-up and its measurements.
type round struct {
	sh          shape
	lowerBound  time.Duration
	hops        int           // components on the lower bound's critical path
	latency     time.Duration // median cluster latency, Deployment only
	latencySvc  time.Duration // median cluster latency, Deployment and Service
	start       time.Time     // the deploy phase's start
	reportStart time.Time     // the same from the report (0.01 s), to cross-check
	comps       []compTimes
	path        []int          // the actual critical path, first to last
	plain       *plainResult   // the plain parallel create, if the case has one
	plainSSA    *plainResult   // the plain parallel server-side apply, if the case has one
	peakRSS     *float64       // MiB, of `testbed up` when run as a subprocess
	cpu         *time.Duration // user + system CPU of `testbed up` as a subprocess
}

func newRound(s *stack.Stack, sh shape) *round {
	lb, lbPath := s.LowerBound()
	r := &round{sh: sh, lowerBound: seconds(lb), hops: len(lbPath)}
	for i, name := range sh.components() {
		c := compTimes{name: name}
		for _, d := range sh.deps(i) {
			c.deps = append(c.deps, slices.Index(sh.components(), d))
		}
		r.comps = append(r.comps, c)
	}
	return r
}

func (r *round) measureLatency(ctx context.Context, b *testing.B, c cluster) {
	b.Helper()
	d, err := clusterLatency(ctx, c, r.sh, false, probes)
	if err != nil {
		b.Fatal(err)
	}
	ds, err := clusterLatency(ctx, c, r.sh, true, probes)
	if err != nil {
		b.Fatal(err)
	}
	r.latency, r.latencySvc = median(d), median(ds)
}

// finish finds the actual critical path: back from the last component
// ready, through the dependsOn component that was ready last.
func (r *round) finish() {
	last := 0
	for i := range r.comps {
		if r.comps[i].ready.After(r.comps[last].ready) {
			last = i
		}
	}
	for i := last; i >= 0; {
		r.path = append(r.path, i)
		next := -1
		for _, d := range r.comps[i].deps {
			if next < 0 || r.comps[d].ready.After(r.comps[next].ready) {
				next = d
			}
		}
		i = next
	}
	slices.Reverse(r.path)
}

// deploy is the deploy phase's start to the last component ready.
func (r *round) deploy() time.Duration {
	return r.comps[r.path[len(r.path)-1]].ready.Sub(r.start)
}

// overhead is testbed's own: what remains of deploy once the lower bound
// and hops × the cluster's latency are taken out.
func (r *round) overhead(latency time.Duration) time.Duration {
	return r.deploy() - r.lowerBound - time.Duration(r.hops)*latency
}

// split divides deploy along the actual critical path, exactly (the parts
// telescope): apply, from the predecessor ready (or the deploy start) to
// testbed's applied (its scheduling, discovery, namespace, and the API
// server's answer to every server-side apply of the component); cluster,
// from applied to the cluster having the component ready (readyAfter
// included); tracker, from there to testbed calling it ready.
func (r *round) split() (apply, cluster, tracker time.Duration) {
	prev := r.start
	for _, i := range r.path {
		c := &r.comps[i]
		apply += c.applied.Sub(prev)
		cluster += c.clusterReady().Sub(c.applied)
		tracker += c.ready.Sub(c.clusterReady())
		prev = c.ready
	}
	return apply, cluster, tracker
}

// applySpan is the deploy start to the last component applied.
func (r *round) applySpan() time.Duration {
	var last time.Time
	for _, c := range r.comps {
		last = latest(last, c.applied)
	}
	return last.Sub(r.start)
}

// log writes the round's summary and timeline (see logf).
func (r *round) log(b *testing.B) {
	b.Helper()
	apply, cluster, tracker := r.split()
	logf(b, "%d components (chain %v, readyAfter %s): deploy %.3f s (report's deploy start %+.3f s), lower bound %.1f s, hops %d, cluster latency %.3f s (with a Service %.3f s); overhead %.3f s (%.3f s/hop; %.3f s counting the Service latency); critical path: apply %.3f s, cluster %.3f s (= lower bound %+.3f s), tracker %.3f s",
		len(r.comps), r.sh.chain, r.sh.readyAfter, r.deploy().Seconds(), r.reportStart.Sub(r.start).Seconds(), r.lowerBound.Seconds(), r.hops,
		r.latency.Seconds(), r.latencySvc.Seconds(), r.overhead(r.latency).Seconds(), r.overhead(r.latency).Seconds()/float64(r.hops), r.overhead(r.latencySvc).Seconds(),
		apply.Seconds(), cluster.Seconds(), (cluster - r.lowerBound).Seconds(), tracker.Seconds())
	objects := float64(2 * len(r.comps))
	if p := r.plain; p != nil {
		logf(b, "throughput: testbed applied %.0f objects in %.3f s (%.0f objects/s), all ready after %.3f s; plain parallel create %d objects in %.3f s (%.0f objects/s), all ready after %.3f s; testbed %+.3f s",
			objects, r.applySpan().Seconds(), objects/r.applySpan().Seconds(), r.deploy().Seconds(),
			p.objects, p.create.Seconds(), float64(p.objects)/p.create.Seconds(), p.ready.Seconds(), (r.deploy() - p.ready).Seconds())
	}
	if p := r.plainSSA; p != nil {
		logf(b, "throughput: plain parallel server-side apply %d objects in %.3f s (%.0f objects/s), all ready after %.3f s; testbed %+.3f s",
			p.objects, p.create.Seconds(), float64(p.objects)/p.create.Seconds(), p.ready.Seconds(), (r.deploy() - p.ready).Seconds())
	}
	if r.peakRSS != nil && r.cpu != nil {
		logf(b, "testbed up: peak RSS %.0f MiB, CPU %.1f s (user + system) over %.1f s of deploy", *r.peakRSS, r.cpu.Seconds(), r.deploy().Seconds())
	}
	// The timeline goes to stderr only: it is longer than a benchmark log.
	detail := func(format string, args ...any) { fmt.Fprintf(os.Stderr, b.Name()+": "+format+"\n", args...) }
	rel := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return fmt.Sprintf("%.3f", t.Sub(r.start).Seconds())
	}
	row := func(c *compTimes) {
		cols := []any{c.name, rel(c.applying), rel(c.applied)}
		for _, t := range c.obs {
			cols = append(cols, rel(t))
		}
		detail("  %-6s %8s %8s | %8s %8s %8s %9s %8s %9s %9s %8s | %8s", append(cols, rel(c.ready))...)
	}
	detail("  seconds since the deploy start; testbed | cluster (independent watch) | testbed")
	detail("  %-6s %8s %8s | %8s %8s %8s %9s %8s %9s %9s %8s | %8s", "comp", "applying", "applied", "created", "svc", "pod", "scheduled", "running", "pod-ready", "available", "endpoint", "ready")
	if len(r.comps) <= 10 {
		for i := range r.comps {
			row(&r.comps[i])
		}
		return
	}
	detail("  critical path:")
	for _, i := range r.path {
		row(&r.comps[i])
	}
	var depStored, svcStored, applied, toPod, toRunning, kwok, avail, ep, trk []time.Duration
	for i := range r.comps {
		c := &r.comps[i]
		depStored = append(depStored, c.obs[created].Sub(r.start))
		svcStored = append(svcStored, c.obs[svcCreated].Sub(r.start))
		applied = append(applied, c.applied.Sub(latest(c.obs[created], c.obs[svcCreated])))
		toPod = append(toPod, c.obs[podCreated].Sub(c.obs[created]))
		toRunning = append(toRunning, c.obs[podRunning].Sub(c.obs[podCreated]))
		kwok = append(kwok, c.obs[podReady].Sub(c.obs[podRunning])-r.sh.readyAfter)
		avail = append(avail, c.obs[available].Sub(c.obs[podReady]))
		ep = append(ep, c.obs[endpoint].Sub(c.obs[podReady]))
		trk = append(trk, c.ready.Sub(c.clusterReady()))
	}
	detail("  over all %d components, p50 / p90 / max in seconds (\"seen\": by the independent watch, which lags the API server when it is saturated):", len(r.comps))
	for _, q := range []struct {
		what string
		ds   []time.Duration
	}{
		{"deploy start → Deployment seen", depStored},
		{"deploy start → Service seen", svcStored},
		{"both seen → testbed's applied", applied},
		{"Deployment seen → pod seen", toPod},
		{"pod seen → Running (scheduler, kwok)", toRunning},
		{"pod Running → Ready, minus readyAfter (kwok)", kwok},
		{"pod Ready → Deployment available", avail},
		{"pod Ready → endpoint ready", ep},
		{"cluster ready → testbed ready (tracker)", trk},
	} {
		detail("    %-46s %s", q.what, quantiles(q.ds))
	}
}

// metrics averages per-round values and reports them.
type metrics struct {
	names []string
	sum   map[string]float64
	n     map[string]int
}

func (m *metrics) add(name string, v float64) {
	if m.sum == nil {
		m.sum, m.n = map[string]float64{}, map[string]int{}
	}
	if _, ok := m.sum[name]; !ok {
		m.names = append(m.names, name)
	}
	m.sum[name] += v
	m.n[name]++
}

func (m *metrics) addRound(r *round) {
	apply, cluster, tracker := r.split()
	m.add("s-deploy", r.deploy().Seconds())
	m.add("s-lower-bound", r.lowerBound.Seconds())
	m.add("hops", float64(r.hops))
	m.add("s-cluster-latency", r.latency.Seconds())
	m.add("s-cluster-latency-svc", r.latencySvc.Seconds())
	m.add("s-overhead", r.overhead(r.latency).Seconds())
	m.add("s-overhead/hop", r.overhead(r.latency).Seconds()/float64(r.hops))
	m.add("s-overhead-svc", r.overhead(r.latencySvc).Seconds())
	m.add("s-path-apply", apply.Seconds())
	m.add("s-path-cluster-excess", (cluster - r.lowerBound - time.Duration(r.hops)*r.latency).Seconds())
	m.add("s-path-tracker", tracker.Seconds())
	objects := float64(2 * len(r.comps))
	if p := r.plain; p != nil {
		m.add("objects/s", objects/r.applySpan().Seconds())
		m.add("s-apply", r.applySpan().Seconds())
		m.add("objects/s-plain", float64(p.objects)/p.create.Seconds())
		m.add("s-plain-create", p.create.Seconds())
		m.add("s-plain-ready", p.ready.Seconds())
		m.add("s-vs-plain", (r.deploy() - p.ready).Seconds())
	}
	if p := r.plainSSA; p != nil {
		m.add("objects/s-plain-ssa", float64(p.objects)/p.create.Seconds())
		m.add("s-plain-ssa-ready", p.ready.Seconds())
		m.add("s-vs-plain-ssa", (r.deploy() - p.ready).Seconds())
	}
	if r.peakRSS != nil {
		m.add("MiB-peak-rss", *r.peakRSS)
	}
	if r.cpu != nil {
		m.add("s-cpu", r.cpu.Seconds())
	}
}

func (m *metrics) report(b *testing.B) {
	for _, name := range m.names {
		b.ReportMetric(m.sum[name]/float64(m.n[name]), name)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))].Seconds() }
	return fmt.Sprintf("%.3f / %.3f / %.3f", q(0.5), q(0.9), s[len(s)-1].Seconds())
}
