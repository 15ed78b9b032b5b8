package sim

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

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
// until SIGTERM or SIGINT, logging to stderr.
func gateMain(args []string) int {
	var kubeconfig string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--kubeconfig="); ok {
			kubeconfig = v
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
	if err := RunGate(ctx, cs, GateLogf(os.Stderr)); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "sim gate: %v\n", err)
		return 1
	}
	return 0
}
