package apply

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

var (
	crdGVR        = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
)

// NoAPIError is returned by Apply when ctx ends while the object waits for
// an API to serve its kind. It unwraps to the context's error.
type NoAPIError struct {
	// Object names the object as errors do ("crs.yaml:3: Widget ns/w1").
	Object string
	// GVK is the kind no API serves.
	GVK schema.GroupVersionKind
	// Err is why waiting stopped (ctx.Err()).
	Err error
	// Last is the last discovery failure seen while waiting, if any.
	Last error
}

// Error says which object waited for which kind, and why it stopped.
func (e *NoAPIError) Error() string {
	s := fmt.Sprintf("%s: no API serves %s kind %s; is its CRD in the stack? (stopped waiting: %v",
		e.Object, e.GVK.GroupVersion(), e.GVK.Kind, e.Err)
	if e.Last != nil {
		s += fmt.Sprintf("; last discovery error: %v", e.Last)
	}
	return s + ")"
}

// Unwrap returns the context's error.
func (e *NoAPIError) Unwrap() error { return e.Err }

// kindWaiter lets objects wait for their kind to be served.
//
// While any object waits, one goroutine (run) watches
// CustomResourceDefinitions and APIServices. When one that serves a
// waited-for kind becomes Established (Available), it resets the RESTMapper
// and reads discovery once, then wakes every waiting object to look again.
// An object that starts waiting for a kind that is already Established (the
// RESTMapper's discovery may predate it) asks for the same. Requests that
// arrive during a refresh are folded into the next one, so a hundred
// waiting objects cost a few refreshes, not a hundred; objects waiting for
// a CRD that does not exist yet cost none until it does. A CRD can be
// Established a moment before discovery lists it; while that is so, run
// refreshes again with backoff. When the last object stops waiting, run
// stops.
//
// Watching needs permission to list and watch CRDs (and APIServices);
// without it, waiting objects are woken only by their context.
type kindWaiter struct {
	a    *Applier
	kick chan struct{} // buffered (1): a refresh is wanted

	mu      sync.Mutex
	waiting map[schema.GroupVersionKind]int
	changed chan struct{} // closed, and replaced, after every refresh
	stop    context.CancelFunc
	state   *kindState // of the current run
}

// kindState is what one run's watches have seen.
type kindState struct {
	crds map[string][]schema.GroupVersionKind // Established CRD name -> kinds it serves
	apis map[string]schema.GroupVersion       // Available aggregated APIService name -> group/version
}

func newKindWaiter(a *Applier) *kindWaiter {
	return &kindWaiter{
		a:       a,
		kick:    make(chan struct{}, 1),
		waiting: map[schema.GroupVersionKind]int{},
		changed: make(chan struct{}),
	}
}

// wait returns the mapping of gvk once discovery serves it, or a
// *NoAPIError when ctx ends first. name names the object in messages.
func (w *kindWaiter) wait(ctx context.Context, gvk schema.GroupVersionKind, name string) (*meta.RESTMapping, error) {
	w.a.logf("%s: waiting for an API to serve %s kind %s", name, gvk.GroupVersion(), gvk.Kind)
	start := time.Now()
	changed := w.add(gvk)
	defer w.remove(gvk)
	var last error
	for {
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, &NoAPIError{Object: name, GVK: gvk, Err: ctx.Err(), Last: last}
		}
		changed = w.current()
		m, err := w.a.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
		if err == nil {
			w.a.logf("%s: %s kind %s is served (waited %s)", name, gvk.GroupVersion(), gvk.Kind, time.Since(start).Round(time.Millisecond))
			return m, nil
		}
		if !meta.IsNoMatchError(err) {
			last = err // a failed discovery read: the next refresh may do better
		}
	}
}

// add registers a waiting object, starting run if it is the first, and
// returns the channel the next refresh closes. If the kind is known to be
// served already, it asks for a refresh.
func (w *kindWaiter) add(gvk schema.GroupVersionKind) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting[gvk]++
	if w.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		w.stop = cancel
		st := &kindState{crds: map[string][]schema.GroupVersionKind{}, apis: map[string]schema.GroupVersion{}}
		w.state = st
		go w.run(ctx, st)
	}
	if w.servedLocked(gvk, true) {
		w.request()
	}
	return w.changed
}

// remove unregisters a waiting object and stops run after the last.
func (w *kindWaiter) remove(gvk schema.GroupVersionKind) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting[gvk]--; w.waiting[gvk] <= 0 {
		delete(w.waiting, gvk)
	}
	if len(w.waiting) == 0 && w.stop != nil {
		w.stop()
		w.stop, w.state = nil, nil
	}
}

// current returns the channel the next refresh closes.
func (w *kindWaiter) current() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// request asks run for a refresh; requests made before it starts one are
// one request.
func (w *kindWaiter) request() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// servedLocked reports whether the watches saw an Established CRD serving
// gvk, or (if apis) an Available aggregated APIService serving its
// group/version.
func (w *kindWaiter) servedLocked(gvk schema.GroupVersionKind, apis bool) bool {
	if w.state == nil {
		return false
	}
	for _, kinds := range w.state.crds {
		if slices.Contains(kinds, gvk) {
			return true
		}
	}
	if apis {
		for _, gv := range w.state.apis {
			if gv == gvk.GroupVersion() {
				return true
			}
		}
	}
	return false
}

