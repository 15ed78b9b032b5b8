package kind

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sigs.k8s.io/kind/pkg/apis/config/defaults"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/kubetestbed/testbed/internal/cluster"
)

// freeTestPort returns a port nothing listens on.
func freeTestPort(t *testing.T) int {
	t.Helper()
	port, err := ephemeralPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// lockFiles returns the names of the lock files in dir.
func lockFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestEnsureCreatesThenReuses(t *testing.T) {
	f := newFake(t)
	state := t.TempDir()
	fixed := freeTestPort(t)
	opts := Options{
		StateDir:  state,
		NodeImage: "kindest/node:v1.37.0",
		Mounts:    []Mount{{HostPath: "/src", ContainerPath: "/src"}},
		Ports:     []Port{{Name: "web", NodePort: 30080, HostPort: fixed}, {Name: "api", NodePort: 30081}},
	}
	var events []string
	opts.Progress = func(ev Event) { events = append(events, ev.Message) }
	p := newProvider(t, f, opts)
	c, created, err := p.Ensure(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false for a new cluster")
	}
	kc := filepath.Join(state, "clusters", "testbed-shop", "kubeconfig")
	if c.KubeconfigPath() != kc {
		t.Errorf("kubeconfig %s, want %s", c.KubeconfigPath(), kc)
	}
	if _, err := os.Stat(kc); err != nil {
		t.Errorf("no kubeconfig: %v", err)
	}
	if got := f.Calls(); len(got) != 1 || got[0] != "create testbed-shop kubeconfig="+kc {
		t.Errorf("calls %q, want one create with the state directory's kubeconfig", got)
	}
	ports := c.(*Cluster).HostPorts()
	if ports["web"] != fixed || ports["api"] == 0 || ports["api"] == fixed {
		t.Errorf("host ports %v: want web=%d and a free port for api", ports, fixed)
	}
	maps := f.config("testbed-shop").Nodes[0].ExtraPortMappings
	if len(maps) != 2 || int(maps[0].HostPort) != fixed || maps[0].ContainerPort != 30080 || int(maps[1].HostPort) != ports["api"] {
		t.Errorf("port mappings %+v, want the claimed host ports", maps)
	}
	if f.config("testbed-shop").Nodes[0].Image != "kindest/node:v1.37.0" {
		t.Error("the node image did not reach kind")
	}
	if _, err := os.Stat(filepath.Join(state, "clusters", "testbed-shop", "kind-config.yaml")); err != nil {
		t.Errorf("the generated config is not kept: %v", err)
	}
	if len(events) == 0 || !strings.Contains(events[0], "creating kind cluster testbed-shop on docker") {
		t.Errorf("progress %q", events)
	}
	rc, err := c.RESTConfig()
	if err != nil || rc.Host != f.server.URL {
		t.Errorf("RESTConfig = %v, %v", rc, err)
	}

	// The run ends; the next run, in a new Provider, reuses the cluster
	// and its ports, which its node container listens on.
	p.Close()
	proxy, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(fixed))
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	p2 := newProvider(t, f, opts)
	c2, created, err := p2.Ensure(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created = true for a running cluster")
	}
	if f.count("create") != 1 {
		t.Errorf("calls %q: the running cluster was created again", f.Calls())
	}
	if got := c2.(*Cluster).HostPorts(); got["web"] != fixed || got["api"] != ports["api"] {
		t.Errorf("reused host ports %v, want %v", got, ports)
	}
	found, err := p2.Find(context.Background(), "shop")
	if err != nil || found.KubeconfigPath() != kc {
		t.Errorf("Find = %v, %v", found, err)
	}
	if _, err := p2.Find(context.Background(), "other"); !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("Find of no cluster: %v, want ErrNotFound", err)
	}
}

func TestEnsureRefusesAChangedSpec(t *testing.T) {
	f := newFake(t)
	state := t.TempDir()
	p := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080}}})
	if _, _, err := p.Ensure(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p2 := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30090}}, NodeImage: "kindest/node:v2"})
	_, _, err := p2.Ensure(context.Background(), "shop")
	if err == nil || !strings.Contains(err.Error(), "was made for another spec") || !strings.Contains(err.Error(), "ports") || !strings.Contains(err.Error(), "node image") {
		t.Errorf("Ensure = %v, want it to name what changed", err)
	}
	if f.count("create") != 1 || f.count("delete") != 0 {
		t.Errorf("calls %q: a changed stack must not touch the running cluster", f.Calls())
	}
}

