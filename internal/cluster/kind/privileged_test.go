package kind

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMissingCaps(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   []string
		bad    bool
	}{
		// A VM that drops CAP_SYS_RESOURCE (bit 24), as the project's CI machines do.
		{status: "Name:\tx\nCapBnd:\t000001fffeffffff\n", want: []string{"SYS_RESOURCE"}},
		{status: "CapBnd:\t000001ffffffffff\n", want: nil},
		// Docker's default set: everything but the 14 it grants is missing.
		{status: "CapBnd:\t00000000a80425fb\n", want: []string{"DAC_READ_SEARCH", "LINUX_IMMUTABLE", "NET_BROADCAST", "NET_ADMIN",
			"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
			"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "LEASE", "AUDIT_CONTROL", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
			"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ"}},
		{status: "Name:\tx\n", bad: true},
		{status: "CapBnd:\tzz\n", bad: true},
	} {
		got, err := missingCaps(tc.status)
		if tc.bad {
			if err == nil {
				t.Errorf("missingCaps(%q) = %v, want an error", tc.status, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("missingCaps(%q) = %v, %v; want %v", tc.status, got, err, tc.want)
		}
	}
	if len(capNames) != lastDockerCap+1 {
		t.Errorf("%d capability names, want %d", len(capNames), lastDockerCap+1)
	}
}

func TestEngineMajor(t *testing.T) {
	for in, want := range map[string]int{"20.10.24+dfsg1": 20, "28.2.2": 28, " 23.0.1\n": 23} {
		if got, err := engineMajor(in); err != nil || got != want {
			t.Errorf("engineMajor(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := engineMajor("dev"); err == nil {
		t.Error("engineMajor(dev) succeeded")
	}
}

// The wrapper, run for real by sh: `run` loses --privileged for the
// host's capabilities, every other argument (quotes and spaces too) and
// every other command pass through unchanged.
func TestShimScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh here")
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "real docker's")
	// The stand-in for docker prints each argument on a line.
	if err := os.WriteFile(real, []byte("#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	shim := filepath.Join(dir, "docker")
	args := privilegedArgs([]string{"SYS_RESOURCE"}, true)
	if err := os.WriteFile(shim, []byte(shimScript(real, args)), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(argv ...string) []string {
		t.Helper()
		out, err := exec.Command(shim, argv...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			got = append(got, strings.TrimSuffix(strings.TrimPrefix(l, "["), "]"))
		}
		return got
	}
	got := run("run", "--name", "n 1", "--privileged", "--label", "a='b'", "img")
	want := append(append([]string{"run", "--name", "n 1"}, args...), "--label", "a='b'", "img")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("run:\n got %q\nwant %q", got, want)
	}
	if got, want := run("exec", "--privileged", "-i", "node", "cat", "/kind/version"), []string{"exec", "-i", "node", "cat", "/kind/version"}; !reflect.DeepEqual(got, want) {
		t.Errorf("exec:\n got %q\nwant %q", got, want)
	}
	for _, argv := range [][]string{{"inspect", "--privileged"}, {"ps", "-a"}} {
		if got := run(argv...); !reflect.DeepEqual(got, argv) {
			t.Errorf("%v became %q", argv, got)
		}
	}
	if !reflect.DeepEqual(args[:2], []string{"--cap-add=ALL", "--cap-drop=SYS_RESOURCE"}) || args[len(args)-1] != "--device=/dev/kmsg" {
		t.Errorf("privilegedArgs = %q", args)
	}
}

// A wrapper whose directory went (a test's state directory, removed when
// the test ended) is written again into the next caller's directory, and
// PATH finds it there, not in the directory that went.
func TestEnsurePrivilegedAfterItsDirectoryWent(t *testing.T) {
	c := usable(t, RuntimeDocker)
	t.Setenv("PATH", os.Getenv("PATH")) // restored when the test ends
	shimMu.Lock()
	saved := shimDir
	shimDir = ""
	shimMu.Unlock()
	t.Cleanup(func() {
		shimMu.Lock()
		shimDir = saved
		shimMu.Unlock()
	})
	ctx := context.Background()
	first, second := filepath.Join(t.TempDir(), "bin"), filepath.Join(t.TempDir(), "bin")
	msg, err := ensurePrivileged(ctx, c, first)
	if err != nil {
		t.Fatal(err)
	}
	if msg == "" {
		t.Skip("this engine starts --privileged containers itself: no wrapper")
	}
	if msg, err := ensurePrivileged(ctx, c, second); err != nil || msg != "" {
		t.Errorf("with the wrapper in place: %q, %v; want nothing done", msg, err)
	}
	if err := os.RemoveAll(first); err != nil {
		t.Fatal(err)
	}
	if msg, err := ensurePrivileged(ctx, c, second); err != nil || msg == "" {
		t.Fatalf("after its directory went: %q, %v; want the wrapper written again", msg, err)
	}
	if got, err := exec.LookPath("docker"); err != nil || got != filepath.Join(second, "docker") {
		t.Errorf("docker on PATH = %q, %v; want %s", got, err, filepath.Join(second, "docker"))
	}
	if strings.Contains(os.Getenv("PATH"), first) {
		t.Errorf("PATH still holds %s: %s", first, os.Getenv("PATH"))
	}
}

// The engine's word for a missing network, in the versions seen.
func TestNoSuchNetwork(t *testing.T) {
	for msg, want := range map[string]bool{
		"Error response from daemon: network kind not found": true,
		"Error: No such network: kind":                       true,
		"Cannot connect to the Docker daemon":                false,
	} {
		if got := noSuchNetwork(&cmdError{argv: []string{"docker", "network", "inspect", "kind"}, msg: msg}); got != want {
			t.Errorf("noSuchNetwork(%q) = %v, want %v", msg, got, want)
		}
	}
	if noSuchNetwork(errors.New("network kind not found")) {
		t.Error("an error that is not the command's counts")
	}
}
