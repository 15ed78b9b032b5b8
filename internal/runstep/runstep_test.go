package runstep_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/runstep"
	"github.com/kubetestbed/testbed/pkg/stack"
)

func step(t *testing.T, command []string, env map[string]string, timeout time.Duration) (*stack.Stack, *stack.Component) {
	t.Helper()
	s := &stack.Stack{Dir: t.TempDir()}
	s.Metadata.Name = "shop"
	s.Spec.Namespace = "shop-e2e"
	c := &stack.Component{Name: "seed", Run: &stack.Run{Command: command, Env: env, Timeout: timeout}}
	return s, c
}

var vars = stack.Vars{Stack: "shop", Namespace: "shop-e2e", Run: "r1", Ports: map[string]int{"api": 41234}}

func TestCommand(t *testing.T) {
	s, c := step(t, []string{"./seed.sh", "--ns=${namespace}", "--port=${port:api}"}, map[string]string{"B": "${run}", "A": "x"}, 0)
	cmd, err := runstep.Command(context.Background(), s, c, vars, "/k/config")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"./seed.sh", "--ns=shop-e2e", "--port=41234"}; !slices.Equal(cmd.Args, want) {
		t.Errorf("argv = %q, want %q", cmd.Args, want)
	}
	if cmd.Dir != s.Dir {
		t.Errorf("dir = %q, want the stack's %q", cmd.Dir, s.Dir)
	}
	env := cmd.Env
	for _, kv := range []string{"KUBECONFIG=/k/config", "TESTBED_STACK=shop", "TESTBED_RUN=r1", "TESTBED_NAMESPACE=shop-e2e"} {
		if !slices.Contains(env, kv) {
			t.Errorf("env lacks %s", kv)
		}
	}
	if a, b := slices.Index(env, "A=x"), slices.Index(env, "B=r1"); a < 0 || b < a {
		t.Errorf("step env not added in name order: A at %d, B at %d", a, b)
	}

	s, c = step(t, []string{"seed", "${image:nope}"}, nil, 0)
	if _, err := runstep.Command(context.Background(), s, c, vars, ""); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing image value: error %v", err)
	}
	s, c = step(t, nil, nil, 0)
	if _, err := runstep.Command(context.Background(), s, c, vars, ""); err == nil {
		t.Error("no command: no error")
	}
}

func TestRun(t *testing.T) {
	s, c := step(t, []string{"./ok.sh"}, nil, 0)
	script := "#!/bin/sh\necho \"$TESTBED_NAMESPACE\" > out.txt\n"
	if err := os.WriteFile(filepath.Join(s.Dir, "ok.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := runstep.Run(context.Background(), s, c, vars, ""); err != nil {
		t.Fatal(err)
	}
	if out, _ := os.ReadFile(filepath.Join(s.Dir, "out.txt")); string(out) != "shop-e2e\n" {
		t.Errorf("the step ran elsewhere or without its env: out.txt = %q", out)
	}

	s, c = step(t, []string{"sh", "-c", "for i in $(seq 1 30); do echo line $i; done; exit 3"}, nil, 0)
	err := runstep.Run(context.Background(), s, c, vars, "")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "line 30") || strings.Contains(err.Error(), "line 10\n") {
		t.Errorf("failing step: error %v; want exit status 3 and the last 20 lines only", err)
	}

	s, c = step(t, []string{"sleep", "30"}, nil, 200*time.Millisecond)
	err = runstep.Run(context.Background(), s, c, vars, "")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Errorf("step past its timeout: error %v", err)
	}
}