func TestEnsureRemakesAStoppedCluster(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f, Options{Ports: []Port{{Name: "web", NodePort: 30080}}})
	if _, _, err := p.Ensure(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.stopped["testbed-shop-control-plane"] = "exited"
	f.mu.Unlock()
	var events []string
	p.opts.Progress = func(ev Event) { events = append(events, ev.Message) }
	_, created, err := p.Ensure(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !created || f.count("create") != 2 || f.count("delete") != 1 {
		t.Errorf("created %v, calls %q: want the stopped cluster deleted and made again", created, f.Calls())
	}
	if !strings.Contains(strings.Join(events, "\n"), "node container testbed-shop-control-plane is exited, not running: making it again") {
		t.Errorf("progress %q does not say why the cluster is made again", events)
	}
}

func TestEnsureRefusesAForeignCluster(t *testing.T) {
	f := newFake(t)
	f.Create("testbed-shop", mustConfig(t), filepath.Join(t.TempDir(), "kc"), 0)
	p := newProvider(t, f, Options{})
	_, _, err := p.Ensure(context.Background(), "shop")
	if err == nil || !strings.Contains(err.Error(), "testbed has no state for it") || !strings.Contains(err.Error(), "kind delete cluster --name testbed-shop") {
		t.Errorf("Ensure = %v", err)
	}
}

func mustConfig(t *testing.T) *v1alpha4.Cluster {
	cfg, err := clusterConfig("", nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestDelete(t *testing.T) {
	f := newFake(t)
	state := t.TempDir()
	netLock := filepath.Join(t.TempDir(), "network.lock") // the machine's, shared by every process
	p := newProvider(t, f, Options{StateDir: state, NetworkLock: netLock, Ports: []Port{{Name: "web", NodePort: 30080}, {Name: "api", NodePort: 30081, HostPort: freeTestPort(t)}}})
	if _, _, err := p.Ensure(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	if n := len(lockFiles(t, filepath.Join(state, "ports"))); n != 2 {
		t.Fatalf("%d lock files, want 2", n)
	}
	p.Close() // a later `down` runs in another process
	p2 := newProvider(t, f, Options{StateDir: state, NetworkLock: netLock})
	if err := p2.Delete(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(state, "clusters", "testbed-shop", "kubeconfig")
	if !strings.Contains(strings.Join(f.Calls(), "\n"), "delete testbed-shop kubeconfig="+kc) {
		t.Errorf("calls %q, want a delete with the state directory's kubeconfig", f.Calls())
	}
	assertNothingLeft(t, p2, "testbed-shop")
	if calls := f.Calls(); calls[len(calls)-1] != "network rm kind" {
		t.Errorf("calls %q, want kind's network removed after the last cluster", calls)
	}

	// A network that was there before testbed's first cluster stays.
	f2 := newFake(t)
	f2.network = true
	p3 := newProvider(t, f2, Options{})
	if _, _, err := p3.Ensure(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	if err := p3.Delete(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := f2.NetworkExists(context.Background(), kindNetwork); !ok || slices.Contains(f2.Calls(), "network rm kind") {
		t.Errorf("calls %q: a network testbed did not make was removed", f2.Calls())
	}
	if err := p2.Delete(context.Background(), "shop"); !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
}

// Nodes that kind put on a network of the user's leave it, and kind's own,
// alone.
func TestDeleteLeavesTheUsersNetwork(t *testing.T) {
	t.Setenv(networkEnv, "mine")
	f := newFake(t)
	p := newProvider(t, f, Options{})
	if _, _, err := p.Ensure(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	if n := f.count("network rm"); n != 0 {
		t.Errorf("calls %q, want no network removed", f.Calls())
	}
}

func TestFailedCreateLeavesNothing(t *testing.T) {
	f := newFake(t)
	f.createErr = errors.New("kubeadm init failed")
	state := t.TempDir()
	fixed := freeTestPort(t)
	opts := Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080, HostPort: fixed}, {Name: "api", NodePort: 30081}}}
	p := newProvider(t, f, opts)
	_, _, err := p.Ensure(context.Background(), "shop")
	if err == nil || !strings.Contains(err.Error(), "kind cluster testbed-shop: create on docker: kubeadm init failed") {
		t.Fatalf("Ensure = %v", err)
	}
	assertNothingLeft(t, p, "testbed-shop")
	// The port is free for the next stack.
	f.createErr = nil
	other := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "www", NodePort: 30080, HostPort: fixed}}})
	if _, _, err := other.Ensure(context.Background(), "blog"); err != nil {
		t.Errorf("the failed run's port is still claimed: %v", err)
	}
}

// assertNothingLeft fails t when kind cluster kname, its state or any
// port claim is left.
func assertNothingLeft(t *testing.T, p *Provider, kname string) {
	t.Helper()
	if found, err := p.exists(kname); err != nil || found {
		t.Errorf("cluster %s left: %v, %v", kname, found, err)
	}
	if _, err := os.Stat(p.dir(kname)); !os.IsNotExist(err) {
		t.Errorf("state directory left: %v", err)
	}
	if left := lockFiles(t, p.opts.LockDir); len(left) != 0 {
		t.Errorf("port claims left: %v", left)
	}
}

func TestCancelledCreateLeavesNothing(t *testing.T) {
	defer func(d time.Duration) { abortInterval = d }(abortInterval)
	abortInterval = 10 * time.Millisecond
	f := newFake(t)
	f.createBlocks = true
	state := t.TempDir()
	p := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080}}})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := p.Ensure(ctx, "shop")
		errc <- err
	}()
	waitFor(t, func() bool { return f.count("create") == 1 })
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Ensure = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ensure did not return after ctx ended")
	}
	assertNothingLeft(t, p, "testbed-shop")
}