// wantedLocked reports whether an object waits for gvk (kind "": any kind
// of its group/version).
func (w *kindWaiter) wantedLocked(gvk schema.GroupVersionKind) bool {
	for k := range w.waiting {
		if k.GroupVersion() == gvk.GroupVersion() && (gvk.Kind == "" || k.Kind == gvk.Kind) {
			return true
		}
	}
	return false
}

// onCRD records a CRD event of run st and asks for a refresh if the CRD
// serves a waited-for kind.
func (w *kindWaiter) onCRD(st *kindState, t watch.EventType, u *unstructured.Unstructured) {
	kinds := crdKinds(u)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != st {
		return // a stopped run
	}
	if t == watch.Deleted || len(kinds) == 0 {
		delete(st.crds, u.GetName())
		return
	}
	st.crds[u.GetName()] = kinds
	for _, k := range kinds {
		if w.wantedLocked(k) {
			w.request()
			return
		}
	}
}

// onAPIService records an event of an aggregated APIService (one backed by
// a service, not by the API server itself or a CRD) of run st, and asks for
// a refresh if it serves the group/version of a waited-for kind.
func (w *kindWaiter) onAPIService(st *kindState, t watch.EventType, u *unstructured.Unstructured) {
	if svc, _, _ := unstructured.NestedMap(u.Object, "spec", "service"); svc == nil {
		return
	}
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	version, _, _ := unstructured.NestedString(u.Object, "spec", "version")
	gv := schema.GroupVersion{Group: group, Version: version}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != st {
		return
	}
	if t == watch.Deleted || !conditionTrue(u, "Available") {
		delete(st.apis, u.GetName())
		return
	}
	st.apis[u.GetName()] = gv
	if w.wantedLocked(gv.WithKind("")) {
		w.request()
	}
}

// run refreshes discovery when asked, until ctx ends.
func (w *kindWaiter) run(ctx context.Context, st *kindState) {
	go w.watch(ctx, crdGVR, func(t watch.EventType, u *unstructured.Unstructured) { w.onCRD(st, t, u) })
	go w.watch(ctx, apiServiceGVR, func(t watch.EventType, u *unstructured.Unstructured) { w.onAPIService(st, t, u) })

	var retry backoff
	var timer *time.Timer
	var again <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-w.kick:
		case <-again:
		}
		pending := w.refresh(ctx, st)
		if timer != nil {
			timer.Stop()
		}
		timer, again = nil, nil
		if pending {
			// Established but not yet in discovery, which has no watch:
			// look again shortly.
			d := min(50*time.Millisecond<<min(retry.n, 6), 2*time.Second)
			retry.n++
			timer = time.NewTimer(d)
			again = timer.C
		} else {
			retry = backoff{}
		}
	}
}

// refresh re-reads discovery, wakes the waiting objects and reports
// whether a kind an Established CRD serves is still missing (or discovery
// failed), so that run should look again.
func (w *kindWaiter) refresh(ctx context.Context, st *kindState) bool {
	w.a.mapper.ResetWithContext(ctx)
	w.mu.Lock()
	kinds := make([]schema.GroupVersionKind, 0, len(w.waiting))
	for gvk := range w.waiting {
		kinds = append(kinds, gvk)
	}
	w.mu.Unlock()
	pending := false
	for _, gvk := range kinds {
		_, err := w.a.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
		if err != nil && !meta.IsNoMatchError(err) {
			pending = true // discovery failed: every check would read it again
			break
		}
		if err != nil {
			w.mu.Lock()
			pending = pending || (w.state == st && w.servedLocked(gvk, false))
			w.mu.Unlock()
		}
	}
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
	return pending
}

// watch feeds every change of resource gvr to on, until ctx ends.
func (w *kindWaiter) watch(ctx context.Context, gvr schema.GroupVersionResource, on func(watch.EventType, *unstructured.Unstructured)) {
	err := watchUntil(ctx, w.a.quiet.Resource(gvr), metav1.ListOptions{},
		func(items []unstructured.Unstructured) bool {
			for i := range items {
				on(watch.Added, &items[i])
			}
			return false
		},
		func(t watch.EventType, u *unstructured.Unstructured) bool {
			on(t, u)
			return false
		})
	if err != nil && ctx.Err() == nil {
		w.a.logf("watch %s: %v", gvr.Resource, err)
	}
}

// crdKinds returns the kinds a CRD serves, if it is Established.
func crdKinds(u *unstructured.Unstructured) []schema.GroupVersionKind {
	if !conditionTrue(u, "Established") {
		return nil
	}
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
	var out []schema.GroupVersionKind
	for _, v := range versions {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		served, _ := m["served"].(bool)
		if name != "" && served {
			out = append(out, schema.GroupVersionKind{Group: group, Version: name, Kind: kind})
		}
	}
	return out
}

// conditionTrue reports whether u's status has condition typ with status
// "True".
func conditionTrue(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}
