package assets

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Each embedded module of the node pins the version its constant names:
// the versions live in one place (node.go), and the modules agree with it.
func TestNodeModulesPinTheirVersions(t *testing.T) {
	pins := map[string]string{
		"k8s":        "k8s.io/kubernetes " + KubernetesVersion,
		"containerd": "github.com/containerd/containerd/v2 " + ContainerdVersion,
		"runc":       "github.com/opencontainers/runc " + RuncVersion,
		"crictl":     "sigs.k8s.io/cri-tools " + CrictlVersion,
		"cni":        "github.com/containernetworking/plugins " + CNIPluginsVersion,
		"coredns":    "github.com/coredns/coredns " + CoreDNSVersion,
		"etcd":       "go.etcd.io/etcd/server/v3 " + NodeEtcdVersion,
	}
	for _, s := range nodeSteps {
		want, ok := pins[s.name]
		if !ok {
			t.Errorf("node step %s: no pinned version in this test", s.name)
			continue
		}
		gomod, err := node.ReadFile("node/mods/" + s.name + "/go.mod.txt")
		if err != nil {
			t.Errorf("node step %s: %v", s.name, err)
			continue
		}
		if !strings.Contains(string(gomod), want) {
			t.Errorf("node/mods/%s/go.mod does not pin %s", s.name, want)
		}
		if _, err := node.ReadFile("node/mods/" + s.name + "/go.sum.txt"); err != nil {
			t.Errorf("node step %s: no go.sum: %v", s.name, err)
		}
		delete(pins, s.name)
	}
	for name := range pins {
		t.Errorf("pinned module %s is not built", name)
	}
}

func TestNodeImageRef(t *testing.T) {
	key := NodeKey()
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(key) || NodeKey() != key {
		t.Errorf("NodeKey() = %q: want 12 hex digits, the same each time", key)
	}
	if want := "testbed.local/kind-node:" + KubernetesVersion + "-" + key; NodeImage() != want {
		t.Errorf("NodeImage() = %q, want %q", NodeImage(), want)
	}
	if debianKey() == "" || !strings.Contains(debianPackages, "systemd") || !strings.Contains(debianPackages, "jq") {
		t.Errorf("debian key %q, packages %q", debianKey(), debianPackages)
	}
}

// The control-plane images are named as kubeadm asks for them, and built
// as their programs need: static ones FROM scratch, the Kubernetes ones on
// Debian with sbin on PATH (kube-proxy runs iptables from /usr/sbin).
func TestControlPlaneImages(t *testing.T) {
	want := map[string]string{
		"kube-apiserver": "registry.k8s.io/kube-apiserver:" + KubernetesVersion,
		"kube-proxy":     "registry.k8s.io/kube-proxy:" + KubernetesVersion,
		"etcd":           "registry.k8s.io/etcd:3.7.0-0",
		"coredns":        "registry.k8s.io/coredns/coredns:" + CoreDNSVersion,
		"pause":          "registry.k8s.io/pause:" + PauseVersion,
	}
	for _, img := range cpImages() {
		df := cpDockerfile(img.bin, img.base)
		if ref, ok := want[img.bin]; ok && img.ref != ref {
			t.Errorf("%s: ref %s, want %s", img.bin, img.ref, ref)
		}
		switch img.bin {
		case "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy":
			if !strings.HasPrefix(df, "FROM "+DebianImage+"\n") || !strings.Contains(df, ":/usr/sbin:") {
				t.Errorf("%s Dockerfile:\n%s", img.bin, df)
			}
		case "etcd":
			if !strings.HasPrefix(df, "FROM scratch\n") || !strings.Contains(df, "/usr/local/bin/etcd") {
				t.Errorf("etcd Dockerfile:\n%s", df)
			}
		case "coredns":
			if df != "FROM scratch\nCOPY coredns /coredns\nENTRYPOINT [\"/coredns\"]\n" {
				t.Errorf("coredns Dockerfile:\n%s", df)
			}
		case "pause":
			if !strings.Contains(df, "USER 65535:65535") {
				t.Errorf("pause Dockerfile:\n%s", df)
			}
		}
	}
	if len(cpImages()) != 7 {
		t.Errorf("%d control-plane images, want 7", len(cpImages()))
	}
}

