package testbed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/cluster"
	"github.com/kubetestbed/testbed/internal/cluster/kind"
	"github.com/kubetestbed/testbed/internal/cluster/kubeconfig"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/internal/image"
	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// Options configure Up, Down, Status and Check. The zero value works: the
// stack's provider (sim by default), the stack's timeout, teardown on
// failure, and the default directories of DefaultAssetsDir and
// DefaultStateDir.
type Options struct {
	// Provider overrides the stack's spec.cluster.provider.
	Provider string
	// Timeout overrides the stack's spec.timeout (the whole bring-up).
	Timeout time.Duration
	// KeepOnFailure leaves what a failed run started in place, for
	// inspection.
	KeepOnFailure bool
	// Ephemeral removes the cluster a run creates once this process exits,
	// even when it is killed (a test binary past its -timeout), where the
	// provider can (sim). Tests want it; the CLI, whose clusters outlive
	// `up`, does not.
	Ephemeral bool
	// Run is the run ID (${run}); default: 5 random characters.
	Run string
	// ContainerTool builds and saves images: "docker", "podman", or ""
	// to use docker if its daemon answers, else podman. One tool serves
	// the whole run.
	ContainerTool string
	// Phases is PhasesOverlap (the default: the cluster is created while
	// images build, each image loaded as soon as it is built, each
	// component applied once its own images are loaded) or PhasesStrict
	// (every build, then the cluster, then every load, then the deploy:
	// for comparison, and for machines where builds and the cluster
	// contend).
	Phases string
	// GoCommand is the go command that compiles go images
	// (spec.images[].go): a name looked up in PATH, or a path; "" is go.
	// It runs with this process's environment.
	GoCommand string
	// BuildConcurrency bounds the image builds that run at once (default:
	// the number of CPUs); lower it when parallel builds crash the tool.
	BuildConcurrency int
	// Images replaces stack images by prebuilt references (NAME → REF),
	// e.g. images a CI job built once: they are loaded, not built.
	Images map[string]string
	// AssetsDir caches the sim control plane, built on first use (default
	// DefaultAssetsDir()); BinDir, if set, uses prebuilt binaries instead.
	AssetsDir, BinDir string
	// StateDir holds running sim clusters, and under kind/ the state and
	// host-port locks of kind clusters (default DefaultStateDir()).
	StateDir string
	// DiagDir receives diagnostics bundles of failed components
	// (default: a directory under os.TempDir()).
	DiagDir string
	// OnEvent, if set, receives progress: one event per component state
	// change, per object readiness change and per cluster step. Called
	// from several goroutines, one at a time.
	OnEvent func(Event)

	// provider, if set, replaces the provider the stack names (tests).
	provider cluster.Provider
}

// The values of Options.Phases.
const (
	PhasesOverlap = "overlap"
	PhasesStrict  = "strict"
)

// DefaultAssetsDir is where the sim control plane is cached unless
// Options.AssetsDir says otherwise: testbed/assets in the user's cache
// directory.
func DefaultAssetsDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "testbed", "assets")
}

// DefaultStateDir is where running sim clusters keep their state unless
// Options.StateDir says otherwise: $XDG_STATE_HOME/testbed, else
// ~/.local/state/testbed.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "testbed")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "testbed-state")
	}
	return filepath.Join(home, ".local", "state", "testbed")
}

// withDefaults fills the directories the caller left empty.
func (o Options) withDefaults() Options {
	if o.AssetsDir == "" {
		o.AssetsDir = DefaultAssetsDir()
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir()
	}
	return o
}

// Event is one step of a run, for progress output.
type Event struct {
	// Component is empty for events about the run, the cluster or an
	// image.
	Component string
	// Image is the stack image an image event is about.
	Image string
	// State is one of the State constants.
	State string
	// Object is the object whose readiness changed (StateObject only).
	Object *ObjectEvent
	// Prepare is the progress of the work before the bring-up (StatePrepare
	// only; nil for a plain message).
	Prepare *PrepareProgress
	// Detail is a short human description.
	Detail string
	At     time.Time
}

// ObjectEvent is an object's readiness as the tracker sees it.
type ObjectEvent struct {
	Kind, Namespace, Name string
	// Ready and Failed are exclusive; neither: still coming up.
	Ready, Failed bool
	// Reason says what the object waits for, or why it failed.
	Reason string
}

