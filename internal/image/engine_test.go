package image_test

// Tests against the real container engines of this machine: docker (its
// daemon) and podman, each skipped with a one-line reason where it does not
// answer. The images are FROM scratch around a static Go program the test
// compiles, so nothing is pulled.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/image"
)

// helloSource is the program in the test images: it greets with the
// content of /msg.txt, fails with output, or sleeps.
const helloSource = `package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	switch {
	case len(os.Args) > 2 && os.Args[1] == "sleep":
		d, err := time.ParseDuration(os.Args[2])
		if err != nil {
			panic(err)
		}
		fmt.Println("sleeping", d)
		time.Sleep(d)
	case len(os.Args) > 1 && os.Args[1] == "fail":
		for i := 1; i <= 30; i++ {
			fmt.Println("output line", i)
		}
		os.Exit(3)
	default:
		msg, _ := os.ReadFile("/msg.txt")
		fmt.Printf("hello from testbed: %s\n", msg)
	}
}
`

var hello struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if hello.dir != "" {
		os.RemoveAll(hello.dir)
	}
	os.Exit(code)
}

// helloBinary returns the path of the static hello program, compiled once
// per test binary with CGO_ENABLED=0.
func helloBinary(t *testing.T) string {
	t.Helper()
	hello.once.Do(func() {
		hello.dir, hello.err = os.MkdirTemp("", "testbed-image-hello-")
		if hello.err != nil {
			return
		}
		src := filepath.Join(hello.dir, "src")
		if hello.err = os.MkdirAll(src, 0o755); hello.err != nil {
			return
		}
		os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644)
		os.WriteFile(filepath.Join(src, "main.go"), []byte(helloSource), 0o644)
		hello.path = filepath.Join(hello.dir, "hello")
		cmd := exec.Command("go", "build", "-trimpath", "-o", hello.path, ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			hello.err = fmt.Errorf("go build hello: %v\n%s", err, out)
		}
	})
	if hello.err != nil {
		t.Fatal(hello.err)
	}
	return hello.path
}

// helloContext writes a build context: the hello binary, msg.txt, the
// Dockerfile, a .dockerignore and a .git directory.
func helloContext(t *testing.T, msg, dockerfile string) string {
	t.Helper()
	dir := t.TempDir()
	bin, err := os.ReadFile(helloBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "hello"), bin, 0o755))
	writeFiles(t, dir, map[string]string{
		"msg.txt":       msg,
		"Dockerfile":    dockerfile,
		".dockerignore": "ignored/\n",
		"ignored/x":     "x",
		".git/HEAD":     "ref: refs/heads/main\n",
	})
	return dir
}

const helloDockerfile = "FROM scratch\nCOPY hello /hello\nCOPY msg.txt /msg.txt\nENTRYPOINT [\"/hello\"]\n"

