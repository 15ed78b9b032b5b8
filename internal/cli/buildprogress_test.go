package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/assets"
)

// at is the event of step and phase at second s, worded as assets words it.
func at(s int, step, phase string, done, total int) assets.Event {
	msg := fmt.Sprintf("%s: %d/%d packages compiled", step, done, total)
	switch phase {
	case assets.PhaseDownload:
		msg = fmt.Sprintf("%s: downloading modules (%d fetched, at most %d)", step, done, total)
	case assets.PhaseBuilt:
		msg = fmt.Sprintf("%s: built (%d/%d packages compiled)", step, done, total)
	case "":
		msg = "ready in /cache/set"
	}
	return assets.Event{Step: step, Phase: phase, Done: done, Total: total, Message: msg, Elapsed: time.Duration(s) * time.Second}
}

// build is the event stream of a short build, one event a second from 0s.
var build = []assets.Event{
	at(0, "kubernetes", assets.PhaseDownload, 0, 169),
	at(1, "kubernetes", assets.PhaseDownload, 12, 169), // heartbeat-paced
	at(2, "kubernetes", assets.PhaseCompile, 0, 1893),
	at(3, "kubernetes", assets.PhaseCompile, 400, 1893),
	at(4, "kubernetes", assets.PhaseCompile, 800, 1893),
	at(5, "kubernetes", assets.PhaseCompile, 1200, 1893),
	at(6, "kubernetes", assets.PhaseCompile, 1600, 1893),
	at(7, "kubernetes", assets.PhaseCompile, 1893, 1893),
	at(8, "kubernetes", assets.PhaseCompile, 1893, 1893),
	at(9, "kubernetes", assets.PhaseCompile, 1893, 1893),
	at(10, "kubernetes", assets.PhaseCompile, 1893, 1893),
	at(11, "kubernetes", assets.PhaseCompile, 1893, 1893),
	at(12, "kubernetes", assets.PhaseCompile, 1893, 1893),
	at(13, "kubernetes", assets.PhaseCompile, 1893, 1893), // linking: 10 s after the compile phase began
	at(14, "kubernetes", assets.PhaseBuilt, 1893, 1893),
	at(15, "etcd", assets.PhaseDownload, 3, 63),
	at(16, "etcd", assets.PhaseCompile, 0, 412),
	at(17, "etcd", assets.PhaseBuilt, 0, 412),
	at(18, "done", "", 0, 0),
}

// render feeds events to a renderer whose clock reads each event's Elapsed.
func render(tty bool, events []assets.Event) string {
	var b strings.Builder
	r := newBuildRenderer(&b, tty)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var now time.Time
	r.now = func() time.Time { return now }
	for _, ev := range events {
		now = t0.Add(ev.Elapsed)
		r.Event(ev)
	}
	r.Close()
	return b.String()
}

// screen is what a terminal shows after out: carriage returns, erase to
// end of line and newlines applied.
func screen(out string) []string {
	var lines []string
	var cur []rune
	col := 0
	for i := 0; i < len(out); i++ {
		switch {
		case out[i] == '\r':
			col = 0
		case out[i] == '\n':
			lines, cur, col = append(lines, string(cur)), nil, 0
		case strings.HasPrefix(out[i:], "\x1b[K"):
			cur = cur[:col]
			i += 2
		default:
			if col < len(cur) {
				cur[col] = rune(out[i])
			} else {
				cur = append(cur, rune(out[i]))
			}
			col++
		}
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur)+"<no newline>")
	}
	return lines
}

func TestBuildRendererTerminal(t *testing.T) {
	out := render(true, build)
	if n := strings.Count(out, "\r"); n != len(build) {
		t.Errorf("%d line rewrites for %d events", n, len(build))
	}
	got := screen(out)
	want := []string{
		"sim assets: kubernetes: built (1893/1893 packages compiled), 14s",
		"sim assets: etcd: built (0/412 packages compiled), 17s",
		"sim assets: ready in /cache/set, 18s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// While it runs, the line shows the latest count and time.
	if got := screen(render(true, build[:5])); len(got) != 1 || got[0] != "sim assets: kubernetes: 800/1893 packages compiled, 4s" {
		t.Errorf("screen mid-build: %q", got)
	}
	if out := render(true, nil); out != "" {
		t.Errorf("no events wrote %q", out)
	}
}

func TestBuildRendererLog(t *testing.T) {
	got := render(false, build)
	want := `2026-05-01T12:00:00.000Z sim assets: kubernetes: downloading modules (0 fetched, at most 169), 0s
2026-05-01T12:00:02.000Z sim assets: kubernetes: 0/1893 packages compiled, 2s
2026-05-01T12:00:12.000Z sim assets: kubernetes: 1893/1893 packages compiled, 12s
2026-05-01T12:00:14.000Z sim assets: kubernetes: built (1893/1893 packages compiled), 14s
2026-05-01T12:00:15.000Z sim assets: etcd: downloading modules (3 fetched, at most 63), 15s
2026-05-01T12:00:16.000Z sim assets: etcd: 0/412 packages compiled, 16s
2026-05-01T12:00:17.000Z sim assets: etcd: built (0/412 packages compiled), 17s
2026-05-01T12:00:18.000Z sim assets: ready in /cache/set, 18s
`
	if got != want {
		t.Errorf("log:\n%s\nwant\n%s", got, want)
	}
	if strings.ContainsAny(got, "\r\x1b") {
		t.Error("log output has terminal control characters")
	}
}
