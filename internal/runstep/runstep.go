// Package runstep runs a host command as a step of a bring-up: an argv (no
// shell) in a directory with extra environment, within a timeout, with the
// tail of its output in the error.
package runstep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// WaitDelay is how long a step's output pipes are waited for after it is
// killed (its timeout, or the run's context): a child that keeps them open
// cannot hold the run.
const WaitDelay = 5 * time.Second

// Step is a host command.
type Step struct {
	// Argv is the program and its arguments.
	Argv []string
	// Env is added to this process's environment.
	Env []string
	// Dir is the working directory ("": this process's).
	Dir string
	// Timeout bounds the step (0: only ctx does).
	Timeout time.Duration
}

// Command returns st's command bound to ctx (the caller adds st.Timeout,
// see Run).
func Command(ctx context.Context, st Step) (*exec.Cmd, error) {
	if len(st.Argv) == 0 {
		return nil, errors.New("run step has no command")
	}
	cmd := exec.CommandContext(ctx, st.Argv[0], st.Argv[1:]...)
	cmd.Dir = st.Dir
	cmd.WaitDelay = WaitDelay
	cmd.Env = append(os.Environ(), st.Env...)
	return cmd, nil
}

// Run runs st within its timeout and returns nil when it exits 0.
// Otherwise the error names the argv, says whether the step's own timeout
// ended it, and ends with the last 20 lines of its output.
func Run(ctx context.Context, st Step) error {
	rctx := ctx
	if st.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, st.Timeout)
		defer cancel()
	}
	cmd, err := Command(rctx, st)
	if err != nil {
		return err
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	if rctx.Err() != nil && ctx.Err() == nil {
		err = fmt.Errorf("%w: timed out after %s", context.DeadlineExceeded, st.Timeout)
	}
	return fmt.Errorf("run %s: %w\n%s", strings.Join(cmd.Args, " "), err, Tail(string(out), 20))
}

// Tail returns the last n lines of s, indented.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
