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
)

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	cmd, err := runstep.Command(context.Background(), runstep.Step{Argv: []string{"seed", "a"}, Env: []string{"A=x"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cmd.Args, []string{"seed", "a"}) || cmd.Dir != dir || cmd.Env[len(cmd.Env)-1] != "A=x" {
		t.Errorf("command = %q in %q with env ending %q", cmd.Args, cmd.Dir, cmd.Env[len(cmd.Env)-1])
	}
	if _, err := runstep.Command(context.Background(), runstep.Step{}); err == nil {
		t.Error("no command: no error")
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"$TESTBED_NAMESPACE\" > out.txt\n"
	if err := os.WriteFile(filepath.Join(dir, "ok.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := runstep.Run(context.Background(), runstep.Step{Argv: []string{"./ok.sh"}, Dir: dir, Env: []string{"TESTBED_NAMESPACE=shop-e2e"}}); err != nil {
		t.Fatal(err)
	}
	if out, _ := os.ReadFile(filepath.Join(dir, "out.txt")); string(out) != "shop-e2e\n" {
		t.Errorf("the step ran elsewhere or without its env: out.txt = %q", out)
	}

	err := runstep.Run(context.Background(), runstep.Step{Argv: []string{"sh", "-c", "for i in $(seq 1 30); do echo line $i; done; exit 3"}})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "line 30") || strings.Contains(err.Error(), "line 10\n") {
		t.Errorf("failing step: error %v; want exit status 3 and the last 20 lines only", err)
	}

	err = runstep.Run(context.Background(), runstep.Step{Argv: []string{"sleep", "30"}, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Errorf("step past its timeout: error %v", err)
	}
}
