package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The container tools a Tool can be.
const (
	Docker = "docker"
	Podman = "podman"
)

// ProbeTimeout bounds the command that checks a tool answers.
const ProbeTimeout = 20 * time.Second

// WaitDelay is how long a canceled build may take to stop before its
// process is killed.
const WaitDelay = 10 * time.Second

// Builder builds an image. *Tool is the real one.
type Builder interface {
	// Build builds s, or finds it built already, and returns its
	// reference and ID. An error names the image; a failed build's is a
	// *BuildError. When ctx ends the build is stopped and the error wraps
	// ctx.Err().
	Build(ctx context.Context, s Spec) (Result, error)
}

var _ Builder = (*Tool)(nil)

// Result is a built image.
type Result struct {
	// Ref is the image's content-derived reference (see Reference).
	Ref string
	// ID is the image ID, "sha256:<hex>".
	ID string
	// Unchanged reports that an image with Ref was already present, so
	// nothing was built.
	Unchanged bool
	// Duration is how long Build took, hashing the context included.
	Duration time.Duration
}

// Tool is a container tool, docker or podman, that answers: the docker
// CLI with its daemon reachable, or podman able to reach its storage. One
// tool serves a whole run, so that images are built and loaded by the
// same engine.
type Tool struct {
	name    string
	program string
	version string
}

// NewTool returns the container tool name ("docker" or "podman"), after
// checking that it answers; with name "" it detects one: docker if its
// daemon answers, else podman. Name reports which was chosen. The error
// says why each candidate does not work.
func NewTool(ctx context.Context, name string) (*Tool, error) {
	switch name {
	case Docker, Podman:
		return probe(ctx, name)
	case "":
		t, derr := probe(ctx, Docker)
		if derr == nil {
			return t, nil
		}
		t, perr := probe(ctx, Podman)
		if perr == nil {
			return t, nil
		}
		return nil, fmt.Errorf("no container tool works (install Docker or Podman, or start the Docker daemon):\n  %w\n  %w", derr, perr)
	}
	return nil, fmt.Errorf("container tool %q: want %q or %q", name, Docker, Podman)
}

func probe(ctx context.Context, name string) (*Tool, error) {
	program, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("%s: not found: %w", name, err)
	}
	args := []string{"version", "--format", "{{.Server.Version}}"}
	if name == Podman {
		args = []string{"info", "--format", "{{.Version.Version}}"}
	}
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, program, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w: %s", name, program, strings.Join(args, " "), err, firstLine(out))
	}
	return &Tool{name: name, program: program, version: firstLine(out)}, nil
}

// Name returns "docker" or "podman".
func (t *Tool) Name() string { return t.name }

// Program returns the path of the tool's executable.
func (t *Tool) Program() string { return t.program }

// Version returns the engine's version: the Docker daemon's, or podman's.
func (t *Tool) Version() string { return t.version }

// String returns the tool's name and version, e.g. "docker 20.10.24".
func (t *Tool) String() string { return t.name + " " + t.version }

// ImageID returns the ID ("sha256:<hex>") of the image ref in the tool's
// engine, or "" if there is none.
func (t *Tool) ImageID(ctx context.Context, ref string) (string, error) {
	out, err := t.output(ctx, "image", "ls", "--no-trunc", "--quiet", ref)
	if err != nil {
		return "", fmt.Errorf("look up %s: %w", ref, err)
	}
	return normalizeID(firstLine(out)), nil
}

// Remove removes the images refs from the tool's engine.
func (t *Tool) Remove(ctx context.Context, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	if _, err := t.output(ctx, append([]string{"image", "rm"}, refs...)...); err != nil {
		return fmt.Errorf("remove %s: %w", strings.Join(refs, ", "), err)
	}
	return nil
}

func (t *Tool) output(ctx context.Context, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, t.program, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", t.name, strings.Join(args, " "), err, firstLine(stderr.Bytes()))
	}
	return out, nil
}

// Build builds s unless an image with its reference is present already
// (then Result.Unchanged is set). The whole output goes to s.Log, the
// command line first. BuildKit is asked for plain progress. A go image
// (s.Go) is compiled first, then its reference is known (see buildGo).
func (t *Tool) Build(ctx context.Context, s Spec) (Result, error) {
	start := time.Now()
	log := s.Log
	if log == nil {
		log = io.Discard
	}
	if s.Go != nil {
		return t.buildGo(ctx, s, log, start)
	}
	ref, err := s.Ref, error(nil)
	if ref == "" {
		ref, err = reference(ctx, s)
	} else {
		err = Check(s)
	}
	if ctx.Err() != nil {
		return Result{}, canceled(ctx, s)
	}
	if err != nil {
		return Result{}, err
	}
	return t.buildAs(ctx, s, ref, log, start)
}

