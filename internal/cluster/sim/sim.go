package sim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/cluster"
)

// DefaultName is the cluster name used when none is given.
const DefaultName = "testbed"

// Options configures a Provider.
type Options struct {
	// StateDir holds one directory per cluster (pids, logs, kubeconfig,
	// etcd data). Required.
	StateDir string
	// Assets are the control-plane binaries. Create needs them, or Resolve.
	Assets *assets.Set
	// Resolve, when Assets is nil, returns them (Prepare calls it, building
	// them the first time).
	Resolve func(context.Context) (*assets.Set, error)
	// GateCommand is the argv prefix of the sim gate, the small controller
	// that releases pods whose `requires` are met; "--kubeconfig=PATH" is
	// appended. Empty: this program, re-executed (see GateArg).
	GateCommand []string
	// Owner, if not 0, is the pid of the process the clusters belong to:
	// the sim gate removes a cluster once its owner has exited, even when
	// it was killed (a test binary past its -timeout). 0: clusters outlive
	// their creator until deleted.
	Owner int
	// Nodes is the number of simulated nodes (default 3).
	Nodes int
	// Progress, if set, receives a line for each step of Create and Delete.
	Progress func(Event)
}

// Event is one step of a cluster's life, for progress output.
type Event = cluster.Event

// Provider creates, lists and deletes sim clusters: a real control plane
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) and kwok's
// simulated nodes, as local processes bound to 127.0.0.1.
type Provider struct {
	opts Options
	// pickPorts chooses the ports of a start attempt (tests replace it to
	// force a port conflict).
	pickPorts func(n int) ([]int, error)
}

// New returns a Provider with opts.
func New(opts Options) *Provider {
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	return &Provider{opts: opts, pickPorts: freePorts}
}

// Cluster is a sim cluster as recorded in its state directory.
type Cluster struct {
	Name       string         `json:"name"`
	Dir        string         `json:"dir"`
	Kubeconfig string         `json:"kubeconfig"`
	Server     string         `json:"server"`
	Nodes      int            `json:"nodes"`
	Ports      map[string]int `json:"ports"`
	CreatedAt  time.Time      `json:"createdAt"`
	Procs      []*proc        `json:"procs"`
}

// ProcessStatus is the state of one control-plane process.
type ProcessStatus struct {
	Name    string
	PID     int
	Running bool
	// LogTail holds the last lines of the log of a process that exited.
	LogTail string
}

// Processes reports whether each of the cluster's processes still runs.
func (c *Cluster) Processes() []ProcessStatus {
	out := make([]ProcessStatus, 0, len(c.Procs))
	for _, p := range c.Procs {
		s := ProcessStatus{Name: p.Name, PID: p.PID, Running: p.alive()}
		if !s.Running {
			s.LogTail = logTail(p.Log, 20)
		}
		out = append(out, s)
	}
	return out
}

// Healthy returns nil when every process of the cluster runs, or an error
// naming each one that does not, with the tail of its log.
func (c *Cluster) Healthy() error {
	var errs []error
	for _, s := range c.Processes() {
		if !s.Running {
			errs = append(errs, fmt.Errorf("%s (pid %d) is not running; last log lines:\n%s", s.Name, s.PID, indent(s.LogTail)))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sim cluster %q: %w", c.Name, errors.Join(errs...))
	}
	return nil
}

// RESTConfig returns a client configuration for the cluster, with client-go's
// rate limits raised for bring-up work.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("sim cluster %q: kubeconfig %s: %w", c.Name, c.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	return cfg, nil
}

const stateFile = "cluster.json"

func (p *Provider) dir(name string) string { return filepath.Join(p.opts.StateDir, name) }

// ValidateName reports whether name can name a cluster: a DNS-1123 label.
func ValidateName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("invalid cluster name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// NotFoundError is returned for a cluster that does not exist.
type NotFoundError struct {
	Name  string
	Known []string
}

// Unwrap makes a NotFoundError match cluster.ErrNotFound.
func (e *NotFoundError) Unwrap() error { return cluster.ErrNotFound }

func (e *NotFoundError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("sim cluster %q not found (there are no sim clusters)", e.Name)
	}
	return fmt.Sprintf("sim cluster %q not found (existing: %s)", e.Name, strings.Join(e.Known, ", "))
}