// waitFor waits up to 5 s for cond.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPortConflicts(t *testing.T) {
	t.Run("a port a starting run holds", func(t *testing.T) {
		f := newFake(t)
		f.createBlocks = true
		state := t.TempDir()
		fixed := freeTestPort(t)
		a := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080, HostPort: fixed}}})
		go a.Ensure(context.Background(), "a")
		waitFor(t, func() bool { return f.count("create") == 1 })
		defer a.Delete(context.Background(), "a")

		b := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "www", NodePort: 30090, HostPort: fixed}}})
		_, _, err := b.Ensure(context.Background(), "b")
		var pc *PortConflictError
		if !errors.As(err, &pc) || !pc.Held || pc.Stack != "a" || pc.Port != fixed {
			t.Fatalf("Ensure = %v, want a *PortConflictError naming stack a", err)
		}
		want := "host port " + strconv.Itoa(fixed) + ` (port "www") is held by a run of stack "a" (kind cluster testbed-a`
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q, want it to contain %q", err, want)
		}
		if f.count("create testbed-b") != 0 {
			t.Error("a cluster was created despite the conflict")
		}
	})

	t.Run("a port a running stack uses, then frees", func(t *testing.T) {
		f := newFake(t)
		state := t.TempDir()
		fixed := freeTestPort(t)
		a := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080, HostPort: fixed}}})
		if _, _, err := a.Ensure(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		a.Close() // the run of a ended; its cluster runs on
		b := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080, HostPort: fixed}}})
		_, _, err := b.Ensure(context.Background(), "b")
		var pc *PortConflictError
		if !errors.As(err, &pc) || pc.Held || pc.Stack != "a" {
			t.Fatalf("Ensure = %v, want a conflict with the running stack a", err)
		}
		if !strings.Contains(err.Error(), `is used by stack "a" (its kind cluster testbed-a is running)`) {
			t.Errorf("error %q", err)
		}
		if f.count("create testbed-b") != 0 {
			t.Error("a cluster was created despite the conflict")
		}
		if err := a.Delete(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Ensure(context.Background(), "b"); err != nil {
			t.Errorf("after stack a is deleted: %v", err)
		}
	})

	t.Run("a port another program listens on", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		f := newFake(t)
		p := newProvider(t, f, Options{Ports: []Port{{Name: "web", NodePort: 30080, HostPort: port}}})
		_, _, err = p.Ensure(context.Background(), "a")
		if err == nil || !strings.Contains(err.Error(), "host port "+strconv.Itoa(port)+` (port "web") is in use by another program on 127.0.0.1`) {
			t.Errorf("Ensure = %v", err)
		}
		if len(f.Calls()) != 0 {
			t.Errorf("calls %q, want none", f.Calls())
		}
	})

	t.Run("one port twice in a stack", func(t *testing.T) {
		f := newFake(t)
		port := freeTestPort(t)
		p := newProvider(t, f, Options{Ports: []Port{{Name: "a", NodePort: 30080, HostPort: port}, {Name: "b", NodePort: 30081, HostPort: port}}})
		_, _, err := p.Ensure(context.Background(), "a")
		if err == nil || !strings.Contains(err.Error(), `ports "a" and "b" both ask for host port`) {
			t.Errorf("Ensure = %v", err)
		}
		if left := lockFiles(t, p.opts.LockDir); len(left) != 0 {
			t.Errorf("claims left: %v", left)
		}
	})

	t.Run("the claim of a cluster deleted behind testbed's back", func(t *testing.T) {
		f := newFake(t)
		state := t.TempDir()
		fixed := freeTestPort(t)
		a := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080, HostPort: fixed}}})
		if _, _, err := a.Ensure(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		a.Close()
		f.Delete("testbed-a", "") // kind delete cluster
		b := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080, HostPort: fixed}}})
		if _, _, err := b.Ensure(context.Background(), "b"); err != nil {
			t.Errorf("Ensure = %v, want the stale claim taken over", err)
		}
	})
}

