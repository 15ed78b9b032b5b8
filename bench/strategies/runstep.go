package main

import (
	"context"
	"fmt"

	"github.com/kubetestbed/testbed/internal/runstep"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// runStep runs a `run:` component exactly as testbed does (the same
// packages resolve and run its command).
func runStep(ctx context.Context, p *plan, c *stack.Component, kubeconfig string) error {
	rc, err := p.s.RunCommand(c, p.vars, kubeconfig)
	if err == nil {
		err = runstep.Run(ctx, runstep.Step{Argv: rc.Argv, Env: rc.Env, Dir: rc.Dir, Timeout: c.Run.Timeout})
	}
	if err != nil {
		return fmt.Errorf("component %s: %w", c.Name, err)
	}
	return nil
}

func tailLines(s string, n int) string { return runstep.Tail(s, n) }
