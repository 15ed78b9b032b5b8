package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIgnore(t *testing.T) {
	for _, tc := range []struct {
		name, dockerignore string
		excluded, sent     []string
	}{
		{"none", "", nil, []string{"a", "dir/b"}},
		{"file and comment", "# notes\n  secret.txt  \n", []string{"secret.txt"}, []string{"dir/secret.txt", "secret.txt.bak"}},
		{"directory excludes what is under it", "build\n/dist/\n", []string{"build", "build/x/y", "dist/a"}, []string{"src/build", "builds"}},
		{"star stays in a segment", "*.log\ndir/*.tmp", []string{"a.log", "dir/x.tmp"}, []string{"dir/a.log", "dir/sub/x.tmp"}},
		{"double star", "**/*.log\nlogs/**\n", []string{"a.log", "x/y/z.log", "logs/a/b"}, []string{"logs", "a.logx"}},
		{"question mark and class", "file?.txt\n[ab].go\n[!c]x", []string{"file1.txt", "a.go", "dx"}, []string{"file10.txt", "c.go", "cx"}},
		{"exception, last match wins", "*.md\n!README.md\ndocs\n!docs/keep.md", []string{"a.md", "docs/a.md"}, []string{"README.md", "docs/keep.md"}},
		{"escape", `\*.txt`, []string{"*.txt"}, []string{"a.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(tc.dockerignore), 0o644); err != nil {
				t.Fatal(err)
			}
			ign, err := loadIgnore(Spec{Context: dir})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.excluded {
				if !ign.excluded(p) {
					t.Errorf("%q is sent, want it left out", p)
				}
			}
			for _, p := range tc.sent {
				if ign.excluded(p) {
					t.Errorf("%q is left out, want it sent", p)
				}
			}
		})
	}
}

func TestIgnoreErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("ok\n[oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadIgnore(Spec{Context: dir})
	if want := filepath.Join(dir, ".dockerignore") + ":2: pattern \"[oops\""; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it to start %q", err, want)
	}

	// A Dockerfile-specific ignore file (BuildKit reads it instead, the
	// legacy builder does not): nothing is left out of the digest.
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile.dockerignore"), []byte("*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ign, err := loadIgnore(Spec{Context: dir})
	if err != nil || ign.excluded("ok") {
		t.Errorf("with Dockerfile.dockerignore: %v, %v", ign, err)
	}
}
