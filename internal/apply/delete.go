package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
)

// How many list and delete calls DeleteAll makes at once.
const deleteConcurrency = 32

// resourceType is one listable, deletable resource of the cluster.
type resourceType struct {
	gvr  schema.GroupVersionResource
	kind string
}

// found are the objects of one resource type that DeleteAll selected.
type found struct {
	rt    resourceType
	items []unstructured.Unstructured
}

// errList collects errors from many goroutines.
type errList struct {
	mu   sync.Mutex
	errs []error
}

func (l *errList) add(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

// DeleteAll deletes every object that selector selects (for a stack:
// Selector(name)), of every resource type the cluster can list and delete,
// then the namespaces in namespaces (typically CreatedNamespaces()), and
// waits until all of them are gone, bounded by ctx. Objects whose
// controlling owner is selected too are left to the garbage collector (and
// waited for). An empty selector is refused: it would select everything.
//
// Every failure is collected and returned together (errors.Join); one
// never stops the rest of the teardown. A resource type discovery could not
// read is among them, since its objects could not be checked.
func (a *Applier) DeleteAll(ctx context.Context, selector string, namespaces []string) error {
	sel, err := labels.Parse(selector)
	if err != nil {
		return fmt.Errorf("delete: selector %q: %w", selector, err)
	}
	if sel.Empty() {
		return errors.New("delete: refusing an empty selector, which selects every object")
	}
	var errs errList

	rts, err := a.deletableTypes(ctx)
	if err != nil {
		if len(rts) == 0 {
			return fmt.Errorf("delete: discovery: %w", err)
		}
		errs.add(fmt.Errorf("delete: discovery: %w", err))
	}

	// List what the selector selects, of every type at once.
	lists := make([]found, len(rts))
	forEach(len(rts), func(i int) {
		rt := rts[i]
		l, err := a.quiet.Resource(rt.gvr).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		switch {
		case apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err):
		case err != nil:
			errs.add(fmt.Errorf("delete: list %s: %w", rt.gvr.GroupResource(), err))
		default:
			lists[i] = found{rt: rt, items: l.Items}
		}
	})
	selected := map[types.UID]bool{}
	var targets []target
	for _, f := range lists {
		for i := range f.items {
			selected[f.items[i].GetUID()] = true
		}
	}
	var namespaced []string // namespaces selected by label, deleted like any object
	for _, f := range lists {
		for i := range f.items {
			o := &f.items[i]
			if f.rt.gvr == namespaceGVR {
				namespaced = append(namespaced, o.GetName())
			}
			if c := metav1.GetControllerOfNoCopy(o); c != nil && selected[c.UID] {
				continue // the garbage collector deletes it with its owner
			}
			targets = append(targets, target{rt: f.rt, ns: o.GetNamespace(), name: o.GetName(), uid: o.GetUID()})
		}
	}

	// Then the namespaces asked for, that exist.
	nsUIDs := map[types.UID]string{}
	for _, ns := range namespaces {
		got, err := a.quiet.Resource(namespaceGVR).Get(ctx, ns, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs.add(fmt.Errorf("delete: namespace %s: %w", ns, err))
		default:
			nsUIDs[got.GetUID()] = ns
			targets = append(targets, target{rt: resourceType{gvr: namespaceGVR, kind: "Namespace"}, name: ns, uid: got.GetUID()})
		}
	}
	a.logf("deleting %d objects (%s) and %d namespaces", len(targets), sel, len(nsUIDs))

	forEach(len(targets), func(i int) {
		t := targets[i]
		policy := metav1.DeletePropagationBackground
		err := a.quiet.Resource(t.rt.gvr).Namespace(t.ns).Delete(ctx, t.name, metav1.DeleteOptions{
			PropagationPolicy: &policy,
			Preconditions:     &metav1.Preconditions{UID: &t.uid},
		})
		// Gone already, or replaced by another object of the same name
		// (the UID precondition failed): not ours to delete.
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs.add(fmt.Errorf("delete %s: %w", describeRef("", t.rt.kind, t.ns, t.name), err))
		}
	})

	// Wait for every selected object and every namespace to be gone.
	var waits []func()
	for _, f := range lists {
		if len(f.items) == 0 {
			continue
		}
		uids := map[types.UID]string{}
		for i := range f.items {
			o := &f.items[i]
			uids[o.GetUID()] = nsName(o.GetNamespace(), o.GetName())
		}
		waits = append(waits, func() {
			err := waitGone(ctx, a.quiet.Resource(f.rt.gvr), metav1.ListOptions{LabelSelector: sel.String()}, uids)
			if err != nil {
				errs.add(fmt.Errorf("delete: wait for %s: %w", f.rt.gvr.GroupResource(), err))
			}
		})
	}
	for uid, ns := range nsUIDs {
		waits = append(waits, func() {
			opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", ns).String()}
			if err := waitGone(ctx, a.quiet.Resource(namespaceGVR), opts, map[types.UID]string{uid: ns}); err != nil {
				errs.add(fmt.Errorf("delete: wait for namespace %s: %w", ns, err))
			}
		})
	}
	var wg sync.WaitGroup
	for _, w := range waits {
		wg.Go(w)
	}
	wg.Wait()

	// Forget what no longer exists: namespaces to create again, kinds whose
	// CRDs are gone.
	var gone []string
	for _, ns := range append(namespaced, namespaces...) {
		if _, err := a.quiet.Resource(namespaceGVR).Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			gone = append(gone, ns)
			a.forgetNamespace(ns)
		}
	}
	a.mu.Lock()
	a.created = slices.DeleteFunc(a.created, func(ns string) bool { return slices.Contains(gone, ns) })
	a.mu.Unlock()
	a.mapper.ResetWithContext(ctx)

	return errors.Join(errs.errs...)
}

// target is one object DeleteAll deletes.
type target struct {
	rt       resourceType
	ns, name string
	uid      types.UID
}

// deletableTypes returns the resource types the cluster can list and
// delete, in their preferred versions. With a partial discovery failure it
// returns what it could read and the error.
func (a *Applier) deletableTypes(ctx context.Context) ([]resourceType, error) {
	lists, err := discovery.ServerPreferredResourcesWithContext(ctx, a.discovery)
	var out []resourceType
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			out = append(out, resourceType{gvr: gv.WithResource(r.Name), kind: r.Kind})
		}
	}
	return out, err
}

// forEach calls f(0) ... f(n-1), deleteConcurrency at a time, and returns
// when all have returned.
func forEach(n int, f func(int)) {
	sem := make(chan struct{}, deleteConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// nsName is "namespace/name", or "name" without a namespace.
func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}
