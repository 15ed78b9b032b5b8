package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// watchUntil lists ri (with opts' selectors) and watches it from the
// list's resource version, listing again whenever the watch ends, until
// onList (given the listed items) or onEvent (given each added, modified or
// deleted object) returns true, or ctx ends. A resource that is not served
// lists as empty: its objects are gone. Failed lists and watches are
// retried with backoff; the last failure is in the error when ctx ends.
func watchUntil(ctx context.Context, ri dynamic.ResourceInterface, opts metav1.ListOptions,
	onList func([]unstructured.Unstructured) bool, onEvent func(watch.EventType, *unstructured.Unstructured) bool) error {
	var retry backoff
	var last error
	fail := func(err error) error {
		if last != nil {
			return fmt.Errorf("%w (last error: %v)", err, last)
		}
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		list, err := ri.List(ctx, opts)
		if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
			list, err = &unstructured.UnstructuredList{}, nil
		}
		if err != nil {
			last = err
			if !retry.wait(ctx) {
				return fail(ctx.Err())
			}
			continue
		}
		if onList(list.Items) {
			return nil
		}
		wopts := opts
		wopts.ResourceVersion = list.GetResourceVersion()
		wopts.AllowWatchBookmarks = true
		w, err := ri.Watch(ctx, wopts)
		if err != nil {
			last = err
			if !retry.wait(ctx) {
				return fail(ctx.Err())
			}
			continue
		}
		done, err := drain(ctx, w, onEvent)
		w.Stop()
		if done {
			return nil
		}
		if err != nil {
			last = err
			if !retry.wait(ctx) {
				return fail(ctx.Err())
			}
			continue
		}
		retry = backoff{} // the watch ended normally (server timeout): list again
	}
}

// drain passes w's events to onEvent until it returns true, the watch ends
// (false, nil) or reports an error.
func drain(ctx context.Context, w watch.Interface, onEvent func(watch.EventType, *unstructured.Unstructured) bool) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				if u, ok := ev.Object.(*unstructured.Unstructured); ok && onEvent(ev.Type, u) {
					return true, nil
				}
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return false, nil // list again, at once
				}
				return false, err
			}
		}
	}
}

// waitGone returns once none of the objects in uids (uid -> name for
// messages) exists in ri among those opts selects, or ctx ends.
func waitGone(ctx context.Context, ri dynamic.ResourceInterface, opts metav1.ListOptions, uids map[types.UID]string) error {
	left := make(map[types.UID]string, len(uids))
	for u, n := range uids {
		left[u] = n
	}
	err := watchUntil(ctx, ri, opts,
		func(items []unstructured.Unstructured) bool {
			present := make(map[types.UID]bool, len(items))
			for i := range items {
				present[items[i].GetUID()] = true
			}
			for u := range left {
				if !present[u] {
					delete(left, u)
				}
			}
			return len(left) == 0
		},
		func(t watch.EventType, u *unstructured.Unstructured) bool {
			if t == watch.Deleted {
				delete(left, u.GetUID())
			}
			return len(left) == 0
		})
	if err != nil {
		return fmt.Errorf("%d still present (%s): %w", len(left), names(left), err)
	}
	return nil
}

// names lists up to five of the names in m, sorted.
func names(m map[types.UID]string) string {
	var s []string
	for _, n := range m {
		s = append(s, n)
	}
	slices.Sort(s)
	if len(s) > 5 {
		s = append(s[:5], fmt.Sprintf("and %d more", len(s)-5))
	}
	return strings.Join(s, ", ")
}