// engines runs f for each container tool that answers here, as subtests.
func engines(t *testing.T, f func(t *testing.T, tool *image.Tool)) {
	for _, name := range []string{image.Docker, image.Podman} {
		t.Run(name, func(t *testing.T) {
			tool, err := image.NewTool(t.Context(), name)
			if err != nil {
				t.Skipf("%s does not answer here: %v", name, firstLine(err.Error()))
			}
			f(t, tool)
		})
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// The intermediate images a build's log names: the legacy builder's
// " ---> ID" and podman's "--> ID" lines.
var layerLine = regexp.MustCompile(`(?m)^ ?-+> (?:Using cache )?([0-9a-f]{11,64})$`)

// engineRun is what a test builds on a real engine: its own stack name,
// so that runs sharing an engine never remove each other's images, a log
// directory, and the references to remove when the test ends.
type engineRun struct {
	tool   *image.Tool
	stack  string
	logDir string
	refs   []string
}

func newEngineRun(t *testing.T, tool *image.Tool) *engineRun {
	b := make([]byte, 4)
	rand.Read(b)
	r := &engineRun{tool: tool, stack: "imagetest-" + hex.EncodeToString(b), logDir: t.TempDir()}
	t.Cleanup(func() { r.removeImages(t) })
	return r
}

// track adds the references of specs or results to those removed.
func (r *engineRun) track(refs ...string) {
	for _, ref := range refs {
		if ref != "" {
			r.refs = append(r.refs, ref)
		}
	}
}

// removeImages removes the images tracked and the intermediate images the
// logs name (some go with their last child; the rest would stay as build
// cache).
func (r *engineRun) removeImages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, ref := range r.refs {
		if id, _ := r.tool.ImageID(ctx, ref); id != "" {
			if err := r.tool.Remove(ctx, ref); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	}
	logs, _ := filepath.Glob(filepath.Join(r.logDir, "*.log"))
	var layers []string
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, m := range layerLine.FindAllStringSubmatch(string(b), -1) {
			layers = append(layers, m[1])
		}
	}
	slices.Reverse(layers)
	for _, id := range layers {
		exec.CommandContext(ctx, r.tool.Program(), "image", "rm", id).Run() // gone already, or shared: fine
	}
}

func TestNewTool(t *testing.T) {
	tool, err := image.NewTool(t.Context(), "")
	if err != nil {
		t.Skipf("no container tool here: %v", firstLine(err.Error()))
	}
	if tool.Name() != image.Docker && tool.Name() != image.Podman || tool.Version() == "" || !filepath.IsAbs(tool.Program()) {
		t.Errorf("detected %q, version %q, program %q", tool.Name(), tool.Version(), tool.Program())
	}
	if _, err := exec.Command("docker", "version").Output(); err == nil && tool.Name() != image.Docker {
		t.Errorf("docker answers, but %s was detected", tool.Name())
	}

	_, err = image.NewTool(t.Context(), "nerdctl")
	if err == nil || !strings.Contains(err.Error(), `container tool "nerdctl": want "docker" or "podman"`) {
		t.Errorf("an unknown tool: %v", err)
	}
}

func TestNewToolDetection(t *testing.T) {
	podman, podmanErr := exec.LookPath("podman")
	bin := t.TempDir()
	t.Setenv("PATH", bin)

	_, err := image.NewTool(t.Context(), "")
	for _, w := range []string{"no container tool works", "docker: not found", "podman: not found"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("neither tool on PATH: error %v, want it to contain %q", err, w)
		}
	}

	// A docker whose daemon does not answer.
	must(t, os.WriteFile(filepath.Join(bin, "docker"), []byte("#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n"), 0o755))
	_, err = image.NewTool(t.Context(), image.Docker)
	if err == nil || !strings.Contains(err.Error(), "Cannot connect to the Docker daemon") {
		t.Errorf("docker without its daemon, chosen: error %v", err)
	}
	if podmanErr != nil {
		t.Skip("no podman here: the fallback from docker to podman is not tested")
	}
	must(t, os.Symlink(podman, filepath.Join(bin, "podman")))
	tool, err := image.NewTool(t.Context(), "")
	if err != nil {
		t.Skipf("podman does not answer here: %v", firstLine(err.Error()))
	}
	if tool.Name() != image.Podman {
		t.Errorf("docker without its daemon, podman working: detected %s", tool.Name())
	}
}

