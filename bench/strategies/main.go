// Command strategies brings stacks up on fresh sim clusters with each of
// the strategies testbed replaces, and with testbed, several rounds, and
// prints a markdown table of the median seconds from "start deploying" to
// "every component ready", against each stack's sim lower bound and
// testbed's target:
//
//   - sequential: per component in dependency order, apply then poll until
//     ready every 5 s (Gomega's Eventually(…, 2m, 5s)), what the seed replaced;
//   - seed phase 4: the seed's pattern exactly: a goroutine per component
//     applying (dependsOn ignored), a result channel, collect all, then one
//     wait that polls each component in turn every 5 s;
//   - seed, dependsOn as retries: the same, with every dependsOn on a
//     component with pods modelled as the app retrying it (sim requires),
//     as the seed claimed its services behave;
//   - kubectl: a script: per wave of dependsOn depth, one `kubectl apply
//     --server-side`, then `kubectl rollout status` / `kubectl wait` per object;
//   - testbed: testbed.Up;
//   - helm v4: `helm install --wait --wait-for-jobs` of one chart holding
//     everything (when a Helm v4 binary is at hand: -helm).
//
// Every strategy applies the same decorated objects (testbed's labels and
// the stack's sim annotations on pod templates) with the same
// substitutions, each on a fresh cluster of its own. Run it from the
// module's root:
//
//	go run ./bench/strategies -rounds 3 -stacks 'examples/kubernaut/*.yaml'
//
// See bench/README.md ("Strategies") for what the numbers mean.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// errSkipped is a strategy that cannot run here (Helm without a binary).
var errSkipped = errors.New("skipped")

func main() { os.Exit(run()) }

