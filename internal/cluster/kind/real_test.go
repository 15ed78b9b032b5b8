package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/discovery"
	"sigs.k8s.io/kind/pkg/apis/config/defaults"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/cluster"
)

// nodeImageEnv names a kind node image for TestRealCluster.
const nodeImageEnv = "TESTBED_KIND_NODE_IMAGE"

// usable returns the container tool called name when it can run
// containers here; it skips t, saying why, when it cannot.
func usable(t *testing.T, name string) cli {
	t.Helper()
	c := cli{bin: name}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Check(ctx); err != nil {
		t.Skipf("%s is not usable here: %v", name, err)
	}
	return c
}

// buildScratch builds an image FROM scratch holding one file of content
// with tool and tags it ref; it is removed when t ends.
func buildScratch(t *testing.T, tool, ref, content string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY hello.txt /\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "build", "-q", "-t", ref, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("%s build: %v\n%s", tool, err, out)
	}
	t.Cleanup(func() { _ = exec.Command(tool, "rmi", "-f", ref).Run() })
}

// The container tools themselves: image IDs, saving, a missing image and
// a missing container, on docker and on podman where they work.
func TestRealEngine(t *testing.T) {
	for _, tool := range []string{RuntimeDocker, RuntimePodman} {
		t.Run(tool, func(t *testing.T) {
			c := usable(t, tool)
			ctx := context.Background()
			ref := fmt.Sprintf("testbed.local/kind-test/hello:%d", time.Now().UnixNano())
			buildScratch(t, tool, ref, ref)
			id, err := c.ImageID(ctx, ref)
			if err != nil || strings.TrimPrefix(id, "sha256:") == "" {
				t.Fatalf("ImageID = %q, %v", id, err)
			}
			archive := filepath.Join(t.TempDir(), "image.tar")
			if err := c.Save(ctx, ref, archive); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(archive); err != nil || fi.Size() == 0 {
				t.Errorf("archive: %v", err)
			}
			if _, err := c.ImageID(ctx, ref+"-missing"); !errors.Is(err, ErrNoLocalImage) {
				t.Errorf("ImageID of a missing image = %v, want ErrNoLocalImage", err)
			}
			if _, err := c.State(ctx, "testbed-no-such-container"); err == nil {
				t.Error("State of a missing container succeeded")
			}
		})
	}
}

// nodeImage returns a kind node image docker has: $TESTBED_KIND_NODE_IMAGE,
// or testbed's own (`testbed assets build --kind-node`, which make test
// runs first), or kind's default (by digest, then by tag). It skips t,
// saying why, when there is none.
func nodeImage(t *testing.T) string {
	t.Helper()
	candidates := []string{assets.NodeImage(), defaults.Image, strings.SplitN(defaults.Image, "@", 2)[0]}
	if img := os.Getenv(nodeImageEnv); img != "" {
		candidates = []string{img}
	}
	for _, img := range candidates {
		if exec.Command("docker", "image", "inspect", img).Run() == nil {
			return img
		}
	}
	t.Skipf("no kind node image in docker (looked for %s): build testbed's with `testbed assets build --kind-node` (make test does), or set %s to use another", strings.Join(candidates, ", "), nodeImageEnv)
	return ""
}

// A real kind cluster: created with an auto port, reached through its
// kubeconfig, reused, loaded with an image (then skipped), its node logs
// exported, and deleted.
func TestRealCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a real kind cluster takes minutes")
	}
	usable(t, RuntimeDocker)
	image := nodeImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stack := fmt.Sprintf("kind-test-%d", time.Now().Unix()%100000)
	opts := Options{
		StateDir:  t.TempDir(),
		NodeImage: image,
		Ports:     []Port{{Name: "web", NodePort: 30080}},
		Progress:  func(ev Event) { t.Logf("%s %s", ev.Cluster, ev.Message) },
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Delete(context.Background(), stack); err != nil && !errors.Is(err, cluster.ErrNotFound) {
			t.Logf("cleanup: %v", err)
		}
	})
	networkBefore, err := p.eng.NetworkExists(ctx, kindNetwork)
	if err != nil {
		t.Fatal(err)
	}
	c, created, err := p.Ensure(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false")
	}
	if c.(*Cluster).HostPorts()["web"] == 0 {
		t.Error("no host port for web")
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kind cluster %s: Kubernetes %s", c.(*Cluster).Name(), v.GitVersion)

	if _, created, err := p.Ensure(ctx, stack); err != nil || created {
		t.Errorf("second Ensure: created %v, %v; want the cluster reused", created, err)
	}

	ref := fmt.Sprintf("testbed.local/%s/hello:1", stack)
	buildScratch(t, RuntimeDocker, ref, "hello")
	ld, err := p.LoadImage(ctx, stack, ref)
	if err != nil || ld.Unchanged() {
		t.Fatalf("LoadImage = %+v, %v; want it loaded", ld, err)
	}
	ld, err = p.LoadImage(ctx, stack, ref)
	if err != nil || !ld.Unchanged() {
		t.Errorf("second LoadImage = %+v, %v; want it skipped", ld, err)
	}

	logs := t.TempDir()
	if err := p.ExportNodeLogs(ctx, stack, logs); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(logs, ClusterName(stack)+"-control-plane", "kubelet.log")); err != nil {
		t.Errorf("no kubelet log: %v", err)
	}

	if err := p.Delete(ctx, stack); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Find(ctx, stack); err == nil {
		t.Error("Find after Delete succeeded")
	}
	assertNoIdleNetwork(t, p, networkBefore)
}

// assertNoIdleNetwork fails t when kind's network, made by a testbed
// create (the marker says so, or it was not there before this test's), is
// left with no container on it. It holds the network lock, so that no cluster of
// another test or process is being created meanwhile.
func assertNoIdleNetwork(t *testing.T, p *Provider, existedBefore bool) {
	t.Helper()
	f, err := os.OpenFile(p.opts.NetworkLock, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("docker", "network", "inspect", "--format", "{{len .Containers}}", kindNetwork).CombinedOutput()
	_, ours := os.Stat(p.netLock.ours())
	if err == nil && strings.TrimSpace(string(out)) == "0" && (ours == nil || !existedBefore) {
		t.Errorf("kind's network %q, which a testbed create made, is left with no container on it", kindNetwork)
	}
}

// kind's own failure path, on docker, with no node image: a node image
// that cannot be pulled fails Ensure, and nothing is left behind: no
// cluster, no state, no port claim, no ~/.kube/config.
func TestRealCreateFailureLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: kind retries the pull for about 10 s")
	}
	usable(t, RuntimeDocker)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", "")
	stack := fmt.Sprintf("kind-fail-%d", time.Now().Unix()%100000)
	p, err := New(Options{
		StateDir:  t.TempDir(),
		NodeImage: "testbed.invalid/kind-node:none",
		Ports:     []Port{{Name: "web", NodePort: 30080, HostPort: freeTestPort(t)}, {Name: "api", NodePort: 30081}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, _, err = p.Ensure(ctx, stack)
	if err == nil || !strings.Contains(err.Error(), "testbed.invalid/kind-node:none") {
		t.Fatalf("Ensure = %v, want it to name the node image", err)
	}
	t.Logf("Ensure: %v", err)
	assertNothingLeft(t, p, ClusterName(stack))
	if _, err := os.Stat(filepath.Join(home, ".kube")); !os.IsNotExist(err) {
		t.Errorf("~/.kube was touched: %v", err)
	}
	if err := p.Delete(ctx, stack); !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("Delete = %v, want ErrNotFound", err)
	}
}
