package ready

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/kubetestbed/testbed/internal/apigroups"
)

// protoSource lists and watches the built-in kinds in protobuf, decoded
// into their Go types and turned into the unstructured objects the rules
// read as they enter the cache.
//
// The dynamic client speaks JSON only, and a JSON watch event is parsed
// three times on its way to an unstructured object (to find the frame, to
// find its kind, to decode it): on a bring-up of hundreds of components
// that was about 40 % of testbed's CPU, on a machine it shares with the
// API server. Protobuf frames are length-prefixed and decode without a
// scan. Custom resources and CRDs have no protobuf encoding and stay on the
// dynamic client.
type protoSource struct {
	base *rest.Config // with the one rate limiter all clients share
	http *http.Client // shared by all clients: one connection

	mu      sync.Mutex
	clients map[schema.GroupVersion]rest.Interface
}

func newProtoSource(cfg *rest.Config) (*protoSource, error) {
	base := rest.CopyConfig(cfg)
	if base.RateLimiter == nil && base.QPS > 0 {
		base.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(base.QPS, base.Burst)
	}
	hc, err := rest.HTTPClientFor(base)
	if err != nil {
		return nil, fmt.Errorf("ready: HTTP client: %w", err)
	}
	return &protoSource{base: base, http: hc, clients: map[schema.GroupVersion]rest.Interface{}}, nil
}

// protoKind returns the Go type's GroupVersionKind for gvr and kind, and
// whether the built-in scheme knows it (and so whether it can be watched in
// protobuf).
func protoKind(gvr schema.GroupVersionResource, kind string) (schema.GroupVersionKind, bool) {
	if kind == "" || !apigroups.Builtin(gvr.Group) {
		return schema.GroupVersionKind{}, false
	}
	gvk := gvr.GroupVersion().WithKind(kind)
	if !scheme.Scheme.Recognizes(gvk) || !scheme.Scheme.Recognizes(gvr.GroupVersion().WithKind(kind+"List")) {
		return schema.GroupVersionKind{}, false
	}
	return gvk, true
}

func (p *protoSource) client(gv schema.GroupVersion) (rest.Interface, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.clients[gv]; c != nil {
		return c, nil
	}
	cfg := rest.CopyConfig(p.base)
	cfg.GroupVersion = &gv
	cfg.APIPath = "/apis"
	if gv.Group == "" {
		cfg.APIPath = "/api"
	}
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	c, err := rest.RESTClientForConfigAndClient(cfg, p.http)
	if err != nil {
		return nil, fmt.Errorf("ready: client for %s: %w", gv, err)
	}
	p.clients[gv] = c
	return c, nil
}

// listWatch returns the list-watch of gvr (of kind gvk), its example
// object, and the transform that turns its objects into unstructured ones.
func (p *protoSource) listWatch(gvr schema.GroupVersionResource, gvk schema.GroupVersionKind, tweak func(*metav1.ListOptions)) (cache.ListerWatcher, runtime.Object, cache.TransformFunc, error) {
	c, err := p.client(gvr.GroupVersion())
	if err != nil {
		return nil, nil, nil, err
	}
	example, err := scheme.Scheme.New(gvk)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("ready: %s: %w", gvk, err)
	}
	opts := func(o metav1.ListOptions) *metav1.ListOptions {
		if tweak != nil {
			tweak(&o)
		}
		return &o
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.Get().Resource(gvr.Resource).VersionedParams(opts(o), scheme.ParameterCodec).Do(ctx).Get()
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (apiwatch.Interface, error) {
			o.Watch = true
			return c.Get().Resource(gvr.Resource).VersionedParams(opts(o), scheme.ParameterCodec).Watch(ctx)
		},
	}
	return lw, example, toUnstructured(gvk), nil
}

// toUnstructured returns the transform of a typed informer: managed fields
// and whatever else no rule reads dropped (see dropUnread), then the object
// as the rules read it, with its apiVersion and kind (decoded typed objects
// carry neither). It is idempotent, as a transform must be: an unstructured
// object is slimmed and returned.
func toUnstructured(gvk schema.GroupVersionKind) cache.TransformFunc {
	return func(obj any) (any, error) {
		switch o := obj.(type) {
		case *unstructured.Unstructured:
			return slim(o)
		case runtime.Object:
			if a, err := meta.Accessor(o); err == nil {
				a.SetManagedFields(nil)
			}
			dropUnread(o)
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
			if err != nil {
				return nil, fmt.Errorf("ready: convert %s: %w", gvk.Kind, err)
			}
			u := &unstructured.Unstructured{Object: m}
			// The kind of the Go type the server's bytes decoded into,
			// in the version watched.
			if kinds, _, err := scheme.Scheme.ObjectKinds(o); err == nil && len(kinds) > 0 {
				u.SetGroupVersionKind(gvk.GroupVersion().WithKind(kinds[0].Kind))
			} else {
				u.SetGroupVersionKind(gvk)
			}
			return u, nil
		}
		return obj, nil
	}
}

// dropUnread empties the large parts of built-in objects that no rule
// reads, before the conversion walks every field by reflection: a pod's
// spec but its node, a workload's pod template (a Job's but its
// restartPolicy), a StatefulSet's claim templates. A pod without its spec
// converts in about half the time (BenchmarkWatchStream). A rule that comes
// to read one of these fields must keep it here; TestToUnstructuredMatchesJSON
// compares the rules' verdicts on the full objects and on these.
func dropUnread(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Spec = corev1.PodSpec{NodeName: o.Spec.NodeName}
	case *appsv1.Deployment:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.ReplicaSet:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.StatefulSet:
		o.Spec.Template = corev1.PodTemplateSpec{}
		o.Spec.VolumeClaimTemplates = nil
	case *appsv1.DaemonSet:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *batchv1.Job:
		o.Spec.Template = corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: o.Spec.Template.Spec.RestartPolicy}}
	}
}
