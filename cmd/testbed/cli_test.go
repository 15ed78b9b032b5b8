package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type result struct {
	code           int
	stdout, stderr string
}

// run runs the testbed binary as a user would, with its own state directory.
func run(t *testing.T, state string, args ...string) result {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), args...)
	cmd.Env = append(os.Environ(), "TESTBED_STATE_DIR="+state, "TESTBED_ASSETS_DIR="+testenv.AssetsCacheDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func TestClusterCreateKubectlDelete(t *testing.T) {
	testenv.Assets(t) // build once, outside the timed commands
	state := t.TempDir()
	r := run(t, state, "cluster", "create", "--name", "cli")
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s", r.code, r.stderr)
	}
	kubeconfig := strings.TrimSpace(r.stdout)
	if kubeconfig != filepath.Join(state, "clusters", "cli", "kubeconfig") {
		t.Fatalf("stdout = %q, want only the kubeconfig path", r.stdout)
	}
	if !strings.Contains(r.stderr, "ready: 3 nodes") {
		t.Errorf("stderr lacks progress: %s", r.stderr)
	}
	defer run(t, state, "cluster", "delete", "--name", "cli")

	kubectl := testenv.Assets(t).Path(assets.Kubectl)
	out, err := exec.Command(kubectl, "--kubeconfig", kubeconfig, "get", "nodes", "--no-headers").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get nodes: %v\n%s", err, out)
	}
	if n := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; n != 3 || strings.Count(string(out), " Ready ") != 3 {
		t.Fatalf("kubectl get nodes:\n%s\nwant 3 Ready nodes", out)
	}

	r = run(t, state, "cluster", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "cli") || !strings.Contains(r.stdout, "running") {
		t.Fatalf("list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = run(t, state, "cluster", "create", "--name", "cli")
	if r.code != 2 || !strings.Contains(r.stderr, `"cli" already exists`) {
		t.Fatalf("second create: exit %d, stderr %s; want 2 and 'already exists'", r.code, r.stderr)
	}

	r = run(t, state, "cluster", "delete", "--name", "cli")
	if r.code != 0 {
		t.Fatalf("delete: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(state, "clusters", "cli")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state left after delete: %v", err)
	}
}

func TestCLIBadInput(t *testing.T) {
	state := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"delete unknown cluster", []string{"cluster", "delete", "--name", "ghost"}, 2, `sim cluster "ghost" not found`},
		{"invalid name", []string{"cluster", "create", "--name", "Not_A_Label"}, 2, `invalid cluster name "Not_A_Label"`},
		{"zero nodes", []string{"cluster", "create", "--nodes", "0"}, 2, "--nodes must be between 1 and 1000"},
		{"unknown flag", []string{"cluster", "create", "--nmae", "x"}, 2, "unknown flag: --nmae"},
		{"stray argument", []string{"cluster", "list", "extra"}, 2, "takes no arguments"},
		{"unknown command", []string{"statsu"}, 2, `unknown command "statsu" for "testbed"; did you mean "status"?`},
		{"unknown subcommand", []string{"cluster", "bogus"}, 2, `unknown command "bogus" for "testbed cluster"`},
		{"unknown help topic", []string{"help", "cluster", "bogus"}, 2, `unknown help topic "cluster bogus"`},
		{"unknown assets subcommand", []string{"assets", "verfy"}, 2, `unknown command "verfy" for "testbed assets"; did you mean "verify"?`},
		{"bin dir without binaries", []string{"--bin-dir", "/nonexistent", "cluster", "create"}, 2, "sim asset kube-apiserver (/nonexistent/kube-apiserver): missing"},
		{"unknown container tool for the node image", []string{"assets", "build", "--kind-node", "--container-tool", "nonesuch"}, 2, `--container-tool "nonesuch": want docker or podman`},
		{"container tool for the sim binaries", []string{"assets", "verify", "--container-tool", "docker"}, 2, "--container-tool: only with --kind-node"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, state, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}

	t.Run("corrupt asset names the file and how to rebuild", func(t *testing.T) {
		cache := t.TempDir()
		dir := assets.Dir(cache)
		bin := filepath.Join(dir, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]any{}
		for _, b := range assets.All {
			os.WriteFile(filepath.Join(bin, string(b)), []byte("#!/bin/sh\n"), 0o755)
			files[string(b)] = map[string]any{"size": 10, "sha256": "x"}
		}
		files["etcd"] = map[string]any{"size": 99999, "sha256": "x"} // the build wrote more than is there
		m, _ := json.Marshal(map[string]any{"files": files})
		os.WriteFile(filepath.Join(dir, "manifest.json"), m, 0o644)
		cmd := exec.Command(testenv.Binary(t), "cluster", "create")
		cmd.Env = append(os.Environ(), "TESTBED_STATE_DIR="+state, "TESTBED_ASSETS_DIR="+cache)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("err %v, want exit 3\n%s", err, out)
		}
		for _, want := range []string{"sim asset etcd", "corrupt", "testbed assets build --force"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestInterruptDuringCreate sends Ctrl-C (SIGINT) while the control plane
// starts: the command exits 130 and leaves no process and no state.
func TestInterruptDuringCreate(t *testing.T) {
	testenv.Assets(t)
	state := t.TempDir()
	cmd := exec.Command(testenv.Binary(t), "cluster", "create", "--name", "int")
	cmd.Env = append(os.Environ(), "TESTBED_STATE_DIR="+state, "TESTBED_ASSETS_DIR="+testenv.AssetsCacheDir())
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the processes are started and recorded, then interrupt.
	stateFile := filepath.Join(state, "clusters", "int", "cluster.json")
	var rec struct {
		Procs []struct {
			Name string `json:"name"`
			PID  int    `json:"pid"`
		} `json:"procs"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if data, err := os.ReadFile(stateFile); err == nil && json.Unmarshal(data, &rec) == nil && len(rec.Procs) > 0 {
			break
		}
		if ctx.Err() != nil {
			cmd.Process.Kill()
			t.Fatalf("state never written; stderr:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want 130; stderr:\n%s", err, errb.String())
	}
	for _, p := range rec.Procs {
		if alive(p.PID) {
			t.Errorf("%s (pid %d) still running after Ctrl-C", p.Name, p.PID)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "clusters", "int")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state left behind after Ctrl-C: %v", err)
	}
}

func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

func itoa(n int) string { return strconv.Itoa(n) }

// A command of subcommands run alone prints its help and succeeds;
// --version names the build.
func TestCLIHelpAndVersion(t *testing.T) {
	state := t.TempDir()
	for _, args := range [][]string{{}, {"cluster"}, {"assets"}, {"help"}, {"help", "cluster", "create"}} {
		r := run(t, state, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("testbed %v: exit %d, stdout %q; want 0 and the help", args, r.code, r.stdout)
		}
	}
	r := run(t, state, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "testbed version ") {
		t.Errorf("--version: exit %d, stdout %q; want 0 and \"testbed version …\"", r.code, r.stdout)
	}
}

// The kubeconfig provider with no kubeconfig, or with an API server that
// does not answer, is an infrastructure failure (exit 3) that says so in
// testbed's words, without the Kubernetes client's own log lines.
func TestKubeconfigProviderUnreachable(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Port 1 on the loopback: nothing listens there.
	write(kc, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`)
	write(filepath.Join(dir, "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n")
	stackFile := filepath.Join(dir, "testbed.yaml")
	write(stackFile, "apiVersion: testbed.dev/v1alpha1\nkind: Stack\nmetadata: {name: unreachable}\nspec:\n  components:\n    - name: a\n      manifests: [cm.yaml]\n")
	clientLog := regexp.MustCompile(`(?m)^[EIWF]\d{4} |UnhandledError|memcache\.go`)

	t.Setenv("KUBECONFIG", kc)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "-f", stackFile, "--provider", "kubeconfig"}, `connect: connection refused`},
		{[]string{"status", "-f", stackFile, "--provider", "kubeconfig"}, `testbed: kubeconfig provider: API server https://127.0.0.1:1 unreachable: `},
	} {
		r := run(t, state, tc.args...)
		if r.code != 3 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 3 and %q", tc.args, r.code, r.stderr, tc.want)
		}
		if m := clientLog.FindString(r.stderr); m != "" {
			t.Errorf("%v: the client's own log lines reach stderr (%q):\n%s", tc.args, m, r.stderr)
		}
	}

	// A kubeconfig without a current context is not "no kubeconfig".
	noContext := filepath.Join(dir, "no-context")
	write(noContext, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\n")
	t.Setenv("KUBECONFIG", noContext)
	r0 := run(t, state, "status", "-f", stackFile, "--provider", "kubeconfig")
	if want := "testbed: kubeconfig provider: " + noContext + ": no current context: set spec.cluster.kubeconfig.context"; r0.code != 3 || !strings.Contains(r0.stderr, want) {
		t.Errorf("kubeconfig without a context: exit %d, stderr %q; want exit 3 and %q", r0.code, r0.stderr, want)
	}

	missing := filepath.Join(dir, "nope", "kubeconfig")
	t.Setenv("KUBECONFIG", missing)
	r := run(t, state, "status", "-f", stackFile, "--provider", "kubeconfig")
	want := "testbed: kubeconfig provider: no kubeconfig found (looked for " + missing + "): set spec.cluster.kubeconfig.path in the stack file, or KUBECONFIG"
	if r.code != 3 || !strings.Contains(r.stderr, want) {
		t.Errorf("missing kubeconfig: exit %d, stderr %q; want exit 3 and %q", r.code, r.stderr, want)
	}
}