// Get returns the recorded state of cluster name.
func (p *Provider) Get(name string) (*Cluster, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(p.dir(name), stateFile))
	if errors.Is(err, os.ErrNotExist) {
		known, _ := p.names()
		return nil, &NotFoundError{Name: name, Known: known}
	}
	if err != nil {
		return nil, err
	}
	var c Cluster
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("sim cluster %q: corrupt state %s: %w (delete it with `testbed cluster delete --name %s`)", name, filepath.Join(p.dir(name), stateFile), err, name)
	}
	return &c, nil
}

func (p *Provider) names() ([]string, error) {
	entries, err := os.ReadDir(p.opts.StateDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(p.opts.StateDir, e.Name(), stateFile)); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// List returns every sim cluster under the state directory.
func (p *Provider) List(ctx context.Context) ([]*Cluster, error) {
	names, err := p.names()
	if err != nil {
		return nil, err
	}
	var out []*Cluster
	for _, n := range names {
		c, err := p.Get(n)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Delete stops every process of cluster name and removes its state.
func (p *Provider) Delete(ctx context.Context, name string) error {
	start := time.Now()
	c, err := p.Get(name)
	if err != nil {
		var nf *NotFoundError
		if errors.As(err, &nf) {
			// A create interrupted before it wrote its state leaves only a
			// directory without processes: remove that too.
			if _, statErr := os.Stat(p.dir(name)); statErr == nil && ValidateName(name) == nil {
				return os.RemoveAll(p.dir(name))
			}
		}
		return err
	}
	p.progress(name, start, "stopping the control plane")
	if err := stopProcs(c.Procs, time.Second); err != nil {
		return fmt.Errorf("delete sim cluster %q: %w", name, err)
	}
	if err := os.RemoveAll(p.dir(name)); err != nil {
		return fmt.Errorf("delete sim cluster %q: %w", name, err)
	}
	p.progress(name, start, "deleted")
	return nil
}

func (p *Provider) progress(name string, start time.Time, msg string) {
	if p.opts.Progress != nil {
		p.opts.Progress(Event{Cluster: name, Message: msg, Elapsed: time.Since(start)})
	}
}

// ExistsError is returned by Create for a cluster that already runs.
type ExistsError struct{ Name string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("sim cluster %q already exists (delete it first with `testbed cluster delete --name %s`)", e.Name, e.Name)
}

// Create starts cluster name and returns once its API answers, its nodes are
// Ready and its controllers and scheduler are serving. On any error, and when
// ctx is cancelled, everything it started is stopped and its state removed.
func (p *Provider) Create(ctx context.Context, name string) (c *Cluster, err error) {
	start := time.Now()
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if p.opts.StateDir == "" {
		return nil, errors.New("sim: no state directory configured")
	}
	if p.opts.Assets == nil {
		return nil, errors.New("sim: no control-plane assets configured")
	}
	if old, err := p.Get(name); err == nil {
		if old.Healthy() == nil {
			return nil, &ExistsError{Name: name}
		}
		// Leftovers of a cluster whose processes are gone (a reboot, a
		// kill): clear them and start afresh.
		_ = stopProcs(old.Procs, time.Second)
		if err := os.RemoveAll(p.dir(name)); err != nil {
			return nil, err
		}
	}
	dir := p.dir(name)
	if err := os.MkdirAll(p.opts.StateDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, &ExistsError{Name: name}
		}
		return nil, err
	}
	defer func() {
		if err != nil {
			p.cleanup(c, dir)
			c = nil
		}
	}()

	p.progress(name, start, "writing certificates")
	pk, err := generatePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, fmt.Errorf("sim cluster %q: certificates: %w", name, err)
	}
	for _, d := range []string{"logs", "etcd", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kwok.yaml"), []byte(Stages()), 0o600); err != nil {
		return nil, err
	}

	// A port chosen free can be taken by someone else before our process
	// binds it: then start again with fresh ports.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		c, err = p.start(ctx, name, dir, pk, start)
		if err == nil {
			break
		}
		var pc *portConflictError
		if !errors.As(err, &pc) || attempt == attempts {
			return c, err
		}
		p.progress(name, start, fmt.Sprintf("%s: port taken before it could bind; retrying with new ports", pc.proc))
		p.cleanupProcs(c)
		_ = os.RemoveAll(filepath.Join(dir, "etcd"))
		_ = os.MkdirAll(filepath.Join(dir, "etcd"), 0o700)
	}
	p.progress(name, start, fmt.Sprintf("ready: %d nodes, kubeconfig %s", p.opts.Nodes, c.Kubeconfig))
	return c, nil
}

