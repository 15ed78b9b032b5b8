// Package cluster is the seam between testbed's engine and the clusters it
// runs stacks on. A Provider makes and finds clusters; what a provider can
// do beyond that is asked for with a type assertion on the small
// interfaces below, never by comparing provider names.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
)

// ErrNotFound is wrapped by Provider.Find and Deleter.Delete for a cluster
// that does not exist.
var ErrNotFound = errors.New("cluster not found")

// Provider makes and finds the clusters stacks run on.
type Provider interface {
	// Name is the provider's name in reports and messages ("sim").
	Name() string
	// Ensure returns the running cluster called name, creating it when
	// there is none; created reports which. On error nothing it started is
	// left behind.
	Ensure(ctx context.Context, name string) (c Cluster, created bool, err error)
	// Find returns the running cluster called name, or an error wrapping
	// ErrNotFound.
	Find(ctx context.Context, name string) (Cluster, error)
}

// Cluster is a running cluster.
type Cluster interface {
	// KubeconfigPath is the path of a kubeconfig file for the cluster.
	KubeconfigPath() string
	// RESTConfig returns a client configuration for the cluster.
	RESTConfig() (*rest.Config, error)
}

// Deleter is a Provider that owns its clusters: a run that created one
// removes it on failure, and `down` removes it. Providers that are not
// Deleters run on clusters testbed does not own (kubeconfig): there, the
// stack's objects are deleted instead.
type Deleter interface {
	// Delete removes the cluster called name; an error wrapping ErrNotFound
	// when there is none.
	Delete(ctx context.Context, name string) error
}

// Preparer is a Provider with work to do before a bring-up's clock and
// timeout start, such as building or verifying its binaries.
type Preparer interface {
	Prepare(ctx context.Context) error
}

// Monitor is a Cluster that can tell when it dies.
type Monitor interface {
	// Monitor blocks until ctx ends (returning nil) or the cluster stops
	// working, returning an error that names what died and why.
	Monitor(ctx context.Context) error
}

// PodSimulator is a Provider whose pods' containers never run: pods behave
// as their annotations say, nothing listens behind a Service (checks
// cannot pass) and no container writes a log.
type PodSimulator interface {
	// PodAnnotations returns the pod-template annotations that make a pod
	// turn Ready readyAfter after it is scheduled, once every component in
	// requires is ready, or fail as fail says ("" for not at all).
	PodAnnotations(readyAfter time.Duration, requires []string, fail string) map[string]string
}

// FreshKinds is a Provider whose new clusters run this build's Kubernetes
// version and serve no kinds but the API server's own, so a stack's kinds
// can be checked before anything starts.
type FreshKinds interface {
	ServesOnlyBuiltinKinds()
}

// ErrNoLocalImage is wrapped by ImageLoader.LoadImage when the local
// container engine has no image of the reference: the cluster is left to
// pull it.
var ErrNoLocalImage = errors.New("no such image in the local container engine")

// ImageLoader is a Provider that copies images from the local container
// engine onto a cluster's nodes.
type ImageLoader interface {
	// LoadImage puts ref on every node of the cluster called name,
	// skipping the nodes that have it with the same ID.
	LoadImage(ctx context.Context, name, ref string) (Load, error)
}

// Load is what LoadImage did with an image.
type Load struct {
	// Ref is the image reference; ID its ID in the local engine.
	Ref, ID string
	// Loaded are the nodes it was loaded into; Skipped those that had it
	// with the same ID already.
	Loaded, Skipped []string
}

// Unchanged reports whether every node had the image already.
func (l Load) Unchanged() bool { return len(l.Loaded) == 0 }

// NodeLogExporter is a Provider that can copy its nodes' logs (kubelet,
// container runtime, pods) for diagnostics.
type NodeLogExporter interface {
	// ExportNodeLogs writes the logs of the nodes of the cluster called
	// name under dir.
	ExportNodeLogs(ctx context.Context, name, dir string) error
}

// PortClaimer is a Provider that maps a stack's host ports itself and
// chooses them: ${port:NAME} must be the port it maps, not one picked
// elsewhere.
type PortClaimer interface {
	// ClaimPorts returns the host ports of the cluster called name, by
	// port name: those of its running cluster, or ports claimed now for
	// the cluster Ensure creates, which uses exactly these. A claim is
	// held until the Provider is closed (io.Closer); an error names a
	// port another stack or program holds.
	ClaimPorts(ctx context.Context, name string) (map[string]int, error)
}

// ContainerRuntime is a Provider whose nodes run on a local container
// tool: images of the run are built and saved with the same tool.
type ContainerRuntime interface {
	// Runtime returns the tool's name, "docker" or "podman".
	Runtime() string
}

// Event is one step of a cluster's life (creating, reusing, deleting), for
// progress output.
type Event struct {
	Cluster string
	Message string
	Elapsed time.Duration
}

// WatchAPI is the loop of a Monitor: every min(1 s, grace/4) it runs check
// (nil: none), which ends the watch at once with its error, then probe,
// whose failures end it once they have lasted grace with no success
// between. It returns nil when ctx ends first.
func WatchAPI(ctx context.Context, grace time.Duration, check, probe func(context.Context) error) error {
	every := min(time.Second, grace/4)
	t := time.NewTicker(every)
	defer t.Stop()
	var silent time.Time // since when probe has failed
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if check != nil {
			if err := check(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		pctx, cancel := context.WithTimeout(ctx, 2*every)
		err := probe(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			silent = time.Time{}
		case silent.IsZero():
			silent = time.Now()
		case time.Since(silent) >= grace:
			return fmt.Errorf("API server has not answered for %s: %w", grace.Round(time.Second), err)
		}
	}
}
