package image_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kubetestbed/testbed/internal/image"
)

// fakeToolScript records each call's argv (fields separated by \037) and
// its BUILDKIT_PROGRESS, one call a line, in @REC@. It answers as a tool
// that works; has the image @PRESENT@ exists; builds copy their context
// to @REC@.context and write an ID to the --iidfile.
const fakeToolScript = `#!/bin/sh
{ printf '%s\037' "$@"; printf 'BUILDKIT_PROGRESS=%s\n' "$BUILDKIT_PROGRESS"; } >> '@REC@'
case "$1" in
version) echo 28.2.2 ;;
info) echo 4.3.1 ;;
image) [ -f '@PRESENT@' ] && echo sha256:0000000000000000000000000000000000000000000000000000000000000001 ;;
build)
	for context; do :; done
	/bin/rm -rf '@REC@.context' && /bin/cp -Rp "$context" '@REC@.context'
	while [ $# -gt 0 ]; do
		[ "$1" = --iidfile ] && printf 'sha256:feed\n' > "$2"
		shift
	done
	echo 'Step 1/1 : FROM scratch' ;;
esac
exit 0
`

// fakeTool installs a recording fake of the tool name as the only program
// on PATH, and returns the files it records into and checks.
func fakeTool(t *testing.T, name string) (rec, present string) {
	dir := t.TempDir()
	rec, present = filepath.Join(dir, "calls"), filepath.Join(dir, "present")
	script := strings.NewReplacer("@REC@", rec, "@PRESENT@", present).Replace(fakeToolScript)
	bin := filepath.Join(dir, "bin")
	must(t, os.Mkdir(bin, 0o755))
	must(t, os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755))
	t.Setenv("PATH", bin)
	t.Setenv("BUILDKIT_PROGRESS", "") // as the calls are recorded: set by Build only
	return rec, present
}

func calls(t *testing.T, rec string) [][]string {
	t.Helper()
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		out = append(out, strings.Split(l, "\037"))
	}
	return out
}

// TestBuildArgv checks the commands a build runs, through a recording fake
// of each tool (so that it runs where neither is installed).
func TestBuildArgv(t *testing.T) {
	for _, name := range []string{image.Docker, image.Podman} {
		t.Run(name, func(t *testing.T) {
			rec, present := fakeTool(t, name)
			ctxDir := t.TempDir()
			writeFiles(t, ctxDir, map[string]string{"build/api.Dockerfile": "FROM scratch\n", "main.go": "package main\n"})
			spec := image.Spec{
				Stack: "shop", Name: "api", Context: ctxDir, Dockerfile: filepath.Join(ctxDir, "build/api.Dockerfile"),
				Target: "test", BuildArgs: map[string]string{"B": "x y", "A": "1"},
			}
			ref, err := image.Reference(spec)
			must(t, err)

			tool, err := image.NewTool(t.Context(), "")
			if err != nil || tool.Name() != name {
				t.Fatalf("detected %v, %v; want %s", tool, err, name)
			}
			var log bytes.Buffer
			spec.Log = &log
			res, err := tool.Build(t.Context(), spec)
			if err != nil || res.Ref != ref || res.ID != "sha256:feed" || res.Unchanged {
				t.Fatalf("Build = %+v, %v", res, err)
			}

			c := calls(t, rec)
			probe := []string{"version", "--format", "{{.Server.Version}}"}
			if name == image.Podman {
				probe = []string{"info", "--format", "{{.Version.Version}}"}
			}
			build := c[2][:len(c[2])-1]
			iidfile := build[slices.Index(build, "--iidfile")+1]
			wantCalls := [][]string{
				append(probe, "BUILDKIT_PROGRESS="),
				{"image", "ls", "--no-trunc", "--quiet", ref, "BUILDKIT_PROGRESS="},
				{"build", "--file", spec.Dockerfile, "--tag", ref, "--iidfile", iidfile, "--force-rm",
					"--target", "test", "--build-arg", "A=1", "--build-arg", "B=x y", ctxDir, "BUILDKIT_PROGRESS=plain"},
			}
			if len(c) != len(wantCalls) {
				t.Fatalf("calls:\n%q\nwant\n%q", c, wantCalls)
			}
			for i := range wantCalls {
				if !slices.Equal(c[i], wantCalls[i]) {
					t.Errorf("call %d:\n%q\nwant\n%q", i, c[i], wantCalls[i])
				}
			}
			if _, err := os.Stat(iidfile); err == nil {
				t.Errorf("the --iidfile %s is left behind", iidfile)
			}
			wantLog := "$ " + name + " build --file " + spec.Dockerfile + " --tag " + ref + " --iidfile " + iidfile +
				` --force-rm --target test --build-arg A=1 --build-arg "B=x y" ` + ctxDir + "\nStep 1/1 : FROM scratch\n"
			if log.String() != wantLog {
				t.Errorf("log:\n%s\nwant\n%s", log.String(), wantLog)
			}

			// Present already: looked up, not built.
			must(t, os.WriteFile(present, nil, 0o644))
			must(t, os.Remove(rec))
			log.Reset()
			res, err = tool.Build(t.Context(), spec)
			if err != nil || !res.Unchanged || res.Ref != ref || !strings.HasPrefix(res.ID, "sha256:0000") {
				t.Fatalf("second Build = %+v, %v", res, err)
			}
			if c := calls(t, rec); len(c) != 1 || c[0][0] != "image" {
				t.Errorf("second Build ran %q, want only the look-up", c)
			}
			if !strings.Contains(log.String(), ref+" is present") {
				t.Errorf("log of an unchanged image: %q", log.String())
			}
		})
	}
}

func TestBuildCanceledBeforeStart(t *testing.T) {
	rec, _ := fakeTool(t, image.Docker)
	tool, err := image.NewTool(t.Context(), image.Docker)
	must(t, err)
	must(t, os.Remove(rec))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = tool.Build(ctx, fakeSpecs(t, "api")[0])
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `image "api": build canceled`) {
		t.Errorf("error %v, want the image's context.Canceled", err)
	}
	if _, err := os.Stat(rec); err == nil {
		t.Errorf("the tool ran: %q", calls(t, rec))
	}
}