func run() int {
	var (
		rounds     = flag.Int("rounds", 3, "rounds per stack and strategy (the table shows medians)")
		stacksFlag = flag.String("stacks", "", "stack files: comma-separated paths or globs; further arguments are stack files too")
		stratFlag  = flag.String("strategies", "sequential,seed,seed-retry,kubectl,testbed,helm", "strategies to run, comma-separated")
		helmFlag   = flag.String("helm", "auto", "Helm v4: auto (the cached build, if any), build (go install helm.sh/helm/v4/cmd/helm@"+helmVersion+" once), off, or a binary's path")
		outFile    = flag.String("out", "", "also write the markdown to this file")
		assetsDir  = flag.String("assets-dir", envOr("TESTBED_ASSETS_DIR", defaultAssetsDir()), "cache of the sim control plane (built on first use)")
		binDir     = flag.String("bin-dir", os.Getenv("TESTBED_BIN_DIR"), "prebuilt control-plane binaries to use instead of the cache")
		verbose    = flag.Bool("v", false, "log when each strategy knew each component ready")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./bench/strategies [flags] [stack.yaml ...]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}

	if *verbose {
		debugf = logf
	}
	stacks, err := stackFiles(*stacksFlag, flag.Args())
	if err != nil || len(stacks) == 0 {
		if err == nil {
			err = errors.New("no stack files: use -stacks or arguments")
		}
		fmt.Fprintln(os.Stderr, "strategies:", err)
		return 2
	}
	strategies, err := pickStrategies(*stratFlag)
	if err != nil || *rounds < 1 {
		if err == nil {
			err = errors.New("-rounds must be at least 1")
		}
		fmt.Fprintln(os.Stderr, "strategies:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	info := runInfo{command: command(), rounds: *rounds, started: time.Now(), loadStart: loadAverage(), m: describeMachine(ctx, runtime.NumCPU())}

	e, err := newEnv(ctx, setupOptions{assetsDir: *assetsDir, binDir: *binDir, logf: logf})
	if err != nil {
		fmt.Fprintln(os.Stderr, "strategies:", err)
		return 3
	}
	defer e.close()
	if slices.ContainsFunc(strategies, func(s strategy) bool { return s.name == "helm" }) {
		e.helm, err = resolveHelm(ctx, *helmFlag, logf)
		if err != nil {
			logf("helm left out: %v", err)
			info.notes = append(info.notes, fmt.Sprintf("Helm %s left out: %s", helmVersion, firstLine(err.Error())))
		}
		if e.helm == "" {
			strategies = slices.DeleteFunc(strategies, func(s strategy) bool { return s.name == "helm" })
		}
	}
	// Run steps find kubectl through $KUBECTL (examples/kubernaut's
	// register-workflows.sh does): the same one for every strategy.
	if os.Getenv("KUBECTL") == "" {
		os.Setenv("KUBECTL", e.kubectl)
	}

	results := make([]*stackResult, len(stacks))
	for round := range *rounds {
		for i, path := range stacks {
			p, err := newPlan(path, stack.NewRunID(), sim.FreePort)
			if err != nil {
				fmt.Fprintf(os.Stderr, "strategies: %s: %v\n", path, err)
				return 2
			}
			if results[i] == nil {
				results[i] = newStackResult(p, path)
			}
			// Rotate the strategies' order every round, so that none is
			// always first on a machine whose load drifts.
			for k := range strategies {
				st := strategies[(k+round)%len(strategies)]
				if ctx.Err() != nil {
					break
				}
				o, err := runOne(ctx, e, p, st)
				if errors.Is(err, errSkipped) {
					continue
				}
				results[i].add(st.name, o, err)
				if werr := writeOut(*outFile, results, strategies, info); werr != nil {
					logf("write %s: %v", *outFile, werr)
				}
				if err != nil {
					logf("round %d/%d %s %s: FAILED: %v", round+1, *rounds, p.s.Metadata.Name, st.name, err)
					continue
				}
				extra := ""
				if o.latency > 0 {
					extra = fmt.Sprintf("; cluster latency %.3f s (Job %.3f s), target %.2f s", o.latency.Seconds(), o.latencyJob.Seconds(), target(p.lowerBound, p.hops, o.latency))
				}
				if sp := o.split; sp != nil {
					extra += fmt.Sprintf("; critical path %s: apply %.2f s, beyond readyAfter %.2f s", strings.Join(sp.path, " → "), sp.apply.Seconds(), sp.beyond.Seconds())
				}
				if len(o.races) > 0 {
					extra += fmt.Sprintf("; %d dependsOn edges not respected", len(o.races))
				}
				logf("round %d/%d %s %s: %.2f s (lower bound %.1f s%s)", round+1, *rounds, p.s.Metadata.Name, st.name, o.deploy.Seconds(), p.lowerBound, extra)
				if *verbose {
					logf("  ready at (s): %s", timeline(p, o))
				}
			}
		}
	}
	if ctx.Err() != nil {
		info.notes = append(info.notes, "interrupted: the table holds the rounds that ran")
	}
	writeMarkdown(os.Stdout, finished(results), strategies, info.done())
	if err := writeOut(*outFile, results, strategies, info); err != nil {
		fmt.Fprintln(os.Stderr, "strategies:", err)
		return 1
	}
	if ctx.Err() != nil {
		return 130
	}
	return 0
}

// finished drops the stacks no round has reached yet.
func finished(results []*stackResult) []*stackResult {
	var out []*stackResult
	for _, r := range results {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// writeOut writes the markdown to path, if there is one: after every
// strategy's round, so that a long run that is stopped keeps what it had.
func writeOut(path string, results []*stackResult, strategies []strategy, info runInfo) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	writeMarkdown(f, finished(results), strategies, info.done())
	return f.Close()
}

// runOne runs one strategy on a fresh cluster, which it deletes after,
// whatever happened.
func runOne(ctx context.Context, e *env, p *plan, st strategy) (o *outcome, err error) {
	if st.name == "helm" && e.helm == "" {
		return nil, errSkipped
	}
	cl, err := e.newCluster(ctx, p.s.Metadata.Name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if derr := cl.delete(); derr != nil && err == nil {
			err = fmt.Errorf("delete the cluster: %w", derr)
		}
	}()
	// The stack's timeout bounds the bring-up; a minute more for the
	// latency probes and the race readout.
	rctx, cancel := context.WithTimeout(ctx, p.s.Spec.Timeout+time.Minute)
	defer cancel()
	return st.run(rctx, e, p, cl)
}

// timeline lists when the strategy knew each component ready, in the
// stack's order.
func timeline(p *plan, o *outcome) string {
	var parts []string
	for _, name := range p.order {
		if d, ok := o.readyAt[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2f", name, d.Seconds()))
		}
	}
	return strings.Join(parts, ", ")
}

// stackFiles expands -stacks (comma-separated paths or globs) and the
// arguments into stack files, each once, in the order given.
func stackFiles(flagValue string, args []string) ([]string, error) {
	var patterns []string
	for _, s := range strings.Split(flagValue, ",") {
		if s = strings.TrimSpace(s); s != "" {
			patterns = append(patterns, s)
		}
	}
	patterns = append(patterns, args...)
	var out []string
	for _, pat := range patterns {
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pat, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s: no such stack file", pat)
		}
		for _, m := range matches {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// pickStrategies returns the named strategies in the table's order.
func pickStrategies(list string) ([]strategy, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.ContainsFunc(allStrategies, func(s strategy) bool { return s.name == n }) {
			return nil, fmt.Errorf("unknown strategy %q: want sequential, seed, seed-retry, kubectl, testbed or helm", n)
		}
		want[n] = true
	}
	var out []strategy
	for _, s := range allStrategies {
		if want[s.name] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no strategies")
	}
	return out, nil
}

// command is how this run was started, for the README.
func command() string {
	return "go run ./bench/strategies " + strings.Join(os.Args[1:], " ")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func defaultAssetsDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "testbed", "assets")
}
