package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTimelineCommand draws a saved report (testdata/report.json, written
// by `testbed up -f examples/hello/testbed.yaml --report`) as a user would,
// and checks the bad inputs' exit codes and messages.
func TestTimelineCommand(t *testing.T) {
	state := t.TempDir()
	dir := t.TempDir()
	in := filepath.Join("testdata", "report.json")
	wantSVG := func(t *testing.T, what, svg string) {
		t.Helper()
		if !strings.Contains(svg, "<svg") || !strings.HasSuffix(strings.TrimSpace(svg), "</svg>") {
			t.Fatalf("%s is not an SVG document:\n%.300s", what, svg)
		}
		for _, c := range []string{"postgresql", "migrations", "api", "lower bound"} {
			if !strings.Contains(svg, c) {
				t.Errorf("%s does not mention %q", what, c)
			}
		}
	}

	out := filepath.Join(dir, "hello.svg")
	r := run(t, state, "timeline", "-i", in, "-o", out)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("timeline -o: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	wantSVG(t, out, string(data))

	r = run(t, state, "timeline", "-i", in)
	if r.code != 0 {
		t.Fatalf("timeline to stdout: exit %d, stderr %s", r.code, r.stderr)
	}
	wantSVG(t, "stdout", r.stdout)
	if r.stdout != string(data) {
		t.Errorf("stdout and -o differ for the same report")
	}

	notReport := filepath.Join(dir, "not-a-report.json")
	if err := os.WriteFile(notReport, []byte(`{"hello": [1, 2`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no input", []string{"timeline"}, 2, "-i is required"},
		{"missing report", []string{"timeline", "-i", filepath.Join(dir, "nope.json")}, 2, "nope.json does not exist"},
		{"not a report", []string{"timeline", "-i", notReport}, 2, "not-a-report.json"},
		{"a stack file", []string{"timeline", "-i", filepath.Join("..", "..", "examples", "hello", "testbed.yaml")}, 2, "testbed.yaml"},
		{"unwritable output", []string{"timeline", "-i", in, "-o", filepath.Join(dir, "no", "such", "dir", "x.svg")}, 3, "x.svg"},
		{"stray argument", []string{"timeline", "-i", in, "extra"}, 2, "extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, state, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
}