// canceled is the error of a build of s stopped because ctx ended.
func canceled(ctx context.Context, s Spec) error {
	return fmt.Errorf("image %q: build canceled: %w", s.Name, ctx.Err())
}

// buildAs builds the Dockerfile of s tagged ref, unless the engine has an
// image ref already; its output goes to log. start is when Build started.
func (t *Tool) buildAs(ctx context.Context, s Spec, ref string, log io.Writer, start time.Time) (Result, error) {
	if id, err := t.ImageID(ctx, ref); ctx.Err() != nil {
		return Result{Ref: ref}, canceled(ctx, s)
	} else if err != nil {
		return Result{Ref: ref}, fmt.Errorf("image %q: %w", s.Name, err)
	} else if id != "" {
		fmt.Fprintf(log, "%s is present (%s): unchanged, not rebuilt\n", ref, id)
		return Result{Ref: ref, ID: id, Unchanged: true, Duration: time.Since(start)}, nil
	}

	iid, err := os.CreateTemp("", "testbed-iid-*")
	if err != nil {
		return Result{Ref: ref}, fmt.Errorf("image %q: %w", s.Name, err)
	}
	iid.Close()
	defer os.Remove(iid.Name())

	args := t.buildArgs(s, ref, iid.Name())
	fmt.Fprintf(log, "$ %s %s\n", t.name, quoteArgs(args))
	tr := &transcript{}
	out := io.MultiWriter(log, tr)
	cmd := exec.CommandContext(ctx, t.program, args...)
	cmd.Stdout, cmd.Stderr = out, out // one writer: one pipe, in order
	cmd.Env = append(os.Environ(), "BUILDKIT_PROGRESS=plain")
	cmd.Cancel = t.cancel(cmd)
	cmd.WaitDelay = WaitDelay
	err = cmd.Run()
	tr.flush()
	if ctx.Err() != nil {
		return Result{Ref: ref}, canceled(ctx, s)
	}
	if err != nil {
		return Result{Ref: ref}, &BuildError{
			Image: s.Name, Ref: ref, Dockerfile: s.DockerfilePath(), Tool: t.name,
			Step: tr.Step(), Tail: tr.Tail(), Err: err,
		}
	}
	b, err := os.ReadFile(iid.Name())
	id := normalizeID(string(bytes.TrimSpace(b)))
	if err != nil || id == "" {
		if id, err = t.ImageID(ctx, ref); err != nil {
			return Result{Ref: ref}, fmt.Errorf("image %q: built, but: %w", s.Name, err)
		} else if id == "" {
			return Result{Ref: ref}, fmt.Errorf("image %q: built, but %s has no image %s", s.Name, t.name, ref)
		}
	}
	return Result{Ref: ref, ID: id, Duration: time.Since(start)}, nil
}

// buildArgs returns the argv (without the program) that builds s as ref.
// --force-rm keeps the legacy builder from leaving a failed step's
// container (podman does that by default, BuildKit has none and ignores
// the flag). No --label: the legacy builder and podman would add a step
// for each, and step numbers would no longer be the Dockerfile's.
func (t *Tool) buildArgs(s Spec, ref, iidfile string) []string {
	dockerfile, err := filepath.Abs(s.DockerfilePath())
	if err != nil {
		dockerfile = s.DockerfilePath()
	}
	args := []string{"build",
		"--file", dockerfile,
		"--tag", ref,
		"--iidfile", iidfile,
		"--force-rm",
	}
	if s.Target != "" {
		args = append(args, "--target", s.Target)
	}
	keys := make([]string, 0, len(s.BuildArgs))
	for k := range s.BuildArgs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "--build-arg", k+"="+s.BuildArgs[k])
	}
	return append(args, s.Context)
}

// cancel returns how a canceled build is stopped. For docker, killing the
// CLI is enough (the daemon ends a build whose client left). podman runs
// the build itself and a RUN step's processes outlive it, so the processes
// under podman's children are killed: the step fails and podman cleans up.
func (t *Tool) cancel(cmd *exec.Cmd) func() error {
	if t.name != Podman {
		return func() error { return cmd.Process.Kill() }
	}
	return func() error {
		children := childPIDs(cmd.Process.Pid)
		var below []int
		for next := children; len(next) > 0; {
			var deeper []int
			for _, p := range next {
				deeper = append(deeper, childPIDs(p)...)
			}
			below, next = append(below, deeper...), deeper
		}
		if signal(below, syscall.SIGKILL) > 0 || signal(children, syscall.SIGTERM) > 0 {
			return nil
		}
		return cmd.Process.Signal(syscall.SIGTERM)
	}
}

