package image_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/image"
)

// writeFiles writes files (path relative to dir -> content) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var refPattern = regexp.MustCompile(`^testbed\.local/shop/api:[0-9a-f]{12}$`)

func TestReference(t *testing.T) {
	base := func(t *testing.T) image.Spec {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"Dockerfile":    "FROM scratch\nCOPY . /\n",
			"main.go":       "package main\n",
			"pkg/a.go":      "package pkg\n",
			".dockerignore": "*.tmp\nnotes/\n",
			".git/HEAD":     "ref: refs/heads/main\n",
			"scratch.tmp":   "x",
			"notes/todo":    "y",
		})
		return image.Spec{Stack: "shop", Name: "api", Context: dir, BuildArgs: map[string]string{"A": "1", "B": "2"}}
	}
	ref := func(t *testing.T, s image.Spec) string {
		t.Helper()
		r, err := image.Reference(s)
		if err != nil {
			t.Fatal(err)
		}
		if !refPattern.MatchString(r) {
			t.Fatalf("reference %q does not match %s", r, refPattern)
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		change  func(t *testing.T, s *image.Spec)
		changes bool
	}{
		{"nothing", func(*testing.T, *image.Spec) {}, false},
		{"a file's content", func(t *testing.T, s *image.Spec) {
			writeFiles(t, s.Context, map[string]string{"pkg/a.go": "package pkg // v2\n"})
		}, true},
		{"a new file", func(t *testing.T, s *image.Spec) { writeFiles(t, s.Context, map[string]string{"pkg/b.go": ""}) }, true},
		{"a new empty directory", func(t *testing.T, s *image.Spec) { must(t, os.Mkdir(filepath.Join(s.Context, "empty"), 0o755)) }, true},
		{"a renamed file", func(t *testing.T, s *image.Spec) {
			must(t, os.Rename(filepath.Join(s.Context, "pkg/a.go"), filepath.Join(s.Context, "pkg/z.go")))
		}, true},
		{"a file's mode", func(t *testing.T, s *image.Spec) { must(t, os.Chmod(filepath.Join(s.Context, "main.go"), 0o755)) }, true},
		{"a symlink", func(t *testing.T, s *image.Spec) { must(t, os.Symlink("main.go", filepath.Join(s.Context, "link"))) }, true},
		{"the Dockerfile", func(t *testing.T, s *image.Spec) {
			writeFiles(t, s.Context, map[string]string{"Dockerfile": "FROM scratch\nCOPY . /app/\n"})
		}, true},
		{"a Dockerfile outside the context", func(t *testing.T, s *image.Spec) {
			s.Dockerfile = filepath.Join(t.TempDir(), "api.Dockerfile")
			writeFiles(t, filepath.Dir(s.Dockerfile), map[string]string{"api.Dockerfile": "FROM scratch\nCOPY . /\n"})
		}, false},
		{"a build arg's value", func(_ *testing.T, s *image.Spec) { s.BuildArgs = map[string]string{"A": "1", "B": "3"} }, true},
		{"an empty build arg added", func(_ *testing.T, s *image.Spec) { s.BuildArgs = map[string]string{"A": "1", "B": "2", "C": ""} }, true},
		{"the target", func(_ *testing.T, s *image.Spec) { s.Target = "test" }, true},
		{"the .dockerignore", func(t *testing.T, s *image.Spec) {
			writeFiles(t, s.Context, map[string]string{".dockerignore": "*.tmp\n"})
		}, true},
		{"an ignored file", func(t *testing.T, s *image.Spec) {
			writeFiles(t, s.Context, map[string]string{"scratch.tmp": "changed", "notes/todo": "changed", "notes/new": ""})
		}, false},
		{"the .git directory", func(t *testing.T, s *image.Spec) {
			writeFiles(t, s.Context, map[string]string{".git/HEAD": "ref: refs/heads/other\n", ".git/objects/ab": "z"})
		}, false},
		{"mtimes", func(t *testing.T, s *image.Spec) {
			must(t, os.Chtimes(filepath.Join(s.Context, "main.go"), time.Now(), time.Now().Add(-time.Hour)))
		}, false},
		{"the stack", func(_ *testing.T, s *image.Spec) { s.Stack = "other" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base(t)
			before := ref(t, s)
			if again := ref(t, s); again != before {
				t.Fatalf("two digests of the same inputs differ: %s, %s", before, again)
			}
			tc.change(t, &s)
			after, err := image.Reference(s)
			if err != nil {
				t.Fatal(err)
			}
			if changed := after != before; changed != tc.changes {
				t.Errorf("reference %s -> %s; want a change: %v", before, after, tc.changes)
			}
		})
	}
}