func TestBuildRealEngine(t *testing.T) {
	engines(t, func(t *testing.T, tool *image.Tool) {
		run := newEngineRun(t, tool)
		stack, logDir := run.stack, run.logDir
		var specs []image.Spec
		for _, n := range []string{"alpha", "beta", "gamma"} {
			specs = append(specs, image.Spec{Stack: stack, Name: n, Context: helloContext(t, n, helloDockerfile)})
		}
		specs[1].BuildArgs = map[string]string{"UNUSED": "1"}

		buildAll := func(t *testing.T) ([]image.Result, []image.Event, time.Duration) {
			t.Helper()
			var rec recorder
			start := time.Now()
			res, err := image.BuildAll(t.Context(), tool, specs, image.Options{Concurrency: 3, LogDir: logDir, OnEvent: rec.add})
			for _, r := range res {
				run.track(r.Ref)
			}
			if err != nil {
				t.Fatal(err)
			}
			return res, rec.events, time.Since(start)
		}

		// First run: three builds at once.
		first, events, took := buildAll(t)
		t.Logf("%s: 3 images built in %s", tool, took.Round(time.Millisecond))
		want := regexp.MustCompile(`^testbed\.local/` + stack + `/(alpha|beta|gamma):[0-9a-f]{12}$`)
		for i, r := range first {
			if !want.MatchString(r.Ref) || !strings.Contains(r.Ref, "/"+specs[i].Name+":") || r.Unchanged {
				t.Errorf("results[%d] = %+v, want a new %s", i, r, want)
			}
			if ref, _ := image.Reference(specs[i]); ref != r.Ref {
				t.Errorf("built %s, Reference says %s", r.Ref, ref)
			}
			if id, err := tool.ImageID(t.Context(), r.Ref); err != nil || id != r.ID || !strings.HasPrefix(id, "sha256:") {
				t.Errorf("%s: ID %q, engine has %q (%v)", r.Ref, r.ID, id, err)
			}
			log, err := os.ReadFile(filepath.Join(logDir, specs[i].Name+".log"))
			if err != nil || !regexp.MustCompile(`(?i)step 3/4`).Match(log) {
				t.Errorf("%s.log lacks the build's steps: %v\n%s", specs[i].Name, err, log)
			}
		}
		// All three started before any ended: they ran at once.
		var kinds []image.EventKind
		for _, e := range events {
			kinds = append(kinds, e.Kind)
		}
		if !slices.Equal(kinds[:3], []image.EventKind{image.Started, image.Started, image.Started}) {
			t.Errorf("events %v: the builds did not all start at once", kinds)
		}

		// Second run: nothing changed, nothing is built.
		second, events, took := buildAll(t)
		t.Logf("%s: 3 unchanged images found in %s", tool, took.Round(time.Millisecond))
		for i, r := range second {
			if r.Ref != first[i].Ref || r.ID != first[i].ID || !r.Unchanged {
				t.Errorf("second run: results[%d] = %+v, want %s unchanged", i, r, first[i].Ref)
			}
		}
		for _, e := range events {
			if e.Kind != image.Started && e.Kind != image.Unchanged {
				t.Errorf("second run: event %+v", e)
			}
		}

		// What the build does not read changes nothing; msg.txt does.
		writeFiles(t, specs[0].Context, map[string]string{"ignored/x": "changed", ".git/HEAD": "ref: refs/heads/other\n"})
		writeFiles(t, specs[2].Context, map[string]string{"msg.txt": "gamma, changed"})
		third, _, _ := buildAll(t)
		if r := third[0]; r.Ref != first[0].Ref || !r.Unchanged {
			t.Errorf("alpha after changing ignored files: %+v, want %s unchanged", r, first[0].Ref)
		}
		if r := third[2]; r.Ref == first[2].Ref || r.Unchanged || !want.MatchString(r.Ref) {
			t.Errorf("gamma after changing msg.txt: %+v, want a new tag", r)
		}

		runImage(t, tool, first[0].Ref, "hello from testbed: alpha\n")
		runImage(t, tool, third[2].Ref, "hello from testbed: gamma, changed\n")
	})
}

// runImage runs the image ref, without a network, and checks its output.
func runImage(t *testing.T, tool *image.Tool, ref, want string) {
	t.Helper()
	args := []string{"run", "--rm", "--network", "none"}
	if tool.Name() == image.Podman {
		// podman sets the container's open-files and process limits
		// to values this sandbox does not let it raise to
		args = append(args, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096")
	}
	out, err := exec.CommandContext(t.Context(), tool.Program(), append(args, ref)...).CombinedOutput()
	if err != nil || string(out) != want {
		t.Errorf("%s run --rm %s: %q, %v; want %q", tool.Name(), ref, out, err, want)
	}
}

// goModule writes a Go module with a main package in cmd/api that prints
// main.version (-ldflags -X) and whether it was built with the tag e2e.
func goModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"go.mod":          "module shop\n\ngo 1.22\n",
		"cmd/api/main.go": "package main\n\nimport \"fmt\"\n\nvar version, tag = \"dev\", \"none\"\n\nfunc main() { fmt.Printf(\"api %s, tag %s\\n\", version, tag) }\n",
		"cmd/api/e2e.go":  "//go:build e2e\n\npackage main\n\nfunc init() { tag = \"e2e\" }\n",
	})
	return dir
}

