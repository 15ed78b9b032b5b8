// Package kubeconfig is the provider of clusters testbed does not own: the
// one a kubeconfig file points at. It never creates or deletes a cluster.
package kubeconfig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetestbed/testbed/internal/cluster"
)

var (
	_ cluster.Provider = (*Provider)(nil)
	_ cluster.Monitor  = (*Cluster)(nil)
)

// Provider finds the cluster of a kubeconfig file and context.
type Provider struct {
	// Path is the kubeconfig file; empty: $KUBECONFIG, then ~/.kube/config
	// (client-go's rules).
	Path string
	// Context is the kubeconfig context; empty: its current-context.
	Context string
	// Grace is how long the API server may not answer before Monitor says
	// the cluster died (default 10 s).
	Grace time.Duration
}

// Name returns "kubeconfig".
func (p *Provider) Name() string { return "kubeconfig" }

// Ensure returns the kubeconfig's cluster once its API server answers; it
// never creates one.
func (p *Provider) Ensure(ctx context.Context, _ string) (cluster.Cluster, bool, error) {
	c, err := p.Find(ctx, "")
	return c, false, err
}

// Find returns the kubeconfig's cluster once its API server answers.
func (p *Provider) Find(ctx context.Context, _ string) (cluster.Cluster, error) {
	cfg, path, err := p.load()
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, path: path, grace: p.Grace}
	if c.grace <= 0 {
		c.grace = 10 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := c.probe(rctx); err != nil {
		return nil, fmt.Errorf("kubeconfig provider: API server %s unreachable: %w", cfg.Host, err)
	}
	return c, nil
}

func (p *Provider) load() (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if p.Path != "" {
		rules.ExplicitPath = p.Path
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: p.Context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		// client-go's own message suggests KUBERNETES_MASTER, long gone.
		var found []string
		for _, f := range rules.GetLoadingPrecedence() {
			if _, err := os.Stat(f); err == nil {
				found = append(found, f)
			}
		}
		if len(found) > 0 {
			return nil, "", fmt.Errorf("kubeconfig provider: %s: no current context: set spec.cluster.kubeconfig.context in the stack file, or the kubeconfig's current-context", strings.Join(found, ", "))
		}
		return nil, "", fmt.Errorf("kubeconfig provider: no kubeconfig found (looked for %s): set spec.cluster.kubeconfig.path in the stack file, or KUBECONFIG", strings.Join(rules.GetLoadingPrecedence(), ", "))
	}
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig provider: %w", err)
	}
	path := p.Path
	if path == "" {
		path = rules.GetDefaultFilename()
	}
	return cfg, path, nil
}

// Cluster is the cluster a kubeconfig points at.
type Cluster struct {
	cfg   *rest.Config
	path  string
	grace time.Duration
}

// KubeconfigPath returns the kubeconfig file.
func (c *Cluster) KubeconfigPath() string { return c.path }

// RESTConfig returns the kubeconfig's client configuration.
func (c *Cluster) RESTConfig() (*rest.Config, error) { return rest.CopyConfig(c.cfg), nil }

// probe asks the API server for /version: an error means it did not
// answer (an HTTP error status is an answer).
func (c *Cluster) probe(ctx context.Context) error {
	dc, err := discovery.NewDiscoveryClientForConfig(c.cfg)
	if err != nil {
		return err
	}
	err = dc.RESTClient().Get().AbsPath("/version").Do(ctx).Error()
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		return nil
	}
	return err
}

// Monitor returns an error once the API server has not answered for the
// grace period; nil when ctx ends first.
func (c *Cluster) Monitor(ctx context.Context) error {
	if err := cluster.WatchAPI(ctx, c.grace, nil, c.probe); err != nil {
		return fmt.Errorf("kubeconfig cluster %s: %w", c.cfg.Host, err)
	}
	return nil
}
