package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/internal/report"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// Options configure Up, Down and Status. The zero value works: sim
// provider, the stack's timeout, teardown on failure.
type Options struct {
	// Provider overrides the stack's spec.cluster.provider.
	Provider string
	// Timeout overrides the stack's spec.timeout (the whole bring-up).
	Timeout time.Duration
	// KeepOnFailure leaves what a failed run started in place, for
	// inspection.
	KeepOnFailure bool
	// Strict restores the seed's phase order: the cluster is created only
	// after every image is built (for machines where they contend). No
	// provider builds images yet (sim never builds), so today it changes
	// nothing; the graph gets build nodes, and this edge, with image builds.
	Strict bool
	// Run is the run ID (${run}); default: 5 random characters.
	Run string
	// AssetsDir caches the sim control plane (built on first use);
	// BinDir, if set, uses prebuilt binaries instead. StateDir holds
	// running sim clusters. The CLI fills these; they have no defaults
	// here, since the library reads no environment.
	AssetsDir, BinDir, StateDir string
	// GateCommand runs the sim gate ("testbed sim-gate"); see sim.Options.
	GateCommand []string
	// DiagDir receives diagnostics bundles of failed components
	// (default: a directory under os.TempDir()).
	DiagDir string
	// OnEvent, if set, receives progress: one event per component state
	// change and per cluster step. Called from several goroutines, one at
	// a time.
	OnEvent func(Event)
}

// Event is one step of a run, for progress output.
type Event struct {
	// Component is empty for events about the run or the cluster.
	Component string
	// State is "applying", "applied", "ready", "failed", "timeout",
	// "running" (a run step), "skipped", "cluster" or "object".
	State string
	// Detail is a short human description.
	Detail string
	At     time.Time
}

// Component states of Event.
const (
	StateApplying = "applying"
	StateApplied  = "applied"
	StateRunning  = "running"
	StateReady    = "ready"
	StateFailed   = "failed"
	StateTimeout  = "timeout"
	StateSkipped  = "skipped"
	StateCluster  = "cluster"
	// StateObject reports one object's readiness change (Detail says
	// which and why); Component is the object's component.
	StateObject = "object"
)

// Env is a stack that Up brought up.
type Env struct {
	Stack *stack.Stack
	// Report is the run's report (DESIGN §6), also on failure.
	Report *report.Report
	// Kubeconfig is the path of the cluster's kubeconfig.
	Kubeconfig string
	// Ports maps the stack's port names to host ports.
	Ports map[string]int
	cfg   *rest.Config
	// teardown removes what the run that made this Env started.
	teardown func(context.Context)
}

// Teardown removes what the Up call that returned e started, as Up does
// itself on failure: the sim cluster it created (not one it found running
// and re-applied to), or on the kubeconfig provider the objects and
// namespaces it applied. Callers use it when a run that Up reported ready
// fails afterwards on their side (the CLI: its report cannot be written).
// Down, by contrast, removes the stack whatever run started it.
func (e *Env) Teardown(ctx context.Context) {
	if e != nil && e.teardown != nil {
		e.teardown(ctx)
	}
}

// RESTConfig returns a client configuration for the stack's cluster.
func (e *Env) RESTConfig() *rest.Config { return rest.CopyConfig(e.cfg) }

// Endpoint returns "127.0.0.1:PORT" for the stack's port name.
func (e *Env) Endpoint(port string) (string, error) {
	p, ok := e.Ports[port]
	if !ok {
		return "", fmt.Errorf("stack %s has no port %q", e.Stack.Metadata.Name, port)
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(p)), nil
}

// Kind of failure, for exit codes (DESIGN §5).
type Kind int

// The kinds of Error.
const (
	// KindFailed: a component failed or timed out (exit 1).
	KindFailed Kind = iota + 1
	// KindInvalid: the input was rejected before anything started (exit 2).
	KindInvalid
	// KindInfra: the cluster, a build, a load or the API failed (exit 3).
	KindInfra
	// KindInterrupted: the run was cancelled (exit 130).
	KindInterrupted
)

