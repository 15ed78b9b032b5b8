package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

// stackFlags are the flags every stack command shares.
type stackFlags struct {
	file     string
	provider string
	tool     string
}

func (f *stackFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "testbed.yaml", "stack file")
	cmd.Flags().StringVar(&f.provider, "provider", "", "cluster provider, overriding the stack's: sim | kind | kubeconfig")
	cmd.Flags().StringVar(&f.tool, "container-tool", "", "docker or podman: builds images and runs kind's nodes (default: docker if its daemon answers, else podman); use the same one for every command of a stack")
}

func (f *stackFlags) load() (*stack.Stack, error) {
	if f.file == "" {
		return nil, invalid(errors.New("-f: no stack file given (default testbed.yaml)"))
	}
	s, err := stack.Load(f.file)
	if err != nil {
		return nil, invalid(err)
	}
	if f.provider != "" && f.provider != "sim" && f.provider != "kind" && f.provider != "kubeconfig" {
		return nil, invalid(fmt.Errorf("--provider %q: want sim, kind or kubeconfig", f.provider))
	}
	return s, nil
}

func (g *globals) options(f *stackFlags) testbed.Options {
	return testbed.Options{
		Provider:      f.provider,
		ContainerTool: f.tool,
		AssetsDir:     g.assetsDir,
		BinDir:        g.binDir,
		StateDir:      g.stateDir,
	}
}

// exitFor maps a library error onto the CLI's exit codes.
func exitFor(err error) error {
	switch testbed.KindOf(err) {
	case testbed.KindInvalid:
		return invalid(err)
	case testbed.KindInfra:
		return infra(err)
	case testbed.KindInterrupted:
		return &exitError{ExitInterrupted, err}
	}
	return &exitError{ExitFailed, err}
}

