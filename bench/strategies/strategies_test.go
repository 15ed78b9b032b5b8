package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// fakeClock moves only when After is called (by the wait's duration) or
// when a test advances it (a poll that takes time).
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func TestEventually(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name            string
		timeout, every  time.Duration
		pollTakes       time.Duration
		readyAtPoll     int // 0: never
		wantPolls       int
		wantAt          []time.Duration // when each poll started
		wantTimeout     bool
		wantElapsedTime time.Duration
	}{
		{name: "ready at once: one poll, no wait", timeout: 2 * time.Minute, every: 5 * time.Second,
			readyAtPoll: 1, wantPolls: 1, wantAt: []time.Duration{0}},
		{name: "ready at the third poll: polls at 0, 5 and 10 s", timeout: 2 * time.Minute, every: 5 * time.Second,
			readyAtPoll: 3, wantPolls: 3, wantAt: []time.Duration{0, 5 * time.Second, 10 * time.Second}, wantElapsedTime: 10 * time.Second},
		{name: "the interval starts after the poll returns, as Gomega's", timeout: 2 * time.Minute, every: 5 * time.Second, pollTakes: 100 * time.Millisecond,
			readyAtPoll: 3, wantPolls: 3, wantAt: []time.Duration{0, 5100 * time.Millisecond, 10200 * time.Millisecond}, wantElapsedTime: 10300 * time.Millisecond},
		{name: "never ready: 24 polls in 2 minutes, then the timeout", timeout: 2 * time.Minute, every: 5 * time.Second,
			wantPolls: 24, wantTimeout: true, wantElapsedTime: 2 * time.Minute},
		{name: "a timeout shorter than the interval: one poll", timeout: 3 * time.Second, every: 5 * time.Second,
			wantPolls: 1, wantTimeout: true, wantElapsedTime: 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: t0}
			var at []time.Duration
			polls, err := eventually(context.Background(), clk, tc.timeout, tc.every, func(context.Context) (bool, string) {
				at = append(at, clk.now.Sub(t0))
				clk.now = clk.now.Add(tc.pollTakes)
				return len(at) == tc.readyAtPoll, "not yet"
			})
			if polls != tc.wantPolls {
				t.Errorf("polls = %d, want %d", polls, tc.wantPolls)
			}
			var te *timeoutError
			if got := errors.As(err, &te); got != tc.wantTimeout {
				t.Fatalf("err = %v, want a timeout: %v", err, tc.wantTimeout)
			}
			if tc.wantTimeout && !strings.Contains(err.Error(), "not yet") {
				t.Errorf("err = %q, want the last reason in it", err)
			}
			if tc.wantAt != nil && !slices.Equal(at, tc.wantAt) {
				t.Errorf("polls at %v, want %v", at, tc.wantAt)
			}
			if got := clk.now.Sub(t0); got != tc.wantElapsedTime && tc.wantElapsedTime > 0 {
				t.Errorf("elapsed %v, want %v", got, tc.wantElapsedTime)
			}
		})
	}
}

