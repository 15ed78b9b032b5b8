package image

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// TailLines is how many of a failed build's last output lines its error
// keeps.
const TailLines = 15

// maxLine caps a line kept in memory; the log file has it whole.
const maxLine = 512

// The lines that say which step of a Dockerfile a build is at, in the
// three formats it comes in:
//
//	Step 3/4 : COPY missing.txt /m          docker's legacy builder
//	#6 [2/3] RUN make                       BuildKit, plain progress
//	#6 ERROR: process "…" did not complete  BuildKit, that vertex failed
//	 > [2/3] RUN make:                      BuildKit's error summary
//	[1/2] STEP 3/4: COPY missing.txt /m     podman (buildah); "[1/2] " only with stages
var (
	legacyStep = regexp.MustCompile(`^Step \d+/\d+ : `)
	podmanStep = regexp.MustCompile(`^(\[\d+/\d+\] )?STEP \d+/\d+: `)
	kitVertex  = regexp.MustCompile(`^#(\d+) (\[[^\]]+\] .*)$`)
	kitError   = regexp.MustCompile(`^#(\d+) ERROR`)
	kitSummary = regexp.MustCompile(`^ > (\[[^\]]+\] .*):$`)
)

// transcript reads a build's output as it is written and keeps what an
// error needs: the last lines and the step that was running or failed.
// It recognises docker's legacy builder, BuildKit's plain progress and
// podman; it is an io.Writer safe for concurrent use.
type transcript struct {
	mu       sync.Mutex
	partial  []byte
	tail     []string
	step     string            // the last step started (legacy or podman)
	vertices map[string]string // BuildKit: vertex number -> its name
	failed   string            // BuildKit: the first vertex that failed
	summary  string            // BuildKit: the step its error summary names
	notice   bool              // within the docker CLI's deprecation notice
}

func (t *transcript) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.line(string(t.partial[:i]))
		t.partial = t.partial[i+1:]
	}
	if len(t.partial) > 64<<10 {
		t.line(string(t.partial))
		t.partial = t.partial[:0]
	}
	return len(p), nil
}

func (t *transcript) line(l string) {
	if i := strings.LastIndexByte(strings.TrimRight(l, "\r"), '\r'); i >= 0 {
		l = l[i+1:]
	}
	l = strings.TrimRight(l, "\r")
	if len(l) > maxLine {
		l = l[:maxLine] + "…"
	}
	// The CLI's notice that the legacy builder is deprecated (three
	// lines and a blank one) says nothing about the build.
	if strings.HasPrefix(l, "DEPRECATED: The legacy builder") {
		t.notice = true
	}
	if t.notice {
		t.notice = strings.TrimSpace(l) != ""
		return
	}
	t.tail = append(t.tail, l)
	if len(t.tail) > 4*TailLines {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-TailLines:]...)
	}
	switch {
	case legacyStep.MatchString(l) || podmanStep.MatchString(l):
		t.step = l
	case kitVertex.MatchString(l):
		m := kitVertex.FindStringSubmatch(l)
		if t.vertices == nil {
			t.vertices = map[string]string{}
		}
		if _, ok := t.vertices[m[1]]; !ok {
			t.vertices[m[1]] = m[2]
		}
	case kitError.MatchString(l):
		if n := kitError.FindStringSubmatch(l)[1]; t.failed == "" {
			t.failed = t.vertices[n]
		}
	case kitSummary.MatchString(l):
		if t.summary == "" {
			t.summary = kitSummary.FindStringSubmatch(l)[1]
		}
	}
}

// flush takes in a last line that has no newline.
func (t *transcript) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.partial) > 0 {
		t.line(string(t.partial))
		t.partial = nil
	}
}

// Step returns the step the build failed at, in the tool's words: the
// vertex BuildKit reports failed (or names in its error summary), else the
// last step the legacy builder or podman started; "" when the output names
// none (the build failed before its first step).
func (t *transcript) Step() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.failed != "":
		return t.failed
	case t.summary != "":
		return t.summary
	}
	return t.step
}

// Tail returns the last TailLines lines, without trailing blank ones.
func (t *transcript) Tail() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.tail
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > TailLines {
		lines = lines[len(lines)-TailLines:]
	}
	return slices.Clone(lines)
}