// childPIDs returns the children of process pid, as Linux's /proc lists
// them (none where there is no /proc).
func childPIDs(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var pids []int
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(field); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// signal sends sig to pids and returns how many it reached.
func signal(pids []int, sig syscall.Signal) int {
	n := 0
	for _, p := range pids {
		if syscall.Kill(p, sig) == nil {
			n++
		}
	}
	return n
}

func normalizeID(id string) string {
	if id == "" || strings.HasPrefix(id, "sha256:") {
		return id
	}
	return "sha256:" + id
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// quoteArgs joins args for a log line, quoting those a shell would split.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`*?[]{}()<>|&;#~") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// BuildError is a build that failed: the tool exited non-zero.
type BuildError struct {
	// Image is the image's name; Ref the reference it was to get ("" when
	// go build failed: a go image's reference hashes its binary).
	Image, Ref string
	// Dockerfile is the Dockerfile it was built from (for a go image, the
	// one testbed generated).
	Dockerfile string
	// Package is a go image's Go package, and Dir the directory go build
	// ran in; both empty for a Dockerfile build.
	Package, Dir string
	// Tool is "docker" or "podman", or GoTool when go build failed.
	Tool string
	// Step is the Dockerfile step that failed, in the tool's words
	// ("Step 3/4 : COPY …", "[2/3] RUN …", "STEP 3/4: COPY …"); "" if the
	// build failed before its first step.
	Step string
	// Tail holds the build's last output lines (at most TailLines).
	Tail []string
	// Log is the file holding the whole output ("" if none was written).
	// BuildAll sets it.
	Log string
	// Hint, if set, suggests what to change (BuildAll sets it when the
	// failure may come from running builds in parallel).
	Hint string
	// Err is the tool's exit status.
	Err error
}

func (e *BuildError) Error() string {
	var b strings.Builder
	switch {
	case e.Tool == GoTool:
		fmt.Fprintf(&b, "image %q: go build %s (in %s) failed", e.Image, e.Package, e.Dir)
	case e.Package != "":
		fmt.Fprintf(&b, "image %q: %s build of the image of Go package %s failed", e.Image, e.Tool, e.Package)
	default:
		fmt.Fprintf(&b, "image %q: %s build of %s failed", e.Image, e.Tool, e.Dockerfile)
	}
	switch {
	case e.Tool == GoTool:
	case e.Step != "":
		fmt.Fprintf(&b, " at %q", e.Step)
	default:
		b.WriteString(" before its first step")
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.Log != "" {
		fmt.Fprintf(&b, " (whole log: %s)", e.Log)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, "; %s", e.Hint)
	}
	if len(e.Tail) > 0 {
		if len(e.Tail) == 1 {
			b.WriteString("\n  last line of output:")
		} else {
			fmt.Fprintf(&b, "\n  last %d lines of output:", len(e.Tail))
		}
		for _, l := range e.Tail {
			b.WriteString("\n    " + l)
		}
	}
	return b.String()
}

// toolTrouble reports whether the failure looks like the tool's own rather
// than a step's: no step started, the tool was killed by a signal, or
// podman exited 125 (its own error) without saying a step failed. go build
// has no steps: only its being killed counts.
func (e *BuildError) toolTrouble() bool {
	var ee *exec.ExitError
	killed := errors.As(e.Err, &ee) && ee.ExitCode() < 0
	if e.Tool == GoTool {
		return killed
	}
	if e.Step == "" || killed {
		return true
	}
	if e.Tool != Podman || e.ExitCode() != 125 {
		return false
	}
	return !slices.ContainsFunc(e.Tail, func(l string) bool { return strings.HasPrefix(l, "Error: building at STEP") })
}

// Unwrap returns the tool's exit status.
func (e *BuildError) Unwrap() error { return e.Err }

// SuggestLowerConcurrency sets e's hint to lower the build concurrency
// when e looks like the tool's own failure and parallel builds ran at once
// (podman has been seen to crash so, exit 125).
func (e *BuildError) SuggestLowerConcurrency(parallel int) {
	if parallel > 1 && e.toolTrouble() {
		e.Hint = fmt.Sprintf("up to %d builds ran at once: if %s itself gave way, lower the build concurrency", parallel, e.Tool)
	}
}

// ExitCode returns the tool's exit code, or -1 if it was killed by a
// signal or did not run.
func (e *BuildError) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
