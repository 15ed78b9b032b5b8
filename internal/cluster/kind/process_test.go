package kind

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Environment of the helper process that holds a port claim.
const (
	holdDirEnv  = "TESTBED_KIND_TEST_HOLD_DIR"
	holdPortEnv = "TESTBED_KIND_TEST_HOLD_PORT"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdDirEnv); dir != "" {
		os.Exit(holdPort(dir, os.Getenv(holdPortEnv)))
	}
	os.Exit(m.Run())
}

// holdPort claims port for stack "other" as a run that is creating its
// cluster would, says "held", and holds it until stdin closes.
func holdPort(dir, port string) int {
	n, _ := strconv.Atoi(port)
	l := &locker{dir: dir, exists: func(string) (bool, error) { return false, nil }, free: freePort, ephemeral: ephemeralPort}
	if _, err := l.claim(n, owner{Stack: "other", Cluster: "testbed-other", PID: os.Getpid()}, false); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("held")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// A port that a run in another process holds is refused, naming its stack
// and process; once that process ends without a cluster, it is free.
func TestPortHeldByAnotherProcess(t *testing.T) {
	state := t.TempDir()
	port := freeTestPort(t)
	f := newFake(t)
	p := newProvider(t, f, Options{StateDir: state, Ports: []Port{{Name: "web", NodePort: 30080, HostPort: port}}})

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdDirEnv+"="+p.opts.LockDir, holdPortEnv+"="+strconv.Itoa(port))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); strings.TrimSpace(line) != "held" {
		t.Fatalf("helper: %q", line)
	}

	_, _, err = p.Ensure(context.Background(), "shop")
	var pc *PortConflictError
	if !errors.As(err, &pc) || !pc.Held || pc.Stack != "other" || pc.PID != cmd.Process.Pid {
		t.Fatalf("Ensure = %v, want the port held by stack other in pid %d", err, cmd.Process.Pid)
	}
	if len(f.Calls()) != 0 {
		t.Errorf("calls %q, want none", f.Calls())
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if _, _, err := p.Ensure(context.Background(), "shop"); err != nil {
		t.Errorf("after the holder ended: %v", err)
	}
}
