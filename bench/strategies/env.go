package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
)

// env is what every round needs: the sim control plane, the sim gate, the
// tools the strategies run, and a scratch directory.
type env struct {
	root     string // the module's directory
	tmp      string // removed at exit
	assets   *assets.Set
	binDir   string
	cacheDir string
	gate     []string // the sim gate's argv prefix
	testbed  string   // the testbed binary (also the gate)
	kubectl  string
	helm     string // a Helm v4 binary, or empty
	n        atomic.Int64
}

// setupOptions say where the control plane comes from.
type setupOptions struct {
	assetsDir, binDir string
	logf              func(format string, args ...any)
}

// newEnv resolves the sim control plane (building it the first time, about
// 10 minutes on 2 cores) and builds the testbed binary for the sim gate.
func newEnv(ctx context.Context, o setupOptions) (*env, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "testbed-bench-strategies-")
	if err != nil {
		return nil, err
	}
	e := &env{root: root, tmp: tmp, binDir: o.binDir, cacheDir: o.assetsDir}
	set, err := assets.Resolve(ctx, o.binDir, assets.BuildOptions{CacheDir: o.assetsDir, Progress: assets.Every(15*time.Second, func(ev assets.Event) {
		o.logf("sim assets: %s (%s)", ev.Message, ev.Elapsed.Round(time.Second))
	})}, func() {
		o.logf("building the sim control plane once from the Go module proxy (about 10 minutes on 2 cores)")
	})
	if err != nil {
		e.close()
		return nil, fmt.Errorf("sim assets: %w", err)
	}
	e.assets = set
	e.kubectl = set.Path(assets.Kubectl)
	e.testbed = filepath.Join(tmp, "bin", "testbed")
	o.logf("go build ./cmd/testbed (the sim gate)")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", e.testbed, "./cmd/testbed")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		e.close()
		return nil, fmt.Errorf("go build ./cmd/testbed: %w\n%s", err, out)
	}
	e.gate = []string{e.testbed, "sim-gate"}
	return e, nil
}

func (e *env) close() { os.RemoveAll(e.tmp) }

// moduleRoot is the directory of testbed's go.mod, found by the go command
// from the working directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	data, err := os.ReadFile(gomod)
	if err != nil || !bytes.Contains(data, []byte("module github.com/kubetestbed/testbed\n")) {
		return "", errors.New("run this from testbed's module (go run ./bench/strategies)")
	}
	return filepath.Dir(gomod), nil
}

// scratch returns a new directory under the scratch directory.
func (e *env) scratch(prefix string) (string, error) {
	return os.MkdirTemp(e.tmp, prefix+"-")
}

// cluster is a fresh sim cluster in a state directory of its own, so that
// no strategy ever shares state with another.
type cluster struct {
	c        *sim.Cluster
	p        *sim.Provider
	stateDir string // for testbed.Options.StateDir: clusters live in stateDir/clusters
	cfg      *rest.Config
}

// newCluster creates a sim cluster called name (testbed finds a cluster by
// its stack's name, so every strategy's cluster is named after the stack),
// in a state directory of its own.
func (e *env) newCluster(ctx context.Context, name string) (*cluster, error) {
	dir, err := e.scratch(fmt.Sprintf("round%d", e.n.Add(1)))
	if err != nil {
		return nil, err
	}
	p := sim.New(sim.Options{StateDir: filepath.Join(dir, "clusters"), Assets: e.assets, GateCommand: e.gate})
	c, err := p.Create(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("create sim cluster %s: %w", name, err)
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		_ = p.Delete(context.Background(), name)
		return nil, err
	}
	return &cluster{c: c, p: p, stateDir: dir, cfg: cfg}, nil
}

// delete stops the cluster and removes its state.
func (c *cluster) delete() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := c.p.Delete(ctx, c.c.Name)
	os.RemoveAll(c.stateDir)
	return err
}

// machine describes the computer the benchmark ran on.
type machine struct {
	CPUs      int
	Model     string
	MemTotal  string
	Kernel    string
	GoVersion string
}

func describeMachine(ctx context.Context, ncpu int) machine {
	m := machine{CPUs: ncpu, Model: "unknown", MemTotal: "unknown", Kernel: "unknown", GoVersion: "unknown"}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.Model = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		m.MemTotal = v
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage is the 1, 5 and 15 minute load averages, as uptime prints them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}
