package image_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/image"
)

// fakeBuilder builds nothing: each image does what its behaviour says.
type fakeBuilder struct {
	mu       sync.Mutex
	started  []string
	inFlight int
	maxIn    int
	do       func(ctx context.Context, s image.Spec) (image.Result, error)
}

var _ image.Builder = (*fakeBuilder)(nil)

func (f *fakeBuilder) Build(ctx context.Context, s image.Spec) (image.Result, error) {
	f.mu.Lock()
	f.started = append(f.started, s.Name)
	f.inFlight++
	f.maxIn = max(f.maxIn, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if s.Log != nil {
		fmt.Fprintf(s.Log, "building %s\n", s.Name)
	}
	return f.do(ctx, s)
}

// fakeSpecs returns valid specs named names, each with a context of its own.
func fakeSpecs(t *testing.T, names ...string) []image.Spec {
	var specs []image.Spec
	for _, n := range names {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})
		specs = append(specs, image.Spec{Stack: "shop", Name: n, Context: dir})
	}
	return specs
}

// recorder collects BuildAll's events.
type recorder struct {
	mu     sync.Mutex
	events []image.Event
}

func (r *recorder) add(e image.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// kinds returns, per image, the kinds of its events in order.
func (r *recorder) kinds() map[string][]image.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string][]image.EventKind{}
	for _, e := range r.events {
		m[e.Image] = append(m[e.Image], e.Kind)
	}
	return m
}

