package kind

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/defaults"

	"github.com/kubetestbed/testbed/internal/cluster"
)

var (
	_ cluster.Provider         = (*Provider)(nil)
	_ cluster.Deleter          = (*Provider)(nil)
	_ cluster.Preparer         = (*Provider)(nil)
	_ cluster.ImageLoader      = (*Provider)(nil)
	_ cluster.NodeLogExporter  = (*Provider)(nil)
	_ cluster.PortClaimer      = (*Provider)(nil)
	_ cluster.ContainerRuntime = (*Provider)(nil)
	_ cluster.Cluster          = (*Cluster)(nil)
	_ cluster.Monitor          = (*Cluster)(nil)
)

// The container tools kind's nodes run on.
const (
	RuntimeDocker = "docker"
	RuntimePodman = "podman"
)

// NamePrefix starts the name of every kind cluster testbed makes.
const NamePrefix = "testbed-"

// Options configure a Provider.
type Options struct {
	// Runtime is the one container tool of the run: kind's nodes run on
	// it and images are saved from it. RuntimeDocker (the default) or
	// RuntimePodman.
	Runtime string
	// StateDir holds a directory per cluster, StateDir/clusters/NAME (NAME
	// as ClusterName returns it), with its kubeconfig; the user's
	// ~/.kube/config is never touched. Required.
	StateDir string
	// LockDir holds a lock file per claimed host port; default
	// StateDir/ports. Stacks that must never collide share it.
	LockDir string
	// Instance, if set, tells apart the clusters of one stack that must
	// coexist (runs with their own state directories): the cluster is
	// named after the stack and it.
	Instance string
	// NodeImage is the kind node image; empty: kind's default when the
	// engine has it or can pull it, otherwise what DefaultNodeImage
	// returns.
	NodeImage string
	// DefaultNodeImage, if set, returns the node image to use when
	// NodeImage is empty and kind's default image is neither in the local
	// store nor pullable: testbed's node image, built offline.
	DefaultNodeImage func(ctx context.Context) (string, error)
	// OwnNodeImage is the reference DefaultNodeImage returns, if known:
	// when the engine has it and not kind's default, it is used at once,
	// without trying a pull.
	OwnNodeImage string
	// Mounts are host directories mounted into the node.
	Mounts []Mount
	// ExtraConfig is raw kind config YAML (kind.x-k8s.io/v1alpha4 Cluster)
	// merged into the generated config: see the package documentation.
	ExtraConfig string
	// Ports are host ports mapped to NodePorts of the cluster.
	Ports []Port
	// WaitForReady is how long Create waits for the control plane to be
	// ready (default 3 minutes).
	WaitForReady time.Duration
	// Grace is how long the API server may not answer before Monitor says
	// the cluster died (default 10 s).
	Grace time.Duration
	// WrapperDir is where the docker wrapper goes on engines that cannot
	// start --privileged containers here (see ensurePrivileged): one
	// directory that outlives every run of the process, since the wrapper
	// stays first on its PATH (default StateDir/bin).
	WrapperDir string
	// NetworkLock is the lock file that keeps `down` from removing kind's
	// network while a cluster is being created on it: one per machine
	// (default: testbed-kind-network.lock in the system's temp directory).
	NetworkLock string
	// Progress, if set, receives a line for each step of Create and Delete,
	// kind's own steps included.
	Progress func(Event)
}

