package sim

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc records one control-plane process of a cluster. PID and StartTime
// together identify it: a PID reused by another program after ours exited
// has a different start time and is never signalled.
type proc struct {
	Name      string   `json:"name"`
	PID       int      `json:"pid"`
	StartTime uint64   `json:"startTime"` // field 22 of /proc/PID/stat
	Log       string   `json:"log"`
	Args      []string `json:"args"`

	exited chan struct{} // closed when a child of this process exits
}

// startProc starts bin in its own session (so that a signal sent to the
// caller's process group never reaches it), with stdout and stderr appended
// to logPath. The process outlives the caller.
func startProc(name, bin string, args []string, dir, logPath string, env []string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{Name: name, PID: cmd.Process.Pid, Log: logPath, Args: append([]string{bin}, args...), exited: make(chan struct{})}
	if st, err := readStat(p.PID); err == nil {
		p.StartTime = st.startTime
	}
	go func() {
		_ = cmd.Wait() // reap it; its exit is read from the log and /proc
		close(p.exited)
	}()
	return p, nil
}

type procStat struct {
	state     byte
	startTime uint64
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields we need come after its last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return procStat{}, errors.New("malformed /proc stat")
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, err
	}
	return procStat{state: f[0][0], startTime: st}, nil
}

// alive reports whether p is still running: present in /proc, not a zombie
// (reaping can lag), and the same process that was started.
func (p *proc) alive() bool {
	st, err := readStat(p.PID)
	if err != nil {
		return false
	}
	if st.state == 'Z' || st.state == 'X' {
		return false
	}
	return p.StartTime == 0 || st.startTime == p.StartTime
}

// stopProcs sends SIGTERM to every live process, waits up to grace for all
// of them to exit, then SIGKILLs what is left and waits again. It returns an
// error naming every process that could not be stopped.
func stopProcs(ps []*proc, grace time.Duration) error {
	for _, p := range ps {
		if p.alive() {
			_ = syscall.Kill(p.PID, syscall.SIGTERM)
		}
	}
	if waitGone(ps, grace) {
		return nil
	}
	for _, p := range ps {
		if p.alive() {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	if waitGone(ps, 5*time.Second) {
		return nil
	}
	var errs []error
	for _, p := range ps {
		if p.alive() {
			errs = append(errs, fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, p.PID))
		}
	}
	return errors.Join(errs...)
}

func waitGone(ps []*proc, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		left := false
		for _, p := range ps {
			if p.alive() {
				left = true
				break
			}
		}
		if !left {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logTail returns the last n lines of a log file.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
