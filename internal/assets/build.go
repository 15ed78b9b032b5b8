package assets

import (
	"bufio"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// src holds the three throwaway modules the binaries are built from, with
// their go.sum: the build is pinned to these exact module versions and
// checksums. Files carry a .txt suffix so that Go treats them as data.
//
//go:embed src
var src embed.FS

// Event reports the progress of a build.
type Event struct {
	// Step names what is being done: "lock", "kubernetes", "etcd", "kwok", "done".
	Step string
	// Message is a one-line human description.
	Message string
	// Packages counts the packages compiled so far in this step.
	Packages int
	// Elapsed is the time since the build started.
	Elapsed time.Duration
}

// BuildOptions configures Build.
type BuildOptions struct {
	// CacheDir is the root under which the versioned asset directory lives.
	CacheDir string
	// Force rebuilds even when a complete set is present.
	Force bool
	// Go is the go command to build with (default "go" on PATH).
	Go string
	// Env is the environment of the go command (default: this process's).
	Env []string
	// Progress, if set, receives events while the build runs. It is called
	// from several goroutines, one at a time.
	Progress func(Event)
}

// Dir returns the versioned asset directory under cacheDir.
func Dir(cacheDir string) string { return filepath.Join(cacheDir, Key()) }

// Ensure returns the asset set under opts.CacheDir, building it first when it
// is missing or damaged (or opts.Force is set). Concurrent callers, in this
// process or others, are serialised by a lock file: one builds, the others
// wait and then use its result.
func Ensure(ctx context.Context, opts BuildOptions) (*Set, error) {
	if !opts.Force {
		if set, err := Open(Dir(opts.CacheDir)); err == nil {
			return set, nil
		}
	}
	return Build(ctx, opts)
}

// Build compiles the control-plane binaries from the Go module proxy into
// the versioned directory under opts.CacheDir, replacing what is there only
// once the new set is complete.
func Build(ctx context.Context, opts BuildOptions) (*Set, error) {
	start := time.Now()
	var mu sync.Mutex
	emit := func(ev Event) {
		if opts.Progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		ev.Elapsed = time.Since(start)
		opts.Progress(ev)
	}
	if opts.CacheDir == "" {
		return nil, errors.New("build sim assets: no cache directory given")
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("build sim assets: %w", err)
	}
	goCmd := opts.Go
	if goCmd == "" {
		goCmd = "go"
	}
	goPath, err := exec.LookPath(goCmd)
	if err != nil {
		return nil, fmt.Errorf("build sim assets: the Go toolchain (go1.26 or newer) is needed to build the control plane once: %w", err)
	}

	unlock, err := lock(ctx, filepath.Join(opts.CacheDir, Key()+".lock"), func() {
		emit(Event{Step: "lock", Message: "waiting for another testbed process that is building the sim assets"})
	})
	if err != nil {
		return nil, err
	}
	defer unlock()

	final := Dir(opts.CacheDir)
	if !opts.Force {
		// Someone may have finished the build while we waited for the lock.
		if set, err := Open(final); err == nil {
			return set, nil
		}
	}

	work, err := os.MkdirTemp(opts.CacheDir, "."+Key()+".build-")
	if err != nil {
		return nil, fmt.Errorf("build sim assets: %w", err)
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "out", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	if err := writeSources(filepath.Join(work, "src")); err != nil {
		return nil, fmt.Errorf("build sim assets: %w", err)
	}

	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(env, "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")

	k8sLD := strings.Join([]string{"-s", "-w",
		"-X", "k8s.io/component-base/version.gitVersion=" + KubernetesVersion,
		"-X", "k8s.io/component-base/version.gitMajor=1",
		"-X", "k8s.io/component-base/version.gitMinor=37",
		"-X", "k8s.io/client-go/pkg/version.gitVersion=" + KubernetesVersion,
		"-X", "k8s.io/client-go/pkg/version.gitMajor=1",
		"-X", "k8s.io/client-go/pkg/version.gitMinor=37",
	}, " ")
	steps := []struct {
		name, dir string
		args      []string
	}{
		{"kubernetes", "k8s", []string{"build", "-v", "-trimpath", "-ldflags", k8sLD, "-o", bin + "/",
			"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager",
			"k8s.io/kubernetes/cmd/kube-scheduler", "k8s.io/kubernetes/cmd/kubectl"}},
		{"etcd", "etcd", []string{"build", "-v", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(bin, string(Etcd)), "."}},
		{"kwok", "kwok", []string{"build", "-v", "-trimpath", "-ldflags", "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=" + strings.TrimPrefix(KwokVersion, "v"),
			"-o", filepath.Join(bin, string(Kwok)), "sigs.k8s.io/kwok/cmd/kwok"}},
	}
	for _, s := range steps {
		emit(Event{Step: s.name, Message: "building " + s.name + " from the Go module proxy"})
		if err := runGo(ctx, goPath, filepath.Join(work, "src", s.dir), env, s.args, func(n int) {
			emit(Event{Step: s.name, Message: "building " + s.name, Packages: n})
		}); err != nil {
			return nil, fmt.Errorf("build sim assets (%s): %w", s.name, err)
		}
	}

	m := manifest{Kubernetes: KubernetesVersion, Etcd: EtcdVersion, Kwok: KwokVersion, BuiltAt: time.Now().UTC(), Files: map[Binary]entry{}}
	if out, err := exec.CommandContext(ctx, goPath, "env", "GOVERSION").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	for _, b := range All {
		p := filepath.Join(bin, string(b))
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("build sim assets: %s was not produced: %w", b, err)
		}
		sum, err := fileSHA256(p)
		if err != nil {
			return nil, err
		}
		m.Files[b] = entry{Size: fi.Size(), SHA256: sum}
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(work, "out", manifestName), data, 0o644); err != nil {
		return nil, err
	}
	// Swap the finished set in: remove any damaged one first. Readers that
	// opened the old set keep their file handles.
	if err := os.RemoveAll(final); err != nil {
		return nil, fmt.Errorf("build sim assets: remove old set: %w", err)
	}
	if err := os.Rename(filepath.Join(work, "out"), final); err != nil {
		return nil, fmt.Errorf("build sim assets: %w", err)
	}
	emit(Event{Step: "done", Message: "sim assets ready in " + final})
	return Open(final)
}

func writeSources(dst string) error {
	return fs.WalkDir(src, "src", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("src", path)
		target := filepath.Join(dst, strings.TrimSuffix(rel, ".txt"))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := src.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// runGo runs the go command, counting the packages `go build -v` names on
// stderr as progress, and keeps the last lines of its output for the error.
func runGo(ctx context.Context, goPath, dir string, env, args []string, progress func(int)) error {
	cmd := exec.CommandContext(ctx, goPath, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	var n atomic.Int64
	tail := make([]string, 0, 20)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		ticker := time.NewTicker(2 * time.Second)
		defer ticker.Stop()
		for sc.Scan() {
			line := sc.Text()
			if isPackageLine(line) {
				n.Add(1)
			} else {
				if len(tail) == cap(tail) {
					tail = tail[1:]
				}
				tail = append(tail, line)
			}
			select {
			case <-ticker.C:
				progress(int(n.Load()))
			default:
			}
		}
	}()
	<-done
	err = cmd.Wait()
	progress(int(n.Load()))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", args[0], err, strings.Join(tail, "\n"))
	}
	return nil
}

// isPackageLine reports whether a line of `go build -v` output is a package
// path (progress) rather than a diagnostic.
func isPackageLine(line string) bool {
	return line != "" && !strings.ContainsAny(line, " \t:") && !strings.HasPrefix(line, "#")
}

// lock takes an exclusive flock on path, waiting (and calling waiting once)
// while another process holds it, until ctx is done.
func lock(ctx context.Context, path string, waiting func()) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock sim assets: %w", err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock sim assets %s: %w", path, err)
		}
		if !told {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Resolve returns the binaries to run: those in binDir when it is set
// (checked, never built), otherwise the cached set under opts.CacheDir,
// built first when it was never built. A damaged set is an *AssetError
// naming the file and how to rebuild, not a silent ten-minute rebuild;
// onBuild, if set, is called before a first build starts.
func Resolve(ctx context.Context, binDir string, opts BuildOptions, onBuild func()) (*Set, error) {
	if binDir != "" {
		return UseBinaries(binDir)
	}
	set, err := Open(Dir(opts.CacheDir))
	if !errors.Is(err, ErrNotBuilt) {
		return set, err
	}
	if onBuild != nil {
		onBuild()
	}
	return Build(ctx, opts)
}