type portConflictError struct {
	proc string
	err  error
}

func (e *portConflictError) Error() string { return e.err.Error() }
func (e *portConflictError) Unwrap() error { return e.err }

func (p *Provider) cleanupProcs(c *Cluster) {
	if c != nil {
		_ = stopProcs(c.Procs, 3*time.Second)
	}
}

func (p *Provider) cleanup(c *Cluster, dir string) {
	p.cleanupProcs(c)
	if c == nil {
		// Processes may have been started before the state was written:
		// read what was recorded.
		if data, err := os.ReadFile(filepath.Join(dir, stateFile)); err == nil {
			var rec Cluster
			if json.Unmarshal(data, &rec) == nil {
				_ = stopProcs(rec.Procs, 3*time.Second)
			}
		}
	}
	_ = os.RemoveAll(dir)
}

// FreePort returns a port that was free on 127.0.0.1 a moment ago (for a
// stack's host ports as much as for the control plane's).
func FreePort() (int, error) {
	ps, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (p *Provider) start(ctx context.Context, name, dir string, pk pki, start time.Time) (*Cluster, error) {
	pp, err := p.pickPorts(6)
	if err != nil {
		return nil, err
	}
	ports := map[string]int{"etcd": pp[0], "etcd-peer": pp[1], "apiserver": pp[2], "controller-manager": pp[3], "scheduler": pp[4], "kwok": pp[5]}
	c := &Cluster{
		Name:       name,
		Dir:        dir,
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Server:     "https://127.0.0.1:" + strconv.Itoa(ports["apiserver"]),
		Nodes:      p.opts.Nodes,
		Ports:      ports,
		CreatedAt:  time.Now().UTC(),
	}
	if err := writeKubeconfig(c, pk); err != nil {
		return nil, err
	}
	schedConfig := filepath.Join(dir, "scheduler.yaml")
	if err := os.WriteFile(schedConfig, []byte(fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: 500
  burst: 1000
leaderElection:
  leaderElect: false
`, c.Kubeconfig)), 0o600); err != nil {
		return nil, err
	}

	a := p.opts.Assets
	port := func(k string) string { return strconv.Itoa(ports[k]) }
	etcdURL := "https://127.0.0.1:" + port("etcd")
	peerURL := "http://127.0.0.1:" + port("etcd-peer")
	type spec struct {
		name string
		bin  string
		args []string
	}
	specs := []spec{
		{"etcd", a.Path(assets.Etcd), []string{
			"--name=testbed", "--data-dir=" + filepath.Join(dir, "etcd"),
			"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
			"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=testbed=" + peerURL,
			"--cert-file=" + pk.path(etcdCert), "--key-file=" + pk.path(etcdKey),
			"--trusted-ca-file=" + pk.path(caCert), "--client-cert-auth",
			"--unsafe-no-fsync", "--log-level=warn",
		}},
		{"kube-apiserver", a.Path(assets.APIServer), []string{
			"--etcd-servers=" + etcdURL,
			"--etcd-cafile=" + pk.path(caCert), "--etcd-certfile=" + pk.path(etcdClient), "--etcd-keyfile=" + pk.path(etcdClientKey),
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + port("apiserver"),
			"--tls-cert-file=" + pk.path(apiserverCert), "--tls-private-key-file=" + pk.path(apiserverKey),
			"--client-ca-file=" + pk.path(caCert),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + pk.path(saPub), "--service-account-signing-key-file=" + pk.path(saKey),
			"--service-cluster-ip-range=10.96.0.0/16",
			"--authorization-mode=RBAC", "--anonymous-auth=false",
			"--endpoint-reconciler-type=none",
			"--enable-priority-and-fairness=false",
			"--allow-privileged=true", "--profiling=false",
		}},
		{"kube-controller-manager", a.Path(assets.ControllerManager), []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--bind-address=127.0.0.1", "--secure-port=" + port("controller-manager"),
			"--tls-cert-file=" + pk.path(apiserverCert), "--tls-private-key-file=" + pk.path(apiserverKey),
			"--leader-elect=false",
			"--root-ca-file=" + pk.path(caCert),
			"--service-account-private-key-file=" + pk.path(saKey),
			"--cluster-signing-cert-file=" + pk.path(caCert), "--cluster-signing-key-file=" + pk.path(caKey),
			"--service-cluster-ip-range=10.96.0.0/16",
			"--kube-api-qps=500", "--kube-api-burst=1000",
			"--concurrent-deployment-syncs=20", "--concurrent-replicaset-syncs=20",
			"--concurrent-statefulset-syncs=20", "--concurrent-job-syncs=20",
			"--concurrent-service-endpoint-syncs=20", "--concurrent-gc-syncs=50",
			"--concurrent-namespace-syncs=20",
			// Simulated nodes on a busy machine renew their leases late:
			// give them room before they are declared NotReady.
			"--node-monitor-grace-period=5m",
			"--profiling=false",
		}},
		{"kube-scheduler", a.Path(assets.Scheduler), []string{
			"--config=" + schedConfig,
			"--bind-address=127.0.0.1", "--secure-port=" + port("scheduler"),
			"--tls-cert-file=" + pk.path(apiserverCert), "--tls-private-key-file=" + pk.path(apiserverKey),
			"--profiling=false",
		}},
		{"kwok", a.Path(assets.Kwok), []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--config=" + filepath.Join(dir, "kwok.yaml"),
			"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--server-address=127.0.0.1:" + port("kwok"),
			"--cidr=10.244.0.0/16",
			"--node-ip=127.0.0.1",
			"--node-lease-duration-seconds=120",
		}},
	}
	gate := p.opts.GateCommand
	if len(gate) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("sim gate: %w", err)
		}
		gate = []string{exe, GateArg}
	}
	gateArgs := append(append([]string{}, gate[1:]...), "--kubeconfig="+c.Kubeconfig)
	if p.opts.Owner > 0 {
		gateArgs = append(gateArgs, fmt.Sprintf("--owner=%d", p.opts.Owner))
	}
	specs = append(specs, spec{"sim-gate", gate[0], gateArgs})

	env := childEnv(dir)
	p.progress(name, start, "starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok")
	launch := func(s spec) (*proc, error) {
		return startProc(s.name, s.bin, s.args, dir, filepath.Join(dir, "logs", s.name+".log"), env)
	}
	for _, s := range specs {
		pr, err := launch(s)
		if err != nil {
			return c, err
		}
		c.Procs = append(c.Procs, pr)
	}
	if err := c.save(); err != nil {
		return c, err
	}

	// Everything starts at once. The API's clients (controller-manager,
	// scheduler, kwok, gate) may give up if kube-apiserver is slow to
	// answer on a loaded machine: such an exit before the API is ready
	// restarts them once it is. Any other exit fails the create at once,
	// with the process's log; a bind failure asks the caller to try other
	// ports.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	apiReady := false
	var early []int // indexes into c.Procs of clients that exited before the API was ready
	var monitor func(i int)
	monitor = func(i int) {
		pr := c.Procs[i]
		go func() {
			select {
			case <-pr.exited:
			case <-ctx.Done():
				return
			}
			mu.Lock()
			if !apiReady && pr.Name != "etcd" && pr.Name != "kube-apiserver" {
				early = append(early, i)
				mu.Unlock()
				return
			}
			mu.Unlock()
			tail := logTail(pr.Log, 15)
			err := fmt.Errorf("sim cluster %q: %s exited during start; last log lines:\n%s", name, pr.Name, indent(tail))
			if strings.Contains(tail, "address already in use") {
				err = &portConflictError{proc: pr.Name, err: err}
			}
			cancel(err)
		}()
	}
	for i := range c.Procs {
		monitor(i)
	}
	cause := func(err error) error {
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) && !errors.Is(c, context.DeadlineExceeded) {
			return c
		}
		return err
	}

	cfg, err := c.RESTConfig()
	if err != nil {
		return c, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return c, err
	}
	if err := waitAPIServer(ctx, cs); err != nil {
		return c, cause(fmt.Errorf("sim cluster %q: kube-apiserver did not become ready: %w", name, err))
	}
	mu.Lock()
	apiReady = true
	restart := early
	early = nil
	mu.Unlock()
	for _, i := range restart {
		p.progress(name, start, c.Procs[i].Name+" gave up before kube-apiserver was ready; restarting it")
		pr, err := launch(specs[i])
		if err != nil {
			return c, err
		}
		c.Procs[i] = pr
		monitor(i)
	}
	if len(restart) > 0 {
		if err := c.save(); err != nil {
			return c, err
		}
	}
	p.progress(name, start, "kube-apiserver ready; registering nodes")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return createNodes(gctx, cs, name, p.opts.Nodes) })
	g.Go(func() error { return waitNodesReady(gctx, cs, p.opts.Nodes) })
	g.Go(func() error { return waitDefaultServiceAccount(gctx, cs) })
	hc, err := healthClient(pk)
	if err != nil {
		return c, err
	}
	g.Go(func() error {
		return waitHealthz(gctx, hc, "https://127.0.0.1:"+port("controller-manager")+"/healthz", "kube-controller-manager")
	})
	g.Go(func() error {
		return waitHealthz(gctx, hc, "https://127.0.0.1:"+port("scheduler")+"/healthz", "kube-scheduler")
	})
	g.Go(func() error { return waitHealthz(gctx, hc, "http://127.0.0.1:"+port("kwok")+"/healthz", "kwok") })
	if err := g.Wait(); err != nil {
		return c, cause(fmt.Errorf("sim cluster %q: %w", name, err))
	}
	p.progress(name, start, "control plane ready; running a smoke Deployment")
	if err := smoke(ctx, cs); err != nil {
		return c, cause(fmt.Errorf("sim cluster %q: %w (control-plane logs: %s)", name, err, filepath.Join(dir, "logs")))
	}
	return c, nil
}

// smokeName is the Deployment smoke pushes through a new cluster.
const smokeName = "testbed-smoke"

// smoke proves a new cluster runs pods end to end (Deployment → ReplicaSet
// → pod → scheduled → Running and Ready on a kwok node → Deployment
// available) before Create returns, and deletes what it made. A cluster
// whose controllers, scheduler or kwok cannot do that fails Create here,
// not in the user's first component; and the controllers' first sync, the
// scheduler's cache and kwok's first pod are paid for in the cluster step
// rather than on the first component's critical path.
func smoke(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	one := int32(1)
	labels := map[string]string{"app.kubernetes.io/name": smokeName}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: smokeName, Namespace: metav1.NamespaceSystem, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{AnnotationReadyAfter: "0s"}},
				Spec: corev1.PodSpec{
					Containers:                    []corev1.Container{{Name: "smoke", Image: "testbed.invalid/smoke"}},
					TerminationGracePeriodSeconds: new(int64),
				},
			},
		},
	}
	deps := cs.AppsV1().Deployments(metav1.NamespaceSystem)
	if _, err := deps.Create(ctx, d, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("smoke Deployment %s/%s: %w", metav1.NamespaceSystem, smokeName, err)
	}
	sel := fields.OneTermEqualSelector("metadata.name", smokeName).String()
	var last *appsv1.Deployment
	available := func(d *appsv1.Deployment) bool {
		last = d
		return d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas >= 1
	}
	err := watchUntil(ctx, "waiting for it to become available",
		func(ctx context.Context) (string, bool, error) {
			l, err := deps.List(ctx, metav1.ListOptions{FieldSelector: sel})
			if err != nil {
				return "", false, err
			}
			return l.ResourceVersion, len(l.Items) == 1 && available(&l.Items[0]), nil
		},
		func(ctx context.Context, rv string) (watch.Interface, error) {
			return deps.Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: rv})
		},
		func(ev watch.Event) bool {
			d, ok := ev.Object.(*appsv1.Deployment)
			return ok && available(d)
		})
	if err != nil {
		if last != nil {
			return fmt.Errorf("smoke Deployment %s/%s not available (%d/%d replicas available, %d ready): %w",
				metav1.NamespaceSystem, smokeName, last.Status.AvailableReplicas, one, last.Status.ReadyReplicas, err)
		}
		return fmt.Errorf("smoke Deployment %s/%s: %w", metav1.NamespaceSystem, smokeName, err)
	}
	bg := metav1.DeletePropagationBackground
	if err := deps.Delete(ctx, smokeName, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete smoke Deployment %s/%s: %w", metav1.NamespaceSystem, smokeName, err)
	}
	return nil
}

func (c *Cluster) save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.Dir, stateFile))
}

// controlPlaneGOGC is the Go garbage collector's target (GOGC) of the
// control-plane processes unless the caller's environment sets GOGC: a
// bring-up's first seconds keep the API server busy, and less collection
// then gets the first pods ready sooner for some more memory (measured in
// bench/README.md, "Control plane GOGC").
const controlPlaneGOGC = "400"

// childEnv is the environment of the control-plane processes: the caller's,
// with HOME pointing into the cluster's state (kwok reads ~/.kwok), no
// KUBECONFIG to confuse them, and GOGC=controlPlaneGOGC unless the caller
// set GOGC.
func childEnv(dir string) []string {
	return childEnvFrom(os.Environ(), dir)
}

func childEnvFrom(environ []string, dir string) []string {
	var env []string
	gogc := false
	for _, kv := range environ {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		gogc = gogc || strings.HasPrefix(kv, "GOGC=")
		env = append(env, kv)
	}
	if !gogc {
		env = append(env, "GOGC="+controlPlaneGOGC)
	}
	return append(env, "HOME="+filepath.Join(dir, "home"))
}

func writeKubeconfig(c *Cluster, pk pki) error {
	ca, err := os.ReadFile(pk.path(caCert))
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(pk.path(adminCert))
	if err != nil {
		return err
	}
	key, err := os.ReadFile(pk.path(adminKey))
	if err != nil {
		return err
	}
	ctxName := "testbed-" + c.Name
	cfg := clientcmdapi.NewConfig()
	// The API server is on loopback: gzip would only cost it CPU (it
	// compresses large lists, which every informer of the control plane,
	// kwok and testbed starts with).
	cfg.Clusters[ctxName] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: ca, DisableCompression: true}
	cfg.AuthInfos[ctxName] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: ctxName, AuthInfo: ctxName}
	cfg.CurrentContext = ctxName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(c.Kubeconfig, data, 0o600)
}

// poll runs fn every interval until it returns true or an error, or ctx ends.
// It is used only where nothing can be watched yet: a server not listening.
func poll(ctx context.Context, interval time.Duration, fn func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := fn()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

func waitAPIServer(ctx context.Context, cs kubernetes.Interface) error {
	var last error
	err := poll(ctx, 50*time.Millisecond, func() (bool, error) {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, last = cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		return last == nil, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (last answer: %v)", err, last)
	}
	return err
}

func createNodes(ctx context.Context, cs kubernetes.Interface, cluster string, n int) error {
	g, ctx := errgroup.WithContext(ctx)
	for i := 1; i <= n; i++ {
		g.Go(func() error {
			name := fmt.Sprintf("%s-node-%d", cluster, i)
			node := &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{
					Name: name,
					Annotations: map[string]string{
						"kwok.x-k8s.io/node":           "fake",
						"node.alpha.kubernetes.io/ttl": "0",
					},
					Labels: map[string]string{
						"kubernetes.io/hostname": name,
						"kubernetes.io/os":       "linux",
						"kubernetes.io/arch":     "amd64",
						"type":                   "kwok",
					},
				},
				Status: corev1.NodeStatus{
					Allocatable: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("1000"),
					},
					Capacity: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi"), corev1.ResourcePods: resource.MustParse("1000"),
					},
				},
			}
			_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("register node %s: %w", name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// watchUntil lists then watches what list/watch return until done says so.
func watchUntil(ctx context.Context, what string,
	list func(context.Context) (string, bool, error),
	watchFn func(context.Context, string) (watch.Interface, error),
	done func(watch.Event) bool) error {
	for {
		rv, ok, err := list(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		w, err := watchFn(ctx, rv)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				break
			}
			if done(ev) {
				w.Stop()
				return nil
			}
		}
		w.Stop()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", what, context.Cause(ctx))
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitNodesReady(ctx context.Context, cs kubernetes.Interface, n int) error {
	ready := map[string]bool{}
	return watchUntil(ctx, "waiting for nodes to be Ready",
		func(ctx context.Context) (string, bool, error) {
			l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return "", false, err
			}
			clear(ready)
			for i := range l.Items {
				ready[l.Items[i].Name] = nodeReady(&l.Items[i])
			}
			return l.ResourceVersion, countTrue(ready) >= n, nil
		},
		func(ctx context.Context, rv string) (watch.Interface, error) {
			return cs.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
		},
		func(ev watch.Event) bool {
			node, ok := ev.Object.(*corev1.Node)
			if !ok {
				return false
			}
			ready[node.Name] = ev.Type != watch.Deleted && nodeReady(node)
			return countTrue(ready) >= n
		})
}

func countTrue(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// waitDefaultServiceAccount waits for default/default: until it exists the
// API rejects pods in the namespace.
func waitDefaultServiceAccount(ctx context.Context, cs kubernetes.Interface) error {
	sel := fields.OneTermEqualSelector("metadata.name", "default").String()
	return watchUntil(ctx, "waiting for the default ServiceAccount",
		func(ctx context.Context) (string, bool, error) {
			l, err := cs.CoreV1().ServiceAccounts("default").List(ctx, metav1.ListOptions{FieldSelector: sel})
			if err != nil {
				return "", false, err
			}
			return l.ResourceVersion, len(l.Items) > 0, nil
		},
		func(ctx context.Context, rv string) (watch.Interface, error) {
			return cs.CoreV1().ServiceAccounts("default").Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: rv})
		},
		func(ev watch.Event) bool { return ev.Type == watch.Added || ev.Type == watch.Modified })
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// healthClient trusts the cluster's CA: kube-controller-manager and
// kube-scheduler serve with a certificate it signed.
func healthClient(pk pki) (*http.Client, error) {
	ca, err := os.ReadFile(pk.path(caCert))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}, nil
}

// waitHealthz waits until url answers 200. The process behind it is
// watched for exit separately, so this only has to poll a socket.
func waitHealthz(ctx context.Context, hc *http.Client, url, what string) error {
	var last error
	err := poll(ctx, 50*time.Millisecond, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			last = err
			return false, nil
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			last = fmt.Errorf("%s answered %s", url, resp.Status)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("%s not healthy: %w (last: %v)", what, err, last)
	}
	return nil
}
