package assets

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// Target is what is being built: "" for the sim assets, "kind node
	// image" for BuildNodeImage's own steps.
	Target string
	// Step names what is being done: "lock", "kubernetes", "etcd", "kwok", "done".
	Step string
	// Phase is where a build step is: PhaseDownload, PhaseCompile or
	// PhaseBuilt; empty for the other steps.
	Phase string
	// Message is a one-line human description, counts included.
	Message string
	// Done counts what the phase has done so far: modules downloaded, or
	// packages compiled. Packages in the build cache are not compiled
	// again, so a warm build ends with Done below Total.
	Done int
	// Total is an upper bound of Done, 0 if unknown: the modules the step's
	// go.mod requires (those in the module cache are not downloaded), or the
	// packages the step's binaries are made of.
	Total int
	// Elapsed is the time since the build started.
	Elapsed time.Duration
}

// The phases of a build step.
const (
	// PhaseDownload: `go list -deps` downloads the modules and lists the
	// packages to build.
	PhaseDownload = "download"
	// PhaseCompile: `go build` compiles and links.
	PhaseCompile = "compile"
	// PhaseBuilt: the step's binaries are written (one event).
	PhaseBuilt = "built"
)

// How often a running build step reports: at most once per throttle when
// its counts change, and at least once per heartbeat (a long link prints
// nothing, but time still moves).
const (
	throttle  = 500 * time.Millisecond
	heartbeat = 2 * time.Second
)

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

