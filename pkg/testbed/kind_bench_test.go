package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/image"
	"github.com/kubetestbed/testbed/internal/testenv"
	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// Real kind clusters against sim, and the real DataStorage stack on kind
// overlapped against strict (bench/README.md, "Real kind against sim").
// Each round tears its cluster down and checks that no container of it is
// left; the clusters are named after a state directory of the round's own,
// so other runs of the same stacks on this machine are not touched.
//
//	go test -v -run '^$' -bench 'Kind|DataStorage' -benchtime 3x -timeout 60m ./pkg/testbed/
//
// -v prints every run's line (without it Go keeps the first lines only).

// kindBench returns docker and testbed's kind node image, or skips b
// saying why: -short, no Docker engine answering, or no node image in it.
// The benchmarks never build the node image (`testbed assets build
// --kind-node` does, in about 10 minutes).
func kindBench(b *testing.B) (*image.Tool, string) {
	b.Helper()
	if testing.Short() {
		b.Skip("-short: real kind clusters take minutes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tool, err := image.NewTool(ctx, "docker")
	if err != nil {
		b.Skipf("no docker engine answers here: %v", err)
	}
	ref := assets.NodeImage()
	if id, err := tool.ImageID(ctx, ref); err != nil || id == "" {
		b.Skipf("testbed's kind node image %s is not in docker (%v): build it with `testbed assets build --kind-node`", ref, err)
	}
	return tool, ref
}

// loadavg returns the first three fields of /proc/loadavg ("" without it).
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// kindClusterName is the kind cluster of a run on kind, from its
// kubeconfig: STATE/kind/clusters/NAME/kubeconfig.
func kindClusterName(env *Env) string { return filepath.Base(filepath.Dir(env.Kubeconfig)) }

// leftContainers lists the containers, running or not, of the kind
// cluster called name.
func leftContainers(b *testing.B, name string) []string {
	b.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--format", "{{.Names}}", "--filter", "label=io.x-k8s.kind.cluster="+name).CombinedOutput()
	if err != nil {
		b.Fatalf("docker ps: %v: %s", err, out)
	}
	return strings.Fields(string(out))
}

// phase returns the span of the report's phase called name, in seconds
// since the run started (0, 0 when it did not run).
func phase(r *report.Report, name string) (start, end float64) {
	for _, ph := range r.Phases {
		if ph.Name == name {
			return ph.Start, ph.End
		}
	}
	return 0, 0
}

// upRetry brings up the stack mk returns under opts, and tries once more,
// with a new stack from mk, when the first try fails for the
// infrastructure: on this shared machine another run's cleanup once took
// the docker network "kind" away under a create (`network kind not found`).
// Every failure is logged, and failed is called with the failed try's Env
// (nil when Up returned none; Up has torn down what it started).
func upRetry(b *testing.B, ctx context.Context, mk func() *stack.Stack, opts Options, failed func(*Env)) *Env {
	b.Helper()
	for try := 1; ; try++ {
		env, err := Up(ctx, mk(), opts)
		if err == nil {
			return env
		}
		failed(env)
		if try == 2 || KindOf(err) != KindInfra {
			b.Fatalf("try %d: %v", try, err)
		}
		b.Logf("try %d failed for the infrastructure, trying once more: %v", try, err)
	}
}

// createStack is a stack of one ConfigMap: a run of it is the cluster's
// creation and one apply.
const createStack = `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: bench-create}
spec:
  cluster: {provider: kind, kind: {nodeImage: "NODEIMAGE"}}
  namespace: bench
  timeout: 10m
  components:
    - {name: config, manifests: [config.yaml]}
`

// BenchmarkKindCreate brings a one-ConfigMap stack up on kind (testbed's
// node image) and on sim in each round, in alternating order, and compares
// the report's cluster phase: from the start of the create to a cluster
// whose API server answers and whose nodes are Ready, as each provider
// waits for it before anything is applied.
func BenchmarkKindCreate(b *testing.B) {
	_, nodeImage := kindBench(b)
	testenv.Assets(b)
	dir := b.TempDir()
	for name, content := range map[string]string{
		"testbed.yaml": strings.ReplaceAll(createStack, "NODEIMAGE", nodeImage),
		"config.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata: {a: b}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cluster := map[string][]float64{}
	round := 0
	for b.Loop() {
		round++
		for _, provider := range inTurn(round, "kind", "sim") {
			c := createRound(b, filepath.Join(dir, "testbed.yaml"), provider)
			cluster[provider] = append(cluster[provider], c)
		}
	}
	k, sm := median(cluster["kind"]), median(cluster["sim"])
	b.Logf("cluster create to ready, median of %d: kind %.2f s, sim %.2f s: kind/sim %.2f", round, k, sm, k/sm)
	b.ReportMetric(k, "s-kind")
	b.ReportMetric(sm, "s-sim")
	b.ReportMetric(k/sm, "kind/sim")
}

// createRound brings the stack file up on provider, tears it down, and
// returns the seconds of its cluster phase; it logs the run and the
// provider's steps.
func createRound(b *testing.B, file, provider string) float64 {
	b.Helper()
	state := b.TempDir()
	var steps []string
	var start time.Time
	opts := Options{Provider: provider, Ephemeral: true, StateDir: state, AssetsDir: testenv.AssetsCacheDir(), DiagDir: b.TempDir(),
		OnEvent: func(ev Event) {
			if ev.State != StateCluster {
				return
			}
			if start.IsZero() {
				start = ev.At
			}
			steps = append(steps, fmt.Sprintf("%6.2f s %s", ev.At.Sub(start).Seconds(), ev.Detail))
		}}
	load := loadavg()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := upRetry(b, ctx, func() *stack.Stack {
		steps, start = nil, time.Time{}
		s, err := stack.Load(file)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}, opts, func(*Env) {})
	name := ""
	if provider == "kind" {
		name = kindClusterName(env)
	}
	t0 := time.Now()
	if err := env.Teardown(context.Background()); err != nil {
		b.Errorf("%s: teardown: %v", provider, err)
	}
	down := time.Since(t0).Seconds()
	if name != "" {
		if left := leftContainers(b, name); len(left) > 0 {
			b.Errorf("kind cluster %s: containers left after teardown: %v", name, left)
		}
	} else if left := testenv.ProcsMentioning(state); len(left) > 0 {
		b.Errorf("sim: processes left after teardown: %v", left)
	}
	cs, ce := phase(env.Report, "cluster")
	b.Logf("%-4s cluster %6.2f s, run %6.2f s, teardown %5.2f s, load average %s %s\n    %s",
		provider, ce-cs, env.Report.Seconds, down, load, name, strings.Join(steps, "\n    "))
	return ce - cs
}

// dsStack is the real DataStorage stack on kind.
var dsStack = filepath.Join("..", "..", "examples", "kubernaut-real", "datastorage.yaml")

// dsRound is one bring-up of the DataStorage stack on kind.
type dsRound struct {
	mode  string
	total float64
	// build, cluster and load are the report's phases; deploy is the
	// first component's apply to the last one's ready. Seconds since the
	// run started.
	build, cluster, load, deploy [2]float64
	// builds are the images' builds, "postgres 43.10" or "postgres unchanged".
	builds       []string
	longestBuild float64
	unchanged    int
	// ready is each component's applied → ready, in seconds.
	ready map[string]float64
	// postgres55 is the 5+5 s PostgreSQL's create → available.
	postgres55, teardown float64
	// jobFailed counts the migrations Job's failed pods (its status.failed).
	jobFailed int
}

// BenchmarkDataStorage brings examples/kubernaut-real/datastorage.yaml up
// on kind (testbed's node image), overlapped and strict side by side in
// each round, in alternating order, each on a cluster of its own that the
// round deletes. cold rebuilds every image in every run: each Dockerfile
// gets a LABEL with a salt after its FROM (so Docker's layer cache misses
// from there: apt downloads and installs again; the base image
// testbed.local/debian is kept) and the go image a -buildid of its own (go's
// build cache is kept: the service is linked again, not compiled), and the
// salted images are removed after the run. warm keeps the images: one
// bring-up before the rounds, not counted, builds what is missing, and every
// counted run finds them (unchanged; the go build still runs).
//
// After each run is ready, a second PostgreSQL of the same image with
// examples/kubernaut's probe timings (initialDelaySeconds 5, periodSeconds
// 5) is created beside it and timed to available: the real counterpart of
// that stack's sim readyAfter.
func BenchmarkDataStorage(b *testing.B) {
	tool, nodeImage := kindBench(b)
	for _, cold := range []bool{true, false} {
		name := map[bool]string{true: "cold", false: "warm"}[cold]
		b.Run(name, func(b *testing.B) {
			if !cold {
				r := dsRun(b, tool, nodeImage, PhasesOverlap, false, "warm-up")
				b.Logf("warm-up (not counted): %s", r.line())
			}
			var runs []dsRound
			round := 0
			for b.Loop() {
				round++
				for _, mode := range inTurn(round, PhasesOverlap, PhasesStrict) {
					r := dsRun(b, tool, nodeImage, mode, cold, fmt.Sprintf("%d-%s", round, mode))
					b.Logf("round %d %-7s %s", round, mode, r.line())
					if cold && r.unchanged > 0 || !cold && r.unchanged < 4 {
						b.Logf("round %d %s: %d of 4 images unchanged: not a %s run", round, mode, r.unchanged, name)
					}
					runs = append(runs, r)
				}
			}
			dsSummary(b, runs)
		})
	}
	// Other runs' clusters may be listed here; this benchmark's own were
	// checked gone round by round.
	out, _ := exec.Command("docker", "ps", "-a", "--format", "{{.Names}} {{.Status}}", "--filter", "name=testbed-").CombinedOutput()
	b.Logf("docker ps -a --filter name=testbed- at the end: %q", strings.TrimSpace(string(out)))
}

// line is the round's numbers on one line.
func (r dsRound) line() string {
	var rd []string
	for _, c := range []string{"postgresql", "redis", "migrations", "datastorage"} {
		rd = append(rd, fmt.Sprintf("%s %.2f", c, r.ready[c]))
	}
	return fmt.Sprintf("total %6.2f s | build %5.2f-%5.2f (%s) | cluster %5.2f-%5.2f | load %5.2f-%5.2f | deploy %5.2f-%5.2f = %5.2f | applied→ready %s | migrations' failed pods %d | postgres 5+5 probe %5.2f | teardown %4.2f",
		r.total, r.build[0], r.build[1], strings.Join(r.builds, ", "), r.cluster[0], r.cluster[1], r.load[0], r.load[1],
		r.deploy[0], r.deploy[1], r.deploy[1]-r.deploy[0], strings.Join(rd, ", "), r.jobFailed, r.postgres55, r.teardown)
}

// dsSummary logs and reports the medians of runs, by mode.
func dsSummary(b *testing.B, runs []dsRound) {
	b.Helper()
	by := func(mode string, f func(dsRound) float64) float64 {
		var xs []float64
		for _, r := range runs {
			if mode == "" || r.mode == mode {
				xs = append(xs, f(r))
			}
		}
		return median(xs)
	}
	span := func(s [2]float64) float64 { return s[1] - s[0] }
	for _, mode := range []string{PhasesOverlap, PhasesStrict} {
		b.Logf("median %-7s total %6.2f s | build %5.2f (longest image %5.2f) | cluster %5.2f | load %5.2f | deploy %5.2f | postgresql applied→ready %.2f",
			mode, by(mode, func(r dsRound) float64 { return r.total }),
			by(mode, func(r dsRound) float64 { return span(r.build) }),
			by(mode, func(r dsRound) float64 { return r.longestBuild }),
			by(mode, func(r dsRound) float64 { return span(r.cluster) }),
			by(mode, func(r dsRound) float64 { return span(r.load) }),
			by(mode, func(r dsRound) float64 { return span(r.deploy) }),
			by(mode, func(r dsRound) float64 { return r.ready["postgresql"] }))
	}
	mo := by(PhasesOverlap, func(r dsRound) float64 { return r.total })
	ms := by(PhasesStrict, func(r dsRound) float64 { return r.total })
	for _, c := range []string{"postgresql", "redis", "migrations", "datastorage"} {
		b.Logf("applied→ready on kind, median of %d: %-11s %.2f s", len(runs), c, by("", func(r dsRound) float64 { return r.ready[c] }))
	}
	pg55 := by("", func(r dsRound) float64 { return r.postgres55 })
	b.Logf("PostgreSQL with examples/kubernaut's 5+5 s probe, create→available, median of %d: %.2f s", len(runs), pg55)
	b.ReportMetric(mo, "s-overlap")
	b.ReportMetric(ms, "s-strict")
	b.ReportMetric(mo/ms, "overlap/strict")
	b.ReportMetric(by("", func(r dsRound) float64 { return r.ready["postgresql"] }), "s-pg-ready")
	b.ReportMetric(pg55, "s-pg-ready-5+5")
}

// dsLoad loads the DataStorage stack for testbed's node image; cold salts
// every image of it (see BenchmarkDataStorage) with salt and the time.
func dsLoad(b *testing.B, nodeImage string, cold bool, salt string) *stack.Stack {
	b.Helper()
	s, err := stack.Load(dsStack)
	if err != nil {
		b.Fatal(err)
	}
	s.Spec.Cluster.Kind.NodeImage = nodeImage
	if !cold {
		return s
	}
	salt = fmt.Sprintf("%s-%d", salt, time.Now().UnixNano())
	dir := b.TempDir()
	for i := range s.Spec.Images {
		img := &s.Spec.Images[i]
		if img.Go != nil {
			img.Go.LDFlags = strings.TrimSpace(img.Go.LDFlags + " -buildid=bench-" + salt)
			continue
		}
		data, err := os.ReadFile(img.Dockerfile)
		if err != nil {
			b.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")
		at := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.ToUpper(l), "FROM ") })
		if at < 0 {
			b.Fatalf("%s: no FROM", img.Dockerfile)
		}
		lines = slices.Insert(lines, at+1, fmt.Sprintf("LABEL dev.testbed.bench-salt=%q\n", salt))
		img.Dockerfile = filepath.Join(dir, img.Name+".Dockerfile")
		if err := os.WriteFile(img.Dockerfile, []byte(strings.Join(lines, "")), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// dsRun brings the DataStorage stack up on kind in mode, times the 5+5 s
// PostgreSQL beside it, tears it down and checks nothing of it is left.
// cold salts every image (see BenchmarkDataStorage) and removes them after.
func dsRun(b *testing.B, tool *image.Tool, nodeImage, mode string, cold bool, salt string) dsRound {
	b.Helper()
	opts := Options{Phases: mode, StateDir: b.TempDir(), AssetsDir: testenv.AssetsCacheDir(), DiagDir: b.TempDir()}
	load := loadavg()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// A cold run's images are its own: they go when it ends.
	removeImages := func(env *Env) {
		if !cold || env == nil || env.Report == nil {
			return
		}
		var refs []string
		for _, ri := range env.Report.Images {
			if ri.Ref != "" {
				refs = append(refs, ri.Ref)
			}
		}
		_ = tool.Remove(context.Background(), refs...)
	}
	var s *stack.Stack
	env := upRetry(b, ctx, func() *stack.Stack {
		s = dsLoad(b, nodeImage, cold, salt)
		return s
	}, opts, removeImages)
	defer removeImages(env)
	name := kindClusterName(env)
	tornDown := false
	defer func() {
		if !tornDown {
			_ = env.Teardown(context.Background())
		}
	}()

	rep := env.Report
	r := dsRound{mode: mode, total: rep.Seconds, ready: map[string]float64{}}
	r.build[0], r.build[1] = phase(rep, "build")
	r.cluster[0], r.cluster[1] = phase(rep, "cluster")
	r.load[0], r.load[1] = phase(rep, "load")
	r.deploy = [2]float64{-1, 0}
	for _, c := range rep.Components {
		if c.AppliedAt == nil || c.ReadyAt == nil {
			b.Fatalf("%s: component %s has no applied or ready time", salt, c.Name)
		}
		r.ready[c.Name] = *c.ReadyAt - *c.AppliedAt
		if r.deploy[0] < 0 || *c.AppliedAt < r.deploy[0] {
			r.deploy[0] = *c.AppliedAt
		}
		r.deploy[1] = max(r.deploy[1], *c.ReadyAt)
	}
	var pgRef string
	for _, ri := range rep.Images {
		if ri.Name == "postgres" {
			pgRef = ri.Ref
		}
		switch {
		case ri.Unchanged:
			r.unchanged++
			r.builds = append(r.builds, ri.Name+" unchanged")
		case ri.Build != nil:
			d := ri.Build.End - ri.Build.Start
			r.longestBuild = max(r.longestBuild, d)
			r.builds = append(r.builds, fmt.Sprintf("%s %.2f", ri.Name, d))
		}
	}
	cs, err := kubernetes.NewForConfig(env.RESTConfig())
	if err != nil {
		b.Fatal(err)
	}
	if job, err := cs.BatchV1().Jobs(s.Spec.Namespace).Get(ctx, "datastorage-migrations", metav1.GetOptions{}); err != nil {
		b.Errorf("%s: the migrations Job: %v", salt, err)
	} else {
		r.jobFailed = int(job.Status.Failed)
	}
	if r.postgres55, err = postgres55(ctx, cs, s.Spec.Namespace, pgRef); err != nil {
		b.Errorf("%s: the 5+5 s PostgreSQL: %v", salt, err)
	}

	t0 := time.Now()
	tornDown = true
	if err := env.Teardown(context.Background()); err != nil {
		b.Errorf("%s: teardown: %v", salt, err)
	}
	r.teardown = time.Since(t0).Seconds()
	if left := leftContainers(b, name); len(left) > 0 {
		b.Errorf("kind cluster %s: containers left after teardown: %v", name, left)
	}
	b.Logf("%s: kind cluster %s, load average before %s, after %s", salt, name, load, loadavg())
	return r
}

// postgres55 creates, beside the stack's PostgreSQL, a Deployment of the
// same image whose readiness probe has examples/kubernaut's timings
// (initialDelaySeconds 5, periodSeconds 5, timeoutSeconds 3; the command is
// kubernaut-real's pg_isready over TCP), and returns the seconds from its
// create returning to the Deployment available (observed generation, one
// available replica), as a watch started before the create sees it.
func postgres55(ctx context.Context, cs kubernetes.Interface, ns, ref string) (float64, error) {
	const name = "postgresql-probe55"
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "postgresql", Image: ref, ImagePullPolicy: corev1.PullNever,
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "postgresql-secret"}}}},
					Env:     []corev1.EnvVar{{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{
							"pg_isready", "-q", "-t", "1", "-h", "127.0.0.1", "-p", "5432", "-U", "slm_user", "-d", "action_history"}}},
						InitialDelaySeconds: 5, PeriodSeconds: 5, TimeoutSeconds: 3,
					},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/postgresql/data"}},
				}},
					Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	w, err := cs.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	created := time.Now()
	for ev := range w.ResultChan() {
		if got, ok := ev.Object.(*appsv1.Deployment); ok && got.Status.ObservedGeneration >= got.Generation && got.Status.AvailableReplicas >= 1 {
			return time.Since(created).Seconds(), nil
		}
	}
	return 0, fmt.Errorf("deployment %s/%s not available: %w", ns, name, ctx.Err())
}
