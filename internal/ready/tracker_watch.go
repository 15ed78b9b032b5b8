package ready

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/kubetestbed/testbed/internal/apigroups"
)

// The resources the tracker watches besides the tracked objects' own.
var (
	podsGVR           = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	replicaSetsGVR    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	endpointSlicesGVR = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	crdsGVR           = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

var (
	crdGK     = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	serviceGK = schema.GroupKind{Kind: "Service"}
	jobGK     = schema.GroupKind{Group: "batch", Kind: "Job"}
)

// Cache indexes on every watch.
const (
	// controllerIndex: "namespace/Kind/name" of an object's controller
	// (the owner reference with controller: true).
	controllerIndex = "testbed.dev/controller"
	// serviceIndex: "namespace/name" of an EndpointSlice's Service.
	serviceIndex = "testbed.dev/service"
)

// watch is one shared informer on one resource.
type watch struct {
	gvr      schema.GroupVersionResource
	informer cache.SharedIndexInformer
	reg      cache.ResourceEventHandlerRegistration
	cancel   context.CancelFunc
	proto    bool // listed and watched in protobuf

	mu  sync.Mutex
	err error // the latest list/watch error
}

// synced reports whether the initial list has been delivered to the
// tracker's handler.
func (w *watch) synced() bool { return w != nil && w.reg != nil && w.reg.HasSynced() }

func (w *watch) setErr(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

func (w *watch) lastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// get returns the cached object namespace/name.
func (w *watch) get(namespace, name string) (*unstructured.Unstructured, bool) {
	if w == nil {
		return nil, false
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	item, exists, err := w.informer.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return nil, false
	}
	u, ok := item.(*unstructured.Unstructured)
	return u, ok
}

// byIndex returns the cached objects with the given index value.
func (w *watch) byIndex(index, value string) []*unstructured.Unstructured {
	if w == nil {
		return nil
	}
	items, err := w.informer.GetIndexer().ByIndex(index, value)
	if err != nil {
		return nil
	}
	out := make([]*unstructured.Unstructured, 0, len(items))
	for _, item := range items {
		if u, ok := item.(*unstructured.Unstructured); ok {
			out = append(out, u)
		}
	}
	return out
}

func controllerKey(namespace, kind, name string) string { return namespace + "/" + kind + "/" + name }

func indexController(obj any) ([]string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	c := metav1.GetControllerOf(u)
	if c == nil {
		return nil, nil
	}
	return []string{controllerKey(u.GetNamespace(), c.Kind, c.Name)}, nil
}

func indexService(obj any) ([]string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	svc := u.GetLabels()[serviceNameLabel]
	if svc == "" {
		return nil, nil
	}
	return []string{u.GetNamespace() + "/" + svc}, nil
}

// slim drops what no rule reads before an object is cached: managed
// fields, and the schemas of CRDs (the CRD watch is cluster-wide and
// unfiltered, and schemas are most of a CRD's size).
func slim(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	u.SetManagedFields(nil)
	if u.GetKind() == "CustomResourceDefinition" {
		spec, _ := u.Object["spec"].(map[string]any)
		if versions, ok := spec["versions"].([]any); ok {
			for _, v := range versions {
				if m, ok := v.(map[string]any); ok {
					delete(m, "schema")
				}
			}
		}
	}
	return obj, nil
}

// isCustom reports whether r is a custom resource (or an aggregated API's):
// its group is not served by kube-apiserver itself.
func isCustom(r ObjectRef) bool { return !apigroups.Builtin(r.GVR.Group) }

// workloadKind reports whether objects of this group and kind have pods whose
// doom fails them.
func workloadKind(group, kind string) bool {
	switch group {
	case "apps", "extensions":
		switch kind {
		case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet":
			return true
		}
	case "batch":
		return kind == "Job"
	}
	return false
}

// resourceKind is a resource to watch and the kind of its objects.
type resourceKind struct {
	gvr  schema.GroupVersionResource
	kind string
}

var (
	podsKind           = resourceKind{podsGVR, "Pod"}
	replicaSetsKind    = resourceKind{replicaSetsGVR, "ReplicaSet"}
	endpointSlicesKind = resourceKind{endpointSlicesGVR, "EndpointSlice"}
	crdsKind           = resourceKind{crdsGVR, "CustomResourceDefinition"}
)

// watchesFor returns the resources to watch to evaluate r.
func watchesFor(r ObjectRef) []resourceKind {
	out := []resourceKind{{r.GVR, r.Kind}}
	switch {
	case r.GVR.Group == "" && r.Kind == "Service":
		out = append(out, endpointSlicesKind)
	case r.GVR.Group == "apps" && r.Kind == "Deployment":
		out = append(out, podsKind, replicaSetsKind)
	case workloadKind(r.GVR.Group, r.Kind):
		out = append(out, podsKind)
	case isCustom(r):
		out = append(out, crdsKind)
	}
	return out
}

// ensureWatchLocked starts a watch on rk unless there is one. t.mu is held.
func (t *Tracker) ensureWatchLocked(rk resourceKind) {
	if t.watches[rk.gvr] == nil {
		t.watches[rk.gvr] = t.startWatchLocked(rk.gvr, rk.kind)
	}
}

// startWatchLocked starts a shared informer on gvr (objects of kind; ""
// if not known), filtered by the tracker's selector (except for CRDs):
// in protobuf for a built-in kind when the tracker has a protobuf source,
// else through the dynamic client. Every event is dispatched to the
// tracked objects it concerns. Once the initial list is delivered, every
// tracked object is evaluated again, so that "not seen" is only ever
// concluded from a synced cache. t.mu is held.
func (t *Tracker) startWatchLocked(gvr schema.GroupVersionResource, kind string) *watch {
	var tweak dynamicinformer.TweakListOptionsFunc
	if sel := t.selector; sel != "" && gvr.GroupResource() != crdsGVR.GroupResource() {
		tweak = func(o *metav1.ListOptions) { o.LabelSelector = sel }
	}
	indexers := cache.Indexers{
		controllerIndex: indexController,
		serviceIndex:    indexService,
	}
	var (
		inf       cache.SharedIndexInformer
		transform cache.TransformFunc = slim
		isProto   bool
	)
	if gvk, ok := protoKind(gvr, kind); ok && t.proto != nil {
		// On error (a client that cannot be built), the dynamic client
		// below reports the same problem as the watch's error.
		if lw, example, tf, err := t.proto.listWatch(gvr, gvk, tweak); err == nil {
			inf, transform, isProto = cache.NewSharedIndexInformer(lw, example, 0, indexers), tf, true
		}
	}
	if inf == nil {
		inf = dynamicinformer.NewFilteredDynamicInformer(t.dyn, gvr, metav1.NamespaceAll, 0, indexers, tweak).Informer()
	}
	w := &watch{gvr: gvr, informer: inf, proto: isProto}
	// Neither can fail on an informer that has not started.
	_ = inf.SetTransform(transform)
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) { w.setErr(err) })
	on := func(obj any) { t.onEvent(gvr, obj) }
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    on,
		UpdateFunc: func(_, obj any) { on(obj) },
		DeleteFunc: on,
	})
	if err != nil {
		w.setErr(err)
	}
	w.reg = reg

	ctx, cancel := context.WithCancel(t.ctx)
	w.cancel = cancel
	t.wg.Add(2)
	go func() {
		defer t.wg.Done()
		inf.RunWithContext(ctx)
	}()
	go func() {
		defer t.wg.Done()
		if reg == nil {
			return
		}
		select {
		case <-reg.HasSyncedChecker().Done():
			t.enqueueAll()
		case <-ctx.Done():
		}
	}()
	return w
}