// String returns "Kind namespace/name" (or "Kind name" when cluster-scoped).
func (o *ObjectEvent) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// PrepareProgress is how far the provider's preparation (building the sim
// control plane) has come.
type PrepareProgress struct {
	// Target is what is being built: "" for the sim control plane, "kind
	// node image" for testbed's kind node image.
	Target string
	// Step names what is being built ("kubernetes", "etcd", "kwok"), or
	// "lock" while another process builds, or "done".
	Step string
	// Phase is where the step is: "download", "compile" or "built".
	Phase string
	// Done counts modules downloaded or packages compiled; Total is an
	// upper bound of Done (0: not known). Cached packages are not compiled
	// again, so a warm build ends below Total.
	Done, Total int
	Elapsed     time.Duration
}

// Event states.
const (
	// StatePrepare: the provider's work before the bring-up's clock starts.
	StatePrepare = "prepare"
	// StateCluster: a step of creating, reusing or removing the cluster.
	StateCluster  = "cluster"
	StateApplying = "applying"
	StateApplied  = "applied"
	StateRunning  = "running"
	StateReady    = "ready"
	StateFailed   = "failed"
	StateTimeout  = "timeout"
	StateSkipped  = "skipped"
	// StateBuilding, StateBuilt, StateUnchanged (not rebuilt: its inputs
	// did not change), StateLoading and StateLoaded are image events.
	StateBuilding  = "building"
	StateBuilt     = "built"
	StateUnchanged = "unchanged"
	StateLoading   = "loading"
	StateLoaded    = "loaded"
	// StateObject reports one object's readiness change; Component is the
	// object's component.
	StateObject = "object"
)

// Env is a stack that Up brought up.
type Env struct {
	Stack *stack.Stack
	// Report is the run's report, also on failure.
	Report *report.Report
	// Kubeconfig is the path of the cluster's kubeconfig.
	Kubeconfig string
	// Ports maps the stack's port names to host ports.
	Ports map[string]int
	cfg   *rest.Config
	// teardown removes what the run that made this Env started.
	teardown func(context.Context) error
}

// Teardown removes what the Up call that returned e started, as Up does
// itself on failure: a cluster it created (not one it found running), or
// on a cluster testbed does not own the objects and namespaces it applied.
// It returns what could not be removed. Down, by contrast, removes the
// stack whatever run started it.
func (e *Env) Teardown(ctx context.Context) error {
	if e == nil || e.teardown == nil {
		return nil
	}
	return e.teardown(ctx)
}

// RESTConfig returns a client configuration for the stack's cluster; nil
// when the run failed before it had one.
func (e *Env) RESTConfig() *rest.Config {
	if e == nil || e.cfg == nil {
		return nil
	}
	return rest.CopyConfig(e.cfg)
}

// Endpoint returns "127.0.0.1:PORT" for the stack's port name.
func (e *Env) Endpoint(port string) (string, error) {
	p, ok := e.Ports[port]
	if !ok {
		return "", fmt.Errorf("stack %s has no port %q", e.Stack.Metadata.Name, port)
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(p)), nil
}

// Kind of failure, for exit codes (docs/design.md, "CLI and exit codes").
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

func infraErr(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: KindInfra, Err: err}
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

// providers makes the provider a stack names.
var providers = map[stack.Provider]func(s *stack.Stack, opts Options, emit func(Event)) (cluster.Provider, error){
	stack.ProviderSim: func(_ *stack.Stack, opts Options, emit func(Event)) (cluster.Provider, error) {
		return newSim(opts, emit), nil
	},
	stack.ProviderKind: newKind,
	stack.ProviderKubeconfig: func(s *stack.Stack, _ Options, _ func(Event)) (cluster.Provider, error) {
		return &kubeconfig.Provider{Path: s.Spec.Cluster.Kubeconfig.Path, Context: s.Spec.Cluster.Kubeconfig.Context}, nil
	},
}

// providerFor returns the provider s runs on under opts.
func providerFor(s *stack.Stack, opts Options, emit func(Event)) (cluster.Provider, error) {
	if opts.provider != nil {
		return opts.provider, nil
	}
	name := s.Spec.Cluster.Provider
	if opts.Provider != "" {
		name = stack.Provider(opts.Provider)
	}
	if name == "" {
		name = stack.DefaultProvider
	}
	if mk, ok := providers[name]; ok {
		return mk(s, opts.withDefaults(), emit)
	}
	return nil, invalidf("unknown provider %q: want sim, kind or kubeconfig", name)
}

