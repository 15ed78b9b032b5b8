package main

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

// runStep runs a `run:` component exactly as testbed does: the argv with
// the stack's substitutions (no shell), in the stack file's directory,
// with KUBECONFIG, TESTBED_STACK, TESTBED_RUN and TESTBED_NAMESPACE set and
// the step's env added, bounded by its timeout.
func runStep(ctx context.Context, p *plan, c *stack.Component, kubeconfig string) error {
	argv := make([]string, len(c.Run.Command))
	for i, a := range c.Run.Command {
		v, err := stack.Substitute(a, p.vars)
		if err != nil {
			return fmt.Errorf("component %s: %w", c.Name, err)
		}
		argv[i] = v
	}
	if c.Run.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Run.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = p.s.Dir
	cmd.WaitDelay = 5 * time.Second
	env := append(os.Environ(), "KUBECONFIG="+kubeconfig, "TESTBED_STACK="+p.s.Metadata.Name,
		"TESTBED_RUN="+p.vars.Run, "TESTBED_NAMESPACE="+p.s.Spec.Namespace)
	keys := make([]string, 0, len(c.Run.Env))
	for k := range c.Run.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := stack.Substitute(c.Run.Env[k], p.vars)
		if err != nil {
			return fmt.Errorf("component %s: %w", c.Name, err)
		}
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("component %s: run %s: %w\n%s", c.Name, strings.Join(argv, " "), err, tailLines(string(out), 20))
	}
	return nil
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "    " + strings.Join(lines[max(0, len(lines)-n):], "\n    ")
}