func TestBuildAllResultsEventsLogs(t *testing.T) {
	specs := fakeSpecs(t, "api", "web", "db")
	b := &fakeBuilder{do: func(_ context.Context, s image.Spec) (image.Result, error) {
		return image.Result{Ref: "testbed.local/shop/" + s.Name + ":0123456789ab", ID: "sha256:" + s.Name, Unchanged: s.Name == "db"}, nil
	}}
	logDir := filepath.Join(t.TempDir(), "diag", "images")
	var rec recorder
	res, err := image.BuildAll(t.Context(), b, specs, image.Options{LogDir: logDir, OnEvent: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		if res[i].ID != "sha256:"+s.Name {
			t.Errorf("results[%d] = %+v, want %s's", i, res[i], s.Name)
		}
		log, err := os.ReadFile(filepath.Join(logDir, s.Name+".log"))
		if err != nil || string(log) != "building "+s.Name+"\n" {
			t.Errorf("%s.log = %q, %v", s.Name, log, err)
		}
	}
	want := map[string][]image.EventKind{
		"api": {image.Started, image.Built},
		"web": {image.Started, image.Built},
		"db":  {image.Started, image.Unchanged},
	}
	if got := rec.kinds(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", got, want)
	}
	for _, e := range rec.events {
		if e.Log != filepath.Join(logDir, e.Image+".log") || (e.Kind != image.Started && e.Ref == "") {
			t.Errorf("event %+v: want its log path, and its ref once done", e)
		}
	}
}

func TestBuildAllFailFast(t *testing.T) {
	specs := fakeSpecs(t, "slow-1", "bad", "slow-2", "queued")
	canceled := make(chan string, len(specs))
	var slowRunning sync.WaitGroup
	slowRunning.Add(2)
	b := &fakeBuilder{do: func(ctx context.Context, s image.Spec) (image.Result, error) {
		if s.Name == "bad" {
			slowRunning.Wait() // fail once the others run
			return image.Result{}, &image.BuildError{Image: "bad", Dockerfile: "Dockerfile", Tool: "docker", Step: "Step 2/2 : RUN false", Err: exitError(t, 1)}
		}
		slowRunning.Done()
		<-ctx.Done() // a build that would take long
		canceled <- s.Name
		return image.Result{}, fmt.Errorf("image %q: build canceled: %w", s.Name, ctx.Err())
	}}
	logDir := t.TempDir()
	var rec recorder
	start := time.Now()
	_, err := image.BuildAll(t.Context(), b, specs, image.Options{Concurrency: 3, LogDir: logDir, OnEvent: rec.add})
	var be *image.BuildError
	if !errors.As(err, &be) || be.Image != "bad" {
		t.Fatalf("error %v, want bad's *BuildError", err)
	}
	if be.Log != filepath.Join(logDir, "bad.log") || !strings.Contains(err.Error(), "whole log: "+be.Log) {
		t.Errorf("error %q does not name the log %s", err, filepath.Join(logDir, "bad.log"))
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("BuildAll took %s after the failure", time.Since(start))
	}
	close(canceled)
	var stopped []string
	for n := range canceled {
		stopped = append(stopped, n)
	}
	slices.Sort(stopped)
	if !slices.Equal(stopped, []string{"slow-1", "slow-2"}) {
		t.Errorf("builds stopped by the failure: %q", stopped)
	}
	kinds := rec.kinds()
	if k := kinds["bad"]; !slices.Equal(k, []image.EventKind{image.Started, image.Failed}) {
		t.Errorf("bad's events %v", k)
	}
	for _, n := range []string{"slow-1", "slow-2"} {
		if k := kinds[n]; !slices.Equal(k, []image.EventKind{image.Started, image.Canceled}) {
			t.Errorf("%s's events %v", n, k)
		}
	}
	// The fourth waited for a slot and never started.
	if k := kinds["queued"]; !slices.Equal(k, []image.EventKind{image.Canceled}) || slices.Contains(b.started, "queued") {
		t.Errorf("queued: events %v, started %v", k, b.started)
	}
}

func TestBuildAllConcurrency(t *testing.T) {
	specs := fakeSpecs(t, "a", "b", "c", "d", "e", "f")
	started := make(chan string)
	release := make(chan struct{})
	b := &fakeBuilder{do: func(_ context.Context, s image.Spec) (image.Result, error) {
		started <- s.Name
		<-release
		return image.Result{Ref: s.Name}, nil
	}}
	done := make(chan error)
	go func() {
		_, err := image.BuildAll(t.Context(), b, specs, image.Options{Concurrency: 2})
		done <- err
	}()
	<-started
	<-started
	select {
	case n := <-started:
		t.Errorf("%s started while 2 builds ran, with Concurrency 2", n)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	for range len(specs) - 2 {
		<-started
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b.maxIn != 2 {
		t.Errorf("at most %d builds ran at once, want 2", b.maxIn)
	}
}

func TestBuildAllChecksFirst(t *testing.T) {
	specs := fakeSpecs(t, "api", "web", "api")
	specs[1].Dockerfile = filepath.Join(specs[1].Context, "missing.Dockerfile")
	b := &fakeBuilder{do: func(context.Context, image.Spec) (image.Result, error) { return image.Result{}, nil }}
	_, err := image.BuildAll(t.Context(), b, specs, image.Options{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`image "web": dockerfile "` + specs[1].Dockerfile + `" does not exist`, `image "api": images[0] has the same name`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not contain %q", err, w)
		}
	}
	if len(b.started) != 0 {
		t.Errorf("builds started before the check: %v", b.started)
	}
}

func TestBuildAllCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := &fakeBuilder{do: func(context.Context, image.Spec) (image.Result, error) { return image.Result{}, nil }}
	var rec recorder
	_, err := image.BuildAll(ctx, b, fakeSpecs(t, "api", "web"), image.Options{OnEvent: rec.add})
	if !errors.Is(err, context.Canceled) || len(b.started) != 0 {
		t.Errorf("error %v, started %v; want context.Canceled and none", err, b.started)
	}
	if k := rec.kinds(); len(k["api"]) != 1 || k["api"][0] != image.Canceled {
		t.Errorf("events %v", k)
	}
}

// exitError returns the error of a process that exited with code, or was
// killed (code -1).
func exitError(t *testing.T, code int) error {
	t.Helper()
	script := fmt.Sprintf("exit %d", code)
	if code < 0 {
		script = "kill -9 $$"
	}
	err := exec.Command("sh", "-c", script).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != code {
		t.Fatalf("sh -c %q: %v", script, err)
	}
	return err
}

func TestBuildErrorHint(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *image.BuildError
		hint bool
	}{
		{"a step failed", &image.BuildError{Tool: "docker", Step: "Step 2/2 : RUN false", Err: exitError(t, 1)}, false},
		{"no step", &image.BuildError{Tool: "docker", Err: exitError(t, 1)}, true},
		{"killed", &image.BuildError{Tool: "docker", Step: "Step 2/2 : RUN make", Err: exitError(t, -1)}, true},
		{"podman: a step failed", &image.BuildError{Tool: "podman", Step: "STEP 2/3: RUN make", Tail: []string{`Error: building at STEP "RUN make": while running runtime: exit status 2`}, Err: exitError(t, 125)}, false},
		{"podman's own error mid-step", &image.BuildError{Tool: "podman", Step: "STEP 2/3: COPY . /", Tail: []string{"Error: committing container: …"}, Err: exitError(t, 125)}, true},
		{"go: a compile error", &image.BuildError{Tool: image.GoTool, Package: "./cmd/api", Tail: []string{"main.go:4:2: undefined: nope"}, Err: exitError(t, 1)}, false},
		{"go: killed", &image.BuildError{Tool: image.GoTool, Package: "./cmd/api", Err: exitError(t, -1)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBuilder{do: func(_ context.Context, s image.Spec) (image.Result, error) {
				if s.Name == "bad" {
					return image.Result{}, tc.err
				}
				return image.Result{}, nil
			}}
			_, err := image.BuildAll(t.Context(), b, fakeSpecs(t, "bad", "ok"), image.Options{Concurrency: 2})
			if got := strings.Contains(fmt.Sprint(err), "lower the build concurrency"); got != tc.hint {
				t.Errorf("error %q: hint %v, want %v", err, got, tc.hint)
			}
		})
	}
}
