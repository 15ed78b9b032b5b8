package testbed_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/testenv"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

// ephemeralChildEnv names the state directory of TestEphemeralChild.
const ephemeralChildEnv = "TESTBED_TEST_EPHEMERAL_CHILD"

// TestEphemeralChild is the process TestEphemeral kills: it brings a stack
// up with Options.Ephemeral, says so, and waits to be killed.
func TestEphemeralChild(t *testing.T) {
	state := os.Getenv(ephemeralChildEnv)
	if state == "" {
		t.Skip("run by TestEphemeral only")
	}
	s := writeStack(t, map[string]string{
		"testbed.yaml": "apiVersion: testbed.dev/v1alpha1\nkind: Stack\nmetadata: {name: eph}\nspec:\n  components:\n    - {name: a, manifests: [cm.yaml]}\n",
		"cm.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
	})
	env, err := testbed.Up(context.Background(), s, testbed.Options{StateDir: state, AssetsDir: testenv.AssetsCacheDir(), Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("READY", env.Kubeconfig)
	time.Sleep(time.Minute)
}

// A cluster brought up with Options.Ephemeral goes with the process that
// made it, even when that process is killed and runs no cleanup.
func TestEphemeral(t *testing.T) {
	testenv.Assets(t)
	state := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEphemeralChild$", "-test.v")
	// The child is killed: its own temporary files go where this test
	// removes them.
	cmd.Env = append(os.Environ(), ephemeralChildEnv+"="+state, "TMPDIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "READY ") {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatalf("the child never came up; stderr:\n%s", stderr.String())
	}
	dir := filepath.Join(state, "clusters", "eph")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("no cluster directory while the child runs: %v", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := os.Stat(dir)
		procs := testenv.ProcsMentioning(state)
		if os.IsNotExist(err) && len(procs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the owner was killed: cluster dir err %v, processes %q", err, procs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
