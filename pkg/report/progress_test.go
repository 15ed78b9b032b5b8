package report_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kubetestbed/testbed/pkg/report"
)

// clock is a settable fake clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) at(ms int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = start.Add(time.Duration(ms) * time.Millisecond)
}

func TestProgressPlain(t *testing.T) {
	var b bytes.Buffer
	c := &clock{now: start}
	p := report.NewProgress(&b, false, c.Now)
	c.at(1234)
	p.Component("postgresql", "applied", "")
	c.at(1500)
	p.Component("postgresql", "applied", "") // no change: no line
	p.Component("redis", "waiting", "0/1 pods ready")
	c.at(2000)
	p.Component("redis", "waiting", "0/1 pods ready")
	p.Component("redis", "waiting", "1/1 pods ready")
	c.at(9310)
	p.Component("postgresql", "ready", "")
	p.Printf("warning: %s", "port 25433 busy")
	c.at(12005)
	p.Component("api", "failed", "Pod api-0: CrashLoopBackOff\n\x1b[31mlast log line")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p.Component("api", "ready", "") // after Close: nothing
	p.Printf("late")

	want := `2026-11-25T10:00:01.234Z postgresql applied
2026-11-25T10:00:01.500Z redis waiting: 0/1 pods ready
2026-11-25T10:00:02.000Z redis waiting: 1/1 pods ready
2026-11-25T10:00:09.310Z postgresql ready
2026-11-25T10:00:09.310Z warning: port 25433 busy
2026-11-25T10:00:12.005Z api failed: Pod api-0: CrashLoopBackOff  [31mlast log line
`
	if b.String() != want {
		t.Errorf("plain progress:\n%s\nwant:\n%s", b.String(), want)
	}
}