func TestEventuallyRealClockAndCancel(t *testing.T) {
	start := time.Now()
	n := 0
	polls, err := eventually(context.Background(), realClock{}, time.Second, 10*time.Millisecond, func(context.Context) (bool, string) {
		n++
		return n == 4, ""
	})
	if err != nil || polls != 4 {
		t.Fatalf("polls %d, err %v; want 4, nil", polls, err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > 500*time.Millisecond {
		t.Errorf("took %v, want about 30 ms (three intervals)", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := eventually(ctx, realClock{}, time.Minute, time.Second, func(context.Context) (bool, string) { return false, "" }); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestMedianAndFormatting(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
	if got := median([]time.Duration{3 * time.Second, time.Second}); got != 2*time.Second {
		t.Errorf("median of durations = %v, want 2s", got)
	}
	xs := []float64{3, 1, 2}
	median(xs)
	if !slices.Equal(xs, []float64{3, 1, 2}) {
		t.Errorf("median sorted its argument: %v", xs)
	}

	for _, tc := range []struct {
		name string
		c    *cell
		lb   float64
		want string
	}{
		{"median and ratio", &cell{secs: []float64{45.2, 46, 44}}, 14.6, "45.2 (3.10×)"},
		{"no lower bound", &cell{secs: []float64{1.25}}, 0, "1.2"},
		{"some rounds failed", &cell{secs: []float64{10}, errs: []string{"x"}}, 5, "10.0 (2.00×) (1/2 failed)"},
		{"every round failed", &cell{errs: []string{"x"}}, 5, "failed"},
		{"not run", nil, 5, "—"},
	} {
		if got := formatCell(tc.c, tc.lb); got != tc.want {
			t.Errorf("%s: formatCell = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := verdict([]float64{-0.4, -0.1, 0.2}); got != "✓ -0.10 s" {
		t.Errorf("verdict = %q", got)
	}
	if got := verdict([]float64{1.2}); got != "✗ +1.20 s" {
		t.Errorf("verdict = %q", got)
	}
	if got := verdict(nil); got != "—" {
		t.Errorf("verdict(nil) = %q", got)
	}
}

// chainStack: a -> b (dependsOn) -> c (requires b, dependsOn x) where x is
// quick; d stands alone and is short.
const chainStack = `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: chain}
spec:
  components:
    - {name: a, manifests: [a.yaml], sim: {readyAfter: 10s}}
    - {name: b, manifests: [b.yaml], dependsOn: [a], sim: {readyAfter: 35s}}
    - {name: x, manifests: [x.yaml]}
    - {name: c, manifests: [c.yaml], dependsOn: [x], sim: {readyAfter: 5s, requires: [b]}}
    - {name: d, manifests: [d.yaml], sim: {readyAfter: 2s}}
    - {name: step, dependsOn: [c], run: {command: [true]}}
`

func parseStack(t *testing.T, text string) *stack.Stack {
	t.Helper()
	dir := t.TempDir()
	for _, c := range []string{"a", "b", "x", "c", "d"} {
		m := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + c + "}\n"
		if err := os.WriteFile(filepath.Join(dir, c+".yaml"), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := stack.Parse(filepath.Join(dir, "testbed.yaml"), []byte(text), dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHopsAndTarget(t *testing.T) {
	s := parseStack(t, chainStack)
	lb, path := s.LowerBound()
	if lb != 50 || !slices.Equal(path, []string{"a", "b", "c", "step"}) {
		t.Fatalf("lower bound %v via %v; want 50 via a b c step", lb, path)
	}
	// a -> b is dependsOn (a hop), b -> c only requires (no hop: c was
	// applied long before), c -> step dependsOn (a hop): 2 edges + 1.
	if got := hops(s, path); got != 3 {
		t.Errorf("hops = %d, want 3", got)
	}
	if got := hops(s, []string{"a"}); got != 1 {
		t.Errorf("hops of one component = %d, want 1", got)
	}
	if got := target(50, 3, 200*time.Millisecond); got < 50.899 || got > 50.901 {
		t.Errorf("target = %v, want 50.9", got)
	}
	if got := hopComponents(s, path); !slices.Equal(got, []string{"a", "b", "step"}) {
		t.Errorf("hopComponents = %v, want a b step", got)
	}
	// One of the three hops a Job: 50 + 2 × 0.2 + 1 × 1.1 + 0.3.
	if got := kindTarget(50, 3, 1, 200*time.Millisecond, 1100*time.Millisecond); got < 51.799 || got > 51.801 {
		t.Errorf("kindTarget = %v, want 51.8", got)
	}
}

func TestWaves(t *testing.T) {
	s := parseStack(t, chainStack)
	// c requires b: a script waits for it a wave later, not with b.
	want := [][]string{{"a", "x", "d"}, {"b"}, {"c"}, {"step"}}
	if got := waves(s); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("waves = %v, want %v", got, want)
	}
}

func TestCriticalSplit(t *testing.T) {
	s := parseStack(t, chainStack)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	times := map[string]compTimes{
		"a":    {applied: ms(600), ready: ms(11_000)},    // 10 s readyAfter: beyond 0.4 s
		"b":    {applied: ms(11_100), ready: ms(47_000)}, // apply 0.1 s, beyond 0.9 s
		"x":    {applied: ms(500), ready: ms(700)},
		"c":    {applied: ms(800), ready: ms(52_200)}, // held by requires: beyond 0.2 s
		"d":    {applied: ms(500), ready: ms(2_600)},
		"step": {applied: ms(52_300), ready: ms(53_000)}, // apply 0.1 s, beyond 0.7 s
	}
	sp := criticalSplit(s, times)
	if !slices.Equal(sp.path, []string{"a", "b", "c", "step"}) {
		t.Fatalf("path = %v", sp.path)
	}
	if sp.apply != ms(800) || sp.beyond != ms(2_200) {
		t.Errorf("apply %v beyond %v; want 800ms and 2.2s", sp.apply, sp.beyond)
	}
	// The parts telescope to the last ready.
	if sum := sp.apply + sp.beyond + 50*time.Second; sum != times["step"].ready {
		t.Errorf("apply + beyond + readyAfter = %v, want %v", sum, times["step"].ready)
	}
}

func TestNewPlanDecoratesLikeTestbed(t *testing.T) {
	p, err := newPlan(filepath.Join("..", "..", "examples", "hello", "testbed.yaml"), "r1234", func() (int, error) { return 40000, nil })
	if err != nil {
		t.Fatal(err)
	}
	if p.lowerBound != 7 || p.hops != 3 {
		t.Errorf("lower bound %v, hops %d; want 7 and 3", p.lowerBound, p.hops)
	}
	api := p.component("api")
	var dep *unstructured.Unstructured
	for _, o := range api.objs {
		if o.u.GetKind() == "Deployment" {
			dep = o.u
		}
	}
	if dep == nil {
		t.Fatal("no Deployment in component api")
	}
	ann, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "annotations")
	if ann[sim.AnnotationReadyAfter] != "2s" || ann[sim.AnnotationRequires] != "redis" {
		t.Errorf("pod template annotations %v; want ready-after 2s, requires redis", ann)
	}
	labels, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "labels")
	if labels["testbed.dev/component"] != "api" || labels["testbed.dev/stack"] != "hello" {
		t.Errorf("pod template labels %v", labels)
	}
	// As retries: migrations waits in its pod for postgresql, api for
	// migrations as well as redis; redis and postgresql are unchanged.
	for name, want := range map[string]string{"migrations": "postgresql", "api": "redis,migrations", "redis": "", "postgresql": ""} {
		for _, o := range p.retry.component(name).objs {
			if o.u.GetKind() != "Deployment" && o.u.GetKind() != "Job" {
				continue
			}
			ann, _, _ := unstructured.NestedStringMap(o.u.Object, "spec", "template", "metadata", "annotations")
			if ann[sim.AnnotationRequires] != want {
				t.Errorf("retry plan: %s requires %q, want %q", name, ann[sim.AnnotationRequires], want)
			}
		}
	}
	if ann, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "annotations"); ann[sim.AnnotationRequires] != "redis" {
		t.Errorf("the retry plan changed the plan's own objects: api requires %q", ann[sim.AnnotationRequires])
	}
	image, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if c, _ := image[0].(map[string]any); c["image"] != "ghcr.io/kubetestbed/hello-api:1.0" {
		t.Errorf("image %v: substitutions not applied", c["image"])
	}
}

func TestKubectlScript(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("crd.yaml", `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
`)
	write("db.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: db}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: other}
spec:
  template:
    spec: {restartPolicy: Never, containers: [{name: m, image: m}]}
`)
	write("testbed.yaml", `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: k}
spec:
  namespace: app
  components:
    - {name: widgets, manifests: [crd.yaml]}
    - {name: db, manifests: [db.yaml], dependsOn: [widgets]}
    - {name: step, dependsOn: [db], run: {command: [true]}}
`)
	p, err := newPlan(filepath.Join(dir, "testbed.yaml"), "r", sim.FreePort)
	if err != nil {
		t.Fatal(err)
	}
	sc := &scoper{crdNS: map[string]bool{"example.com/Widget": true}, builtin: map[string]bool{
		"apiextensions.k8s.io/CustomResourceDefinition": false, "apps/Deployment": true, "batch/Job": true}}
	ws, err := kubectlScript(t.TempDir(), p, sc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, w := range ws {
		for _, st := range w.steps {
			args := slices.Clone(st.args)
			for j, a := range args {
				if strings.HasSuffix(a, ".yaml") {
					args[j] = filepath.Base(a)
				}
			}
			got = append(got, strings.Join(args, " "))
		}
		for _, r := range w.runs {
			got = append(got, "run "+r)
		}
		got = append(got, "end of wave "+string(rune('0'+i)))
	}
	want := []string{
		"apply --server-side --field-manager=bench -f wave-0-crds.yaml",
		"wait --for=condition=established --timeout=2m crd/widgets.example.com",
		"apply --server-side --field-manager=bench -f wave-0.yaml",
		"wait --for=condition=established crd/widgets.example.com --timeout=2m",
		"end of wave 0",
		"apply --server-side --field-manager=bench -f wave-1.yaml",
		"rollout status deployment/db --timeout=2m -n app",
		"wait --for=condition=complete job/migrate --timeout=2m -n other",
		"end of wave 1",
		"run step",
		"end of wave 2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("script:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// The namespaces the objects need and no file declares come first, once.
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(ws[0].steps[0].args[4]), name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if crds := read("wave-0-crds.yaml"); !strings.HasPrefix(crds, "---\napiVersion: v1\nkind: Namespace\n") || !strings.Contains(crds, "  name: app\n") || !strings.Contains(crds, "kind: CustomResourceDefinition") {
		t.Errorf("wave-0-crds.yaml: want namespace app, then the CRD:\n%s", crds)
	}
	if w0 := read("wave-0.yaml"); !strings.Contains(w0, "namespace: app") || strings.Contains(w0, "kind: CustomResourceDefinition") {
		t.Errorf("wave-0.yaml: want the Widget in namespace app, and no CRD (applied before):\n%s", w0)
	}
	if w1 := read("wave-1.yaml"); !strings.HasPrefix(w1, "---\napiVersion: v1\nkind: Namespace\n") || !strings.Contains(w1, "  name: other\n") || strings.Contains(w1, "  name: app\n") {
		t.Errorf("wave-1.yaml: want namespace other first, and app not again:\n%s", w1)
	}
}

func TestStackFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.yaml", "b.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := stackFiles(filepath.Join(dir, "*.yaml"), []string{filepath.Join(dir, "a.yaml")})
	if err != nil || len(got) != 2 || filepath.Base(got[0]) != "a.yaml" || filepath.Base(got[1]) != "b.yaml" {
		t.Errorf("stackFiles = %v, %v; want a.yaml, b.yaml once each", got, err)
	}
	if _, err := stackFiles(filepath.Join(dir, "none-*.yaml"), nil); err == nil {
		t.Error("a pattern that matches nothing is an error")
	}
	if _, err := pickStrategies("seed,nope"); err == nil {
		t.Error("an unknown strategy is an error")
	}
	s, err := pickStrategies("testbed, sequential")
	if err != nil || len(s) != 2 || s[0].name != "sequential" || s[1].name != "testbed" {
		t.Errorf("pickStrategies keeps the table's order: %v %v", s, err)
	}
}
