package testbedtest_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// helloTest is the test of the module TestExternalModule writes: the one
// line a user writes, no options, and what the user would check after it.
// STACK_FILE is replaced by the quoted path of examples/hello/testbed.yaml.
const helloTest = `package hello_test

import (
	"os"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/testbedtest"
)

func TestHello(t *testing.T) {
	env := testbedtest.Start(t, STACK_FILE)

	if _, err := os.Stat(env.Kubeconfig); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}
	if len(env.Report.Components) != 4 {
		t.Errorf("report has %d components, want 4", len(env.Report.Components))
	}
	for _, c := range env.Report.Components {
		if c.Status != report.StatusReady {
			t.Errorf("component %s is %s: %s", c.Name, c.Status, c.Reason)
		}
	}

	cs, err := kubernetes.NewForConfig(env.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	deps, err := cs.AppsV1().Deployments("hello").List(ctx, metav1.ListOptions{LabelSelector: "testbed.dev/stack=hello"})
	if err != nil {
		t.Fatal(err)
	}
	ready := map[string]int32{}
	for _, d := range deps.Items {
		if d.Spec.Replicas == nil || d.Status.ReadyReplicas != *d.Spec.Replicas {
			t.Errorf("Deployment %s: %d ready replicas of %v", d.Name, d.Status.ReadyReplicas, d.Spec.Replicas)
		}
		ready[d.Name] = d.Status.ReadyReplicas
	}
	if len(ready) != 3 || ready["postgresql"] != 1 || ready["redis"] != 1 || ready["api"] != 2 {
		t.Errorf("ready replicas of the stack's Deployments = %v, want postgresql:1 redis:1 api:2", ready)
	}

	job, err := cs.BatchV1().Jobs("hello").Get(ctx, "migrations", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	complete := false
	for _, c := range job.Status.Conditions {
		complete = complete || c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue
	}
	if !complete {
		t.Errorf("Job migrations is not complete: %+v", job.Status)
	}
}
`

// TestExternalModule builds a module of its own that requires this one (by
// a replace directive to this checkout) and runs its go test: a test that
// brings examples/hello up with testbedtest.Start and no options, and
// checks the stack through the API. It is what a user's repository does,
// so it proves that the helper works from outside this module: the sim
// gate re-executed from another program's test binary, the default assets
// cache, the module's dependencies resolvable by a user.
func TestExternalModule(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go test in a new module that brings a stack up")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goSum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/hello\n\ngo " + goDirective(t, goMod) + "\n\n" +
			"require github.com/kubetestbed/testbed v0.0.0\n\n" +
			"replace github.com/kubetestbed/testbed => " + root + "\n",
		"go.sum": string(goSum),
		"hello_test.go": strings.Replace(helloTest, "STACK_FILE",
			strconv.Quote(filepath.Join(root, "examples", "hello", "testbed.yaml")), 1),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// -mod=mod adds the requirements the test imports (client-go, at the
	// version this module selects) without asking the module proxy.
	out := runGo(t, dir, "test", "-mod=mod", "-count=1", "-v", "./...")
	t.Logf("go test in %s:\n%s", dir, lastLines(out, 3))
}

// goDirective returns the go version of a go.mod file.
func goDirective(t *testing.T, goMod []byte) string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(goMod))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "go "); ok {
			return v
		}
	}
	t.Fatal("go.mod has no go directive")
	return ""
}

// runGo runs the go command in dir with the caller's environment (outside
// any workspace) and returns its output, failing the test with the output
// if it fails.
func runGo(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
