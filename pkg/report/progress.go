package report

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// Progress prints live per-component progress, for stderr. On a terminal
// it keeps one line per component and redraws them in place (ANSI cursor
// movement, no colour); elsewhere it prints a timestamped line each time a
// component changes:
//
//	2026-11-25T10:00:01.234Z postgresql applied
//	2026-11-25T10:00:09.310Z postgresql ready
//
// Its methods are safe for concurrent use. They never fail: the first
// write error is kept and returned by Close, and later output is dropped.
type Progress struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	now    func() time.Time
	start  time.Time
	width  int
	lines  []*progressLine // in order of first appearance
	drawn  int             // lines of the block on screen (tty)
	closed bool
	err    error
}

type progressLine struct {
	name, state, detail string
	at                  time.Time // when state or detail last changed
	waiting             string    // what it waits for now (see Waiting)
	told                time.Time // plain mode: when its last line was printed
}

// HeartbeatEvery is how often, in plain mode, Tick prints a line for a
// component that is still coming up.
const HeartbeatEvery = 10 * time.Second

// settled reports whether a component's state is final.
func settled(state string) bool {
	switch state {
	case "ready", "failed", "timeout", "skipped":
		return true
	}
	return false
}

// NewProgress returns a Progress writing to w. tty selects the redrawn
// block (true) or plain timestamped lines (false). now is the clock
// (time.Now outside tests); the block shows each change's time since
// NewProgress was called.
func NewProgress(w io.Writer, tty bool, now func() time.Time) *Progress {
	if now == nil {
		now = time.Now
	}
	return &Progress{w: w, tty: tty, now: now, start: now()}
}

// SetWidth sets the terminal's width in columns: in tty mode lines are cut
// to fit, since a wrapped line would break the redraw. 0, the default,
// means no limit.
func (p *Progress) SetWidth(columns int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.width = columns
}

// Component records that component name is now in state (for example
// "waiting", "applied", "ready", "failed"), with an optional detail such
// as a reason or "1/3 pods ready". Nothing is printed if neither state nor
// detail changed. Control characters are replaced by spaces.
func (p *Progress) Component(name, state, detail string) {
	name, state, detail = oneLine(name), oneLine(state), oneLine(detail)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	var l *progressLine
	for _, x := range p.lines {
		if x.name == name {
			l = x
		}
	}
	if l == nil {
		l = &progressLine{name: name}
		p.lines = append(p.lines, l)
	} else if l.state == state && l.detail == detail {
		return
	}
	l.state, l.detail, l.at, l.told = state, detail, p.now(), p.now()
	if p.tty {
		var b bytes.Buffer
		p.redraw(&b)
		p.write(b.Bytes())
		return
	}
	text := name + " " + state
	if detail != "" {
		text += ": " + detail
	}
	p.write([]byte(stamp(l.at) + " " + text + "\n"))
}

// Waiting records what a component that is coming up waits for now, such
// as "Deployment ns/db: 0/1 replicas ready". It prints nothing itself: Tick
// shows it.
func (p *Progress) Waiting(name, why string) {
	why = oneLine(why)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if l.name == name {
			l.waiting = why
		}
	}
}

// Tick shows that time passes for the components still coming up: in tty
// mode it redraws the block, whose unsettled lines show how long they have
// waited and for what; in plain mode it prints, for each component that
// has printed nothing for HeartbeatEvery, a line saying how long it has
// been in its state and what it waits for. Call it every second or so.
func (p *Progress) Tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	now := p.now()
	if p.tty {
		for _, l := range p.lines {
			if !settled(l.state) {
				var b bytes.Buffer
				p.redraw(&b)
				p.write(b.Bytes())
				return
			}
		}
		return
	}
	for _, l := range p.lines {
		if settled(l.state) || now.Sub(l.told) < HeartbeatEvery {
			continue
		}
		l.told = now
		text := fmt.Sprintf("%s %s %.0fs", l.name, l.state, now.Sub(l.at).Seconds())
		if l.waiting != "" {
			text += ", waiting for " + l.waiting
		}
		p.write([]byte(stamp(now) + " " + text + "\n"))
	}
}

// Printf prints a message that is not about one component, such as a
// warning: a timestamped line in plain mode, a line above the block in tty
// mode. A trailing newline is added.
func (p *Progress) Printf(format string, args ...any) {
	msg := oneLine(fmt.Sprintf(format, args...))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if !p.tty {
		p.write([]byte(stamp(p.now()) + " " + msg + "\n"))
		return
	}
	var b bytes.Buffer
	p.up(&b)
	b.WriteString("\r\x1b[2K" + p.fit(msg) + "\n")
	p.drawn = 0 // the block now starts below the message
	p.redraw(&b)
	p.write(b.Bytes())
}

// Close stops the printer. The final state of every component stays on
// the screen (tty) or in the log (plain); later calls print nothing. It
// returns the first error writing to w, if any.
func (p *Progress) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return p.err
}

// up moves the cursor to the first line of the block.
func (p *Progress) up(b *bytes.Buffer) {
	if p.drawn > 0 {
		fmt.Fprintf(b, "\x1b[%dA", p.drawn)
	}
}

// redraw draws the whole block over the previous one. Lines are never
// removed, so the block only grows and each line overwrites its old self.
func (p *Progress) redraw(b *bytes.Buffer) {
	p.up(b)
	nameW, stateW := 0, 0
	for _, l := range p.lines {
		nameW = max(nameW, utf8.RuneCountInString(l.name))
		stateW = max(stateW, utf8.RuneCountInString(l.state))
	}
	now := p.now()
	for _, l := range p.lines {
		text := fmt.Sprintf("%-*s  %-*s  %6.1fs", nameW, l.name, stateW, l.state, l.at.Sub(p.start).Seconds())
		if l.detail != "" {
			text += "  " + l.detail
		}
		if !settled(l.state) && now.Sub(l.at) >= time.Second {
			text += fmt.Sprintf("  (%.0fs", now.Sub(l.at).Seconds())
			if l.waiting != "" {
				text += ": " + l.waiting
			}
			text += ")"
		}
		b.WriteString("\r\x1b[2K" + p.fit(text) + "\n")
	}
	p.drawn = len(p.lines)
}

// fit cuts s to the terminal width, if known.
func (p *Progress) fit(s string) string {
	if p.width <= 1 {
		return s
	}
	r := []rune(s)
	if len(r) < p.width {
		return s
	}
	return string(r[:p.width-2]) + "…"
}

func (p *Progress) write(b []byte) {
	if p.err != nil {
		return
	}
	_, p.err = p.w.Write(b)
}

// stamp formats t as in the plain progress lines: UTC, milliseconds.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