// The node's own files: kind's entrypoint behind testbed's, containerd
// told to keep OOM scores (no CAP_SYS_RESOURCE) and to use the pause image
// it holds, and a CNI config for the one node.
func TestNodeFiles(t *testing.T) {
	dir := t.TempDir()
	if err := writeTree(node, "node/files", dir, false); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if s := read("etc/containerd/config.toml"); !strings.Contains(s, `sandbox_image = "registry.k8s.io/pause:`+PauseVersion+`"`) ||
		!strings.Contains(s, "restrict_oom_score_adj = true") {
		t.Errorf("containerd config:\n%s", s)
	}
	if s := read("etc/cni/net.d/10-testbed.conflist"); !strings.Contains(s, `"type": "ptp"`) || !strings.Contains(s, `"portmap"`) {
		t.Errorf("CNI config:\n%s", s)
	}
	if s := read("usr/local/bin/testbed-entrypoint"); !strings.Contains(s, "remount,bind,rw") || !strings.Contains(s, `exec "$@"`) {
		t.Errorf("testbed-entrypoint:\n%s", s)
	}
	if !strings.Contains(nodeDockerfile, "FROM "+DebianImage) || !strings.Contains(nodeDockerfile, "systemctl enable kubelet.service containerd.service") {
		t.Errorf("node Dockerfile:\n%s", nodeDockerfile)
	}
}

// fakeDocker writes a docker stand-in that runs script (sh) and returns
// its path.
func fakeDocker(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "docker")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEnsureNodeImage(t *testing.T) {
	ctx := context.Background()
	// The engine has it: nothing is built, and the reference comes back.
	has := fakeDocker(t, `[ "$1 $2" = "image inspect" ] && echo sha256:abc && exit 0; echo "unexpected: $*" >&2; exit 9`)
	ref, err := EnsureNodeImage(ctx, NodeOptions{CacheDir: t.TempDir(), Docker: has})
	if err != nil || ref != NodeImage() {
		t.Errorf("EnsureNodeImage = %q, %v; want %q", ref, err, NodeImage())
	}
	// An engine that does not answer is an error naming it, not a build.
	down := fakeDocker(t, `echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1`)
	_, err = EnsureNodeImage(ctx, NodeOptions{CacheDir: t.TempDir(), Docker: down})
	if err == nil || !strings.Contains(err.Error(), "Cannot connect to the Docker daemon") {
		t.Errorf("EnsureNodeImage with no daemon = %v", err)
	}
	if _, err := BuildNodeImage(ctx, NodeOptions{Docker: has}); err == nil || !strings.Contains(err.Error(), "no cache directory") {
		t.Errorf("BuildNodeImage without a cache directory = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := EnsureNodeImage(cctx, NodeOptions{CacheDir: t.TempDir(), Docker: down}); !errors.Is(err, context.Canceled) {
		t.Errorf("EnsureNodeImage cancelled = %v, want context.Canceled", err)
	}
}

// The node image make test builds passes its own check; an image without
// testbed's key does not.
func TestVerifyNodeImageReal(t *testing.T) {
	ctx := context.Background()
	d := docker{}
	ok, err := d.has(ctx, NodeImage())
	if err != nil {
		t.Skipf("no Docker engine answers: %v", err)
	}
	if !ok {
		t.Skipf("the kind node image %s is not built (`make kind-node`)", NodeImage())
	}
	if err := VerifyNodeImage(ctx, "", NodeImage()); err != nil {
		t.Error(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nLABEL "+keyLabel+"=000000000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := "testbed.local/assets-test/not-a-node:" + NodeKey()
	if err := d.run(ctx, "build", "-q", "-t", ref, dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.run(context.Background(), "rmi", ref) })
	if err := VerifyNodeImage(ctx, "", ref); err == nil || !strings.Contains(err.Error(), `content key "000000000000"`) {
		t.Errorf("VerifyNodeImage of a foreign image = %v", err)
	}
}
