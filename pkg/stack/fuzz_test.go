package stack

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics or hangs, and that it returns
// either a stack or an ErrorList whose problems all name a file. Manifests
// resolve against testdata/example. Plain `go test` runs the seeds only.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("testdata", "example", "stack.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(head + "  components: [{name: app, manifests: [deploy/*.yaml], dependsOn: [app]}]\n"))
	f.Add([]byte(head + "  components:\n    - &c {name: a, run: {command: [x, '${port:p}']}}\n    - <<: *c\n      name: b\n"))
	f.Add([]byte(head + "  ports: [{name: p, nodePort: 30000, hostPort: auto}]\n  images: [{name: i, ref: x}]\n"))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"))
	f.Add([]byte("{\"apiVersion\": 1, \"spec\": []}"))
	f.Add([]byte("- \x00"))
	f.Add([]byte(""))

	dir := filepath.Join("testdata", "example")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("stack.yaml", data, dir)
		if err == nil {
			if s == nil {
				t.Fatal("Parse returned neither a stack nor an error")
			}
			s.LowerBound()
			s.Order()
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error is %T %v, want a non-empty ErrorList", err, err)
		}
		for _, e := range list {
			if e.File == "" {
				t.Fatalf("problem without a file: %v", e)
			}
		}
	})
}
