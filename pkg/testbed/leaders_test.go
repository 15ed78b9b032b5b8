package testbed

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kubetestbed/testbed/internal/engine"
	"github.com/kubetestbed/testbed/pkg/stack"
)

func TestApplyFirst(t *testing.T) {
	for _, tc := range []struct {
		name       string
		components string
		want       []string
	}{
		{"no dependsOn: no leader", `
    - {name: a, manifests: [a.yaml]}
    - {name: b, manifests: [b.yaml]}`, nil},
		{"the head of the longest chain; requires is no chain", `
    - {name: redis, manifests: [redis.yaml]}
    - {name: crds, manifests: [crds.yaml]}
    - {name: postgresql, manifests: [postgresql.yaml]}
    - {name: migrations, manifests: [migrations.yaml], dependsOn: [postgresql]}
    - {name: datastorage, manifests: [datastorage.yaml], dependsOn: [migrations], sim: {requires: [redis]}}
    - {name: app, manifests: [app.yaml], dependsOn: [crds, datastorage]}`, []string{"postgresql"}},
		{"two heads of equally long chains, in file order", `
    - {name: b, manifests: [b.yaml]}
    - {name: a, manifests: [a.yaml]}
    - {name: c, manifests: [c.yaml]}
    - {name: x, manifests: [x.yaml], dependsOn: [a, b]}`, []string{"b", "a"}},
		{"a run step at the head is no leader", `
    - {name: seed, run: {command: [true]}}
    - {name: db, manifests: [db.yaml]}
    - {name: x, manifests: [x.yaml], dependsOn: [seed]}
    - {name: y, manifests: [y.yaml], dependsOn: [x]}
    - {name: z, manifests: [z.yaml], dependsOn: [db]}`, []string{"db"}},
		// Holding definitions back behind crs would leave crs waiting for
		// its kind until the timeout.
		{"none when a head applies a custom resource", `
    - {name: crs, manifests: [crs.yaml]}
    - {name: definitions, manifests: [definitions.yaml]}
    - {name: app, manifests: [app.yaml], dependsOn: [crs]}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := parse(t, tc.components)
			p, err := NewPlan(s, Options{Provider: "kubeconfig"})
			var got []string
			if p != nil {
				got = p.ApplyFirst
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("ApplyFirst = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// The other components that wait for nothing are applied once the
// leaders' pods are scheduled: their apply nodes wait for the leaders'
// scheduled nodes (not their ready nodes), which follow the leaders'
// applies; components with a dependsOn are unchanged.
func TestGraphAppliesLeadersFirst(t *testing.T) {
	s := parse(t, `
    - {name: redis, manifests: [redis.yaml]}
    - {name: postgresql, manifests: [postgresql.yaml]}
    - {name: migrations, manifests: [migrations.yaml], dependsOn: [postgresql]}
    - {name: seed, run: {command: [true]}}`)
	p, err := NewPlan(s, Options{Provider: "kubeconfig"})
	if err != nil {
		t.Fatal(err)
	}
	r := &run{s: s, plan: p}
	g, err := r.graph()
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]string{
		"apply:postgresql":     {"cluster"},
		"scheduled:postgresql": {"apply:postgresql"},
		"apply:redis":          {"cluster", "scheduled:postgresql"},
		"ready:seed":           {"cluster"}, // a run step is not held back
		"apply:migrations":     {"cluster", "ready:postgresql"},
	} {
		kind, name, _ := strings.Cut(id, ":")
		deps, _ := g.Deps(engine.ID(engine.NodeKind(kind), name))
		var got []string
		for _, d := range deps {
			got = append(got, d.String())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s waits for %q, want %q", id, got, want)
		}
	}
}

func parse(t *testing.T, components string) *stack.Stack {
	t.Helper()
	src := "apiVersion: testbed.dev/v1alpha1\nkind: Stack\nmetadata: {name: s}\nspec:\n  components:" + components + "\n"
	dir := t.TempDir()
	for _, m := range regexp.MustCompile(`manifests: \[(\w+)\.yaml\]`).FindAllStringSubmatch(components, -1) {
		cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + m[1] + "}\n"
		if m[1] == "crs" {
			cm = "apiVersion: example.testbed.dev/v1\nkind: Gadget\nmetadata: {name: g1}\n"
		}
		if err := os.WriteFile(filepath.Join(dir, m[1]+".yaml"), []byte(cm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := stack.Parse("stack.yaml", []byte(src), dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
