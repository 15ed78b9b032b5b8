package kind

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Docker engines before 23 give a --privileged container every capability
// they know, and runc refuses to start it ("unable to apply caps:
// operation not permitted") when the host's capability bounding set lacks
// one of them, as it does in VMs that drop CAP_SYS_RESOURCE. Docker 23 and
// later grant only what the daemon holds (moby#42933). kind always starts
// its nodes with --privileged, runs `docker` from PATH and offers no other
// hook, so on such an engine testbed puts a `docker` wrapper first on PATH
// that drops --privileged from `docker exec` (the process gets the
// container's capabilities) and replaces it in `docker run` with: every
// capability the host has, no seccomp or AppArmor confinement (kind asks for
// that itself), unmasked /proc and /sys paths, every device allowed in the
// device cgroup, and /dev/kmsg for the kubelet. Every other command passes
// through unchanged. The node image then finds its cgroup hierarchies
// mounted read-only and remounts them writable (testbed's node image does).

// lastDockerCap is the highest capability Docker 20.10 knows
// (CAP_AUDIT_READ); it rejects BPF, PERFMON and CHECKPOINT_RESTORE.
const lastDockerCap = 37

// capNames are the capabilities 0..lastDockerCap, in number order, as
// docker's --cap-drop takes them.
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ",
}

// missingCaps returns the capabilities 0..lastDockerCap that the bounding
// set in a /proc/PID/status text lacks.
func missingCaps(status string) ([]string, error) {
	for _, line := range strings.Split(status, "\n") {
		v, ok := strings.CutPrefix(line, "CapBnd:")
		if !ok {
			continue
		}
		bits, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("capability bounding set %q: %w", strings.TrimSpace(v), err)
		}
		var missing []string
		for i, name := range capNames {
			if bits&(1<<uint(i)) == 0 {
				missing = append(missing, name)
			}
		}
		return missing, nil
	}
	return nil, fmt.Errorf("no CapBnd line in the process status")
}

// engineMajor returns the major version of a docker server version such as
// "20.10.24+dfsg1".
func engineMajor(version string) (int, error) {
	major, _, _ := strings.Cut(strings.TrimSpace(version), ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0, fmt.Errorf("docker server version %q: %w", version, err)
	}
	return n, nil
}

// privilegedArgs is what the wrapper puts in place of --privileged.
func privilegedArgs(missing []string, kmsg bool) []string {
	args := []string{"--cap-add=ALL"}
	for _, c := range missing {
		args = append(args, "--cap-drop="+c)
	}
	args = append(args, "--security-opt=systempaths=unconfined", "--device-cgroup-rule=a *:* rwm")
	if kmsg {
		args = append(args, "--device=/dev/kmsg")
	}
	return args
}

// shimScript is the docker wrapper: in `docker run`, each --privileged
// becomes args; `docker exec` drops it (the process gets the container's
// capabilities); everything else runs real unchanged.
func shimScript(real string, args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return `#!/bin/sh
# Written by testbed: this Docker engine cannot start --privileged containers
# on this host (its capability bounding set lacks what --privileged asks for),
# so kind's --privileged becomes the capabilities the host has.
real=` + "'" + real + "'" + `
case "$1" in
run)
  n=$#
  for a in "$@"; do
    if [ "$a" = --privileged ]; then
      set -- "$@" ` + strings.Join(quoted, " ") + `
    else
      set -- "$@" "$a"
    fi
  done
  shift "$n" ;;
exec)
  # A process docker execs has the container's capabilities: all the host's.
  n=$#
  for a in "$@"; do
    [ "$a" = --privileged ] || set -- "$@" "$a"
  done
  shift "$n" ;;
esac
exec "$real" "$@"
`
}

// shimDir is where the wrapper is once this process has put it first on
// PATH; shimMu guards it.
var (
	shimMu  sync.Mutex
	shimDir string
)

// ensurePrivileged makes kind's `docker run --privileged` work on this
// host: nothing when the engine is not docker or copes by itself;
// otherwise it writes the wrapper into dir and puts dir first on PATH (once
// per process, and again, in the new dir, once the wrapper's directory has
// gone: a provider's state directory may be a test's temporary one). It
// returns what it did, for progress, or "".
func ensurePrivileged(ctx context.Context, eng engine, dir string) (string, error) {
	c, ok := eng.(cli)
	if !ok || c.bin != RuntimeDocker {
		return "", nil
	}
	version, err := c.run(ctx, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		return "", err
	}
	major, err := engineMajor(version)
	if err != nil || major >= 23 {
		return "", err
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", fmt.Errorf("read the capability bounding set: %w", err)
	}
	missing, err := missingCaps(string(status))
	if err != nil || len(missing) == 0 {
		return "", err
	}
	shimMu.Lock()
	defer shimMu.Unlock()
	if shimDir != "" {
		if _, err := os.Stat(filepath.Join(shimDir, "docker")); err == nil {
			return "", nil
		}
		if err := os.Setenv("PATH", withoutDir(os.Getenv("PATH"), shimDir)); err != nil {
			return "", err
		}
		shimDir = ""
	}
	real, err := exec.LookPath("docker")
	if err != nil {
		return "", fmt.Errorf("docker is not on PATH: %w", err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return "", err
	}
	_, kmsgErr := os.Stat("/dev/kmsg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("docker wrapper: %w", err)
	}
	// Written to a new name and renamed: another testbed process may be
	// running the wrapper this moment.
	tmp, err := os.CreateTemp(dir, ".docker-")
	if err != nil {
		return "", fmt.Errorf("docker wrapper: %w", err)
	}
	_, werr := tmp.WriteString(shimScript(real, privilegedArgs(missing, kmsgErr == nil)))
	cerr := tmp.Close()
	if err := firstErr(werr, cerr, os.Chmod(tmp.Name(), 0o755), os.Rename(tmp.Name(), filepath.Join(dir, "docker"))); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("docker wrapper: %w", err)
	}
	if err := os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		return "", err
	}
	shimDir = dir
	return fmt.Sprintf("docker %s cannot run --privileged containers on this host (its capability bounding set lacks %s): kind's nodes get the host's capabilities instead, through %s",
		version, strings.Join(missing, ", "), filepath.Join(dir, "docker")), nil
}

// withoutDir returns the PATH list path without the directory dir.
func withoutDir(path, dir string) string {
	var keep []string
	for _, d := range filepath.SplitList(path) {
		if d != dir {
			keep = append(keep, d)
		}
	}
	return strings.Join(keep, string(os.PathListSeparator))
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
