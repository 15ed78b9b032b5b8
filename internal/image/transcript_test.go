package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures are outputs of failed builds. legacy-* and podman-* were
// recorded on this project's test machine (docker 20.10's legacy builder,
// podman 4.3.1); buildkit-* follow BuildKit's plain progress format (no
// buildx there to record them with).
func TestTranscriptStep(t *testing.T) {
	for _, tc := range []struct {
		fixture, step, lastLine string
	}{
		{"legacy-copy.txt", "Step 3/4 : COPY missing.txt /missing.txt", "COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist"},
		{"legacy-run.txt", `Step 4/5 : RUN ["/hello", "fail"]`, "The command '/hello fail' returned a non-zero code: 3"},
		{"podman-copy.txt", "STEP 3/4: COPY missing.txt /missing.txt", `Error: building at STEP "COPY missing.txt /missing.txt": checking on sources under "/src/api": copier: stat: "/missing.txt": no such file or directory`},
		{"podman-run.txt", `[2/2] STEP 2/3: RUN ["/hello", "fail"]`, `Error: building at STEP "RUN /hello fail": while running runtime: exit status 3`},
		{"buildkit-copy.txt", "[2/2] COPY missing.txt /missing.txt", `ERROR: failed to solve: failed to compute cache key: failed to calculate checksum of ref 8a1f0e1c-5a1d-4d4e-9a1b-2f7d0c1b6e3a::q2w3e4r5t6y7: "/missing.txt": not found`},
		{"buildkit-run.txt", `[test 1/1] RUN ["/hello", "fail"]`, `ERROR: failed to solve: process "/hello fail" did not complete successfully: exit code: 3`},
		{"buildkit-parse.txt", "[internal] load build definition from Dockerfile", "ERROR: failed to solve: dockerfile parse error on line 2: unknown instruction: COPPY"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			// Whole, and a byte at a time: lines split across writes.
			for _, chunk := range []int{len(out), 1} {
				tr := &transcript{}
				for i := 0; i < len(out); i += chunk {
					tr.Write(out[i:min(i+chunk, len(out))])
				}
				tr.flush()
				if got := tr.Step(); got != tc.step {
					t.Errorf("chunks of %d: step = %q, want %q", chunk, got, tc.step)
				}
				tail := tr.Tail()
				if len(tail) == 0 || len(tail) > TailLines || tail[len(tail)-1] != tc.lastLine {
					t.Errorf("chunks of %d: tail (%d lines) ends %q, want at most %d lines ending %q", chunk, len(tail), tail[len(tail)-1:], TailLines, tc.lastLine)
				}
			}
		})
	}
}

func TestTranscriptTail(t *testing.T) {
	tr := &transcript{}
	for i := range 100 {
		tr.Write([]byte(strings.Repeat("x", i) + "\n"))
	}
	tr.Write([]byte("progress 10%\rprogress 100%\n\n\nno newline"))
	tr.flush()
	tail := tr.Tail()
	if len(tail) != TailLines || tail[len(tail)-1] != "no newline" || tail[len(tail)-4] != "progress 100%" {
		t.Errorf("tail = %q", tail)
	}
	if tr.Step() != "" {
		t.Errorf("step = %q for output that names none", tr.Step())
	}
	notice := &transcript{}
	notice.Write([]byte("DEPRECATED: The legacy builder is deprecated and will be removed in a future release.\n            Install the buildx component to build images with BuildKit:\n            https://docs.docker.com/go/buildx/\n\nSending build context to Docker daemon  2.048kB\n"))
	if tail := notice.Tail(); len(tail) != 1 {
		t.Errorf("tail = %q, want the deprecation notice left out", tail)
	}
	long := &transcript{}
	long.Write([]byte(strings.Repeat("y", 10000) + "\n"))
	if l := long.Tail()[0]; len(l) > maxLine+len("…") {
		t.Errorf("a long line is kept whole (%d bytes)", len(l))
	}
}
