package image_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/kubetestbed/testbed/internal/image"
)

// fakeGoScript records its argv, working directory and the three variables
// testbed sets (fields separated by \037) in $FAKE_GO_REC, and writes
// $FAKE_GO_BINARY to the -o file. Only shell builtins: it runs with the
// environment the test gives it.
const fakeGoScript = `#!/bin/sh
{ printf '%s\037' "$@"; printf 'PWD=%s\037CGO_ENABLED=%s\037GOOS=%s\037GOARCH=%s\n' "$(pwd)" "$CGO_ENABLED" "$GOOS" "$GOARCH"; } >> "$FAKE_GO_REC"
while [ $# -gt 0 ]; do
	[ "$1" = -o ] && out="$2"
	shift
done
printf '%s' "$FAKE_GO_BINARY" > "$out"
echo 'compiled'
`

// TestGoBuildArgv checks what building a go image runs, through fakes of
// go and docker (so that it runs where neither works): go build's argv,
// directory and environment; the generated context; a tag that hashes the
// binary, unchanged while the binary is.
func TestGoBuildArgv(t *testing.T) {
	rec, present := fakeTool(t, image.Docker)
	bin := t.TempDir()
	fakeGo := filepath.Join(bin, "fake-go")
	must(t, os.WriteFile(fakeGo, []byte(fakeGoScript), 0o755))
	goRec := filepath.Join(bin, "calls")
	mod := t.TempDir()
	spec := func(binary string) image.Spec {
		return image.Spec{Stack: "shop", Name: "api", Go: &image.GoBuild{
			Package: "./cmd/api", Dir: mod, LDFlags: "-X main.version=e2e", Tags: []string{"netgo", "osusergo"},
			Command: fakeGo,
			// CGO_ENABLED, GOOS and GOARCH set here lose to testbed's own.
			Env: []string{"FAKE_GO_REC=" + goRec, "FAKE_GO_BINARY=" + binary, "CGO_ENABLED=1", "GOOS=plan9", "GOARCH=mips"},
		}}
	}
	tool, err := image.NewTool(t.Context(), image.Docker)
	must(t, err)

	var log bytes.Buffer
	s := spec("binary v1")
	s.Log = &log
	res, err := tool.Build(t.Context(), s)
	if err != nil || !refPattern.MatchString(res.Ref) || res.ID != "sha256:feed" || res.Unchanged {
		t.Fatalf("Build = %+v, %v; want a new image tagged like %s", res, err, refPattern)
	}

	goCalls := calls(t, goRec)
	if len(goCalls) != 1 {
		t.Fatalf("go ran %d times: %q", len(goCalls), goCalls)
	}
	out := goCalls[0][3]
	wantGo := []string{"build", "-trimpath", "-o", out, "-ldflags", "-s -w -X main.version=e2e", "-tags", "netgo,osusergo", "./cmd/api",
		"PWD=" + mod, "CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
	if !slices.Equal(goCalls[0], wantGo) {
		t.Errorf("go build:\n%q\nwant\n%q", goCalls[0], wantGo)
	}
	if filepath.Base(out) != "api" {
		t.Errorf("go build -o %s: want the binary named as the image", out)
	}

	c := calls(t, rec)
	build := c[2][:len(c[2])-1]
	iidfile := build[slices.Index(build, "--iidfile")+1]
	context := filepath.Dir(out)
	wantCalls := [][]string{
		{"version", "--format", "{{.Server.Version}}", "BUILDKIT_PROGRESS="},
		{"image", "ls", "--no-trunc", "--quiet", res.Ref, "BUILDKIT_PROGRESS="},
		{"build", "--file", filepath.Join(context, "Dockerfile"), "--tag", res.Ref, "--iidfile", iidfile, "--force-rm", context, "BUILDKIT_PROGRESS=plain"},
	}
	if !slices.EqualFunc(c, wantCalls, slices.Equal) {
		t.Errorf("docker calls:\n%q\nwant\n%q", c, wantCalls)
	}
	if _, err := os.Stat(context); err == nil {
		t.Errorf("the generated context %s is left behind", context)
	}
	dockerfile, err := os.ReadFile(filepath.Join(rec+".context", "Dockerfile"))
	if want := "FROM scratch\nCOPY api /api\nUSER 65532:65532\nENTRYPOINT [\"/api\"]\n"; err != nil || string(dockerfile) != want {
		t.Errorf("generated Dockerfile %q, %v; want %q", dockerfile, err, want)
	}
	if fi, err := os.Stat(filepath.Join(rec+".context", "api")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the binary in the context: %v, %v; want mode 0755 (run as user 65532)", fi, err)
	}
	wantLog := "$ cd " + mod + " && CGO_ENABLED=0 GOOS=linux GOARCH=" + runtime.GOARCH + " " + fakeGo +
		` build -trimpath -o ` + out + ` -ldflags "-s -w -X main.version=e2e" -tags netgo,osusergo ./cmd/api` + "\ncompiled\n$ docker build "
	if !strings.HasPrefix(log.String(), wantLog) {
		t.Errorf("log:\n%s\nwant it to start\n%s", log.String(), wantLog)
	}

	// The same binary: the same tag, found present, not rebuilt; go ran.
	must(t, os.WriteFile(present, nil, 0o644))
	must(t, os.Remove(rec))
	again, err := tool.Build(t.Context(), spec("binary v1"))
	if err != nil || again.Ref != res.Ref || !again.Unchanged {
		t.Errorf("Build of the same binary = %+v, %v; want %s unchanged", again, err, res.Ref)
	}
	if c := calls(t, rec); len(c) != 1 || c[0][0] != "image" {
		t.Errorf("Build of the same binary ran %q, want only the look-up", c)
	}
	if n := len(calls(t, goRec)); n != 2 {
		t.Errorf("go ran %d times in all, want 2: the binary is what is hashed", n)
	}

	// Another binary: another tag.
	other, err := tool.Build(t.Context(), spec("binary v2"))
	if err != nil || other.Ref == res.Ref || !refPattern.MatchString(other.Ref) {
		t.Errorf("Build of another binary = %+v, %v; want a tag other than %s", other, err, res.Ref)
	}
}

// brokenMain does not compile.
const brokenMain = "package main\n\nfunc main() {\n\tnope()\n}\n"

// TestGoBuildFails checks that a go build that fails is a *BuildError
// naming the image, the package and the directory, with the compiler's
// last lines, and that no image build starts; with the real go command and
// a fake docker.
func TestGoBuildFails(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command here: %v", err)
	}
	rec, _ := fakeTool(t, image.Docker)
	mod := t.TempDir()
	writeFiles(t, mod, map[string]string{"go.mod": "module shop\n\ngo 1.22\n", "cmd/api/main.go": brokenMain})
	tool, err := image.NewTool(t.Context(), image.Docker)
	must(t, err)
	logDir := t.TempDir()
	specs := append([]image.Spec{{Stack: "shop", Name: "api", Go: &image.GoBuild{Package: "./cmd/api", Dir: mod, Command: goCmd}}},
		fakeSpecs(t, "web")...)

	var rec2 recorder
	_, err = image.BuildAll(t.Context(), tool, specs, image.Options{Concurrency: 2, LogDir: logDir, OnEvent: rec2.add})
	t.Logf("error:\n%v", err)
	var be *image.BuildError
	if !errors.As(err, &be) || be.Tool != image.GoTool || be.Image != "api" || be.Ref != "" {
		t.Fatalf("error %v, want a go *BuildError of image api", err)
	}
	log := filepath.Join(logDir, "api.log")
	for _, w := range []string{
		fmt.Sprintf(`image "api": go build ./cmd/api (in %s) failed: exit status 1 (whole log: %s)`, mod, log),
		"last ",
		"undefined: nope", // the compiler's line
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q", w)
		}
	}
	if strings.Contains(err.Error(), "lower the build concurrency") || strings.Contains(err.Error(), "step") {
		t.Errorf("a compile error reads as the tool's trouble or a Dockerfile step:\n%v", err)
	}
	if !slices.ContainsFunc(be.Tail, func(l string) bool { return strings.Contains(l, "main.go:4:2: undefined: nope") }) {
		t.Errorf("tail %q lacks the compiler's line", be.Tail)
	}
	if whole, _ := os.ReadFile(log); !regexp.MustCompile(`(?m)^\$ cd .* build -trimpath .*\n(.*\n)*.*undefined: nope`).Match(whole) {
		t.Errorf("%s lacks the command and the compiler's output:\n%s", log, whole)
	}
	if k := rec2.kinds()["api"]; !slices.Equal(k, []image.EventKind{image.Started, image.Failed}) {
		t.Errorf("api's events %v", k)
	}
	for _, c := range calls(t, rec) {
		if c[0] == "build" && slices.Contains(c, "api") {
			t.Errorf("an image build ran after go build failed: %q", c)
		}
	}

	// No go command at all: said so, naming the image.
	specs[0].Go.Command = filepath.Join(t.TempDir(), "go")
	_, err = tool.Build(t.Context(), specs[0])
	if err == nil || !strings.Contains(err.Error(), `image "api": go build ./cmd/api: no go command:`) {
		t.Errorf("a go command that is not there: %v", err)
	}
}