// Mount is a host directory mounted into the kind node.
type Mount struct {
	HostPath      string `json:"hostPath"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      bool   `json:"readOnly,omitempty"`
}

// Port maps a host port on 127.0.0.1 to a NodePort.
type Port struct {
	// Name is how the stack refers to the port.
	Name string `json:"name"`
	// NodePort is the cluster's NodePort (30000-32767).
	NodePort int `json:"nodePort"`
	// HostPort is the host port; 0 asks for a free one, claimed for the
	// stack until its cluster is deleted.
	HostPort int `json:"hostPort,omitempty"`
}

// Event is one step of a cluster's life, for progress output.
type Event = cluster.Event

// Provider creates, finds and deletes kind clusters through kind's
// library, one per stack, and loads images into their nodes.
type Provider struct {
	opts  Options
	api   kindAPI
	eng   engine
	ports *locker
	// probe asks a cluster's API server whether it answers.
	probe func(ctx context.Context, kubeconfig string) error

	netLock networkLock
	// imageMu serialises settling the node image: nodeImage is the image
	// a new cluster's nodes run (Options.NodeImage, or what an empty one
	// settles to), once settled is true.
	imageMu   sync.Mutex
	nodeImage string
	settled   bool

	mu   sync.Mutex
	held map[string][]*portLock // by cluster name
	// claimed are ports ClaimPorts claimed, by cluster name, until Ensure
	// uses them or Close lets them go.
	claimed map[string]*claim
}

// claim is the host ports ClaimPorts claimed for a cluster.
type claim struct {
	ports map[string]int
	locks []*portLock
	// running: the ports are those of the running cluster, whose claims
	// stay when they are let go.
	running bool
}

// New returns a Provider with opts: an error for an unknown runtime or no
// StateDir.
func New(opts Options) (*Provider, error) {
	if opts.Runtime == "" {
		opts.Runtime = RuntimeDocker
	}
	if opts.Runtime != RuntimeDocker && opts.Runtime != RuntimePodman {
		return nil, fmt.Errorf("kind provider: runtime %q: want %s or %s", opts.Runtime, RuntimeDocker, RuntimePodman)
	}
	if opts.StateDir == "" {
		return nil, errors.New("kind provider: no state directory")
	}
	p := &Provider{opts: opts, eng: cli{bin: opts.Runtime}, probe: probeAPIServer}
	p.api = newKindLib(opts.Runtime, progressLogger{line: func(s string) { p.progress("", s, 0) }})
	p.init()
	return p, nil
}

// init fills the defaults of New's options and the parts tests keep.
func (p *Provider) init() {
	if p.opts.LockDir == "" {
		p.opts.LockDir = filepath.Join(p.opts.StateDir, "ports")
	}
	if p.opts.WaitForReady <= 0 {
		p.opts.WaitForReady = 3 * time.Minute
	}
	if p.opts.Grace <= 0 {
		p.opts.Grace = 10 * time.Second
	}
	if p.opts.WrapperDir == "" {
		p.opts.WrapperDir = filepath.Join(p.opts.StateDir, "bin")
	}
	if p.opts.NetworkLock == "" {
		p.opts.NetworkLock = filepath.Join(os.TempDir(), "testbed-kind-network.lock")
	}
	p.netLock = networkLock{path: p.opts.NetworkLock}
	if p.ports == nil {
		p.ports = &locker{dir: p.opts.LockDir, exists: p.exists, free: freePort, ephemeral: ephemeralPort}
	}
	p.held = map[string][]*portLock{}
	p.claimed = map[string]*claim{}
}

// Name returns "kind".
func (p *Provider) Name() string { return "kind" }

// Runtime returns the container tool of the run.
func (p *Provider) Runtime() string { return p.eng.Name() }

// ClusterName returns the kind cluster of stack: NamePrefix and the stack's
// name. A name kind would refuse (other than lower-case letters, digits,
// '.' and '-') or find too long (over 50 characters) is mended and
// shortened, and a hash of the stack's name added so that two stacks
// never share a cluster.
func ClusterName(stack string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(stack) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := NamePrefix + b.String()
	const max = 50 // kind: the node's hostname adds "-control-plane"
	if len(name) > max || b.String() != stack {
		sum := sha256.Sum256([]byte(stack))
		h := hex.EncodeToString(sum[:])[:8]
		if len(name) > max-9 {
			name = strings.TrimRight(name[:max-9], "-.")
		}
		name += "-" + h
	}
	return name
}

// clusterName is the kind cluster of stack under p's Options.Instance.
func (p *Provider) clusterName(stack string) string {
	if p.opts.Instance != "" {
		return ClusterName(stack + "-" + p.opts.Instance)
	}
	return ClusterName(stack)
}

// dir is the state directory of the kind cluster called name.
func (p *Provider) dir(name string) string {
	return filepath.Join(p.opts.StateDir, "clusters", name)
}

func (p *Provider) kubeconfig(name string) string { return filepath.Join(p.dir(name), "kubeconfig") }

func (p *Provider) progress(name, msg string, elapsed time.Duration) {
	if p.opts.Progress != nil {
		p.opts.Progress(Event{Cluster: name, Message: msg, Elapsed: elapsed})
	}
}

// Prepare checks that the runtime can run containers, so that a machine
// without it fails before anything starts.
func (p *Provider) Prepare(ctx context.Context) error {
	if err := p.eng.Check(ctx); err != nil {
		return fmt.Errorf("kind provider needs %s: %w", p.eng.Name(), err)
	}
	msg, err := ensurePrivileged(ctx, p.eng, p.opts.WrapperDir)
	if err != nil {
		return fmt.Errorf("kind provider: %w", err)
	}
	if msg != "" {
		p.progress("", msg, 0)
	}
	return p.resolveNodeImage(ctx)
}

// resolveNodeImage settles the image new nodes run: Options.NodeImage;
// when it is empty, kind's default when the engine has it, else
// OwnNodeImage when the engine has it, else kind's default when it can be
// pulled, else DefaultNodeImage's. Options.NodeImage stays what the stack
// asked for: a running cluster is reused for the same request, whichever
// image an empty one settled to.
func (p *Provider) resolveNodeImage(ctx context.Context) error {
	p.imageMu.Lock()
	defer p.imageMu.Unlock()
	if p.settled {
		return nil
	}
	if p.opts.NodeImage != "" || p.opts.DefaultNodeImage == nil {
		p.nodeImage, p.settled = p.opts.NodeImage, true
		return nil
	}
	if ok, err := p.hasImage(ctx, defaults.Image); err != nil || ok {
		p.settled = err == nil
		return err
	}
	if own := p.opts.OwnNodeImage; own != "" {
		if ok, err := p.hasImage(ctx, own); err != nil || ok {
			p.nodeImage, p.settled = own, err == nil
			return err
		}
	}
	p.progress("", fmt.Sprintf("pulling kind's node image %s", defaults.Image), 0)
	pullErr := p.eng.Pull(ctx, defaults.Image)
	if pullErr == nil {
		p.settled = true
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.progress("", fmt.Sprintf("kind's node image cannot be pulled (%s): using testbed's own", strings.TrimSpace(lastLines(pullErr.Error(), 1))), 0)
	img, err := p.opts.DefaultNodeImage(ctx)
	if err != nil {
		return fmt.Errorf("kind provider: kind's node image %s is not in %s's image store and cannot be pulled (%w), and testbed's own node image is not at hand either: %w", defaults.Image, p.eng.Name(), pullErr, err)
	}
	p.nodeImage, p.settled = img, true
	return nil
}

// hasImage reports whether the engine has ref.
func (p *Provider) hasImage(ctx context.Context, ref string) (bool, error) {
	_, err := p.eng.ImageID(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNoLocalImage):
		return false, nil
	}
	return false, fmt.Errorf("kind provider: look for the node image %s: %w", ref, err)
}

// exists reports whether kind has nodes, running or not, for the cluster.
func (p *Provider) exists(name string) (bool, error) {
	names, err := p.api.List()
	if err != nil {
		return false, fmt.Errorf("list kind clusters: %w", err)
	}
	return slices.Contains(names, name), nil
}

// state is what testbed records about a kind cluster it made.
type state struct {
	Stack   string `json:"stack"`
	Cluster string `json:"cluster"`
	Runtime string `json:"runtime"`
	Spec    spec   `json:"spec"`
	// NodeImage is the image the nodes run: Spec.NodeImage, or what an
	// empty one settled to (empty: kind's default).
	NodeImage string         `json:"nodeImage,omitempty"`
	Ports     map[string]int `json:"ports"`
	CreatedAt time.Time      `json:"createdAt"`
}

// spec is what a stack asks of its cluster; a running cluster is reused
// only for the same spec. NodeImage is the image asked for: empty when
// the provider chooses it.
type spec struct {
	NodeImage   string  `json:"nodeImage,omitempty"`
	Mounts      []Mount `json:"mounts,omitempty"`
	Ports       []Port  `json:"ports,omitempty"`
	ExtraConfig string  `json:"extraConfig,omitempty"`
}

func (p *Provider) spec() spec {
	return spec{NodeImage: p.opts.NodeImage, Mounts: p.opts.Mounts, Ports: p.opts.Ports, ExtraConfig: p.opts.ExtraConfig}
}

// differences names what differs between two specs.
func (s spec) differences(t spec) []string {
	var d []string
	eq := func(a, b any) bool {
		x, _ := json.Marshal(a)
		y, _ := json.Marshal(b)
		return string(x) == string(y)
	}
	if s.NodeImage != t.NodeImage {
		d = append(d, fmt.Sprintf("node image %s, now %s", imageName(s.NodeImage), imageName(t.NodeImage)))
	}
	if !eq(s.Mounts, t.Mounts) {
		d = append(d, "mounts")
	}
	if !eq(s.Ports, t.Ports) {
		d = append(d, "ports")
	}
	if s.ExtraConfig != t.ExtraConfig {
		d = append(d, "extra kind config")
	}
	return d
}

// imageName quotes a requested node image; empty is the default.
func imageName(ref string) string {
	if ref == "" {
		return "the default"
	}
	return fmt.Sprintf("%q", ref)
}

const stateFile = "state.json"

func (p *Provider) readState(name string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(p.dir(name), stateFile))
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("kind cluster %s: corrupt state %s: %w", name, filepath.Join(p.dir(name), stateFile), err)
	}
	return &st, nil
}

func (p *Provider) writeState(st *state) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.dir(st.Cluster), stateFile), data, 0o600)
}

// Ensure returns the running kind cluster of stack name, or creates it.
// A running cluster is reused when it was made for the same spec (node
// image, mounts, ports, extra config) on the same runtime; one whose
// nodes stopped or whose API server does not answer is made again. Host
// ports are claimed before kind is asked for anything: a fixed one that
// another stack holds is a *PortConflictError and no cluster is created.
func (p *Provider) Ensure(ctx context.Context, name string) (cluster.Cluster, bool, error) {
	kname := p.clusterName(name)
	found, err := p.exists(kname)
	if err != nil {
		return nil, false, err
	}
	if found {
		c, err := p.reuse(ctx, name, kname)
		var sick *unhealthy
		switch {
		case err == nil:
			return c, false, nil
		case !errors.As(err, &sick):
			return nil, false, err
		}
		p.progress(kname, fmt.Sprintf("kind cluster %s: %v: making it again", kname, err), 0)
		if err := p.api.Delete(kname, p.kubeconfig(kname)); err != nil {
			return nil, false, fmt.Errorf("kind cluster %s: delete the broken cluster: %w", kname, err)
		}
	}
	c, err := p.create(ctx, name, kname)
	if err != nil {
		return nil, false, err
	}
	return c, true, nil
}

// reuse returns the running cluster kname, claiming its ports for this
// run; an *unhealthy when it does not work.
func (p *Provider) reuse(ctx context.Context, stack, kname string) (*Cluster, error) {
	st, err := p.reusable(kname)
	if err != nil {
		return nil, err
	}
	locks, err := p.claimRunning(stack, kname, st)
	if err != nil {
		return nil, err
	}
	c := p.newCluster(stack, kname, st.Ports)
	if err := c.healthy(ctx); err != nil {
		dropAll(locks, false)
		return nil, err
	}
	p.hold(kname, locks)
	p.progress(kname, fmt.Sprintf("kind cluster %s is running: re-applying", kname), 0)
	return c, nil
}

// claimRunning claims for this run the host ports the running cluster
// kname maps.
func (p *Provider) claimRunning(stack, kname string, st *state) ([]*portLock, error) {
	me := owner{Stack: stack, Cluster: kname, PID: os.Getpid()}
	var locks []*portLock
	for _, port := range p.opts.Ports {
		lk, err := p.ports.claim(st.Ports[port.Name], me, true)
		if err != nil {
			dropAll(locks, false)
			return nil, named(err, port.Name)
		}
		locks = append(locks, lk)
	}
	return locks, nil
}

// reusable returns the state of the existing cluster kname; an error
// when this Provider cannot reuse it.
func (p *Provider) reusable(kname string) (*state, error) {
	st, err := p.readState(kname)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("kind cluster %s exists but testbed has no state for it in %s (made by kind itself, or with another state directory): delete it with `kind delete cluster --name %s`", kname, p.dir(kname), kname)
	}
	if err != nil {
		return nil, err
	}
	if st.Runtime != p.eng.Name() {
		return nil, fmt.Errorf("kind cluster %s runs on %s, this run uses %s: one container tool per run; take the stack down first (testbed down)", kname, st.Runtime, p.eng.Name())
	}
	if d := st.Spec.differences(p.spec()); len(d) > 0 {
		return nil, fmt.Errorf("kind cluster %s was made for another spec (changed: %s): take the stack down (testbed down) to make it again", kname, strings.Join(d, "; "))
	}
	return st, nil
}

// create claims the ports and creates the cluster. On failure, or when ctx
// ends, it removes what it made and lets the ports go.
func (p *Provider) create(ctx context.Context, stack, kname string) (c *Cluster, err error) {
	if err := p.resolveNodeImage(ctx); err != nil {
		return nil, err
	}
	// Bad ports or a bad extra config fail before a port is claimed.
	if err := checkPorts(p.opts.Ports); err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	if _, err := clusterConfig(p.nodeImage, p.opts.Mounts, p.opts.Ports, p.opts.ExtraConfig); err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	ports, locks, err := p.takeClaim(stack, kname)
	if err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	dir, kubeconfig := p.dir(kname), p.kubeconfig(kname)
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
			dropAll(locks, true)
		}
	}()
	cfg, err := clusterConfig(p.nodeImage, p.opts.Mounts, resolved(p.opts.Ports, ports), p.opts.ExtraConfig)
	if err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	_ = os.RemoveAll(dir) // what a cluster of this name left
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kind-config.yaml"), []byte(configYAML(cfg)), 0o600); err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	st := &state{Stack: stack, Cluster: kname, Runtime: p.eng.Name(), Spec: p.spec(), NodeImage: p.nodeImage, Ports: ports, CreatedAt: time.Now()}
	if err := p.writeState(st); err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	start := time.Now()
	p.progress(kname, fmt.Sprintf("creating kind cluster %s on %s", kname, p.eng.Name()), 0)
	unlockNet, err := p.netLock.shared()
	if err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	defer unlockNet()
	p.markIfAbsent(ctx)
	done := make(chan error, 1)
	go func() { done <- p.api.Create(kname, cfg, kubeconfig, p.opts.WaitForReady) }()
	select {
	case err = <-done:
		if err != nil {
			_ = p.api.Delete(kname, kubeconfig)
			return nil, fmt.Errorf("kind cluster %s: create on %s: %w", kname, p.eng.Name(), err)
		}
	case <-ctx.Done():
		p.progress(kname, "the run stopped: removing the nodes kind is creating", time.Since(start))
		p.abortCreate(kname, kubeconfig, done)
		return nil, fmt.Errorf("kind cluster %s: create: %w", kname, ctx.Err())
	}
	p.progress(kname, fmt.Sprintf("kind cluster %s is ready", kname), time.Since(start))
	p.hold(kname, locks)
	return p.newCluster(stack, kname, ports), nil
}

// abortInterval is how often abortCreate deletes the nodes kind is
// creating until kind gives up.
var abortInterval = 2 * time.Second

// abortCreate stops a Create that cannot be cancelled: it deletes the
// cluster's nodes, so that kind's next step fails, until Create returns,
// and once more after.
func (p *Provider) abortCreate(kname, kubeconfig string, done <-chan error) {
	t := time.NewTicker(abortInterval)
	defer t.Stop()
	for {
		_ = p.api.Delete(kname, kubeconfig)
		select {
		case <-done:
			_ = p.api.Delete(kname, kubeconfig)
			return
		case <-t.C:
		}
	}
}

// ClaimPorts returns the host ports of stack name's cluster, by port
// name: when its cluster runs, the ports it maps (claimed for this run as
// Ensure's reuse does); otherwise free or fixed ports claimed now, which
// the cluster Ensure creates maps. A fixed port another stack holds or
// uses is a *PortConflictError. Close lets the claims go.
func (p *Provider) ClaimPorts(ctx context.Context, name string) (map[string]int, error) {
	kname := p.clusterName(name)
	p.mu.Lock()
	c := p.claimed[kname]
	p.mu.Unlock()
	if c != nil {
		return maps.Clone(c.ports), nil
	}
	if err := checkPorts(p.opts.Ports); err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	c = &claim{}
	found, err := p.exists(kname)
	if err != nil {
		return nil, err
	}
	if found {
		// The cluster Ensure reuses (or, when it does not work, makes
		// again on the same ports): its ports.
		st, err := p.reusable(kname)
		if err != nil {
			return nil, err
		}
		if c.locks, err = p.claimRunning(name, kname, st); err != nil {
			return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
		}
		c.running, c.ports = true, map[string]int{}
		for i, port := range p.opts.Ports {
			c.ports[port.Name] = c.locks[i].port
		}
	} else if c.ports, c.locks, err = p.claimPorts(name, kname); err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	p.mu.Lock()
	p.claimed[kname] = c
	p.mu.Unlock()
	return maps.Clone(c.ports), nil
}

// takeClaim returns the ports ClaimPorts claimed for kname, now create's
// to hold or drop, or claims them now.
func (p *Provider) takeClaim(stack, kname string) (map[string]int, []*portLock, error) {
	p.mu.Lock()
	c := p.claimed[kname]
	delete(p.claimed, kname)
	p.mu.Unlock()
	if c != nil {
		return c.ports, c.locks, nil
	}
	return p.claimPorts(stack, kname)
}

// claimPorts claims the host ports of Options.Ports for stack: the fixed
// ones first, so that a conflict is found before a free port is taken.
func (p *Provider) claimPorts(stack, kname string) (map[string]int, []*portLock, error) {
	me := owner{Stack: stack, Cluster: kname, PID: os.Getpid()}
	ports := map[string]int{}
	var locks []*portLock
	for _, auto := range []bool{false, true} {
		for _, port := range p.opts.Ports {
			if (port.HostPort == 0) != auto {
				continue
			}
			var lk *portLock
			var err error
			if auto {
				lk, err = p.ports.pick(me)
			} else {
				lk, err = p.ports.claim(port.HostPort, me, false)
			}
			if err != nil {
				dropAll(locks, true)
				return nil, nil, named(err, port.Name)
			}
			locks = append(locks, lk)
			ports[port.Name] = lk.port
		}
	}
	return ports, locks, nil
}

// checkPorts rejects two ports of one name or of one fixed host port.
func checkPorts(ports []Port) error {
	names, hosts := map[string]bool{}, map[int]string{}
	for _, port := range ports {
		if names[port.Name] {
			return fmt.Errorf("two ports are called %q", port.Name)
		}
		names[port.Name] = true
		if other, dup := hosts[port.HostPort]; dup && port.HostPort != 0 {
			return fmt.Errorf("ports %q and %q both ask for host port %d", other, port.Name, port.HostPort)
		}
		hosts[port.HostPort] = port.Name
	}
	return nil
}

// resolved returns ports with the host ports claimed for them.
func resolved(ports []Port, claimed map[string]int) []Port {
	out := slices.Clone(ports)
	for i := range out {
		out[i].HostPort = claimed[out[i].Name]
	}
	return out
}

// named sets the port name of a *PortConflictError.
func named(err error, name string) error {
	var pc *PortConflictError
	if errors.As(err, &pc) {
		pc.Name = name
	}
	return err
}

// hold keeps the locks of cluster name for the run.
func (p *Provider) hold(name string, locks []*portLock) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held[name] = append(p.held[name], locks...)
}

// release lets go of the locks this run holds for cluster name; with
// drop, the claims go too.
func (p *Provider) release(name string, drop bool) {
	p.mu.Lock()
	locks := p.held[name]
	delete(p.held, name)
	p.mu.Unlock()
	dropAll(locks, drop)
}

func dropAll(locks []*portLock, drop bool) {
	for _, lk := range locks {
		if drop {
			lk.drop()
		} else {
			lk.unlock()
		}
	}
}

// Close lets go of the port locks this Provider holds. The claims stay
// with the clusters that run: another stack still cannot take their
// ports until they are deleted. Ports ClaimPorts claimed for a cluster
// that was not created are no longer claimed.
func (p *Provider) Close() error {
	p.mu.Lock()
	names := make([]string, 0, len(p.held))
	for name := range p.held {
		names = append(names, name)
	}
	claimed := p.claimed
	p.claimed = map[string]*claim{}
	p.mu.Unlock()
	for _, c := range claimed {
		// Ports claimed for a cluster that was never made claim nothing.
		dropAll(c.locks, !c.running)
	}
	for _, name := range names {
		p.release(name, false)
	}
	return nil
}

// Find returns the running kind cluster of stack name: an error wrapping
// cluster.ErrNotFound when there is none.
func (p *Provider) Find(ctx context.Context, name string) (cluster.Cluster, error) {
	kname := p.clusterName(name)
	found, err := p.exists(kname)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, cluster.ErrNotFound)
	}
	st, err := p.readState(kname)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("kind cluster %s exists but testbed has no state for it in %s", kname, p.dir(kname))
	}
	if err != nil {
		return nil, err
	}
	c := p.newCluster(name, kname, st.Ports)
	if err := c.healthy(ctx); err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", kname, err)
	}
	return c, nil
}

// Delete removes the kind cluster of stack name, its state directory and
// its port claims; an error wrapping cluster.ErrNotFound when there is no
// such cluster (what a vanished one left is removed all the same).
func (p *Provider) Delete(ctx context.Context, name string) error {
	kname := p.clusterName(name)
	found, err := p.exists(kname)
	if err != nil {
		return err
	}
	if found {
		start := time.Now()
		p.progress(kname, "deleting kind cluster "+kname, 0)
		if err := p.api.Delete(kname, p.kubeconfig(kname)); err != nil {
			return fmt.Errorf("kind cluster %s: delete: %w", kname, err)
		}
		p.progress(kname, "deleted kind cluster "+kname, time.Since(start))
		if removed, err := p.removeNetworkIfUnused(ctx); err != nil {
			p.progress(kname, "kind's network stays: "+err.Error(), time.Since(start))
		} else if removed {
			p.progress(kname, "removed kind's network "+kindNetwork+": no cluster is left on it", time.Since(start))
		}
	}
	p.release(kname, true)
	errs := []error{p.ports.forget(kname)}
	if err := os.RemoveAll(p.dir(kname)); err != nil {
		errs = append(errs, fmt.Errorf("kind cluster %s: remove its state: %w", kname, err))
	}
	if !found {
		errs = append(errs, fmt.Errorf("kind cluster %s: %w", kname, cluster.ErrNotFound))
	}
	return errors.Join(errs...)
}

// ExportNodeLogs writes kind's logs of the cluster of stack name under
// dir: per node, the journal, the kubelet's and containerd's logs,
// /var/log with every pod's container logs, and the images present.
func (p *Provider) ExportNodeLogs(ctx context.Context, name, dir string) error {
	kname := p.clusterName(name)
	found, err := p.exists(kname)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("kind cluster %s: %w", kname, cluster.ErrNotFound)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.api.CollectLogs(kname, dir); err != nil {
		return fmt.Errorf("kind cluster %s: export node logs to %s: %w", kname, dir, err)
	}
	return nil
}