func TestAutoPortsNeverCollide(t *testing.T) {
	f := newFake(t)
	state := t.TempDir()
	first, second := freeTestPort(t), freeTestPort(t)
	for first == second {
		second = freeTestPort(t)
	}
	// The system offers both runs the same port first.
	offers := map[string][]int{"a": {first}, "b": {first, second}}
	var got []int
	for _, stack := range []string{"a", "b"} {
		p := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080}}})
		queue := offers[stack]
		p.ports.ephemeral = func() (int, error) {
			port := queue[0]
			queue = queue[1:]
			return port, nil
		}
		c, _, err := p.Ensure(context.Background(), stack)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.(*Cluster).HostPorts()["web"])
	}
	if got[0] != first || got[1] != second {
		t.Errorf("auto ports %v, want [%d %d]", got, first, second)
	}
	for _, port := range got {
		o, err := readOwner(filepath.Join(state, "ports", strconv.Itoa(port)+".lock"))
		if err != nil || o.Cluster == "" || o.PID != os.Getpid() {
			t.Errorf("claim of %d: %+v, %v", port, o, err)
		}
	}
}

func TestPrepare(t *testing.T) {
	f := newFake(t)
	f.checkErr = errors.New("Cannot connect to the Docker daemon")
	p := newProvider(t, f, Options{})
	if err := p.Prepare(context.Background()); err == nil || !strings.Contains(err.Error(), "kind provider needs docker: Cannot connect") {
		t.Errorf("Prepare = %v", err)
	}
	err := cli{bin: "testbed-no-such-tool"}.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "testbed-no-such-tool is not installed") {
		t.Errorf("Check of a missing tool = %v", err)
	}
}

