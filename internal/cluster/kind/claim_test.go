package kind

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
)

// The ports ClaimPorts returns are the ports the cluster Ensure creates
// maps, and those of the running cluster on a later run; Close lets go
// of a claim whose cluster was never made.
func TestClaimPortsAreTheClustersPorts(t *testing.T) {
	f := newFake(t)
	state := t.TempDir()
	fixed := freeTestPort(t)
	opts := Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080, HostPort: fixed}, {Name: "api", NodePort: 30081}}}
	ctx := context.Background()

	unused := newProvider(t, f, opts)
	claimed, err := unused.ClaimPorts(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if claimed["web"] != fixed || claimed["api"] == 0 {
		t.Fatalf("claimed %v, want web=%d and a free port for api", claimed, fixed)
	}
	if again, _ := unused.ClaimPorts(ctx, "shop"); !maps.Equal(again, claimed) {
		t.Errorf("a second ClaimPorts returned %v, want %v", again, claimed)
	}
	unused.Close()
	if left := lockFiles(t, filepath.Join(state, "ports")); len(left) > 0 {
		t.Errorf("Close left %q for a cluster never made", left)
	}

	p := newProvider(t, f, opts)
	claimed, err = p.ClaimPorts(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	other := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "http", NodePort: 30080, HostPort: fixed}}})
	var conflict *PortConflictError
	if _, err := other.ClaimPorts(ctx, "other"); !errors.As(err, &conflict) || conflict.Stack != "shop" || conflict.Name != "http" {
		t.Errorf("another stack's ClaimPorts of port %d: %v, want a *PortConflictError naming stack shop", fixed, err)
	}
	c, _, err := p.Ensure(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.(*Cluster).HostPorts(); !maps.Equal(got, claimed) {
		t.Errorf("the cluster maps %v, ClaimPorts said %v", got, claimed)
	}
	mapped := f.config("testbed-shop").Nodes[0].ExtraPortMappings
	if len(mapped) != 2 || int(mapped[1].HostPort) != claimed["api"] {
		t.Errorf("port mappings %+v, want the claimed ports %v", mapped, claimed)
	}
	p.Close()
	if left := lockFiles(t, filepath.Join(state, "ports")); len(left) != 2 {
		t.Errorf("lock files %q: the running cluster keeps its 2 claims", left)
	}

	rerun := newProvider(t, f, opts)
	if again, err := rerun.ClaimPorts(ctx, "shop"); err != nil || !maps.Equal(again, claimed) {
		t.Errorf("ClaimPorts of the running cluster: %v, %v, want %v", again, err, claimed)
	}
	if _, created, err := rerun.Ensure(ctx, "shop"); err != nil || created {
		t.Errorf("Ensure: created %v, %v: want the running cluster", created, err)
	}
	rerun.Close()
	if err := rerun.Delete(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if left := lockFiles(t, filepath.Join(state, "ports")); len(left) > 0 {
		t.Errorf("Delete left %q", left)
	}
}

// Two runs of one stack with their own instances get clusters of their
// own; without one the cluster is testbed-STACK.
func TestClusterNameInstance(t *testing.T) {
	a := &Provider{opts: Options{Instance: "a1b2c3"}}
	b := &Provider{opts: Options{Instance: "d4e5f6"}}
	plain := &Provider{}
	if got := plain.clusterName("shop"); got != "testbed-shop" {
		t.Errorf("no instance: %q", got)
	}
	if x, y := a.clusterName("shop"), b.clusterName("shop"); x == y || !strings.HasPrefix(x, "testbed-shop-") {
		t.Errorf("instances: %q and %q", x, y)
	}
}
