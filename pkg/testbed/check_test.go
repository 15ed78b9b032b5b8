package testbed_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

// On sim, a custom kind with no CRD in the stack is rejected when the
// stack's cluster would be fresh, and left to the apply when a cluster of
// the stack's name is already there to be reused (it may hold CRDs
// installed by hand).
func TestCheckCustomKindAndReusedCluster(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"testbed.yaml": "apiVersion: testbed.dev/v1alpha1\nkind: Stack\nmetadata: {name: reuse}\nspec:\n  components:\n    - {name: a, manifests: [w.yaml]}\n",
		"w.yaml":       "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := stack.Load(filepath.Join(dir, "testbed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	opts := testbed.Options{StateDir: state}
	_, err = testbed.Check(s, opts)
	if testbed.KindOf(err) != testbed.KindInvalid || !strings.Contains(err.Error(), "no CustomResourceDefinition in the stack defines kind Widget in group example.com") {
		t.Fatalf("fresh cluster: Check = %v, want invalid input naming the missing CRD", err)
	}
	// A cluster of the stack's name, as `testbed cluster create --name reuse` leaves it.
	clusterDir := filepath.Join(state, "clusters", "reuse")
	if err := os.MkdirAll(clusterDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clusterDir, "cluster.json"), []byte(`{"name": "reuse"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := testbed.Check(s, opts); err != nil || p != stack.ProviderSim {
		t.Fatalf("cluster to reuse: Check = %q, %v; want sim, nil", p, err)
	}
}
