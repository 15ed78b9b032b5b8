package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kubetestbed/testbed/internal/cluster"
)

var (
	_ cluster.Provider     = (*Provider)(nil)
	_ cluster.Deleter      = (*Provider)(nil)
	_ cluster.Preparer     = (*Provider)(nil)
	_ cluster.PodSimulator = (*Provider)(nil)
	_ cluster.FreshKinds   = (*Provider)(nil)
	_ cluster.Cluster      = (*Cluster)(nil)
	_ cluster.Monitor      = (*Cluster)(nil)
)

// Name returns "sim".
func (p *Provider) Name() string { return "sim" }

// Prepare resolves the control-plane binaries through Options.Resolve
// (building them the first time) unless Options.Assets is set.
func (p *Provider) Prepare(ctx context.Context) error {
	if p.opts.Assets != nil {
		return nil
	}
	if p.opts.Resolve == nil {
		return errors.New("sim: no control-plane binaries configured")
	}
	set, err := p.opts.Resolve(ctx)
	if err != nil {
		return err
	}
	p.opts.Assets = set
	return nil
}

// Ensure returns the running cluster called name, or creates it.
func (p *Provider) Ensure(ctx context.Context, name string) (cluster.Cluster, bool, error) {
	if c, err := p.Get(name); err == nil && c.Healthy() == nil {
		p.progress(name, time.Now(), fmt.Sprintf("sim cluster %s is running: re-applying", name))
		return c, false, nil
	}
	if err := p.Prepare(ctx); err != nil {
		return nil, false, err
	}
	c, err := p.Create(ctx, name)
	if err != nil {
		return nil, false, err
	}
	return c, true, nil
}

// Find returns the running cluster called name: an error wrapping
// cluster.ErrNotFound when there is none, or naming the processes that died.
func (p *Provider) Find(_ context.Context, name string) (cluster.Cluster, error) {
	c, err := p.Get(name)
	if err != nil {
		return nil, err
	}
	if err := c.Healthy(); err != nil {
		return nil, err
	}
	return c, nil
}

// PodAnnotations returns the annotations that make a pod behave so on sim.
func (p *Provider) PodAnnotations(readyAfter time.Duration, requires []string, fail string) map[string]string {
	return PodAnnotations(readyAfter, requires, fail)
}

// ServesOnlyBuiltinKinds: a new sim cluster has no CRD and runs the
// Kubernetes version testbed is built against.
func (p *Provider) ServesOnlyBuiltinKinds() {}

// KubeconfigPath returns the cluster's kubeconfig file.
func (c *Cluster) KubeconfigPath() string { return c.Kubeconfig }

// monitorInterval is how often Monitor looks at the processes.
const monitorInterval = 250 * time.Millisecond

// Monitor returns, within monitorInterval, once a process of the cluster
// exits, naming it with the tail of its log; nil when ctx ends first.
func (c *Cluster) Monitor(ctx context.Context) error {
	t := time.NewTicker(monitorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, p := range c.Procs {
			if !p.alive() {
				if ctx.Err() != nil {
					return nil // stopped by whoever ended ctx
				}
				return fmt.Errorf("sim cluster %q: %s (pid %d) exited; last lines of its log (%s):\n%s", c.Name, p.Name, p.PID, p.Log, indent(logTail(p.Log, 20)))
			}
		}
	}
}

// PodAnnotations returns the pod-template annotations that make the sim
// cluster play a component: ready readyAfter after scheduling, once the
// components in requires are ready, or failing as fail says.
func PodAnnotations(readyAfter time.Duration, requires []string, fail string) map[string]string {
	a := map[string]string{AnnotationReadyAfter: readyAfter.String()}
	if len(requires) > 0 {
		a[AnnotationRequires] = strings.Join(requires, ",")
	}
	if fail != "" {
		a[AnnotationFail] = fail
	}
	return a
}
