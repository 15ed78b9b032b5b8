package testbed

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetestbed/testbed/internal/cluster"
	"github.com/kubetestbed/testbed/internal/image"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// loaderFake is a fakeProvider that loads images: the graph gets build
// and load nodes. Loads are recorded, and never reach a node.
type loaderFake struct {
	*fakeProvider
	loads []string
}

func (p *loaderFake) LoadImage(_ context.Context, _, ref string) (cluster.Load, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loads = append(p.loads, ref)
	return cluster.Load{Ref: ref, Loaded: []string{"node"}}, nil
}

const goMain = "package main\n\nimport \"fmt\"\n\nvar version = \"dev\"\n\nfunc main() { fmt.Println(\"api\", version) }\n"

// goImageStack writes a stack named name with one go image, api, built
// from main (the source of svc/cmd/api/main.go): the component app's
// ConfigMap names it whole and inside a string, and the run step seed
// writes what ${image:api} is in its argv to seed.out.
func goImageStack(t *testing.T, name, main string) *stack.Stack {
	t.Helper()
	dir := t.TempDir()
	for file, text := range map[string]string{
		"svc/go.mod":          "module svc\n\ngo 1.22\n",
		"svc/cmd/api/main.go": main,
		"app.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {image: \"${image:api}\", env: \"IMAGE=${image:api}\"}\n",
		"testbed.yaml": `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: ` + name + `}
spec:
  images:
    - name: api
      go: {package: ./cmd/api, dir: svc, ldflags: "-X main.version=e2e"}
  components:
    - {name: app, manifests: [app.yaml]}
    - name: seed
      dependsOn: [app]
      run: {command: [sh, -c, 'printf %s "$0" > seed.out', "${image:api}"]}
`,
	} {
		p := filepath.Join(dir, file)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := stack.Load(filepath.Join(dir, "testbed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The plan of a go image cannot know its tag (a hash of the binary): it
// says so, and ${image:api} is a pending reference, which the components
// that name it wait for, a run step included.
func TestPlanGoImage(t *testing.T) {
	s := goImageStack(t, "goplan", goMain)
	pending := "testbed.local/goplan/api:pending-go-build"
	for _, tc := range []struct {
		name     string
		provider cluster.Provider
		does     string
	}{
		{"loads images", &loaderFake{fakeProvider: &fakeProvider{t: t}}, "built with go build ./cmd/api into an image FROM scratch (its tag: the binary's hash, known once built), then loaded into the cluster"},
		{"simulates pods", simFake{&fakeProvider{t: t}}, "not built or loaded: pods do not run on fake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(s, Options{provider: tc.provider})
			if err != nil {
				t.Fatal(err)
			}
			if want := []PlannedImage{{Name: "api", Ref: pending, Does: tc.does}}; !slices.Equal(p.Images, want) {
				t.Errorf("plan images %+v, want %+v", p.Images, want)
			}
			if got := p.docs["app"][0].Object["data"]; !strings.Contains(stringOf(got), "IMAGE="+pending) {
				t.Errorf("app's data %v: want the pending reference", got)
			}
			for _, c := range []string{"app", "seed"} {
				if !slices.Contains(p.imagesOf[c], "api") {
					t.Errorf("%s waits for images %v, want api", c, p.imagesOf[c])
				}
			}
		})
	}
	// A provider that can neither load images nor simulate pods cannot
	// run an image to build, a go image included.
	_, err := NewPlan(s, Options{provider: &fakeProvider{t: t}})
	if KindOf(err) != KindInvalid || !strings.Contains(err.Error(), `image "api" is built from source`) {
		t.Errorf("plan on a provider that cannot load images: %v", err)
	}
}

func stringOf(v any) string {
	if m, ok := v.(map[string]any); ok {
		var parts []string
		for k, e := range m {
			parts = append(parts, k+"="+stringOf(e))
		}
		slices.Sort(parts)
		return strings.Join(parts, ",")
	}
	s, _ := v.(string)
	return s
}

// Once a go image is built, the objects applied, the run step's argv and
// the report have its built reference where the plan had the pending one;
// before, and for other images, nothing changes.
func TestResolvePending(t *testing.T) {
	s := goImageStack(t, "gopend", goMain)
	p, err := NewPlan(s, Options{provider: &loaderFake{fakeProvider: &fakeProvider{t: t}}})
	if err != nil {
		t.Fatal(err)
	}
	r := &run{s: s, vars: p.vars}
	pending := p.vars.Images["api"]
	if rep := r.resolvePending(); rep != nil {
		t.Errorf("nothing built yet, but a replacer")
	}
	if v := r.runVars(); v.Images["api"] != pending {
		t.Errorf("before the build: ${image:api} = %q, want %q", v.Images["api"], pending)
	}

	built := "testbed.local/gopend/api:0123456789ab"
	r.setImage("api", func(st *imageState) { st.ref = built })
	obj := map[string]any{
		"spec": map[string]any{"containers": []any{
			map[string]any{"image": pending, "env": []any{map[string]any{"name": "IMAGE", "value": "img=" + pending}}, "ports": []any{int64(80)}},
		}},
		"other": "testbed.local/gopend/web:pending",
	}
	replaceStrings(obj, r.resolvePending())
	c := obj["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if c["image"] != built || c["env"].([]any)[0].(map[string]any)["value"] != "img="+built || c["ports"].([]any)[0] != int64(80) {
		t.Errorf("container after replacing: %v", c)
	}
	if obj["other"] != "testbed.local/gopend/web:pending" {
		t.Errorf("a string that is no pending reference changed: %v", obj["other"])
	}
	if v := r.runVars(); v.Images["api"] != built || p.vars.Images["api"] != pending {
		t.Errorf("after the build: run vars %q (plan's %q), want %q (plan's unchanged)", v.Images["api"], p.vars.Images["api"], built)
	}
}

// goToolOrSkip returns docker, or skips the test when docker or the go
// command is missing.
func goToolOrSkip(t *testing.T) *image.Tool {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go command here to build go images with: %v", err)
	}
	return dockerOrSkip(t)
}

// A go image that does not compile fails the run at once, an
// infrastructure failure naming the image and the package with the
// compiler's lines, its whole log in the diagnostics directory.
func TestGoImageBuildFailure(t *testing.T) {
	goToolOrSkip(t)
	s := goImageStack(t, "gofail", "package main\n\nfunc main() { nope() }\n")
	p := &loaderFake{fakeProvider: &fakeProvider{t: t}}
	diag := t.TempDir()
	var events eventLog
	_, err := Up(context.Background(), s, Options{provider: p, DiagDir: diag, StateDir: t.TempDir(), OnEvent: events.add})
	var be *image.BuildError
	if KindOf(err) != KindInfra || !errors.As(err, &be) || be.Tool != image.GoTool {
		t.Fatalf("Up = %v; want an infrastructure failure, go build's", err)
	}
	log := filepath.Join(diag, "images", "api.log")
	for _, w := range []string{`image "api": go build ./cmd/api (in ` + filepath.Join(s.Dir, "svc") + `) failed: exit status 1 (whole log: ` + log + `)`, "undefined: nope"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
	if data, err := os.ReadFile(log); err != nil || !strings.Contains(string(data), "undefined: nope") {
		t.Errorf("build log: %v %q", err, data)
	}
	var states []string
	for _, ev := range events.take() {
		if ev.Image == "api" {
			states = append(states, ev.State+": "+ev.Detail)
		}
	}
	if len(states) != 2 || !strings.HasPrefix(states[0], "building: go build ./cmd/api, then docker ") || !strings.HasPrefix(states[1], "failed: ") {
		t.Errorf("api's events %q", states)
	}
	if len(p.loads) != 0 {
		t.Errorf("loaded %q after a failed build", p.loads)
	}
}

// A run that would build a go image without a go command to build it
// with stops before it starts, saying so.
func TestGoImageWithoutGo(t *testing.T) {
	s := goImageStack(t, "nogo", goMain)
	p := &loaderFake{fakeProvider: &fakeProvider{t: t}}
	missing := filepath.Join(t.TempDir(), "go")
	env, err := Up(context.Background(), s, Options{provider: p, GoCommand: missing, StateDir: t.TempDir(), DiagDir: t.TempDir()})
	if KindOf(err) != KindInfra || !strings.Contains(err.Error(), "image api is built from Go package ./cmd/api, and there is no go command to build it: exec: \""+missing+"\"") {
		t.Fatalf("Up = %v; want an infrastructure failure naming the go command", err)
	}
	if env == nil || env.Report.Reason == "" || !p.ensureTime.IsZero() {
		t.Errorf("env %+v; cluster ensured at %v: want a report and no cluster", env, p.ensureTime)
	}
}

// A go image on a provider that loads images, for real: compiled, built
// FROM scratch and tagged by the binary's hash, loaded under that tag, and
// named by it in what the components apply and in the run step's argv; a
// second run rebuilds nothing. The deploy runs against a real sim cluster
// whose loader records the loads.
func TestUpGoImage(t *testing.T) {
	tool := goToolOrSkip(t)
	s := goImageStack(t, "goimgs", goMain)
	p := newLoadingSim(t, tool, t.TempDir())
	var events eventLog
	opts := Options{provider: p, DiagDir: t.TempDir(), OnEvent: events.add}
	env, err := Up(context.Background(), s, opts)
	var ref string
	if env != nil && len(env.Report.Images) == 1 {
		ref = env.Report.Images[0].Ref
	}
	t.Cleanup(func() {
		_ = env.Teardown(context.Background())
		_ = tool.Remove(context.Background(), ref)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^testbed\.local/goimgs/api:[0-9a-f]{12}$`).MatchString(ref) {
		t.Fatalf("report's ref %q: want the content tag of the binary", ref)
	}
	if id, err := tool.ImageID(context.Background(), ref); err != nil || id == "" {
		t.Errorf("%s is not in the engine: %q, %v", ref, id, err)
	}
	if _, ok := p.loads[ref]; !ok || len(p.loads) != 1 {
		t.Errorf("loads %v, want %s alone", p.loads, ref)
	}
	cs, err := kubernetes.NewForConfig(env.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps(s.Spec.Namespace).Get(context.Background(), "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["image"] != ref || cm.Data["env"] != "IMAGE="+ref {
		t.Errorf("app's ConfigMap %v, want %s", cm.Data, ref)
	}
	if out, err := os.ReadFile(filepath.Join(s.Dir, "seed.out")); err != nil || string(out) != ref {
		t.Errorf("the run step got ${image:api} = %q (%v), want %s", out, err, ref)
	}
	if ri := env.Report.Images[0]; ri.Build == nil || ri.Load == nil || ri.Unchanged || ri.Status != "ready" {
		t.Errorf("report image %+v", ri)
	}

	// Again, on the running cluster: go build runs (from its cache), the
	// binary is the same, the image is not rebuilt.
	events.take()
	env2, err := Up(context.Background(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	var unchanged bool
	second := events.take()
	for _, ev := range second {
		if ev.Image == "api" && ev.State == StateUnchanged {
			unchanged = ev.Detail == ref+": binary unchanged, image not rebuilt"
		}
	}
	if !unchanged || env2.Report.Images[0].Ref != ref || !env2.Report.Images[0].Unchanged {
		t.Errorf("second run: report %+v, events %v; want %s unchanged", env2.Report.Images[0], second, ref)
	}
}
