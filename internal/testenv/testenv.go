// Package testenv gives integration tests a real sim cluster: it builds the
// control-plane assets once (or reuses the cache the CLI uses), builds the
// testbed binary that runs the sim gate, and creates clusters with unique
// names in a temporary state directory, deleted when the test ends.
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		c := testenv.Cluster(t)
//		cs := testenv.Clientset(t, c)
//		...
//	}
//
// These tests never skip: without a Go toolchain and the module proxy to
// build the assets they fail, and say why.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
)

var (
	tmpDir   string
	setOnce  sync.Once
	set      *assets.Set
	setErr   error
	binOnce  sync.Once
	binPath  string
	binErr   error
	clusterN atomic.Int64
)

// Main runs the tests of a package that uses testenv and removes its
// temporary files afterwards. Use it from TestMain.
func Main(m *testing.M) int {
	var err error
	tmpDir, err = os.MkdirTemp("", "testbed-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	code := m.Run()
	// Stop any cluster a failed test left behind before removing its state.
	p := sim.New(sim.Options{StateDir: StateDir()})
	if cs, err := p.List(context.Background()); err == nil {
		for _, c := range cs {
			_ = p.Delete(context.Background(), c.Name)
		}
	}
	os.RemoveAll(tmpDir)
	return code
}

// TempRoot is the per-process temporary directory testenv uses.
func TempRoot() string {
	if tmpDir == "" {
		panic("testenv: call testenv.Main from TestMain")
	}
	return tmpDir
}

// StateDir is the sim state directory of this test process.
func StateDir() string { return filepath.Join(TempRoot(), "clusters") }

// AssetsCacheDir is where the assets are cached: $TESTBED_ASSETS_DIR, or the
// CLI's default, so that tests and users share one build.
func AssetsCacheDir() string {
	if d := os.Getenv("TESTBED_ASSETS_DIR"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "testbed", "assets")
}

// Assets returns the control-plane binaries, building them on first use
// (about 10 minutes cold on 2 cores, with progress on stderr).
func Assets(t testing.TB) *assets.Set {
	t.Helper()
	setOnce.Do(func() {
		if d := os.Getenv("TESTBED_BIN_DIR"); d != "" {
			set, setErr = assets.UseBinaries(d)
			return
		}
		set, setErr = assets.Ensure(context.Background(), assets.BuildOptions{
			CacheDir: AssetsCacheDir(),
			Progress: assets.Every(15*time.Second, func(ev assets.Event) {
				fmt.Fprintf(os.Stderr, "testenv: sim assets: %s (%s)\n", ev.Message, ev.Elapsed.Round(time.Second))
			}),
		})
	})
	if setErr != nil {
		t.Fatalf("sim assets: %v", setErr)
	}
	return set
}

// ModuleRoot is the directory of testbed's go.mod.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binary builds cmd/testbed once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(TempRoot(), "bin", "testbed")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/testbed")
		cmd.Dir = ModuleRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/testbed: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Provider returns a sim provider on this process's state directory, with
// the gate and the given number of nodes (0: the default).
func Provider(t testing.TB, nodes int) *sim.Provider {
	t.Helper()
	return sim.New(sim.Options{
		StateDir:    StateDir(),
		Assets:      Assets(t),
		GateCommand: []string{Binary(t), "sim-gate"},
		Nodes:       nodes,
	})
}

// UniqueName returns a cluster name no other test of this process uses.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(prefix), clusterN.Add(1))
}

// Cluster creates a sim cluster for t and deletes it when t ends.
func Cluster(t testing.TB) *sim.Cluster {
	t.Helper()
	p := Provider(t, 0)
	name := UniqueName("t")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := p.Create(ctx, name)
	if err != nil {
		t.Fatalf("create sim cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Delete(context.Background(), name); err != nil {
			t.Errorf("delete sim cluster %s: %v", name, err)
		}
	})
	return c
}

// Clientset returns a client for c.
func Clientset(t testing.TB, c *sim.Cluster) *kubernetes.Clientset {
	t.Helper()
	cfg, err := c.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// ProcsMentioning lists the live processes (zombies count as gone) whose
// command line mentions dir, as "PID: command line". Every process of a
// sim cluster names a file in its state directory.
func ProcsMentioning(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
			continue
		}
		out = append(out, e.Name()+": "+strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " "))
	}
	return out
}
