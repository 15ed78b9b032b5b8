package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kubetestbed/testbed/internal/apply"
	"github.com/kubetestbed/testbed/internal/ready"
)

// client is what the seed-style strategies deploy and poll with: testbed's
// server-side applier (so the apply itself costs the same as testbed's) and
// plain GETs judged by testbed's pure readiness rules (so "ready" means the
// same; only how and when it is asked differs).
type client struct {
	app   *apply.Applier
	dyn   dynamic.Interface
	disco discovery.DiscoveryInterface
	crds  map[string]bool // group/Kind -> status subresource, from the plan
}

func newClient(cfg *rest.Config, p *plan) (*client, error) {
	app, err := apply.New(cfg, apply.Options{FieldManager: "bench"})
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = apply.MinQPS, apply.MinBurst
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &client{app: app, dyn: dyn, disco: disco, crds: p.crds}, nil
}

// applied is an object as the API server stored it.
type applied struct {
	gvr             schema.GroupVersionResource
	gk              string // group/Kind
	namespace, name string
}

func (a applied) String() string {
	if a.namespace == "" {
		return a.gk + " " + a.name
	}
	return a.gk + " " + a.namespace + "/" + a.name
}

// applyComponent server-side-applies a component's objects one after the
// other, in file order, as `kubectl apply -f` does.
func (cl *client) applyComponent(ctx context.Context, p *plan, c *component) ([]applied, error) {
	var out []applied
	for _, o := range c.objs {
		res, err := cl.app.ApplyFrom(ctx, o.u, p.s.Spec.Namespace, o.source)
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", c.c.Name, err)
		}
		m, err := cl.app.Mapping(res.GroupVersionKind())
		if err != nil {
			return nil, fmt.Errorf("component %s: %s: %w", c.c.Name, o.source, err)
		}
		out = append(out, applied{gvr: m.Resource, gk: groupKind(res), namespace: res.GetNamespace(), name: res.GetName()})
	}
	return out, nil
}

// ready GETs every object and judges it by testbed's rules: a Service with
// the EndpointSlices that belong to it, a CRD with whether discovery serves
// it, a custom resource with whether its CRD has a status subresource. It
// says why when something is not ready.
func (cl *client) ready(ctx context.Context, objs []applied) (bool, string) {
	for _, a := range objs {
		r, err := cl.status(ctx, a)
		if err != nil {
			return false, fmt.Sprintf("%s: %v", a, err)
		}
		if r.Status != ready.Ready {
			return false, fmt.Sprintf("%s: %s", a, r)
		}
	}
	return true, ""
}

func (cl *client) status(ctx context.Context, a applied) (ready.Result, error) {
	u, err := cl.dyn.Resource(a.gvr).Namespace(a.namespace).Get(ctx, a.name, metav1.GetOptions{})
	if err != nil {
		return ready.Result{}, err
	}
	switch a.gk {
	case "/Service":
		list, err := cl.dyn.Resource(endpointSlices).Namespace(a.namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + a.name})
		if err != nil {
			return ready.Result{}, err
		}
		slices := make([]*unstructured.Unstructured, len(list.Items))
		for i := range list.Items {
			slices[i] = &list.Items[i]
		}
		return ready.Service(u, slices), nil
	case "apiextensions.k8s.io/CustomResourceDefinition":
		return ready.CRD(u, cl.served(u)), nil
	}
	if hasStatus, ok := cl.crds[a.gk]; ok {
		return ready.CustomResource(u, hasStatus), nil
	}
	return ready.Compute(u), nil
}

var endpointSlices = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}

// served reports whether discovery serves the CRD's resource in every
// version it marks served.
func (cl *client) served(crd *unstructured.Unstructured) bool {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if served, _ := m["served"].(bool); !served {
			continue
		}
		name, _ := m["name"].(string)
		list, err := cl.disco.ServerResourcesForGroupVersion(group + "/" + name)
		if err != nil || !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == plural }) {
			return false
		}
	}
	return true
}

// clusterTimes reads, after a run, when the cluster itself started and
// had ready the objects of a component, from the timestamps the API server
// and controllers write (whole seconds): started is the earliest
// creationTimestamp; ready the latest of a Deployment's Available
// condition, a Job's completionTime and a CRD's Established condition (or
// started, for components of kinds that carry none). Both are offsets from
// start, truncated to the second like the timestamps.
func (cl *client) clusterTimes(ctx context.Context, objs []applied, start time.Time) (started, readyAt time.Duration, ok bool) {
	var first, last time.Time
	for _, a := range objs {
		u, err := cl.dyn.Resource(a.gvr).Namespace(a.namespace).Get(ctx, a.name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		if t := u.GetCreationTimestamp().Time; first.IsZero() || t.Before(first) {
			first = t
		}
		var at string
		switch a.gk {
		case "apps/Deployment":
			at = conditionTime(u, "Available")
		case "batch/Job":
			at, _, _ = unstructured.NestedString(u.Object, "status", "completionTime")
		case "apiextensions.k8s.io/CustomResourceDefinition":
			at = conditionTime(u, "Established")
		}
		if t, err := time.Parse(time.RFC3339, at); err == nil && t.After(last) {
			last = t
		}
	}
	if first.IsZero() {
		return 0, 0, false
	}
	if last.Before(first) {
		last = first
	}
	base := start.Truncate(time.Second)
	return first.Sub(base), last.Sub(base), true
}

// conditionTime is the lastTransitionTime of a True condition, or "".
func conditionTime(u *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && strings.EqualFold(fmt.Sprint(m["status"]), "True") {
			s, _ := m["lastTransitionTime"].(string)
			return s
		}
	}
	return ""
}
