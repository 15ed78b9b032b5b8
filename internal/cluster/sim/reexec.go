package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// GateArg, as a program's first argument, makes any program that links
// this package run the sim gate instead of its main: a cluster started
// from a test binary or a user's program needs no testbed binary.
const GateArg = "__testbed-sim-gate"

func init() {
	if len(os.Args) > 1 && os.Args[1] == GateArg {
		os.Exit(gateMain(os.Args[2:]))
	}
}

// gateMain runs the gate on the cluster of the --kubeconfig=PATH argument
// until SIGTERM or SIGINT, logging to stderr. With --owner=PID it removes
// the cluster (the directory holding the kubeconfig) once that process
// has exited.
func gateMain(args []string) int {
	var kubeconfig string
	owner := 0
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--kubeconfig="); ok {
			kubeconfig = v
		}
		if v, ok := strings.CutPrefix(a, "--owner="); ok {
			owner, _ = strconv.Atoi(v)
		}
	}
	if kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "sim gate: --kubeconfig=PATH is required")
		return 2
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sim gate: %v\n", err)
		return 2
	}
	cfg.QPS, cfg.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sim gate: %v\n", err)
		return 3
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if owner > 0 {
		go removeWithOwner(ctx, owner, filepath.Dir(kubeconfig))
	}
	if err := RunGate(ctx, cs, GateLogf(os.Stderr)); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "sim gate: %v\n", err)
		return 1
	}
	return 0
}

// removeWithOwner waits until process owner has exited (or ctx ends), then
// stops every other process of the cluster in dir and removes dir.
func removeWithOwner(ctx context.Context, owner int, dir string) {
	self := &proc{PID: owner}
	if st, err := readStat(owner); err == nil {
		self.StartTime = st.startTime
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for self.alive() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	c, err := readCluster(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sim gate: owner %d exited; %v\n", owner, err)
		return
	}
	var others []*proc
	for _, p := range c.Procs {
		if p.PID != os.Getpid() {
			others = append(others, p)
		}
	}
	fmt.Fprintf(os.Stderr, "sim gate: owner %d exited; removing cluster %s\n", owner, c.Name)
	if err := stopProcs(others, time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "sim gate: %v\n", err)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(os.Stderr, "sim gate: %v\n", err)
		return
	}
	os.Exit(0)
}

// readCluster reads the state of the cluster in dir.
func readCluster(dir string) (*Cluster, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var c Cluster
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	return &c, nil
}