// An empty node image is kind's default when the engine has it, else the
// one DefaultNodeImage gives (testbed's, built offline), asked once; its
// failure fails Prepare naming both.
func TestPrepareResolvesTheNodeImage(t *testing.T) {
	ctx := context.Background()
	calls := 0
	own := func(context.Context) (string, error) { calls++; return "testbed.local/kind-node:v1-abc", nil }

	f := newFake(t)
	p := newProvider(t, f, Options{DefaultNodeImage: own})
	if err := p.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Ensure(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if got := f.config(ClusterName("web")).Nodes[0].Image; got != "testbed.local/kind-node:v1-abc" || calls != 1 {
		t.Errorf("node image %q after %d calls; want testbed's, asked once", got, calls)
	}

	f = newFake(t)
	f.local[defaults.Image] = "sha256:kind"
	p = newProvider(t, f, Options{DefaultNodeImage: own})
	if err := p.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Ensure(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if got := f.config(ClusterName("web")).Nodes[0].Image; got != "" || calls != 1 {
		t.Errorf("node image %q with kind's default here (%d calls); want kind's default", got, calls)
	}

	f = newFake(t)
	p = newProvider(t, f, Options{NodeImage: "mine:1", DefaultNodeImage: own})
	if err := p.Prepare(ctx); err != nil || calls != 1 {
		t.Errorf("Prepare with a node image = %v (%d calls); want it used as is", err, calls)
	}

	f = newFake(t)
	p = newProvider(t, f, Options{DefaultNodeImage: func(context.Context) (string, error) { return "", errors.New("debootstrap is needed") }})
	err := p.Prepare(ctx)
	if err == nil || !strings.Contains(err.Error(), defaults.Image) || !strings.Contains(err.Error(), "no such host") || !strings.Contains(err.Error(), "debootstrap is needed") {
		t.Errorf("Prepare = %v; want kind's image, the pull's error and the build's named", err)
	}
}

// Where a registry answers (a laptop), kind's default is pulled, as kind
// would, rather than testbed's own image built; where testbed's own is at
// hand (the machines with no registry), it is used without a pull.
func TestPrepareNodeImagePullOrOwn(t *testing.T) {
	ctx := context.Background()
	calls := 0
	own := func(context.Context) (string, error) { calls++; return "testbed.local/kind-node:v1-abc", nil }

	f := newFake(t)
	f.pullable[defaults.Image] = "sha256:kind"
	p := newProvider(t, f, Options{DefaultNodeImage: own, OwnNodeImage: "testbed.local/kind-node:v1-abc"})
	if err := p.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Ensure(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if got := f.config(ClusterName("web")).Nodes[0].Image; got != "" || calls != 0 || f.count("pull "+defaults.Image) != 1 {
		t.Errorf("node image %q, %d builds, calls %q; want kind's default pulled, nothing built", got, calls, f.Calls())
	}

	f = newFake(t)
	f.pullable[defaults.Image] = "sha256:kind"
	f.local["testbed.local/kind-node:v1-abc"] = "sha256:own"
	p = newProvider(t, f, Options{DefaultNodeImage: own, OwnNodeImage: "testbed.local/kind-node:v1-abc"})
	if err := p.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Ensure(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if got := f.config(ClusterName("web")).Nodes[0].Image; got != "testbed.local/kind-node:v1-abc" || calls != 0 || f.count("pull") != 0 {
		t.Errorf("node image %q, %d builds, calls %q; want testbed's own, at hand, no pull", got, calls, f.Calls())
	}
}

// A stack that names no node image reuses its running cluster in the next
// run, which asks for ports before the image is settled (as Up does), even
// when testbed's node image has been rebuilt meanwhile.
func TestEnsureReusesTheClusterOfASettledImage(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	state := t.TempDir()
	ports := []Port{{Name: "web", NodePort: 30080}}
	own := func(ref string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return ref, nil }
	}
	p := newProvider(t, f, Options{StateDir: state, Ports: ports, DefaultNodeImage: own("testbed.local/kind-node:v1-abc")})
	if err := p.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Ensure(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	p.Close() // the next `up` runs in another process

	p2 := newProvider(t, f, Options{StateDir: state, Ports: ports, DefaultNodeImage: own("testbed.local/kind-node:v1-def")})
	if _, err := p2.ClaimPorts(ctx, "shop"); err != nil {
		t.Fatalf("ClaimPorts of the running cluster = %v", err)
	}
	if err := p2.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if _, created, err := p2.Ensure(ctx, "shop"); err != nil || created {
		t.Errorf("Ensure = created %v, %v; want the running cluster reused", created, err)
	}
	if f.count("create") != 1 {
		t.Errorf("calls %q, want one create", f.Calls())
	}
	st, err := p2.readState(ClusterName("shop"))
	if err != nil || st.NodeImage != "testbed.local/kind-node:v1-abc" || st.Spec.NodeImage != "" {
		t.Errorf("state %+v, %v; want the image asked for (none) and the one the nodes run", st, err)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Options{StateDir: t.TempDir(), Runtime: "nerdctl"}); err == nil || !strings.Contains(err.Error(), `runtime "nerdctl": want docker or podman`) {
		t.Errorf("New with nerdctl: %v", err)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without a state directory succeeded")
	}
	for _, rt := range []string{"", RuntimeDocker, RuntimePodman} {
		p, err := New(Options{StateDir: t.TempDir(), Runtime: rt})
		if err != nil {
			t.Fatal(err)
		}
		want := rt
		if want == "" {
			want = RuntimeDocker
		}
		if p.Runtime() != want || p.Name() != "kind" {
			t.Errorf("runtime %q: provider %s on %s", rt, p.Name(), p.Runtime())
		}
	}
}

func TestExportNodeLogs(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f, Options{})
	dir := t.TempDir()
	if err := p.ExportNodeLogs(context.Background(), "shop", dir); !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("ExportNodeLogs of no cluster = %v", err)
	}
	if _, _, err := p.Ensure(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	if err := p.ExportNodeLogs(context.Background(), "shop", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "testbed-shop-control-plane", "kubelet.log")); err != nil {
		t.Errorf("no kubelet log: %v", err)
	}
}
