package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/kubetestbed/testbed/internal/assets"
)

// buildRenderer shows the events of an asset build to a person. On a
// terminal it keeps one line per step and rewrites it in place; elsewhere
// (a CI log) it writes a timestamped line at each step or phase change,
// at the end, and otherwise at most once per interval.
type buildRenderer struct {
	w        io.Writer
	tty      bool
	now      func() time.Time
	interval time.Duration

	step, phase string    // of the last event shown
	written     time.Time // when the last plain line was written
	open        bool      // a terminal line waits for its newline
}

func newBuildRenderer(w io.Writer, tty bool) *buildRenderer {
	return &buildRenderer{w: w, tty: tty, now: time.Now, interval: 10 * time.Second}
}

// Event shows ev, or skips it in a log when the last line is recent.
func (r *buildRenderer) Event(ev assets.Event) {
	target := ev.Target
	if target == "" {
		target = "sim assets"
	}
	line := fmt.Sprintf("%s: %s, %s", target, ev.Message, ev.Elapsed.Round(time.Second))
	changed := ev.Step != r.step || ev.Phase != r.phase
	newStep := ev.Step != r.step
	r.step, r.phase = ev.Step, ev.Phase
	if r.tty {
		if newStep && r.open {
			fmt.Fprintln(r.w)
		}
		fmt.Fprintf(r.w, "\r%s\x1b[K", line)
		r.open = true
		return
	}
	now := r.now()
	if !changed && now.Sub(r.written) < r.interval {
		return
	}
	r.written = now
	fmt.Fprintf(r.w, "%s %s\n", now.UTC().Format("2006-01-02T15:04:05.000Z"), line)
}

// Close ends the terminal line. Call it when the build returns.
func (r *buildRenderer) Close() {
	if r.open {
		fmt.Fprintln(r.w)
		r.open = false
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
