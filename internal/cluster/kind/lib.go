package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindexec "sigs.k8s.io/kind/pkg/exec"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// kindAPI is the part of kind's library the provider uses; tests replace
// it with a recording fake. Every kubeconfig path is explicit: kind falls
// back to $KUBECONFIG or ~/.kube/config on an empty one.
type kindAPI interface {
	// Create creates the cluster called name from cfg, writes its
	// kubeconfig to kubeconfigPath and waits up to wait for the control
	// plane to be ready. kind removes the nodes when it fails.
	Create(name string, cfg *v1alpha4.Cluster, kubeconfigPath string, wait time.Duration) error
	// Delete removes the cluster's nodes and its entry in kubeconfigPath.
	Delete(name, kubeconfigPath string) error
	// List returns the names of the clusters that have nodes, running or not.
	List() ([]string, error)
	// KubeConfig returns a kubeconfig that reaches the cluster from the host.
	KubeConfig(name string) (string, error)
	// Nodes returns the cluster's nodes, without the external load balancer.
	Nodes(name string) ([]node, error)
	// CollectLogs writes the nodes' logs (journal, kubelet, containerd,
	// /var/log with the pods' logs) under dir.
	CollectLogs(name, dir string) error
}

// node is a kind node as the image loader needs it.
type node interface {
	// Name is the node's container name.
	Name() string
	// ImageID returns the ID of ref on the node; an error when it has none.
	ImageID(ref string) (string, error)
	// LoadImage imports an image archive into the node's containerd.
	LoadImage(archive io.Reader) error
}

// engine is the container tool of a run, docker or podman: kind's nodes
// run on it and images are saved from it.
type engine interface {
	// Name is "docker" or "podman".
	Name() string
	// Check returns an error when the tool cannot be used (not installed,
	// no daemon, no permission).
	Check(ctx context.Context) error
	// ImageID returns the ID of ref in the local image store; an error
	// wrapping ErrNoLocalImage when there is none.
	ImageID(ctx context.Context, ref string) (string, error)
	// Pull pulls ref into the local image store.
	Pull(ctx context.Context, ref string) error
	// Save writes ref as an image archive to path.
	Save(ctx context.Context, ref, path string) error
	// RemoveUnusedNetwork removes the network called name when no
	// container is on it; it says whether it did (false when the network
	// is absent or in use).
	RemoveUnusedNetwork(ctx context.Context, name string) (bool, error)
	// NetworkExists reports whether the network called name exists.
	NetworkExists(ctx context.Context, name string) (bool, error)
	// State returns a container's state ("running", "exited", ...); an
	// error when it does not exist.
	State(ctx context.Context, container string) (string, error)
}

// kindLib is kindAPI over sigs.k8s.io/kind/pkg/cluster.
type kindLib struct{ p *kindcluster.Provider }

var _ kindAPI = kindLib{}

// newKindLib returns kind's provider on runtime, logging to logger.
func newKindLib(runtime string, logger kindlog.Logger) kindLib {
	rt := kindcluster.ProviderWithDocker()
	if runtime == RuntimePodman {
		rt = kindcluster.ProviderWithPodman()
	}
	return kindLib{p: kindcluster.NewProvider(kindcluster.ProviderWithLogger(logger), rt)}
}

func (k kindLib) Create(name string, cfg *v1alpha4.Cluster, kubeconfigPath string, wait time.Duration) error {
	return withOutput(k.p.Create(name,
		kindcluster.CreateWithV1Alpha4Config(cfg),
		kindcluster.CreateWithKubeconfigPath(kubeconfigPath),
		kindcluster.CreateWithWaitForReady(wait),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false),
	))
}

func (k kindLib) Delete(name, kubeconfigPath string) error {
	return withOutput(k.p.Delete(name, kubeconfigPath))
}

func (k kindLib) List() ([]string, error) {
	names, err := k.p.List()
	return names, withOutput(err)
}

func (k kindLib) KubeConfig(name string) (string, error) {
	cfg, err := k.p.KubeConfig(name, false)
	return cfg, withOutput(err)
}

func (k kindLib) Nodes(name string) ([]node, error) {
	ns, err := k.p.ListInternalNodes(name)
	if err != nil {
		return nil, withOutput(err)
	}
	out := make([]node, len(ns))
	for i, n := range ns {
		out[i] = kindNode{n}
	}
	return out, nil
}

