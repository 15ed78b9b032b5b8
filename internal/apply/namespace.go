package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
)

var namespaceGVR = corev1.SchemeGroupVersion.WithResource("namespaces")

// nsEntry is a namespace being ensured (done open) or known to exist (done
// closed, err nil). Entries whose ensuring failed are removed.
type nsEntry struct {
	done chan struct{}
	err  error
}

// ensureNamespace makes sure namespace ns exists, creating it (with the
// testbed labels among objLabels) if it does not. Of the goroutines that
// ask at once, one does the work and the others wait for it; if it fails
// they try themselves, so that one goroutine's cancelled context does not
// fail the others.
func (a *Applier) ensureNamespace(ctx context.Context, ns string, objLabels map[string]string) error {
	for {
		a.mu.Lock()
		e := a.namespaces[ns]
		if e == nil {
			e = &nsEntry{done: make(chan struct{})}
			a.namespaces[ns] = e
			a.mu.Unlock()
			created, err := a.createNamespace(ctx, ns, objLabels)
			a.mu.Lock()
			e.err = err
			if err != nil {
				delete(a.namespaces, ns)
			} else if created && !slices.Contains(a.created, ns) {
				a.created = append(a.created, ns)
			}
			close(e.done)
			a.mu.Unlock()
			return err
		}
		a.mu.Unlock()
		select {
		case <-e.done:
			if e.err == nil {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// createNamespace creates ns unless it exists, and reports whether it
// created it. A namespace being deleted is waited for, then created.
func (a *Applier) createNamespace(ctx context.Context, ns string, objLabels map[string]string) (bool, error) {
	ri := a.dyn.Resource(namespaceGVR)
	for {
		got, err := ri.Get(ctx, ns, metav1.GetOptions{})
		switch {
		case err == nil:
			phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
			if phase != string(corev1.NamespaceTerminating) {
				return false, nil
			}
			a.logf("namespace %s is being deleted; waiting to create it again", ns)
			opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", ns).String()}
			if err := waitGone(ctx, ri, opts, map[types.UID]string{got.GetUID(): ns}); err != nil {
				return false, fmt.Errorf("wait for the deletion of namespace %s: %w", ns, err)
			}
			continue
		case !apierrors.IsNotFound(err):
			return false, err
		}

		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion("v1")
		obj.SetKind("Namespace")
		obj.SetName(ns)
		labels := map[string]string{}
		for _, k := range []string{LabelManagedBy, LabelStack} {
			if v, ok := objLabels[k]; ok {
				labels[k] = v
			}
		}
		if len(labels) > 0 {
			obj.SetLabels(labels)
		}
		_, err = ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: a.fieldManager})
		switch {
		case err == nil:
			a.logf("created namespace %s", ns)
			return true, nil
		case apierrors.IsAlreadyExists(err):
			continue // someone else created it; look again (it may be terminating)
		default:
			return false, err
		}
	}
}

// forgetNamespace drops what this Applier knows about ns, so that the next
// object going into it makes sure of it again.
func (a *Applier) forgetNamespace(ns string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.namespaces[ns]; e != nil && isClosed(e.done) {
		delete(a.namespaces, ns)
	}
}

// namespaceGone reports whether err says that namespace ns does not exist
// or is being deleted.
func namespaceGone(err error, ns string) bool {
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return true
	}
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "namespaces" && d.Name == ns
}
