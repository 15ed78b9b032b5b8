package stack

import (
	"fmt"
	"sort"
)

// RunCommand is a `run:` component's host command, resolved for a run.
type RunCommand struct {
	// Argv is the command with the stack's substitutions (no shell).
	Argv []string
	// Env is added to the caller's environment: KUBECONFIG, TESTBED_STACK,
	// TESTBED_RUN and TESTBED_NAMESPACE, then the step's env in name order.
	Env []string
	// Dir is the stack file's directory.
	Dir string
}

// RunCommand resolves c's run step against the cluster whose kubeconfig is
// given. It returns an error if c has no command or a substitution has no
// value.
func (s *Stack) RunCommand(c *Component, vars Vars, kubeconfig string) (RunCommand, error) {
	if c.Run == nil || len(c.Run.Command) == 0 {
		return RunCommand{}, fmt.Errorf("component %s has no run command", c.Name)
	}
	rc := RunCommand{Argv: make([]string, len(c.Run.Command)), Dir: s.Dir,
		Env: []string{"KUBECONFIG=" + kubeconfig, "TESTBED_STACK=" + s.Metadata.Name,
			"TESTBED_RUN=" + vars.Run, "TESTBED_NAMESPACE=" + s.Spec.Namespace}}
	for i, a := range c.Run.Command {
		v, err := Substitute(a, vars)
		if err != nil {
			return RunCommand{}, err
		}
		rc.Argv[i] = v
	}
	keys := make([]string, 0, len(c.Run.Env))
	for k := range c.Run.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := Substitute(c.Run.Env[k], vars)
		if err != nil {
			return RunCommand{}, err
		}
		rc.Env = append(rc.Env, k+"="+v)
	}
	return rc, nil
}
