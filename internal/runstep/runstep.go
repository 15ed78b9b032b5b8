// Package runstep builds the command of a stack's `run:` component: the
// argv with the stack's substitutions (no shell), in the stack file's
// directory, with KUBECONFIG, TESTBED_STACK, TESTBED_RUN and
// TESTBED_NAMESPACE set and the step's own env added (in name order).
package runstep

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/kubetestbed/testbed/pkg/stack"
)

// WaitDelay is how long a step's output pipes are waited for after it is
// killed (its timeout, or the run's context): a child that keeps them open
// cannot hold the run.
const WaitDelay = 5 * time.Second

// Command returns the command of c's run step against the cluster whose
// kubeconfig is given, bound to ctx (the caller adds the step's timeout to
// ctx, see Run). It returns an error if a substitution has no value.
func Command(ctx context.Context, s *stack.Stack, c *stack.Component, vars stack.Vars, kubeconfig string) (*exec.Cmd, error) {
	if c.Run == nil || len(c.Run.Command) == 0 {
		return nil, fmt.Errorf("component %s has no run command", c.Name)
	}
	argv := make([]string, len(c.Run.Command))
	for i, a := range c.Run.Command {
		v, err := stack.Substitute(a, vars)
		if err != nil {
			return nil, err
		}
		argv[i] = v
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = s.Dir
	cmd.WaitDelay = WaitDelay
	env := append(os.Environ(), "KUBECONFIG="+kubeconfig, "TESTBED_STACK="+s.Metadata.Name,
		"TESTBED_RUN="+vars.Run, "TESTBED_NAMESPACE="+s.Spec.Namespace)
	keys := make([]string, 0, len(c.Run.Env))
	for k := range c.Run.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := stack.Substitute(c.Run.Env[k], vars)
		if err != nil {
			return nil, err
		}
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	return cmd, nil
}

// Run runs c's step (see Command) within its timeout and returns nil when
// it exits 0. Otherwise the error names the argv, says whether the step's
// own timeout ended it, and ends with the last 20 lines of its output.
func Run(ctx context.Context, s *stack.Stack, c *stack.Component, vars stack.Vars, kubeconfig string) error {
	rctx := ctx
	if c.Run != nil && c.Run.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, c.Run.Timeout)
		defer cancel()
	}
	cmd, err := Command(rctx, s, c, vars, kubeconfig)
	if err != nil {
		return err
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	if rctx.Err() != nil && ctx.Err() == nil {
		err = fmt.Errorf("%w: timed out after %s", context.DeadlineExceeded, c.Run.Timeout)
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
