package main

import (
	"context"
	"fmt"

	"github.com/kubetestbed/testbed/internal/runstep"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// runStep runs a `run:` component exactly as testbed does (the same
// package builds its command).
func runStep(ctx context.Context, p *plan, c *stack.Component, kubeconfig string) error {
	if err := runstep.Run(ctx, p.s, c, p.vars, kubeconfig); err != nil {
		return fmt.Errorf("component %s: %w", c.Name, err)
	}
	return nil
}

func tailLines(s string, n int) string { return runstep.Tail(s, n) }
