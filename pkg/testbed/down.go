package testbed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubetestbed/testbed/internal/apply"
	"github.com/kubetestbed/testbed/internal/cluster"
	"github.com/kubetestbed/testbed/internal/ready"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// ErrNotRunning is returned (wrapped) by Down and Status for a stack that is
// not running.
var ErrNotRunning = errors.New("not running")

// Down tears stack s down: on a provider that owns its clusters (sim) it
// removes the stack's cluster; on one that does not (kubeconfig) it
// deletes every object testbed applied for the stack (by label) and the
// namespaces it created, nothing else. A stack that is not running returns
// an error wrapping ErrNotRunning.
func Down(ctx context.Context, s *stack.Stack, opts Options) error {
	emit := func(ev Event) {
		if opts.OnEvent != nil {
			opts.OnEvent(ev)
		}
	}
	p, err := providerFor(s, opts, emit)
	if err != nil {
		return err
	}
	if d, ok := p.(cluster.Deleter); ok {
		err := d.Delete(ctx, s.Metadata.Name)
		if errors.Is(err, cluster.ErrNotFound) {
			return fmt.Errorf("stack %s: %w (no %s cluster %q)", s.Metadata.Name, ErrNotRunning, p.Name(), s.Metadata.Name)
		}
		return infraOrNil(err)
	}
	c, err := p.Find(ctx, s.Metadata.Name)
	if err != nil {
		return infraErr(err)
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		return infraErr(err)
	}
	app, err := apply.New(cfg, apply.Options{})
	if err != nil {
		return infraErr(err)
	}
	emit(Event{State: StateCluster, Detail: "deleting every object labelled " + apply.Selector(s.Metadata.Name), At: time.Now()})
	// Namespaces testbed created carry the stack's labels: the selector
	// finds them; pre-existing namespaces are left alone.
	return infraOrNil(app.DeleteAll(ctx, apply.Selector(s.Metadata.Name), nil))
}

func infraOrNil(err error) error {
	if err == nil {
		return nil
	}
	return infraErr(err)
}

// ComponentStatus is the readiness of one component of a running stack.
type ComponentStatus struct {
	Name  string
	Ready bool
	// Reason lists what is not ready, object by object.
	Reason string
}

// Status reports the readiness of every component of a running stack, as
// the readiness rules see it now.
func Status(ctx context.Context, s *stack.Stack, opts Options) ([]ComponentStatus, error) {
	plan, err := NewPlan(s, opts)
	if err != nil {
		return nil, err
	}
	c, err := plan.provider.Find(ctx, s.Metadata.Name)
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, fmt.Errorf("stack %s: %w (%v)", s.Metadata.Name, ErrNotRunning, err)
	}
	if err != nil {
		return nil, infraErr(err)
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, infraErr(err)
	}
	r := &run{s: s, opts: opts, docs: plan.docs}
	app, err := apply.New(cfg, apply.Options{})
	if err != nil {
		return nil, &Error{Kind: KindInfra, Err: err}
	}
	tr, err := ready.NewTracker(cfg, ready.TrackerOptions{Selector: apply.Selector(s.Metadata.Name)})
	if err != nil {
		return nil, &Error{Kind: KindInfra, Err: err}
	}
	defer tr.Stop()

	out := make([]ComponentStatus, len(s.Spec.Components))
	var wg sync.WaitGroup
	for i, c := range s.Spec.Components {
		out[i].Name = c.Name
		if c.Run != nil {
			// A host command has no objects to look at: it ran, and
			// succeeded, during the up that brought the stack here.
			out[i].Ready = true
			out[i].Reason = "run step (ran during up; not re-run)"
			continue
		}
		var refs []ready.ObjectRef
		for _, d := range r.docs[c.Name] {
			obj := &unstructured.Unstructured{Object: d.Object}
			m, err := app.Mapping(obj.GroupVersionKind())
			if err != nil {
				out[i].Reason = fmt.Sprintf("%s: %v", d.Source(), err)
				refs = nil
				break
			}
			ns := obj.GetNamespace()
			if ns == "" && m.Scope.Name() == "namespace" {
				ns = s.Spec.Namespace
			}
			refs = append(refs, ready.ObjectRef{GVR: m.Resource, Kind: obj.GetKind(), Namespace: ns, Name: obj.GetName()})
		}
		if refs == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Wait returns at once when everything is ready; otherwise the
			// short deadline gives the watches time to report what they see.
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if err := tr.Wait(wctx, refs); err != nil {
				out[i].Reason = err.Error()
				// Not ready yet is not a timeout: status looks, it does
				// not wait.
				var te *ready.TimeoutError
				if errors.As(err, &te) && ctx.Err() == nil {
					out[i].Reason = "not ready: " + te.PendingString()
				}
				return
			}
			out[i].Ready = true
		}()
	}
	wg.Wait()
	return out, nil
}
