package kind

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetestbed/testbed/internal/cluster"
)

// Cluster is a running kind cluster.
type Cluster struct {
	name, stack, kubeconfig string
	ports                   map[string]int
	p                       *Provider
}

func (p *Provider) newCluster(stack, kname string, ports map[string]int) *Cluster {
	return &Cluster{name: kname, stack: stack, kubeconfig: p.kubeconfig(kname), ports: ports, p: p}
}

// Name returns the kind cluster's name (see ClusterName).
func (c *Cluster) Name() string { return c.name }

// KubeconfigPath returns the cluster's kubeconfig file, in the state
// directory.
func (c *Cluster) KubeconfigPath() string { return c.kubeconfig }

// RESTConfig returns a client configuration from the kubeconfig.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", c.name, err)
	}
	return cfg, nil
}

// HostPorts returns the host port of each of Options.Ports by name, auto
// ones resolved.
func (c *Cluster) HostPorts() map[string]int { return maps.Clone(c.ports) }

// probeTimeout bounds one question to the API server.
const probeTimeout = 10 * time.Second

// healthy returns nil when every node container runs and the API server
// answers; otherwise an *unhealthy that says what is wrong. It writes the kubeconfig when it is missing.
func (c *Cluster) healthy(ctx context.Context) error {
	if err := c.nodesRunning(ctx); err != nil {
		return err
	}
	if _, err := os.Stat(c.kubeconfig); errors.Is(err, os.ErrNotExist) {
		cfg, err := c.p.api.KubeConfig(c.name)
		if err != nil {
			return fmt.Errorf("kind cluster %s: kubeconfig: %w", c.name, err)
		}
		if err := os.WriteFile(c.kubeconfig, []byte(cfg), 0o600); err != nil {
			return fmt.Errorf("kind cluster %s: %w", c.name, err)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := c.p.probe(pctx, c.kubeconfig); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &unhealthy{fmt.Sprintf("its API server does not answer: %v", err)}
	}
	return nil
}

// nodesRunning returns an *unhealthy naming a node container that does
// not run.
func (c *Cluster) nodesRunning(ctx context.Context) error {
	nodes, err := c.p.api.Nodes(c.name)
	if err != nil {
		return fmt.Errorf("kind cluster %s: list nodes: %w", c.name, err)
	}
	if len(nodes) == 0 {
		return &unhealthy{"it has no nodes"}
	}
	for _, n := range nodes {
		if err := c.nodeRunning(ctx, n.Name()); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &unhealthy{err.Error()}
		}
	}
	return nil
}

func (c *Cluster) nodeRunning(ctx context.Context, container string) error {
	st, err := c.p.eng.State(ctx, container)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("node container %s is gone (%v)", container, err)
	case st != "running":
		return fmt.Errorf("node container %s is %s, not running", container, st)
	}
	return nil
}

// probeAPIServer asks the API server of a kubeconfig whether it is ready.
func probeAPIServer(ctx context.Context, kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	return dc.RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
}

// Monitor returns once a node container stops running (at once) or the
// API server has not answered for Options.Grace, with an error that names
// what died; nil when ctx ends first.
func (c *Cluster) Monitor(ctx context.Context) error {
	nodes, err := c.p.api.Nodes(c.name)
	if err != nil {
		return fmt.Errorf("kind cluster %s: list nodes: %w", c.name, err)
	}
	running := func(ctx context.Context) error {
		for _, n := range nodes {
			if err := c.nodeRunning(ctx, n.Name()); err != nil {
				return err
			}
		}
		return nil
	}
	probe := func(ctx context.Context) error { return c.p.probe(ctx, c.kubeconfig) }
	if err := cluster.WatchAPI(ctx, c.p.opts.Grace, running, probe); err != nil {
		return fmt.Errorf("kind cluster %s: %w", c.name, err)
	}
	return nil
}

// unhealthy says why a cluster that exists does not work.
type unhealthy struct{ why string }

func (u *unhealthy) Error() string { return u.why }