func (k kindLib) CollectLogs(name, dir string) error {
	return withOutput(k.p.CollectLogs(name, dir))
}

// kindNode is node over a kind node.
type kindNode struct{ n nodes.Node }

func (n kindNode) Name() string { return n.n.String() }

func (n kindNode) ImageID(ref string) (string, error) {
	id, err := nodeutils.ImageID(n.n, ref)
	return id, withOutput(err)
}

func (n kindNode) LoadImage(archive io.Reader) error {
	return withOutput(nodeutils.LoadImageArchive(n.n, archive))
}

// withOutput adds to err the output of the command kind ran, which kind
// keeps in an *exec.RunError but does not print.
func withOutput(err error) error {
	var re *kindexec.RunError
	if err == nil || !errors.As(err, &re) || len(bytes.TrimSpace(re.Output)) == 0 {
		return err
	}
	return fmt.Errorf("%w: %s", err, lastLines(string(re.Output), 20))
}

// lastLines returns the last n lines of s, trimmed.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cli is engine over the docker or podman command.
type cli struct{ bin string }

var _ engine = cli{}

func (c cli) Name() string { return c.bin }

// run runs the tool with args and returns its standard output; an error
// names the command and carries its standard error.
func (c cli) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", &cmdError{argv: append([]string{c.bin}, args...), msg: lastLines(msg, 20)}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// cmdError is a failed command with its standard error.
type cmdError struct {
	argv []string
	msg  string
}

func (e *cmdError) Error() string { return strings.Join(e.argv, " ") + ": " + e.msg }

func (c cli) Check(ctx context.Context) error {
	if _, err := exec.LookPath(c.bin); err != nil {
		return fmt.Errorf("%s is not installed (not found on PATH)", c.bin)
	}
	// Both fail when there is no daemon (docker) or no usable storage
	// (podman), which `--version` would not notice.
	args := []string{"version", "--format", "{{.Server.Version}}"}
	if c.bin == RuntimePodman {
		args = []string{"info", "--format", "{{.Version.Version}}"}
	}
	_, err := c.run(ctx, args...)
	return err
}

func (c cli) ImageID(ctx context.Context, ref string) (string, error) {
	id, err := c.run(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	var ce *cmdError
	if errors.As(err, &ce) && noSuchImage(ce.msg) {
		return "", fmt.Errorf("%s has no image %s: %w", c.bin, ref, ErrNoLocalImage)
	}
	return id, err
}

// noSuchImage reports whether a failed `image inspect` says the image is
// absent (docker: "No such image"; podman: "image not known").
func noSuchImage(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "no such image") || strings.Contains(msg, "image not known") ||
		strings.Contains(msg, "no such object")
}

func (c cli) Pull(ctx context.Context, ref string) error {
	_, err := c.run(ctx, "pull", ref)
	return err
}

func (c cli) Save(ctx context.Context, ref, path string) error {
	_, err := c.run(ctx, "save", "--output", path, ref)
	return err
}

func (c cli) State(ctx context.Context, container string) (string, error) {
	return c.run(ctx, "inspect", "--type", "container", "--format", "{{.State.Status}}", container)
}

// progressLogger is a kind logger that passes kind's user-facing lines
// (its status steps) to a function, and drops debug output.
type progressLogger struct{ line func(string) }

var _ kindlog.Logger = progressLogger{}

func (l progressLogger) say(s string) {
	if s = strings.TrimSpace(s); s != "" && l.line != nil {
		l.line(s)
	}
}

func (l progressLogger) Warn(m string)                     { l.say("warning: " + m) }
func (l progressLogger) Warnf(f string, a ...interface{})  { l.say("warning: " + fmt.Sprintf(f, a...)) }
func (l progressLogger) Error(m string)                    { l.say("error: " + m) }
func (l progressLogger) Errorf(f string, a ...interface{}) { l.say("error: " + fmt.Sprintf(f, a...)) }

func (l progressLogger) V(level kindlog.Level) kindlog.InfoLogger {
	if level > 0 {
		return infoLogger{}
	}
	return infoLogger{l: l, on: true}
}

type infoLogger struct {
	l  progressLogger
	on bool
}

func (i infoLogger) Info(m string) {
	if i.on {
		i.l.say(m)
	}
}

func (i infoLogger) Infof(f string, a ...interface{}) {
	if i.on {
		i.l.say(fmt.Sprintf(f, a...))
	}
}

func (i infoLogger) Enabled() bool { return i.on }