func TestReferenceStableAcrossCopies(t *testing.T) {
	files := map[string]string{"Dockerfile": "FROM scratch\n", "a/b/c.txt": "c", "d.txt": "d"}
	var refs []string
	for range 2 {
		dir := t.TempDir()
		writeFiles(t, dir, files)
		r, err := image.Reference(image.Spec{Stack: "shop", Name: "api", Context: dir})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	if refs[0] != refs[1] {
		t.Errorf("the same files in two directories: %s and %s", refs[0], refs[1])
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\n", "other.Dockerfile": "FROM scratch\n", "file": ""})
	must(t, os.Mkdir(filepath.Join(dir, "Dockerfile.d"), 0o755))
	for _, tc := range []struct {
		name string
		spec image.Spec
		want []string // substrings of the error; none: valid
	}{
		{"valid", image.Spec{Stack: "shop", Name: "api", Context: dir}, nil},
		{"valid, other Dockerfile", image.Spec{Stack: "shop", Name: "api-2", Context: dir, Dockerfile: filepath.Join(dir, "other.Dockerfile")}, nil},
		{"missing context", image.Spec{Stack: "shop", Name: "api", Context: filepath.Join(dir, "nope")},
			[]string{`image "api": context "` + filepath.Join(dir, "nope") + `" does not exist`, `dockerfile "` + filepath.Join(dir, "nope", "Dockerfile") + `" does not exist`}},
		{"context is a file", image.Spec{Stack: "shop", Name: "api", Context: filepath.Join(dir, "file")},
			[]string{`context "` + filepath.Join(dir, "file") + `" is not a directory`}},
		{"no context", image.Spec{Stack: "shop", Name: "api"}, []string{`image "api": no build context`}},
		{"missing Dockerfile", image.Spec{Stack: "shop", Name: "api", Context: dir, Dockerfile: filepath.Join(dir, "api.Dockerfile")},
			[]string{`image "api": dockerfile "` + filepath.Join(dir, "api.Dockerfile") + `" does not exist`}},
		{"Dockerfile is a directory", image.Spec{Stack: "shop", Name: "api", Context: dir, Dockerfile: filepath.Join(dir, "Dockerfile.d")},
			[]string{`is not a file`}},
		{"bad names", image.Spec{Stack: "Shop", Name: "api_", Context: dir},
			[]string{`stack name "Shop" is not lower-case`, `image name "api_" is not lower-case`}},
		{"go image", image.Spec{Stack: "shop", Name: "api", Go: &image.GoBuild{Package: "./cmd/api", Dir: dir}}, nil},
		{"go image in the working directory", image.Spec{Stack: "shop", Name: "api", Go: &image.GoBuild{Package: "./cmd/api"}}, nil},
		{"go image without a package", image.Spec{Stack: "shop", Name: "api", Go: &image.GoBuild{Dir: dir}},
			[]string{`image "api": no Go package to build`}},
		{"go image package that is a flag", image.Spec{Stack: "shop", Name: "api", Go: &image.GoBuild{Package: "-race", Dir: dir}},
			[]string{`image "api": Go package "-race" starts with '-'`}},
		{"go image whose dir is a file", image.Spec{Stack: "shop", Name: "api", Go: &image.GoBuild{Package: ".", Dir: filepath.Join(dir, "file")}},
			[]string{`image "api": go build directory "` + filepath.Join(dir, "file") + `" is not a directory`}},
		{"go image with a context", image.Spec{Stack: "shop", Name: "api", Context: dir, Go: &image.GoBuild{Package: "."}},
			[]string{`image "api": a go image has no context, dockerfile, target, build arguments or preset reference`}},
		{"go image with a preset reference", image.Spec{Stack: "shop", Name: "api", Ref: "testbed.local/shop/api:0123456789ab", Go: &image.GoBuild{Package: "."}},
			[]string{`a go image has no context`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := image.Check(tc.spec)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if _, rerr := image.Reference(tc.spec); rerr == nil {
				t.Error("Reference of an invalid spec: no error")
			}
		})
	}
}

// A go image's reference hashes its binary: Reference, which builds
// nothing, cannot know it.
func TestReferenceOfGoImage(t *testing.T) {
	_, err := image.Reference(image.Spec{Stack: "shop", Name: "api", Go: &image.GoBuild{Package: "./cmd/api", Dir: t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), `image "api": the reference of a go image hashes its binary: only its build knows it`) {
		t.Errorf("Reference of a go image: %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
