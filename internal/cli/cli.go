// Package cli is testbed's command line: it maps flags and environment
// variables onto library options, prints progress to stderr and results to
// stdout, and turns errors into exit codes. All real work lives in the
// library packages.
package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/go-logr/logr"
	"io"
	"k8s.io/klog/v2"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kubetestbed/testbed/pkg/testbed"
)

// Exit codes (docs/design.md, "CLI and exit codes").
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitInvalid     = 2
	ExitInfra       = 3
	ExitInterrupted = 130
)

// exitError carries an exit code with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func invalid(err error) error { return &exitError{ExitInvalid, err} }
func infra(err error) error   { return &exitError{ExitInfra, err} }

// Main runs the testbed command line with args (without the program name)
// and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	// client-go logs through klog to stderr (a discovery error, a watch
	// dropped): testbed reports what matters in its own words, so those
	// lines only clutter the progress unless asked for.
	if os.Getenv("TESTBED_CLIENT_LOGS") == "" {
		klog.SetLogger(logr.Discard())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitInfra
	var ee *exitError
	switch {
	case ctx.Err() != nil:
		code = ExitInterrupted
		if errors.Is(err, errKept) {
			fmt.Fprintln(stderr, "testbed: interrupted; what this run started was kept (--keep-on-failure)")
		} else {
			fmt.Fprintln(stderr, "testbed: interrupted; everything this run started was stopped")
		}
		return code
	case errors.As(err, &ee):
		code = ee.code
	case isUsageError(err):
		code = ExitInvalid
	}
	fmt.Fprintf(stderr, "testbed: %v\n", err)
	return code
}

type usageError struct{ error }

// errKept marks the error of a failed run whose cluster was kept.
var errKept = errors.New("kept for inspection")

func isUsageError(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}

// globals are the settings every command shares.
type globals struct {
	stdout, stderr io.Writer
	assetsDir      string
	binDir         string
	stateDir       string
	start          time.Time
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "testbed",
		Short: "Bring up multi-component end-to-end test environments on Kubernetes, fast",
		Long: `testbed brings up a multi-component end-to-end test environment on Kubernetes as
fast as its components allow, says exactly why when it can't, and tears it down
leaving nothing behind.

The default cluster is "sim": a real control plane (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) with simulated nodes (kwok), run as
local processes on 127.0.0.1. Its binaries are built once from the Go module
proxy (about 10 minutes on 2 cores) and cached.

"kind" (spec.cluster.provider, or --provider kind) runs the stack's containers
for real on a kind cluster, on docker or podman; where kind's node image cannot
be pulled, testbed builds its own once (testbed assets build --kind-node).
"kubeconfig" uses a cluster you already have.

Environment:
  TESTBED_ASSETS_DIR  cache of built control-plane binaries (default ` + testbed.DefaultAssetsDir() + `)
  TESTBED_BIN_DIR     use control-plane binaries you already have (kube-apiserver,
                      kube-controller-manager, kube-scheduler, kubectl, etcd, kwok)
  TESTBED_STATE_DIR   running clusters: pids, logs, kubeconfig (default ` + testbed.DefaultStateDir() + `)
  TESTBED_CLIENT_LOGS set to anything: show the Kubernetes client's own log lines

Exit codes: 0 ready, 1 a component failed or timed out, 2 invalid input,
3 infrastructure failure, 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			g.start = time.Now()
		},
	}
	parent(root)
	root.SetHelpCommand(newHelpCmd())
	root.Version = version()
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%w (see `%s --help`)", err, c.CommandPath())}
	})
	root.PersistentFlags().StringVar(&g.assetsDir, "assets-dir", envOr("TESTBED_ASSETS_DIR", testbed.DefaultAssetsDir()), "directory of cached control-plane builds")
	root.PersistentFlags().StringVar(&g.binDir, "bin-dir", os.Getenv("TESTBED_BIN_DIR"), "use prebuilt control-plane binaries from this directory instead of building them")
	root.PersistentFlags().StringVar(&g.stateDir, "state-dir", envOr("TESTBED_STATE_DIR", testbed.DefaultStateDir()), "directory holding running clusters' state")
	root.AddCommand(newUpCmd(g), newDownCmd(g), newStatusCmd(g), newPlanCmd(g), newAssetsCmd(g), newClusterCmd(g), newGateCmd(), newTimelineCmd(g))
	return root
}

// progress writes one status line to stderr: plain and timestamped when
// stderr is not a terminal, with the elapsed time when it is.
func (g *globals) progress(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if f, ok := g.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(g.stderr, "[%5.1fs] %s\n", time.Since(g.start).Seconds(), msg)
		return
	}
	fmt.Fprintf(g.stderr, "%s %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), msg)
}

// parent makes cmd, a command of subcommands, print its help when run
// alone and reject anything else as invalid input (cobra would otherwise
// print the help and succeed, or fail as if the infrastructure had).
func parent(cmd *cobra.Command) {
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		hint := ""
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			hint = fmt.Sprintf("; did you mean %q?", s[0])
		}
		return &usageError{fmt.Errorf("unknown command %q for %q%s (see `%s --help`)", args[0], c.CommandPath(), hint, c.CommandPath())}
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}

// newHelpCmd is cobra's help command, with an unknown topic invalid input
// (cobra's own would print the root's help: the root takes arguments to
// reject them itself).
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				return &usageError{fmt.Errorf("unknown help topic %q (see `%s --help`)", strings.Join(args, " "), c.Root().CommandPath())}
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// version is the module version and VCS revision the binary was built
// from, as the Go toolchain recorded them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " (" + rev[:min(12, len(rev))] + modified + ")"
	}
	return v
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("%s takes no arguments, got %q (see `%s --help`)", cmd.CommandPath(), args, cmd.CommandPath())}
	}
	return nil
}