// Error is what Up, Down and Status return on failure.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func invalidf(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the Kind of err: KindFailed unless err is (or wraps) an
// *Error of another kind.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindFailed
}

// Check rejects, as an *Error of KindInvalid, everything Up rejects before
// it starts anything: a provider it cannot use, images it would have to
// build where it cannot, manifests that do not read (or are kustomize
// directories), and on sim a kind the API server cannot serve and a
// timeout that the sim timings make certain (see stack.SimTimeouts). It
// returns the provider the stack runs on. `testbed plan` calls it, so that
// a plan that passes is a stack up accepts.
func Check(s *stack.Stack, opts Options) (stack.Provider, error) {
	provider, err := checkProvider(s, opts)
	if err != nil {
		return "", err
	}
	cms, err := s.Manifests(nil)
	if err != nil {
		return "", &Error{Kind: KindInvalid, Err: err}
	}
	return provider, checkManifests(s, opts, provider, cms)
}

// checkProvider is Check's provider and images part.
func checkProvider(s *stack.Stack, opts Options) (stack.Provider, error) {
	provider, err := providerOf(s, opts)
	if err != nil {
		return "", err
	}
	for _, img := range s.Spec.Images {
		if img.Ref == "" && provider != stack.ProviderSim {
			return "", invalidf("image %q is built from source, and image builds are not implemented yet for provider %s: give it a ref, or use the sim provider (which never builds)", img.Name, provider)
		}
	}
	return provider, nil
}

// checkManifests is Check's part on the manifests as read (Up reads them
// once, with its substitutions, and checks those).
func checkManifests(s *stack.Stack, opts Options, provider stack.Provider, cms []stack.ComponentManifests) error {
	if err := checkKustomize(cms); err != nil {
		return err
	}
	if provider != stack.ProviderSim {
		return nil
	}
	// A running cluster of the stack's (up reuses it) may hold CRDs
	// installed by hand: only a fresh one holds nothing but the stack's.
	if err := simKinds(s, cms, !simClusterExists(s, opts)); err != nil {
		return &Error{Kind: KindInvalid, Err: err}
	}
	if err := s.SimTimeouts(opts.Timeout); err != nil {
		return &Error{Kind: KindInvalid, Err: err}
	}
	return nil
}

// simClusterExists reports whether the stack's sim cluster is there to be
// reused (state only: no process is asked).
func simClusterExists(s *stack.Stack, opts Options) bool {
	p, err := simProvider(context.Background(), opts, false, func(Event) {})
	if err != nil {
		return false // no state directory: nothing to reuse
	}
	_, err = p.Get(s.Metadata.Name)
	return err == nil
}

// checkKustomize rejects kustomize directories, which nothing builds yet.
func checkKustomize(cms []stack.ComponentManifests) error {
	for _, cm := range cms {
		for _, f := range cm.Files {
			if f.Kustomize {
				return invalidf("component %s: %s is a kustomize directory, and kustomize builds are not implemented yet", cm.Component, f.Name)
			}
		}
	}
	return nil
}

func providerOf(s *stack.Stack, opts Options) (stack.Provider, error) {
	p := s.Spec.Cluster.Provider
	if opts.Provider != "" {
		p = stack.Provider(opts.Provider)
	}
	switch p {
	case "", stack.ProviderSim:
		return stack.ProviderSim, nil
	case stack.ProviderKubeconfig:
		return p, nil
	case stack.ProviderKind:
		return "", invalidf("provider kind needs a Docker engine and is not implemented yet: use sim (default) or kubeconfig")
	}
	return "", invalidf("unknown provider %q: want sim, kind or kubeconfig", p)
}

