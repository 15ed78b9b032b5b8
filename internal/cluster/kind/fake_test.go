package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// fakeKind is kindAPI and engine in memory: it records every call, keeps
// clusters as kind would (nodes named after the config's roles) and
// images per node, and points every kubeconfig at a test API server.
type fakeKind struct {
	mu       sync.Mutex
	calls    []string
	clusters map[string]*fakeCluster
	// local is the local engine's images: ref -> ID.
	local map[string]string
	// pullable are the images Pull can fetch: ref -> ID.
	pullable map[string]string
	// saved are the archive paths Save was given.
	saved []string
	// stopped are node containers that do not run.
	stopped map[string]string
	// createErr, if set, fails Create after the nodes were made (kind
	// then removes them).
	createErr error
	// createBlocks makes Create wait until its cluster is deleted.
	createBlocks bool
	// checkErr fails the engine's Check.
	checkErr error
	// network: kind's network exists (Create makes it).
	network bool

	server  *httptest.Server
	silence atomic.Bool // the API server answers 500
}

type fakeCluster struct {
	cfg     *v1alpha4.Cluster
	nodes   []*fakeNode
	deleted chan struct{}
}

type fakeNode struct {
	f      *fakeKind
	name   string
	images map[string]string // ref -> ID
}

func newFake(t *testing.T) *fakeKind {
	f := &fakeKind{clusters: map[string]*fakeCluster{}, local: map[string]string{}, pullable: map[string]string{}, stopped: map[string]string{}}
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.silence.Load() {
			http.Error(w, "etcd is gone", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(f.server.Close)
	return f
}

// newProvider returns a Provider on f with opts; StateDir defaults to a
// temp dir.
func newProvider(t *testing.T, f *fakeKind, opts Options) *Provider {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	if opts.NetworkLock == "" {
		// Not the machine's: the fake's network is not docker's.
		opts.NetworkLock = filepath.Join(t.TempDir(), "network.lock")
	}
	if opts.Runtime == "" {
		opts.Runtime = RuntimeDocker
	}
	p := &Provider{opts: opts, api: f, eng: f, probe: probeAPIServer}
	p.init()
	t.Cleanup(func() { p.Close() })
	return p
}

func (f *fakeKind) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the calls so far.
func (f *fakeKind) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// count returns how many calls start with prefix.
func (f *fakeKind) count(prefix string) int {
	n := 0
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeKind) kubeconfig() string {
	return `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + f.server.URL + `"}}]
users: [{name: u, user: {}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
}

func (f *fakeKind) Create(name string, cfg *v1alpha4.Cluster, kubeconfigPath string, wait time.Duration) error {
	f.mu.Lock()
	f.record("create %s kubeconfig=%s", name, kubeconfigPath)
	f.network = true
	if _, ok := f.clusters[name]; ok {
		f.mu.Unlock()
		return fmt.Errorf("node(s) already exist for a cluster with the name %q", name)
	}
	c := &fakeCluster{cfg: cfg, deleted: make(chan struct{})}
	workers := 0
	for _, n := range cfg.Nodes {
		nn := name + "-control-plane"
		if n.Role == v1alpha4.WorkerRole {
			workers++
			nn = name + "-worker"
			if workers > 1 {
				nn += fmt.Sprint(workers)
			}
		}
		c.nodes = append(c.nodes, &fakeNode{f: f, name: nn, images: map[string]string{}})
	}
	f.clusters[name] = c
	blocks, fail := f.createBlocks, f.createErr
	f.mu.Unlock()

	if blocks {
		<-c.deleted
		return errors.New("node container vanished")
	}
	if fail != nil {
		_ = f.Delete(name, kubeconfigPath)
		return fail
	}
	return os.WriteFile(kubeconfigPath, []byte(f.kubeconfig()), 0o600)
}

func (f *fakeKind) Delete(name, kubeconfigPath string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("delete %s kubeconfig=%s", name, kubeconfigPath)
	if c, ok := f.clusters[name]; ok {
		close(c.deleted)
		delete(f.clusters, name)
	}
	return nil
}

func (f *fakeKind) List() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.clusters {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

func (f *fakeKind) KubeConfig(name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("kubeconfig %s", name)
	if _, ok := f.clusters[name]; !ok {
		return "", fmt.Errorf("no cluster %s", name)
	}
	return f.kubeconfig(), nil
}

func (f *fakeKind) Nodes(name string) ([]node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []node
	if c, ok := f.clusters[name]; ok {
		for _, n := range c.nodes {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f *fakeKind) CollectLogs(name, dir string) error {
	nodes, _ := f.Nodes(name)
	f.mu.Lock()
	f.record("logs %s", name)
	f.mu.Unlock()
	for _, n := range nodes {
		if err := os.MkdirAll(filepath.Join(dir, n.Name()), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, n.Name(), "kubelet.log"), []byte("kubelet started\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// config returns the config cluster name was created with.
func (f *fakeKind) config(name string) *v1alpha4.Cluster {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clusters[name]; ok {
		return c.cfg
	}
	return nil
}

// node returns a node by name.
func (f *fakeKind) node(name string) *fakeNode {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.clusters {
		for _, n := range c.nodes {
			if n.name == name {
				return n
			}
		}
	}
	return nil
}

func (f *fakeKind) Name() string { return RuntimeDocker }

func (f *fakeKind) Check(context.Context) error { return f.checkErr }

func (f *fakeKind) RemoveUnusedNetwork(_ context.Context, name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.clusters) > 0 || !f.network {
		return false, nil
	}
	f.record("network rm %s", name)
	f.network = false
	return true, nil
}

// NetworkExists: kind makes its network with the first cluster.
func (f *fakeKind) NetworkExists(context.Context, string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.network, nil
}

func (f *fakeKind) ImageID(_ context.Context, ref string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.local[ref]; ok {
		return id, nil
	}
	return "", fmt.Errorf("docker has no image %s: %w", ref, ErrNoLocalImage)
}

func (f *fakeKind) Pull(_ context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("pull %s", ref)
	id, ok := f.pullable[ref]
	if !ok {
		return fmt.Errorf("docker pull %s: no such host", ref)
	}
	f.local[ref] = id
	return nil
}

func (f *fakeKind) Save(_ context.Context, ref, path string) error {
	f.mu.Lock()
	f.record("save %s", ref)
	f.saved = append(f.saved, path)
	id := f.local[ref]
	f.mu.Unlock()
	return os.WriteFile(path, []byte(ref+" "+id), 0o600)
}

func (f *fakeKind) State(_ context.Context, container string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.stopped[container]; ok {
		return st, nil
	}
	for _, c := range f.clusters {
		for _, n := range c.nodes {
			if n.name == container {
				return "running", nil
			}
		}
	}
	return "", fmt.Errorf("No such container: %s", container)
}

func (n *fakeNode) Name() string { return n.name }

func (n *fakeNode) ImageID(ref string) (string, error) {
	n.f.mu.Lock()
	defer n.f.mu.Unlock()
	n.f.record("inspect %s %s", n.name, ref)
	if id, ok := n.images[ref]; ok {
		return id, nil
	}
	return "", errors.New("crictl inspecti: image not found")
}

func (n *fakeNode) LoadImage(archive io.Reader) error {
	data, err := io.ReadAll(archive)
	if err != nil {
		return err
	}
	ref, id, _ := strings.Cut(string(data), " ")
	n.f.mu.Lock()
	defer n.f.mu.Unlock()
	n.f.record("load %s %s", n.name, ref)
	n.images[ref] = id
	return nil
}
