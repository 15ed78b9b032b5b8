package stack_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/pkg/stack"
)

func runStep(t *testing.T, command []string, env map[string]string, timeout time.Duration) (*stack.Stack, *stack.Component) {
	t.Helper()
	s := &stack.Stack{Dir: t.TempDir()}
	s.Metadata.Name = "shop"
	s.Spec.Namespace = "shop-e2e"
	c := &stack.Component{Name: "seed", Run: &stack.Run{Command: command, Env: env, Timeout: timeout}}
	return s, c
}

var runVars = stack.Vars{Stack: "shop", Namespace: "shop-e2e", Run: "r1", Ports: map[string]int{"api": 41234}}

func TestRunCommand(t *testing.T) {
	s, c := runStep(t, []string{"./seed.sh", "--ns=${namespace}", "--port=${port:api}"}, map[string]string{"B": "${run}", "A": "x"}, 0)
	cmd, err := s.RunCommand(c, runVars, "/k/config")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"./seed.sh", "--ns=shop-e2e", "--port=41234"}; !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv = %q, want %q", cmd.Argv, want)
	}
	if cmd.Dir != s.Dir {
		t.Errorf("dir = %q, want the stack's %q", cmd.Dir, s.Dir)
	}
	env := cmd.Env
	for _, kv := range []string{"KUBECONFIG=/k/config", "TESTBED_STACK=shop", "TESTBED_RUN=r1", "TESTBED_NAMESPACE=shop-e2e"} {
		if !slices.Contains(env, kv) {
			t.Errorf("env lacks %s", kv)
		}
	}
	if a, b := slices.Index(env, "A=x"), slices.Index(env, "B=r1"); a < 0 || b < a {
		t.Errorf("step env not added in name order: A at %d, B at %d", a, b)
	}

	s, c = runStep(t, []string{"seed", "${image:nope}"}, nil, 0)
	if _, err := s.RunCommand(c, runVars, ""); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing image value: error %v", err)
	}
	s, c = runStep(t, nil, nil, 0)
	if _, err := s.RunCommand(c, runVars, ""); err == nil {
		t.Error("no command: no error")
	}
}

// A manifest file is read from disk once per Stack: Load's validation and
// a run's substitution share the bytes.
func TestManifestsReadOnce(t *testing.T) {
	dir := t.TempDir()
	stackFile := filepath.Join(dir, "testbed.yaml")
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("testbed.yaml", "apiVersion: testbed.dev/v1alpha1\nkind: Stack\nmetadata: {name: once}\nspec:\n  components:\n    - {name: a, manifests: [cm.yaml]}\n")
	write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: \"${namespace}\"}\n")
	s, err := stack.Load(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: changed}\n")
	cms, err := s.Manifests(&stack.Vars{Stack: "once", Namespace: "ns1", Run: "r"})
	if err != nil {
		t.Fatal(err)
	}
	meta := cms[0].Documents[0].Object["metadata"].(map[string]any)
	if meta["name"] != "cm" || meta["namespace"] != "ns1" {
		t.Errorf("metadata %v: want the file as Load read it (cm), substituted (ns1)", meta)
	}
}

// spec.cluster.kind takes read-only mounts and extra kind configuration;
// a mount's readOnly must be a boolean.
func TestKindClusterFields(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := func(ro string) []byte {
		return []byte("apiVersion: testbed.dev/v1alpha1\nkind: Stack\nmetadata: {name: k}\nspec:\n  cluster:\n    kind:\n      mounts: [{hostPath: ./data, containerPath: /data, readOnly: " + ro + "}]\n      config: |\n        networking: {ipFamily: ipv4}\n  components:\n    - {name: a, manifests: [cm.yaml]}\n")
	}
	s, err := stack.Parse("k.yaml", src("true"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if k := s.Spec.Cluster.Kind; !k.Mounts[0].ReadOnly || !strings.Contains(k.Config, "ipFamily: ipv4") {
		t.Errorf("kind fields %+v", k)
	}
	_, err = stack.Parse("k.yaml", src("maybe"), dir)
	if err == nil || !strings.Contains(err.Error(), `k.yaml:7: cluster.kind.mounts[0]: readOnly: want true or false, got "maybe"`) {
		t.Errorf("readOnly: maybe: %v", err)
	}
}