// newSim returns the sim provider of opts: it builds (or checks) the
// control plane in Prepare, with progress.
func newSim(opts Options, emit func(Event)) *sim.Provider {
	owner := 0
	if opts.Ephemeral {
		owner = os.Getpid()
	}
	return sim.New(sim.Options{
		StateDir: filepath.Join(opts.StateDir, "clusters"),
		Owner:    owner,
		Resolve: func(ctx context.Context) (*assets.Set, error) {
			set, err := assets.Resolve(ctx, opts.BinDir, assets.BuildOptions{CacheDir: opts.AssetsDir, Progress: func(ev assets.Event) {
				emit(Event{State: StatePrepare, Detail: ev.Message, At: time.Now(),
					Prepare: &PrepareProgress{Target: ev.Target, Step: ev.Step, Phase: ev.Phase, Done: ev.Done, Total: ev.Total, Elapsed: ev.Elapsed}})
			}}, func() {
				emit(Event{State: StatePrepare, Detail: "building the sim control plane once from the Go module proxy (about 10 minutes on 2 cores) into " + opts.AssetsDir, At: time.Now()})
			})
			if err != nil && opts.BinDir != "" {
				return nil, &Error{Kind: KindInvalid, Err: err}
			}
			return set, err
		},
		Progress: func(ev sim.Event) {
			emit(Event{State: StateCluster, Detail: ev.Message, At: time.Now()})
		},
	})
}

// newKind returns the kind provider of s: its nodes run on
// opts.ContainerTool, or on the tool image.NewTool detects (docker if its
// daemon answers, else podman); a tool that does not work is a KindInfra
// error, before anything starts. Its
// clusters' state and host-port locks live under StateDir/kind.
func newKind(s *stack.Stack, opts Options, emit func(Event)) (cluster.Provider, error) {
	tool, err := image.NewTool(context.Background(), opts.ContainerTool)
	if err != nil {
		return nil, &Error{Kind: KindInfra, Err: fmt.Errorf("provider kind runs its nodes in containers: %w", err)}
	}
	// Runs with their own state directory (tests) get a cluster of their
	// own; the default directory keeps the plain name testbed-STACK.
	instance := ""
	if filepath.Clean(opts.StateDir) != filepath.Clean(DefaultStateDir()) {
		sum := sha256.Sum256([]byte(filepath.Clean(opts.StateDir)))
		instance = hex.EncodeToString(sum[:3])
	}
	ko := kind.Options{
		Instance: instance,
		Runtime:  tool.Name(),
		StateDir: filepath.Join(opts.StateDir, "kind"),
		// The docker wrapper stays first on the process's PATH: in the
		// default state directory, not in a run's own (a test's, removed
		// while another test's cluster may still call it).
		WrapperDir:  filepath.Join(DefaultStateDir(), "kind", "bin"),
		NodeImage:   s.Spec.Cluster.Kind.NodeImage,
		ExtraConfig: s.Spec.Cluster.Kind.Config,
		Progress: func(ev kind.Event) {
			emit(Event{State: StateCluster, Detail: ev.Message, At: time.Now()})
		},
		// Where kind's node image cannot be pulled, testbed's own is built
		// (once) from the Go module proxy and Debian's packages.
		OwnNodeImage: assets.NodeImage(),
		DefaultNodeImage: func(ctx context.Context) (string, error) {
			return assets.EnsureNodeImage(ctx, assets.NodeOptions{CacheDir: opts.AssetsDir, Docker: tool.Name(), Progress: func(ev assets.Event) {
				emit(Event{State: StatePrepare, Detail: ev.Message, At: time.Now(),
					Prepare: &PrepareProgress{Target: ev.Target, Step: ev.Step, Phase: ev.Phase, Done: ev.Done, Total: ev.Total, Elapsed: ev.Elapsed}})
			}})
		},
	}
	for _, m := range s.Spec.Cluster.Kind.Mounts {
		ko.Mounts = append(ko.Mounts, kind.Mount{HostPath: m.HostPath, ContainerPath: m.ContainerPath, ReadOnly: m.ReadOnly})
	}
	for _, port := range s.Spec.Ports {
		ko.Ports = append(ko.Ports, kind.Port{Name: port.Name, NodePort: port.NodePort, HostPort: int(port.HostPort)})
	}
	p, err := kind.New(ko)
	if err != nil {
		return nil, invalidf("%w", err)
	}
	return p, nil
}

// Check rejects, as an *Error of KindInvalid, everything Up rejects before
// it starts anything (see NewPlan), and returns the provider the stack
// runs on.
func Check(s *stack.Stack, opts Options) (stack.Provider, error) {
	p, err := NewPlan(s, opts)
	if err != nil {
		return "", err
	}
	return stack.Provider(p.Provider), nil
}

func diagDir(opts Options, s *stack.Stack, run string) string {
	if opts.DiagDir != "" {
		return opts.DiagDir
	}
	return filepath.Join(os.TempDir(), "testbed-diagnostics", s.Metadata.Name+"-"+run)
}