func (t *Tracker) enqueueAll() {
	t.mu.Lock()
	refs := make([]ObjectRef, 0, len(t.tracked))
	for r := range t.tracked {
		refs = append(refs, r)
	}
	t.mu.Unlock()
	for _, r := range refs {
		t.queue.Add(r)
	}
}

// onEvent queues every tracked object whose readiness an event on obj (of
// resource gvr) may change.
func (t *Tracker) onEvent(gvr schema.GroupVersionResource, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	t.mu.Lock()
	refs := t.dependentsLocked(gvr, u)
	t.wakeScheduledLocked()
	t.mu.Unlock()
	for _, r := range refs {
		t.queue.Add(r)
	}
}

// dependentsLocked returns the tracked objects an event on u concerns: u
// itself; for a pod, its controller and (through its ReplicaSet) its
// Deployment; for a ReplicaSet, its Deployment; for an EndpointSlice, its
// Service; for a CRD, its custom resources. t.mu is held.
func (t *Tracker) dependentsLocked(gvr schema.GroupVersionResource, u *unstructured.Unstructured) []ObjectRef {
	ns, name := u.GetNamespace(), u.GetName()
	out := append([]ObjectRef(nil), t.byObject[objectKey{gvr.GroupResource(), ns, name}]...)
	owner := func(c *metav1.OwnerReference) []ObjectRef {
		return t.byKind[kindKey{groupOf(c.APIVersion), c.Kind, ns, c.Name}]
	}
	switch gvr.GroupResource() {
	case podsGVR.GroupResource():
		c := metav1.GetControllerOf(u)
		if c == nil {
			break
		}
		out = append(out, owner(c)...)
		if c.Kind == "ReplicaSet" && groupOf(c.APIVersion) == "apps" {
			if rs, ok := t.watches[replicaSetsGVR].get(ns, c.Name); ok {
				if d := metav1.GetControllerOf(rs); d != nil {
					out = append(out, owner(d)...)
				}
			}
		}
	case replicaSetsGVR.GroupResource():
		if c := metav1.GetControllerOf(u); c != nil {
			out = append(out, owner(c)...)
		}
	case endpointSlicesGVR.GroupResource():
		if svc := u.GetLabels()[serviceNameLabel]; svc != "" {
			out = append(out, t.byKind[kindKey{"", "Service", ns, svc}]...)
		}
	case crdsGVR.GroupResource():
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
		out = append(out, t.byResource[schema.GroupResource{Group: group, Resource: plural}]...)
	}
	return out
}