// Tick: in plain mode a line for each component that has printed nothing
// for HeartbeatEvery, with what it waits for; in tty mode a redraw whose
// unsettled lines say how long, and for what.
func TestProgressTick(t *testing.T) {
	var b bytes.Buffer
	c := &clock{now: start}
	p := report.NewProgress(&b, false, c.Now)
	c.at(1000)
	p.Component("db", "applied", "3 objects")
	p.Component("cache", "applied", "")
	p.Waiting("db", "Deployment ns/db: 0/1 replicas ready")
	p.Waiting("ghost", "never shown") // not a component: ignored
	for _, ms := range []int{2000, 5000, 10999} {
		c.at(ms)
		p.Tick()
	}
	if b.Len() != len("2026-11-25T10:00:01.000Z db applied: 3 objects\n2026-11-25T10:00:01.000Z cache applied\n") {
		t.Errorf("a heartbeat before %s:\n%s", report.HeartbeatEvery, b.String())
	}
	c.at(11000)
	p.Tick()
	c.at(11500)
	p.Component("cache", "ready", "")
	c.at(21000)
	p.Tick()
	c.at(22000)
	p.Tick()
	want := `2026-11-25T10:00:01.000Z db applied: 3 objects
2026-11-25T10:00:01.000Z cache applied
2026-11-25T10:00:11.000Z db applied 10s, waiting for Deployment ns/db: 0/1 replicas ready
2026-11-25T10:00:11.000Z cache applied 10s
2026-11-25T10:00:11.500Z cache ready
2026-11-25T10:00:21.000Z db applied 20s, waiting for Deployment ns/db: 0/1 replicas ready
`
	if b.String() != want {
		t.Errorf("plain heartbeats:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	p = report.NewProgress(&b, true, c.Now)
	c.at(22000)
	p.Component("db", "applied", "")
	p.Waiting("db", "Job ns/migrate: 0/1 succeeded")
	b.Reset()
	c.at(34500)
	p.Tick()
	if got, want := b.String(), "\x1b[1A\r\x1b[2Kdb  applied     0.0s  (12s: Job ns/migrate: 0/1 succeeded)\n"; got != want {
		t.Errorf("tty tick = %q, want %q", got, want)
	}
	b.Reset()
	p.Component("db", "ready", "")
	b.Reset()
	p.Tick()
	if b.Len() != 0 {
		t.Errorf("a tick with everything settled redrew: %q", b.String())
	}
}

func TestProgressTTYEscapes(t *testing.T) {
	var b bytes.Buffer
	c := &clock{now: start}
	p := report.NewProgress(&b, true, c.Now)
	c.at(1200)
	p.Component("db", "applied", "")
	if got, want := b.String(), "\r\x1b[2Kdb  applied     1.2s\n"; got != want {
		t.Errorf("first draw = %q, want %q", got, want)
	}
	b.Reset()
	c.at(2500)
	p.Component("cache", "ready", "")
	// db has been applied for 1.3 s: its line says so.
	if got, want := b.String(), "\x1b[1A\r\x1b[2Kdb     applied     1.2s  (1s)\n\r\x1b[2Kcache  ready       2.5s\n"; got != want {
		t.Errorf("second draw = %q, want %q", got, want)
	}
	b.Reset()
	p.Component("cache", "ready", "")
	if b.Len() != 0 {
		t.Errorf("an unchanged component redrew: %q", b.String())
	}
	p.Printf("note")
	if got, want := b.String(), "\x1b[2A\r\x1b[2Knote\n\r\x1b[2Kdb     applied     1.2s  (1s)\n\r\x1b[2Kcache  ready       2.5s\n"; got != want {
		t.Errorf("message above the block = %q, want %q", got, want)
	}
	b.Reset()
	if err := p.Close(); err != nil || b.Len() != 0 {
		t.Errorf("Close = %v and wrote %q; want nil and nothing (the final block stays)", err, b.String())
	}
}

// TestProgressTTYScreen renders the output with a minimal terminal: what a
// user sees at the end is the messages, then one line per component in its
// final state.
func TestProgressTTYScreen(t *testing.T) {
	var b bytes.Buffer
	c := &clock{now: start}
	p := report.NewProgress(&b, true, c.Now)
	steps := []struct {
		ms                  int
		name, state, detail string
	}{
		{100, "postgresql", "applied", ""},
		{200, "redis", "applied", ""},
		{300, "datastorage", "waiting", "for migrations"},
		{2100, "redis", "ready", ""},
		{8000, "postgresql", "ready", ""},
		{8100, "migrations", "applied", ""},
		{14200, "migrations", "ready", ""},
		{14300, "datastorage", "applied", ""},
		{18000, "datastorage", "ready", ""},
	}
	for i, s := range steps {
		c.at(s.ms)
		p.Component(s.name, s.state, s.detail)
		if i == 4 {
			p.Printf("warning: slow")
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"warning: slow",
		"postgresql   ready     8.0s",
		"redis        ready     2.1s",
		"datastorage  ready    18.0s",
		"migrations   ready    14.2s",
	}
	if got := render(t, b.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// render plays text on a terminal that knows \r, \n, ESC[2K and ESC[nA,
// and returns the screen's lines. Any other escape fails the test.
func render(t *testing.T, s string) []string {
	t.Helper()
	var screen [][]rune
	row, col := 0, 0
	esc := regexp.MustCompile(`^\x1b\[(\d*)([A-Za-z])`)
	for len(s) > 0 {
		for len(screen) <= row {
			screen = append(screen, nil)
		}
		switch {
		case s[0] == '\r':
			col, s = 0, s[1:]
		case s[0] == '\n':
			row, col, s = row+1, 0, s[1:]
		case s[0] == 0x1b:
			m := esc.FindStringSubmatch(s)
			if m == nil {
				t.Fatalf("unknown escape at %q", s)
			}
			n, _ := strconv.Atoi(m[1])
			switch m[2] {
			case "K":
				if m[1] != "2" {
					t.Fatalf("unexpected %q", m[0])
				}
				screen[row] = nil
			case "A":
				row = max(row-n, 0)
			default:
				t.Fatalf("unexpected escape %q", m[0])
			}
			s = s[len(m[0]):]
		default:
			r, size := utf8.DecodeRuneInString(s)
			for len(screen[row]) <= col {
				screen[row] = append(screen[row], ' ')
			}
			screen[row][col] = r
			col++
			s = s[size:]
		}
	}
	var lines []string
	for _, l := range screen {
		if line := strings.TrimRight(string(l), " "); line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

func TestProgressTTYWidth(t *testing.T) {
	var b bytes.Buffer
	c := &clock{now: start}
	p := report.NewProgress(&b, true, c.Now)
	p.SetWidth(20)
	p.Component("datastorage", "waiting", "0/3 pods ready, 1 unschedulable")
	got := render(t, b.String())
	if len(got) != 1 || got[0] != "datastorage  waiti…" {
		t.Errorf("screen = %q, want one line cut to 19 columns", got)
	}
}

func TestProgressWriteError(t *testing.T) {
	p := report.NewProgress(failingWriter{}, false, nil)
	p.Component("a", "applied", "")
	p.Component("a", "ready", "")
	if err := p.Close(); err == nil || err.Error() != "disk full" {
		t.Errorf("Close = %v, want the write error", err)
	}
}

func TestProgressConcurrent(t *testing.T) {
	for _, tty := range []bool{false, true} {
		var b bytes.Buffer
		p := report.NewProgress(&b, tty, nil)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 50 {
					p.Component(fmt.Sprint("c", i), "waiting", fmt.Sprint(j))
				}
			})
		}
		wg.Wait()
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if !tty && strings.Count(b.String(), "\n") != 8*50 {
			t.Errorf("plain: %d lines, want %d", strings.Count(b.String(), "\n"), 8*50)
		}
		if tty && len(render(t, b.String())) != 8 {
			t.Errorf("tty: screen %q, want 8 lines", render(t, b.String()))
		}
	}
}