// TestGoBuildRealEngine builds a Go main package into an image on the real
// engine, runs it, and builds it again: unchanged while its binary is.
func TestGoBuildRealEngine(t *testing.T) {
	engines(t, func(t *testing.T, tool *image.Tool) {
		run := newEngineRun(t, tool)
		spec := image.Spec{Stack: run.stack, Name: "api", Go: &image.GoBuild{
			Package: "./cmd/api", Dir: goModule(t), LDFlags: "-X main.version=e2e", Tags: []string{"e2e"},
		}}
		build := func(t *testing.T, s image.Spec) (image.Result, []image.EventKind) {
			t.Helper()
			var rec recorder
			res, err := image.BuildAll(t.Context(), tool, []image.Spec{s}, image.Options{LogDir: run.logDir, OnEvent: rec.add})
			for _, r := range res {
				run.track(r.Ref)
			}
			if err != nil {
				t.Fatal(err)
			}
			return res[0], rec.kinds()["api"]
		}

		first, events := build(t, spec)
		want := regexp.MustCompile(`^testbed\.local/` + run.stack + `/api:[0-9a-f]{12}$`)
		if !want.MatchString(first.Ref) || first.Unchanged || !slices.Equal(events, []image.EventKind{image.Started, image.Built}) {
			t.Fatalf("first build: %+v, events %v; want a new image tagged like %s", first, events, want)
		}
		if id, err := tool.ImageID(t.Context(), first.Ref); err != nil || id != first.ID {
			t.Errorf("%s: ID %q, engine has %q (%v)", first.Ref, first.ID, id, err)
		}
		runImage(t, tool, first.Ref, "api e2e, tag e2e\n")
		out, err := exec.CommandContext(t.Context(), tool.Program(), "image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{len .RootFS.Layers}}", first.Ref).Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != `65532:65532 ["/api"] 1` {
			t.Errorf("image config %q, %v; want user 65532:65532, entrypoint /api, one layer", got, err)
		}
		log, _ := os.ReadFile(filepath.Join(run.logDir, "api.log"))
		if !strings.Contains(string(log), "CGO_ENABLED=0 GOOS=linux GOARCH=") || !strings.Contains(string(log), "COPY api /api") {
			t.Errorf("api.log lacks the go build or the image build:\n%s", log)
		}

		// Built again, unchanged: go build runs (from its cache), the
		// binary hashes the same, the image is not rebuilt.
		again, events := build(t, spec)
		if again.Ref != first.Ref || again.ID != first.ID || !again.Unchanged || !slices.Equal(events, []image.EventKind{image.Started, image.Unchanged}) {
			t.Errorf("second build: %+v, events %v; want %s unchanged", again, events, first.Ref)
		}

		// Another ldflags value: another binary, another tag.
		spec.Go.LDFlags = "-X main.version=e2e-2"
		changed, _ := build(t, spec)
		if changed.Ref == first.Ref || changed.Unchanged || !want.MatchString(changed.Ref) {
			t.Errorf("after changing ldflags: %+v, want a new tag", changed)
		}
		runImage(t, tool, changed.Ref, "api e2e-2, tag e2e\n")
	})
}

func TestBuildFailsRealEngine(t *testing.T) {
	engines(t, func(t *testing.T, tool *image.Tool) {
		run := newEngineRun(t, tool)
		stack, logDir := run.stack, run.logDir
		slow, sleep := run.slowSpec(t)
		bad := image.Spec{Stack: stack, Name: "bad", Context: helloContext(t, "bad",
			"FROM scratch\nCOPY hello /hello\nRUN [\"/hello\", \"sleep\", \"1s\"]\nCOPY missing.txt /missing.txt\nENTRYPOINT [\"/hello\"]\n")}
		failing := image.Spec{Stack: stack, Name: "failing", Context: helloContext(t, "failing",
			"FROM scratch\nCOPY hello /hello\nRUN [\"/hello\", \"fail\"]\n")}
		for _, s := range []image.Spec{bad, failing} {
			r, _ := image.Reference(s)
			run.track(r)
		}

		before := containers(t, tool)
		var rec recorder
		start := time.Now()
		_, err := image.BuildAll(t.Context(), tool, []image.Spec{bad, slow}, image.Options{Concurrency: 2, LogDir: logDir, OnEvent: rec.add})
		took := time.Since(start)
		t.Logf("%s: failed after %s:\n%v", tool, took.Round(time.Millisecond), err)
		var be *image.BuildError
		if !errors.As(err, &be) {
			t.Fatalf("error %v, want a *BuildError", err)
		}
		log := filepath.Join(logDir, "bad.log")
		for _, w := range []string{
			`image "bad"`,
			filepath.Join(bad.Context, "Dockerfile"),
			"COPY missing.txt /missing.txt", // the step
			"4/5",                           // its number, in the tool's words
			"exit status ",
			"whole log: " + log,
			"last ",
			"missing.txt", // in the output's last lines
		} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not contain %q", w)
			}
		}
		if be.ExitCode() <= 0 || be.Step == "" || len(be.Tail) == 0 || len(be.Tail) > image.TailLines {
			t.Errorf("BuildError: exit %d, step %q, %d lines", be.ExitCode(), be.Step, len(be.Tail))
		}
		whole, _ := os.ReadFile(log)
		if !regexp.MustCompile(`(?i)step 1/5`).Match(whole) || !bytes.Contains(whole, []byte("missing.txt")) {
			t.Errorf("%s lacks the whole output:\n%s", log, whole)
		}
		if k := rec.kinds()["slow"]; !slices.Equal(k, []image.EventKind{image.Started, image.Canceled}) {
			t.Errorf("slow's events %v, want it canceled by bad's failure", k)
		}
		if took > 60*time.Second {
			t.Errorf("BuildAll took %s: the slow build was not stopped", took)
		}
		noLeftovers(t, tool, sleep, before)

		// A RUN step that fails: its exit code and its last output lines.
		_, err = image.BuildAll(t.Context(), tool, []image.Spec{failing}, image.Options{LogDir: logDir})
		if !errors.As(err, &be) || !strings.Contains(be.Step, `RUN ["/hello", "fail"]`) ||
			be.Tail[len(be.Tail)-1] == "" || !strings.Contains(strings.Join(be.Tail, "\n"), "output line 30") ||
			strings.Contains(strings.Join(be.Tail, "\n"), "output line 10\n") {
			t.Errorf("a failing RUN: %v", err)
		}
	})
}