func (g *globals) isTTY() bool {
	f, ok := g.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// bringUp and stackStatus are testbed.Up and testbed.Status; the commands'
// tests replace them to see what up passes and what up and status print
// without a cluster.
var (
	bringUp     = testbed.Up
	stackStatus = testbed.Status
)

func newUpCmd(g *globals) *cobra.Command {
	var f stackFlags
	var timeout time.Duration
	var reportPath, junitPath, timelinePath, phases string
	var keep bool
	var verbosity int
	var diagDir string
	var buildConc int
	var images []string
	var goCommand string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring a stack up and return once every component is ready",
		Long: `up brings the stack in -f up: it creates the cluster (sim by default), applies
every component as soon as its dependsOn components are ready, and watches
every object until it is ready by its kind's rule (Deployments available,
Jobs complete, Services with a ready endpoint, CRDs served, ...). The first component that fails
stops the run at once, with its reason and a diagnostics bundle.

On success the cluster stays up (sim processes outlive the command) and the
kubeconfig path is printed on stdout; run 'testbed down' to remove it. Running
'up' again on a running stack re-applies and re-waits. On failure everything
the run started is torn down unless --keep-on-failure.

  testbed up -f examples/hello/testbed.yaml --report out.json --junit out.xml --timeline out.svg

Exit codes: 0 ready, 1 a component failed or timed out, 2 invalid input,
3 infrastructure failure, 130 interrupted.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rejected := func(name string, err error) error {
				if werr := writeReports(invalidReport(name, err), reportPath, junitPath, timelinePath); werr != nil {
					fmt.Fprintf(g.stderr, "testbed: %v\n", werr)
				}
				return err
			}
			for _, o := range []struct{ flag, path string }{{"--report", reportPath}, {"--junit", junitPath}, {"--timeline", timelinePath}} {
				if err := writable(o.path); err != nil {
					return invalid(fmt.Errorf("%s %s: %w", o.flag, o.path, err))
				}
			}
			if phases != testbed.PhasesOverlap && phases != testbed.PhasesStrict {
				return rejected(f.file, invalid(fmt.Errorf("--phases %q: want overlap or strict", phases)))
			}
			if timeout < 0 {
				return rejected(f.file, invalid(fmt.Errorf("--timeout %s: must not be negative", timeout)))
			}
			if f.tool != "" && f.tool != "docker" && f.tool != "podman" {
				return rejected(f.file, invalid(fmt.Errorf("--container-tool %q: want docker or podman", f.tool)))
			}
			if buildConc < 0 {
				return rejected(f.file, invalid(fmt.Errorf("--build-concurrency %d: must not be negative", buildConc)))
			}
			overrides := map[string]string{}
			for _, kv := range images {
				name, ref, ok := strings.Cut(kv, "=")
				if !ok || name == "" || ref == "" {
					return rejected(f.file, invalid(fmt.Errorf("--image %q: want NAME=REF", kv)))
				}
				overrides[name] = ref
			}
			s, err := f.load()
			if err != nil {
				return rejected(f.file, err)
			}
			opts := g.options(&f)
			opts.Timeout = timeout
			opts.KeepOnFailure = keep
			opts.DiagDir = diagDir
			opts.Phases = phases
			opts.BuildConcurrency = buildConc
			opts.GoCommand = goCommand
			if len(overrides) > 0 {
				opts.Images = overrides
			}
			prog := report.NewProgress(g.stderr, g.isTTY(), nil)
			stopTick := make(chan struct{})
			if g.isTTY() {
				if w, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil {
					prog.SetWidth(w)
				}
			}
			prep := newBuildProgress(g.stderr, g.isTTY())
			opts.OnEvent = func(ev testbed.Event) {
				switch {
				case ev.State == testbed.StatePrepare:
					prep.event(ev)
				case ev.Image != "":
					prog.Printf("image %s %s: %s", ev.Image, ev.State, ev.Detail)
				case ev.Component == "":
					prog.Printf("%s", ev.Detail)
				case ev.State == testbed.StateObject && ev.Object != nil:
					if verbosity > 0 {
						prog.Printf("%s %s", ev.Component, ev.Detail)
					}
					// What the component waits for: its latest object
					// not ready ("Deployment ns/db: 0/1 replicas ready").
					if !ev.Object.Ready {
						what := ev.Object.Reason
						if ev.Object.Failed {
							what = "Failed " + what
						}
						prog.Waiting(ev.Component, ev.Object.String()+": "+what)
					}
				default:
					prog.Component(ev.Component, ev.State, ev.Detail)
				}
			}
			tick := time.NewTicker(time.Second)
			ticking := make(chan struct{})
			go func() {
				defer close(ticking)
				for {
					select {
					case <-tick.C:
						prog.Tick()
					case <-stopTick:
						return
					}
				}
			}()
			env, upErr := bringUp(cmd.Context(), s, opts)
			tick.Stop()
			close(stopTick)
			<-ticking
			prog.Close()
			if env == nil || env.Report == nil {
				// Rejected before anything started.
				return rejected(s.Metadata.Name, exitFor(upErr))
			}
			fmt.Fprintln(g.stderr)
			_ = report.WriteTable(g.stderr, env.Report)
			if err := writeReports(env.Report, reportPath, junitPath, timelinePath); err != nil {
				if upErr == nil {
					// The stack is ready but the run failed on this
					// side: exit 3, and like every failed run, leave
					// nothing it started behind.
					upErr = infra(fmt.Errorf("stack %s is ready, but %w", s.Metadata.Name, err))
					if !keep {
						fmt.Fprintf(g.stderr, "testbed: stack %s is ready but its reports could not be written: tearing down what this run started\n", s.Metadata.Name)
						if err := env.Teardown(context.WithoutCancel(cmd.Context())); err != nil {
							fmt.Fprintf(g.stderr, "testbed: %v\n", err)
						}
					}
				} else {
					fmt.Fprintf(g.stderr, "testbed: %v\n", err)
				}
			}
			if upErr != nil && keep && env.Kubeconfig != "" {
				fmt.Fprintf(g.stderr, "testbed: kept for inspection (--keep-on-failure): KUBECONFIG=%s; remove it with `testbed down -f %s`\n", env.Kubeconfig, f.file)
				upErr = fmt.Errorf("%w (%w)", upErr, errKept)
			}
			if upErr != nil {
				var ee *exitError
				if errors.As(upErr, &ee) {
					return upErr
				}
				return exitFor(upErr)
			}
			writePorts(g.stderr, s, env.Ports)
			fmt.Fprintln(g.stdout, env.Kubeconfig)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "deadline for the whole bring-up (default: the stack's spec.timeout)")
	cmd.Flags().StringVar(&reportPath, "report", "", "write the JSON report here (on success and on failure)")
	cmd.Flags().StringVar(&junitPath, "junit", "", "write a JUnit XML report here (one testcase per component)")
	cmd.Flags().StringVar(&timelinePath, "timeline", "", "draw the bring-up here as an SVG Gantt chart (on success and on failure)")
	cmd.Flags().BoolVar(&keep, "keep-on-failure", false, "leave what a failed run started in place, for inspection")
	cmd.Flags().StringVar(&diagDir, "diagnostics-dir", "", "write failed components' diagnostics here (default: $TMPDIR/testbed-diagnostics/STACK-RUN)")
	cmd.Flags().StringVar(&phases, "phases", testbed.PhasesOverlap, "overlap: build images while the cluster is created, load each as it is built; strict: every build, then the cluster, then every load, then the deploy")
	cmd.Flags().IntVar(&buildConc, "build-concurrency", 0, "image builds at once (default: the number of CPUs; lower it if parallel builds crash the tool)")
	cmd.Flags().StringArrayVar(&images, "image", nil, "use a prebuilt image for a stack image instead of building it: NAME=REF (repeatable)")
	cmd.Flags().StringVar(&goCommand, "go-command", "", "the go command that compiles go images (spec.images[].go): a name looked up in PATH, or a path (default: go)")
	cmd.Flags().IntVarP(&verbosity, "verbosity", "v", 0, "more progress detail (1: every object's readiness changes)")
	return cmd
}

func writeReports(r *report.Report, jsonPath, junitPath, timelinePath string) error {
	var errs []error
	if jsonPath != "" {
		errs = append(errs, writeFile(jsonPath, func(f *os.File) error { return report.WriteJSON(f, r) }))
	}
	if junitPath != "" {
		errs = append(errs, writeFile(junitPath, func(f *os.File) error { return report.WriteJUnit(f, r) }))
	}
	if timelinePath != "" {
		errs = append(errs, writeFile(timelinePath, func(f *os.File) error { return report.WriteTimeline(f, r) }))
	}
	return errors.Join(errs...)
}

// writable checks, before a run starts, that a file can be written at
// path ("" is fine: nothing is written): its directory exists and takes a
// new file, and path is not a directory. Nothing is left behind.
func writable(path string) error {
	if path == "" {
		return nil
	}
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return errors.New("is a directory")
		}
		// There already: it must open for writing (not truncated here).
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("cannot write it: %w", errors.Unwrap(err))
		}
		return f.Close()
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist", dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".testbed-write-check-*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// invalidReport records a run rejected before it started: stack is the
// stack's name when it could be read, else the file given.
func invalidReport(stack string, cause error) *report.Report {
	return &report.Report{Stack: stack, Run: "-", Provider: "-", Result: report.ResultInvalid, StartedAt: time.Now().UTC(),
		Phases: []report.Phase{}, Components: []report.Component{}, CriticalPath: []string{}, Reason: cause.Error()}
}

func newDownCmd(g *globals) *cobra.Command {
	var f stackFlags
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Tear a stack down: remove its sim or kind cluster, or delete what testbed applied",
		Long: `down removes what 'testbed up' made for the stack in -f. On sim it stops the
stack's cluster and removes its state; on kubeconfig it deletes every object
labelled testbed.dev/stack=<stack> (and the namespaces testbed created), nothing
else. A stack that is not running is reported, and down exits 0.

  testbed down -f examples/hello/testbed.yaml

Exit codes: 0 down (or not running), 2 invalid stack file, 3 the cluster or
API could not be reached or the deletion failed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.load()
			if err != nil {
				return err
			}
			opts := g.options(&f)
			opts.OnEvent = func(ev testbed.Event) { g.progress("%s", ev.Detail) }
			err = testbed.Down(cmd.Context(), s, opts)
			if errors.Is(err, testbed.ErrNotRunning) {
				g.progress("%v", err)
				return nil
			}
			if err != nil {
				return exitFor(err)
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newStatusCmd(g *globals) *cobra.Command {
	var f stackFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each component's readiness in a running stack (exit 1 unless all ready)",
		Long: `status reads the stack in -f and asks the running cluster how ready each
component is now, by the same rules as up, without applying anything.

  testbed status -f examples/hello/testbed.yaml

Exit codes: 0 every component ready, 1 the stack is not running or a
component is not ready (the table says why), 2 invalid stack file, 3 the
cluster or API could not be reached.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.load()
			if err != nil {
				return err
			}
			sts, err := stackStatus(cmd.Context(), s, g.options(&f))
			if errors.Is(err, testbed.ErrNotRunning) {
				return &exitError{ExitFailed, err}
			}
			if err != nil {
				return exitFor(err)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "COMPONENT\tREADY\tREASON")
			all := true
			for _, st := range sts {
				r := "yes"
				if !st.Ready {
					r, all = "no", false
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", st.Name, r, st.Reason)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if !all {
				return &exitError{ExitFailed, fmt.Errorf("stack %s is not ready", s.Metadata.Name)}
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newPlanCmd(g *globals) *cobra.Command {
	var f stackFlags
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Validate a stack; print its graph, lower bound and critical path",
		Long: `plan validates the stack in -f (every problem, with file:line) as up would,
without starting anything, and prints its components in dependency order with
their edges and sim timings, then the sim lower bound: the longest path
through dependsOn, requires and readyAfter, which no bring-up can beat. If
some components have a dependsOn, it also names those up applies first: the
heads of the longest dependsOn chain among the components that wait for nothing.

  testbed plan -f examples/hello/testbed.yaml
  testbed plan -f stack.yaml --provider kubeconfig

Exit codes: 0 valid, 2 invalid (every problem printed), 3 the provider cannot
run here (kind without docker or podman).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.load()
			if err != nil {
				return err
			}
			plan, err := testbed.NewPlan(s, g.options(&f))
			if err != nil {
				return exitFor(err)
			}
			provider := plan.Provider
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(g.stdout, "stack %s (namespace %s, provider %s, timeout %s)\n\n", s.Metadata.Name, s.Spec.Namespace, provider, s.Spec.Timeout)
			fmt.Fprintln(tw, "COMPONENT\tDEPENDS ON\tREQUIRES\tREADY AFTER\tDOES")
			for _, name := range s.Order() {
				c := s.Component(name)
				var req, after, does string
				if c.Sim != nil {
					req = strings.Join(c.Sim.Requires, ",")
					after = c.Sim.ReadyAfter.String()
					if c.Sim.Fail != "" {
						after += " (fail: " + string(c.Sim.Fail) + ")"
					}
				}
				if c.Run != nil {
					does = "run " + strings.Join(c.Run.Command, " ")
				} else {
					does = fmt.Sprintf("%d manifest", len(c.Manifests))
					if len(c.Manifests) != 1 {
						does += "s"
					}
					if n, kustomized := plan.Objects(c.Name); kustomized {
						does += fmt.Sprintf(" (with kustomize: %d object", n)
						if n != 1 {
							does += "s"
						}
						does += ")"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, dash(strings.Join(c.DependsOn, ",")), dash(req), dash(after), does)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(plan.ApplyFirst) > 0 {
				fmt.Fprintf(g.stdout, "\napplied first: %s (heads of the longest dependsOn chain; the other components that wait for nothing follow once these components' pods are scheduled, at most %s after their apply)\n", strings.Join(plan.ApplyFirst, ", "), plan.ScheduleGate)
			}
			if len(plan.Images) > 0 {
				fmt.Fprintln(g.stdout)
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "IMAGE\tREF\tDOES")
				for _, img := range plan.Images {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", img.Name, img.Ref, img.Does)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if plan.LowerBound != nil {
				fmt.Fprintf(g.stdout, "\nlower bound (%s): %.1f s\ncritical path: %s\n", provider, *plan.LowerBound, strings.Join(plan.CriticalPath, " → "))
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writePorts says where each of the stack's ports answers on the host, for
// the ports (`hostPort: auto`) the user did not choose.
func writePorts(w io.Writer, s *stack.Stack, ports map[string]int) {
	for _, p := range s.Spec.Ports {
		if hp, ok := ports[p.Name]; ok && hp > 0 {
			fmt.Fprintf(w, "testbed: port %s: 127.0.0.1:%d (NodePort %d)\n", p.Name, hp, p.NodePort)
		}
	}
}
