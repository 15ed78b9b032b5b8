// Package apply applies a stack's objects to a cluster with server-side
// apply, and deletes them again.
//
// Objects are applied concurrently, each in its own goroutine, with no
// layer barrier: an object whose namespace does not exist creates it first
// (once, however many objects go into it), and a custom resource whose CRD
// is still being applied waits, alone, until an API serves its kind.
// Decorate labels objects (and their pod templates) so that DeleteAll can
// find them again.
//
//	a, err := apply.New(cfg, apply.Options{Logf: logf})
//	if err != nil {
//		return err
//	}
//	g, ctx := errgroup.WithContext(ctx)
//	for _, doc := range docs { // stack.Document values of one component
//		obj := &unstructured.Unstructured{Object: doc.Object}
//		if err := apply.Decorate(obj, stackName, component, simAnnotations); err != nil {
//			return err
//		}
//		g.Go(func() error {
//			_, err := a.ApplyFrom(ctx, obj, namespace, doc.Source())
//			return err
//		})
//	}
//	if err := g.Wait(); err != nil {
//		return err // "deploy/db.yaml:3: Deployment ns/db: apply failed: ..."
//	}
//	...
//	// Teardown: everything labelled for the stack, then the namespaces
//	// testbed created.
//	err = a.DeleteAll(ctx, apply.Selector(stackName), a.CreatedNamespaces())
//
// The package never prints; progress goes to Options.Logf.
package apply
