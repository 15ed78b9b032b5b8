package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// GoTool is BuildError.Tool when go build, not the container tool, failed.
const GoTool = "go"

// GoUser is the user a go image runs as: a numeric one other than root, so
// that pods asking for runAsNonRoot (kubebuilder's default) run it, as
// distroless's "nonroot" and ko's default base do.
const GoUser = "65532:65532"

// GoBuild is an image built from a Go main package, with no Dockerfile, as
// ko builds one: go build compiles the package into a static linux binary,
// and the image holds that binary alone, FROM scratch, at /NAME (the
// image's name), its entrypoint.
type GoBuild struct {
	// Package is the main package, as go build takes it (./cmd/api, or an
	// import path).
	Package string
	// Dir is the directory go build runs in, the Go module ("": the
	// working directory).
	Dir string
	// LDFlags are added to the linker flags, after "-s -w".
	LDFlags string
	// Tags are build tags.
	Tags []string
	// Command is the go command: a name looked up in PATH, or a path
	// ("": go).
	Command string
	// Env is the go command's environment (nil: this process's);
	// CGO_ENABLED=0, GOOS and GOARCH are set after it.
	Env []string
}

// checkGo reports what keeps the go image s from being built: Dockerfile
// fields set beside it, no package, a directory that is not one.
func checkGo(s Spec) []error {
	var errs []error
	g := s.Go
	if s.Context != "" || s.Dockerfile != "" || s.Target != "" || len(s.BuildArgs) > 0 || s.Ref != "" {
		errs = append(errs, fmt.Errorf("image %q: a go image has no context, dockerfile, target, build arguments or preset reference", s.Name))
	}
	switch {
	case strings.TrimSpace(g.Package) == "":
		errs = append(errs, fmt.Errorf("image %q: no Go package to build", s.Name))
	case strings.HasPrefix(g.Package, "-"):
		errs = append(errs, fmt.Errorf("image %q: Go package %q starts with '-'", s.Name, g.Package))
	}
	if g.Dir != "" {
		if err := isDir(g.Dir); err != nil {
			errs = append(errs, fmt.Errorf("image %q: go build directory %q %w", s.Name, g.Dir, err))
		}
	}
	return errs
}

// goEnv is what the go command's environment is given last: a static
// linux binary for the engine's architecture. That architecture is taken
// to be this machine's (runtime.GOARCH), right for a local engine; an
// engine elsewhere on another architecture (a remote DOCKER_HOST) would
// need the one its `docker version` reports.
func goEnv() []string {
	return []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
}

// goBuildArgs returns the argv (without the program) that compiles g into
// the file out: -trimpath and -s -w so that the binary depends on the
// sources and flags alone, not on where they are.
func goBuildArgs(g *GoBuild, out string) []string {
	ldflags := "-s -w"
	if g.LDFlags != "" {
		ldflags += " " + g.LDFlags
	}
	args := []string{"build", "-trimpath", "-o", out, "-ldflags", ldflags}
	if len(g.Tags) > 0 {
		args = append(args, "-tags", strings.Join(g.Tags, ","))
	}
	return append(args, g.Package)
}

// goDockerfile is the Dockerfile of a go image named name, whose context
// holds the binary as name.
func goDockerfile(name string) string {
	return fmt.Sprintf("FROM scratch\nCOPY %s /%s\nUSER %s\nENTRYPOINT [\"/%s\"]\n", name, name, GoUser, name)
}

// buildGo builds the go image s: go build into a temporary context, then
// the image of that binary, tagged by a hash of the binary and the
// generated Dockerfile. go's build cache makes compiling unchanged sources
// cheap, and the hash of its output is exact where a hash of the sources
// (and of every module they import) would not be; an image with that
// reference present already is not rebuilt.
func (t *Tool) buildGo(ctx context.Context, s Spec, log io.Writer, start time.Time) (Result, error) {
	if err := Check(s); err != nil {
		return Result{}, err
	}
	dir, err := os.MkdirTemp("", "testbed-go-"+s.Name+"-*")
	if err != nil {
		return Result{}, fmt.Errorf("image %q: %w", s.Name, err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, s.Name)
	if err := goBuild(ctx, s, bin, log); err != nil {
		if ctx.Err() != nil {
			return Result{}, canceled(ctx, s)
		}
		return Result{}, err
	}
	dockerfile := goDockerfile(s.Name)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return Result{}, fmt.Errorf("image %q: %w", s.Name, err)
	}
	sum, err := goDigest(bin, dockerfile)
	if err != nil {
		return Result{}, fmt.Errorf("image %q: hash the binary: %w", s.Name, err)
	}
	img := Spec{Stack: s.Stack, Name: s.Name, Context: dir}
	res, err := t.buildAs(ctx, img, contentRef(s, sum), log, start)
	var be *BuildError
	if errors.As(err, &be) {
		be.Package, be.Dir = s.Go.Package, s.Go.Dir
	}
	return res, err
}

// goBuild runs go build for the go image s, writing the binary to out,
// world-executable (the image runs it as GoUser). Its output goes to log;
// a failure is a *BuildError with go's last lines.
func goBuild(ctx context.Context, s Spec, out string, log io.Writer) error {
	g := s.Go
	command := g.Command
	if command == "" {
		command = "go"
	}
	program, err := exec.LookPath(command)
	if err != nil {
		return fmt.Errorf("image %q: go build %s: no go command: %w", s.Name, g.Package, err)
	}
	env := g.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(env[:len(env):len(env)], goEnv()...)
	dir := g.Dir
	if dir == "" {
		dir = "."
	}
	args := goBuildArgs(g, out)
	fmt.Fprintf(log, "$ cd %s && %s %s %s\n", quoteArgs([]string{dir}), strings.Join(goEnv(), " "), command, quoteArgs(args))
	tr := &transcript{}
	w := io.MultiWriter(log, tr)
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Dir = g.Dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = WaitDelay
	err = cmd.Run()
	tr.flush()
	if err != nil {
		return &BuildError{Image: s.Name, Package: g.Package, Dir: dir, Tool: GoTool, Tail: tr.Tail(), Err: err}
	}
	if err := os.Chmod(out, 0o755); err != nil {
		return fmt.Errorf("image %q: go build %s: %w", s.Name, g.Package, err)
	}
	return nil
}

// goDigest hashes what a go image holds: its binary and its Dockerfile
// (the binary's path, entrypoint and user).
func goDigest(bin, dockerfile string) (string, error) {
	h := sha256.New()
	field := framer(h)
	field("testbed go image", "v1")
	field("dockerfile", dockerfile)
	field("binary")
	if err := copyFile(h, bin); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