// groupOf returns the group of an apiVersion ("apps/v1" → "apps", "v1" → "").
func groupOf(apiVersion string) string {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return ""
	}
	return gv.Group
}

// servedState is whether discovery serves a CRD's resources, for one UID
// and generation of the CRD.
type servedState struct {
	stamp    string
	served   bool
	checking bool
}

// crdServed reports whether discovery is known to serve the resources of
// an Established CRD. If not known, it starts checking in the background,
// and the CRD and its custom resources are evaluated again once they are
// served.
func (t *Tracker) crdServed(crd *unstructured.Unstructured) bool {
	f := newFields(crd.Object)
	if !f.is("Established", "True") || !f.is("NamesAccepted", "True") {
		return false
	}
	group, plural := f.str("spec", "group"), f.str("spec", "names", "plural")
	var versions []string
	for _, v := range f.objects("spec", "versions") {
		if served, _ := v.boolean("served"); served {
			versions = append(versions, v.str("name"))
		}
	}
	name := crd.GetName()
	stamp := fmt.Sprintf("%s/%d", crd.GetUID(), crd.GetGeneration())

	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.served[name]; s != nil && s.stamp == stamp && (s.served || s.checking) {
		return s.served
	}
	if t.stopped {
		return false
	}
	t.served[name] = &servedState{stamp: stamp, checking: true}
	t.wg.Add(1)
	go t.checkServed(name, stamp, group, plural, versions)
	return false
}

// checkServed asks discovery whether it serves plural.group in every
// version until it does, with a short backoff (25ms doubling to 1s):
// discovery cannot be watched, and it lags Established by well under a
// second. It gives up when the CRD changes (another check takes over) or
// the tracker stops.
func (t *Tracker) checkServed(name, stamp, group, plural string, versions []string) {
	defer t.wg.Done()
	current := func() bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		s := t.served[name]
		return s != nil && s.stamp == stamp
	}
	delay := 25 * time.Millisecond
	for !servedByDiscovery(t.disco, group, plural, versions) {
		timer := time.NewTimer(delay)
		select {
		case <-t.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		if !current() {
			return
		}
		delay = min(2*delay, time.Second)
	}

	t.mu.Lock()
	s := t.served[name]
	if s == nil || s.stamp != stamp || t.stopped {
		t.mu.Unlock()
		return
	}
	s.served, s.checking = true, false
	gr := schema.GroupResource{Group: group, Resource: plural}
	refs := append([]ObjectRef(nil), t.byObject[objectKey{crdsGVR.GroupResource(), "", name}]...)
	refs = append(refs, t.byResource[gr]...)
	// A watch on these custom resources started before they were served
	// fails its list and backs off for up to 30s: start it afresh.
	for gvr, w := range t.watches {
		if gvr.GroupResource() == gr && !w.synced() {
			w.cancel()
			t.watches[gvr] = t.startWatchLocked(gvr, "")
		}
	}
	t.mu.Unlock()
	for _, r := range refs {
		t.queue.Add(r)
	}
}

// servedByDiscovery reports whether discovery lists plural in group for
// every one of versions.
func servedByDiscovery(disco resourceLister, group, plural string, versions []string) bool {
	if len(versions) == 0 || plural == "" {
		return false
	}
	for _, v := range versions {
		list, err := disco.ServerResourcesForGroupVersion(schema.GroupVersion{Group: group, Version: v}.String())
		if err != nil || list == nil {
			return false
		}
		found := false
		for _, r := range list.APIResources {
			if r.Name == plural {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