// emitter returns the function a build reports through: it stamps each
// event with the time since the build started and with target, fills in
// an empty Message, and calls progress (if set) one event at a time.
func emitter(target string, progress func(Event)) func(Event) {
	start := time.Now()
	var mu sync.Mutex
	return func(ev Event) {
		if progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		ev.Elapsed = time.Since(start)
		ev.Target = target
		if ev.Message == "" {
			ev.Message = describe(ev)
		}
		progress(ev)
	}
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
	emit := emitter("", opts.Progress)
	if opts.CacheDir == "" {
		return nil, errors.New("build sim assets: no cache directory given")
	}
	// The go command runs in a directory under it and writes its -o paths.
	cacheDir, err := filepath.Abs(opts.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("build sim assets: %w", err)
	}
	opts.CacheDir = cacheDir
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

	unlock, err := lock(ctx, filepath.Join(opts.CacheDir, Key()+".lock"), heartbeat, func() {
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

	k8sLD := k8sLDFlags()
	steps := []struct {
		name, dir      string
		flags, targets []string
	}{
		{"kubernetes", "k8s", []string{"-trimpath", "-ldflags", k8sLD, "-o", bin + "/"}, []string{
			"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager",
			"k8s.io/kubernetes/cmd/kube-scheduler", "k8s.io/kubernetes/cmd/kubectl"}},
		{"etcd", "etcd", []string{"-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(bin, string(Etcd))}, []string{"."}},
		{"kwok", "kwok", []string{"-trimpath", "-ldflags", "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=" + strings.TrimPrefix(KwokVersion, "v"),
			"-o", filepath.Join(bin, string(Kwok))}, []string{"sigs.k8s.io/kwok/cmd/kwok"}},
	}
	r := &goRunner{goPath: goPath, env: env, emit: emit, throttle: throttle, heartbeat: heartbeat}
	for _, s := range steps {
		if err := r.step(ctx, s.name, filepath.Join(work, "src", s.dir), s.flags, s.targets); err != nil {
			return nil, fmt.Errorf("build sim assets (%s): %w", s.name, err)
		}
	}

	m := manifest{Kubernetes: KubernetesVersion, Etcd: EtcdVersion, Kwok: KwokVersion, BuiltAt: time.Now().UTC(), Files: map[Binary]entry{}}
	goVersion := exec.CommandContext(ctx, goPath, "env", "GOVERSION")
	goVersion.Env = env
	if out, err := goVersion.Output(); err == nil {
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
	emit(Event{Step: "done", Message: "ready in " + final})
	return Open(final)
}

func writeSources(dst string) error { return writeTree(src, "src", dst, true) }

// goRunner runs the go commands of a build and turns what they print into
// Events.
type goRunner struct {
	goPath string
	env    []string
	emit   func(Event)
	// throttle and heartbeat pace the events of a running command (see the
	// constants of the same names).
	throttle, heartbeat time.Duration
}

// step builds targets in the module in dir with `go build -v flags...`.
// `go list -deps` runs first: it downloads the modules (counted by its "go:
// downloading" lines) and names the packages to build, the total that the
// package lines of `go build -v` count towards.
func (r *goRunner) step(ctx context.Context, name, dir string, flags, targets []string) error {
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	var fetched, packages atomic.Int64
	list := append([]string{"list", "-deps"}, targets...)
	err = r.watch(Event{Step: name, Phase: PhaseDownload, Total: requiredModules(gomod)}, &fetched, func() error {
		return runGo(ctx, r.goPath, dir, r.env, list, func(line string) {
			if line != "unsafe" { // the one package go build never compiles
				packages.Add(1)
			}
		}, func(line string) bool {
			if strings.HasPrefix(line, "go: downloading ") {
				fetched.Add(1)
				return true
			}
			return false
		})
	})
	if err != nil {
		return err
	}
	var compiled atomic.Int64
	build := append(append([]string{"build", "-v"}, flags...), targets...)
	ev := Event{Step: name, Phase: PhaseCompile, Total: int(packages.Load())}
	err = r.watch(ev, &compiled, func() error {
		return runGo(ctx, r.goPath, dir, r.env, build, nil, func(line string) bool {
			if isPackageLine(line) {
				compiled.Add(1)
				return true
			}
			return false
		})
	})
	if err != nil {
		return err
	}
	ev.Phase, ev.Done = PhaseBuilt, int(compiled.Load())
	r.send(ev)
	return nil
}

// send emits ev with its Message filled in.
func (r *goRunner) send(ev Event) {
	ev.Message = describe(ev)
	r.emit(ev)
}

// watch runs f and reports ev with Done set from n: at once, when n changes
// (at most once per throttle), at least once per heartbeat, and at the end.
func (r *goRunner) watch(ev Event, n *atomic.Int64, f func() error) error {
	send := func(done int64) {
		ev.Done = int(done)
		r.send(ev)
	}
	send(0)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(r.throttle)
		defer tick.Stop()
		last, lastAt := int64(0), time.Now()
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				if cur := n.Load(); cur != last || now.Sub(lastAt) >= r.heartbeat {
					send(cur)
					last, lastAt = cur, now
				}
			}
		}
	}()
	err := f()
	close(stop)
	<-stopped
	if err == nil {
		send(n.Load())
	}
	return err
}

// describe is the Message of a build step's event.
func describe(ev Event) string {
	switch ev.Phase {
	case PhaseDownload:
		return fmt.Sprintf("%s: downloading modules (%d fetched, at most %d)", ev.Step, ev.Done, ev.Total)
	case PhaseCompile:
		return fmt.Sprintf("%s: %d/%d packages compiled", ev.Step, ev.Done, ev.Total)
	case PhaseBuilt:
		if ev.Done < ev.Total {
			return fmt.Sprintf("%s: built (%d/%d packages compiled, the rest were in the build cache)", ev.Step, ev.Done, ev.Total)
		}
		return fmt.Sprintf("%s: built (%d/%d packages compiled)", ev.Step, ev.Done, ev.Total)
	}
	return ev.Step
}

// requiredModules counts the modules a go.mod file requires.
func requiredModules(gomod []byte) int {
	n, block := 0, false
	for _, line := range strings.Split(string(gomod), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			block = true
		case block && line == ")":
			block = false
		case block && line != "" && !strings.HasPrefix(line, "//"),
			strings.HasPrefix(line, "require ") && !strings.HasSuffix(line, "("):
			n++
		}
	}
	return n
}

// runGo runs the go command in dir. It passes each line of its standard
// output to stdout (if set) and each line of its standard error to stderr,
// which says whether the line was progress; the last other lines go into
// the error.
func runGo(ctx context.Context, goPath, dir string, env, args []string, stdout func(string), stderr func(string) bool) error {
	cmd := exec.CommandContext(ctx, goPath, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	tail := make([]string, 0, 20)
	errw := &lineWriter{line: func(line string) {
		if stderr(line) {
			return
		}
		if len(tail) == cap(tail) {
			tail = tail[1:]
		}
		tail = append(tail, line)
	}}
	cmd.Stderr = errw
	cmd.Stdout = io.Discard
	var outw *lineWriter
	if stdout != nil {
		outw = &lineWriter{line: stdout}
		cmd.Stdout = outw
	}
	err := cmd.Run()
	errw.flush()
	if outw != nil {
		outw.flush()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", args[0], err, strings.Join(tail, "\n"))
	}
	return nil
}

// lineWriter calls line for each line written to it.
type lineWriter struct {
	line func(string)
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// flush passes on a last line that has no newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.line(string(w.buf))
		w.buf = nil
	}
}

// isPackageLine reports whether a line of `go build -v` output is a package
// path (progress) rather than a diagnostic.
func isPackageLine(line string) bool {
	return line != "" && !strings.ContainsAny(line, " \t:") && !strings.HasPrefix(line, "#")
}

// lock takes an exclusive flock on path, waiting while another process
// holds it, until ctx is done. While it waits it calls waiting at once and
// then every interval.
func lock(ctx context.Context, path string, every time.Duration, waiting func()) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock sim assets: %w", err)
	}
	var told time.Time
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
		if time.Since(told) >= every {
			waiting()
			told = time.Now()
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

// Builder returns the asset set to run, building it when needed. It is the
// seam where a caller that needs binaries (the sim provider) takes them, so
// that tests can stand in for the ten-minute build.
type Builder interface {
	Resolve(ctx context.Context) (*Set, error)
}

// BuilderFunc is a function that is a Builder.
type BuilderFunc func(ctx context.Context) (*Set, error)

// Resolve calls f.
func (f BuilderFunc) Resolve(ctx context.Context) (*Set, error) { return f(ctx) }

// NewBuilder returns the real Builder: the binaries in binDir when it is
// set, otherwise the set cached under opts.CacheDir, built from the Go module
// proxy the first time (see Resolve). Progress goes to opts.Progress.
func NewBuilder(binDir string, opts BuildOptions) Builder {
	return &proxyBuilder{binDir: binDir, opts: opts}
}

type proxyBuilder struct {
	binDir string
	opts   BuildOptions
}

var _ Builder = (*proxyBuilder)(nil)

func (b *proxyBuilder) Resolve(ctx context.Context) (*Set, error) {
	return Resolve(ctx, b.binDir, b.opts, nil)
}

// Every returns a Progress function that passes an event on to f when its
// step or phase changed or at least d has passed since the last one: a
// log's pace.
func Every(d time.Duration, f func(Event)) func(Event) {
	var step, phase string
	var last time.Time
	return func(ev Event) {
		if ev.Step == step && ev.Phase == phase && time.Since(last) < d {
			return
		}
		step, phase, last = ev.Step, ev.Phase, time.Now()
		f(ev)
	}
}
