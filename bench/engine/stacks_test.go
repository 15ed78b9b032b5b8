package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/pkg/stack"
)

// benchNamespace is the namespace of every generated stack.
const benchNamespace = "bench"

// shape describes a generated stack: n components, each one Deployment
// (1 replica) and one Service selecting its pods, whose pods turn Ready
// readyAfter after they start on sim. Chained, each component dependsOn
// the one before; otherwise they are independent. Headless Services
// (clusterIP: None) get no ClusterIP, so the API server's ClusterIP
// allocator, which creates one IPAddress at a time, is not involved.
type shape struct {
	n          int
	chain      bool
	headless   bool
	readyAfter time.Duration
}

// clusterIP is the Services' spec.clusterIP: "None" when headless,
// otherwise empty (allocated).
func (sh shape) clusterIP() string {
	if sh.headless {
		return "None"
	}
	return ""
}

func componentName(i int) string { return fmt.Sprintf("c-%03d", i) }

// components returns the components' names in stack order.
func (sh shape) components() []string {
	names := make([]string, sh.n)
	for i := range names {
		names[i] = componentName(i)
	}
	return names
}

// deps returns the dependsOn list of the i-th component.
func (sh shape) deps(i int) []string {
	if sh.chain && i > 0 {
		return []string{componentName(i - 1)}
	}
	return nil
}

// manifestYAML is one component: what a real service's manifests hold at
// least. The image is never pulled on sim.
const manifestYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
        - name: app
          image: registry.k8s.io/pause:3.10
          ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector: {app: %[1]s}
  ports: [{port: 80, targetPort: 8080}]%[2]s
`

func clusterIPField(sh shape) string {
	if ip := sh.clusterIP(); ip != "" {
		return "\n  clusterIP: " + ip
	}
	return ""
}

// writeStack writes stack name of shape sh, with one manifest file per
// component, under dir and returns the stack file's path.
func writeStack(dir, name string, sh shape) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "deploy"), 0o755); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: testbed.dev/v1alpha1\nkind: Stack\nmetadata:\n  name: %s\nspec:\n  namespace: %s\n  timeout: 10m\n  components:\n", name, benchNamespace)
	for i, c := range sh.components() {
		fmt.Fprintf(&b, "    - name: %s\n      manifests: [deploy/%s.yaml]\n      sim: {readyAfter: %s}\n", c, c, sh.readyAfter)
		if d := sh.deps(i); len(d) > 0 {
			fmt.Fprintf(&b, "      dependsOn: [%s]\n", strings.Join(d, ", "))
		}
		if err := os.WriteFile(filepath.Join(dir, "deploy", c+".yaml"), fmt.Appendf(nil, manifestYAML, c, clusterIPField(sh)), 0o644); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, "testbed.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// TestStacks checks the generated stacks without a cluster: they load, and
// their lower bounds and critical paths are the ones the benchmark's
// arithmetic assumes.
func TestStacks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sh    shape
		bound float64
		hops  int
	}{
		{"chain-5", shape{n: 5, chain: true, readyAfter: time.Second}, 5, 5},
		{"independent-50", shape{n: 50, readyAfter: time.Second}, 1, 1},
		{"independent-500", shape{n: 500, readyAfter: time.Second}, 1, 1},
		{"independent-500-headless", shape{n: 500, headless: true, readyAfter: time.Second}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, err := writeStack(t.TempDir(), "bench-"+tc.name, tc.sh)
			if err != nil {
				t.Fatal(err)
			}
			s, err := stack.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(s.Spec.Components); got != tc.sh.n {
				t.Fatalf("%d components, want %d", got, tc.sh.n)
			}
			lb, cp := s.LowerBound()
			if lb != tc.bound || len(cp) != tc.hops {
				t.Errorf("lower bound %v s over %d components (%v), want %v s over %d", lb, len(cp), cp, tc.bound, tc.hops)
			}
			cms, err := s.Manifests(&stack.Vars{Stack: s.Metadata.Name, Namespace: s.Spec.Namespace, Run: "x"})
			if err != nil {
				t.Fatal(err)
			}
			for _, cm := range cms {
				if len(cm.Documents) != 2 {
					t.Errorf("component %s: %d objects, want a Deployment and a Service", cm.Component, len(cm.Documents))
				}
			}
		})
	}
}