// simProvider returns the sim provider of opts; with assets when they are
// needed (create), building them the first time.
func simProvider(ctx context.Context, opts Options, withAssets bool, emit func(Event)) (*sim.Provider, error) {
	if opts.StateDir == "" {
		return nil, invalidf("no sim state directory given")
	}
	so := sim.Options{
		StateDir:    filepath.Join(opts.StateDir, "clusters"),
		GateCommand: opts.GateCommand,
		Progress: func(ev sim.Event) {
			emit(Event{State: StateCluster, Detail: ev.Message, At: time.Now()})
		},
	}
	if withAssets {
		set, err := assets.Resolve(ctx, opts.BinDir, assets.BuildOptions{CacheDir: opts.AssetsDir, Progress: func(ev assets.Event) {
			if ev.Packages%200 == 0 {
				emit(Event{State: StateCluster, Detail: fmt.Sprintf("sim assets: %s (%d packages)", ev.Message, ev.Packages), At: time.Now()})
			}
		}}, func() {
			emit(Event{State: StateCluster, Detail: "building the sim control plane once from the Go module proxy (about 10 minutes on 2 cores)", At: time.Now()})
		})
		if err != nil {
			kind := KindInfra
			if opts.BinDir != "" {
				kind = KindInvalid
			}
			return nil, &Error{Kind: kind, Err: err}
		}
		so.Assets = set
	}
	return sim.New(so), nil
}

// kubeconfigREST loads the kubeconfig provider's cluster.
func kubeconfigREST(s *stack.Stack) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	path := s.Spec.Cluster.Kubeconfig.Path
	if path != "" {
		rules.ExplicitPath = path
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: s.Spec.Cluster.Kubeconfig.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		// client-go's own message suggests KUBERNETES_MASTER, long gone.
		var found []string
		for _, p := range rules.GetLoadingPrecedence() {
			if _, err := os.Stat(p); err == nil {
				found = append(found, p)
			}
		}
		if len(found) > 0 {
			return nil, "", &Error{Kind: KindInfra, Err: fmt.Errorf("kubeconfig provider: %s: no current context: set spec.cluster.kubeconfig.context in the stack file, or the kubeconfig's current-context", strings.Join(found, ", "))}
		}
		return nil, "", &Error{Kind: KindInfra, Err: fmt.Errorf("kubeconfig provider: no kubeconfig found (looked for %s): set spec.cluster.kubeconfig.path in the stack file, or KUBECONFIG", strings.Join(rules.GetLoadingPrecedence(), ", "))}
	}
	if err != nil {
		return nil, "", &Error{Kind: KindInfra, Err: fmt.Errorf("kubeconfig provider: %w", err)}
	}
	if path == "" {
		if p := rules.GetDefaultFilename(); p != "" {
			path = p
		}
	}
	return cfg, path, nil
}

// reachable checks that the API server behind cfg answers, so that an
// unreachable cluster is an infrastructure failure rather than a reason
// repeated for every object.
func reachable(ctx context.Context, cfg *rest.Config) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return &Error{Kind: KindInfra, Err: fmt.Errorf("kubeconfig provider: %w", err)}
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := dc.RESTClient().Get().AbsPath("/version").Do(rctx).Error(); err != nil {
		return &Error{Kind: KindInfra, Err: fmt.Errorf("kubeconfig provider: API server %s unreachable: %w", cfg.Host, err)}
	}
	return nil
}

// imageRef is the reference ${image:NAME} resolves to: the pre-built ref,
// or the run-unique tag a build would produce.
func imageRef(s *stack.Stack, img stack.Image, run string) string {
	if img.Ref != "" {
		return img.Ref
	}
	return fmt.Sprintf("testbed.local/%s/%s:%s", s.Metadata.Name, img.Name, run)
}

func diagDir(opts Options, s *stack.Stack, run string) string {
	if opts.DiagDir != "" {
		return opts.DiagDir
	}
	return filepath.Join(os.TempDir(), "testbed-diagnostics", s.Metadata.Name+"-"+run)
}

func join(names []string) string { return strings.Join(names, ", ") }