func TestBuildCancelRealEngine(t *testing.T) {
	engines(t, func(t *testing.T, tool *image.Tool) {
		run := newEngineRun(t, tool)
		s, sleep := run.slowSpec(t)
		logFile, err := os.Create(filepath.Join(run.logDir, "slow.log"))
		must(t, err)
		defer logFile.Close()

		// Cancel once the RUN step runs: its program says "sleeping".
		before := containers(t, tool)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		s.Log = &watchWriter{w: logFile, want: "sleeping", found: cancel}
		start := time.Now()
		_, err = tool.Build(ctx, s)
		took := time.Since(start)
		t.Logf("%s: build canceled, returned after %s: %v", tool, took.Round(time.Millisecond), err)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `image "slow": build canceled`) {
			t.Fatalf("error %v, want the image's context.Canceled", err)
		}
		if took > image.WaitDelay+30*time.Second {
			t.Errorf("Build returned %s after it started", took)
		}
		noLeftovers(t, tool, sleep, before)
	})
}

// slowSpec returns an image whose build runs for ten minutes, in a RUN
// step, and the step's duration: unique, so that no other process on the
// machine has it in its command line.
func (r *engineRun) slowSpec(t *testing.T) (image.Spec, string) {
	b := make([]byte, 2)
	rand.Read(b)
	sleep := fmt.Sprintf("%d.%dms", 600000+int(b[0])*100+int(b[1]), int(b[1]))
	s := image.Spec{Stack: r.stack, Name: "slow", Context: helloContext(t, "slow",
		"FROM scratch\nCOPY hello /hello\nRUN [\"/hello\", \"sleep\", \""+sleep+"\"]\nENTRYPOINT [\"/hello\"]\n")}
	ref, err := image.Reference(s)
	must(t, err)
	r.track(ref)
	return s, sleep
}

// containers returns the engine's containers, ID -> "name command",
// podman's build containers included.
func containers(t *testing.T, tool *image.Tool) map[string]string {
	t.Helper()
	args := []string{"ps", "--all", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Command}}"}
	if tool.Name() == image.Podman {
		args = append(args, "--external")
	}
	out, err := exec.CommandContext(t.Context(), tool.Program(), args...).Output()
	if err != nil {
		t.Fatalf("%s ps: %v", tool.Name(), err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if id, rest, ok := strings.Cut(l, " "); ok {
			m[id] = rest
		}
	}
	return m
}

// noLeftovers checks that nothing of a stopped build goes on: no process
// runs its sleep step, and the engine has no container of it (docker: none
// running the step; podman: no build container that was not there before).
func noLeftovers(t *testing.T, tool *image.Tool, sleep string, before map[string]string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		procs := processesWith(sleep)
		var left []string
		for id, c := range containers(t, tool) {
			if strings.Contains(c, sleep) || tool.Name() == image.Podman && before[id] == "" && strings.Contains(c, "working-container") {
				left = append(left, id+" "+c)
			}
		}
		if len(procs) == 0 && len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("20s after the build stopped: processes %q, containers %q", procs, left)
			return
		}
		time.Sleep(200 * time.Millisecond) // nothing to watch: the engine removes them in its own time
	}
}

// processesWith lists the processes whose command line contains s.
func processesWith(s string) []string {
	var found []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if cmd := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})); strings.Contains(cmd, s) {
			found = append(found, filepath.Base(filepath.Dir(f))+": "+cmd)
		}
	}
	return found
}

// watchWriter writes to w and calls found, once, when want appears.
type watchWriter struct {
	w     *os.File
	want  string
	found func()
	mu    sync.Mutex
	seen  []byte
	once  sync.Once
}

func (ww *watchWriter) Write(p []byte) (int, error) {
	ww.mu.Lock()
	ww.seen = append(ww.seen, p...)
	hit := bytes.Contains(ww.seen, []byte(ww.want))
	ww.mu.Unlock()
	if hit {
		ww.once.Do(ww.found)
	}
	return ww.w.Write(p)
}
