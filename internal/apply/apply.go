package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/kubetestbed/testbed/internal/apigroups"
)

// Client-side rate limits New sets when the config asks for less: the
// engine applies hundreds of objects at once, and client-go's defaults (5
// QPS, burst 10) would hold them back for seconds.
const (
	MinQPS   = 200
	MinBurst = 400
)

// DefaultFieldManager is the server-side apply field manager used when
// Options.FieldManager is empty.
const DefaultFieldManager = "testbed"

// Options configure an Applier.
type Options struct {
	// FieldManager is the server-side apply field manager
	// (DefaultFieldManager if empty).
	FieldManager string
	// Logf, if set, receives progress messages (namespaces created, objects
	// waiting for their kind, API server warnings). The Applier never
	// prints.
	Logf func(format string, args ...any)
	// MaxInFlight caps the apply requests in flight at once across every
	// caller of this Applier (default DefaultMaxInFlight). Without a cap a
	// stack of hundreds of components queues so many requests behind the
	// API server's serialised work (Service ClusterIP allocation) that
	// some pass its 34 s request timeout and fail with 504.
	MaxInFlight int
}

// DefaultMaxInFlight is Options.MaxInFlight's default.
const DefaultMaxInFlight = 48

// maxTransientRetries bounds the retries of an apply that failed for a
// reason that says nothing about the object: throttling (429), a server
// timeout (504) or a dropped connection.
const maxTransientRetries = 8

// Applier applies objects to one cluster with server-side apply. It is safe
// for concurrent use: the engine applies every object of a stack from its
// own goroutine.
type Applier struct {
	fieldManager string
	logf         func(string, ...any)

	dyn       dynamic.Interface
	quiet     dynamic.Interface                       // dyn without API server warnings: lists, watches, deletes
	discovery discovery.DiscoveryInterfaceWithContext // uncached, for DeleteAll
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	kinds     *kindWaiter

	inflight chan struct{} // one token per apply request in flight

	mu         sync.Mutex
	namespaces map[string]*nsEntry // namespaces known to exist, or being ensured
	created    []string            // namespaces this Applier created
}

// New returns an Applier for the cluster cfg points to. It works on a copy
// of cfg whose QPS and Burst are raised to MinQPS and MinBurst if they are
// lower (a negative QPS, meaning no limit, is kept), and whose API server
// warnings go to Options.Logf rather than to stderr.
func New(cfg *rest.Config, opts Options) (*Applier, error) {
	if cfg == nil {
		return nil, errors.New("apply: no REST config")
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS >= 0 && cfg.QPS < MinQPS {
		cfg.QPS = MinQPS
	}
	if cfg.Burst < MinBurst {
		cfg.Burst = MinBurst
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
		cfg.WarningHandler, cfg.WarningHandlerWithContext = rest.NoWarnings{}, nil
	} else {
		cfg.WarningHandler, cfg.WarningHandlerWithContext = nil, warningLogger(logf)
	}

	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	quietCfg := rest.CopyConfig(cfg)
	quietCfg.WarningHandler, quietCfg.WarningHandlerWithContext = rest.NoWarnings{}, nil
	quiet, err := dynamic.NewForConfigAndClient(quietCfg, hc)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(quietCfg, hc)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	dcc := discovery.ToDiscoveryInterfaceWithContext(dc)
	a := &Applier{
		fieldManager: opts.FieldManager,
		logf:         logf,
		dyn:          dyn,
		quiet:        quiet,
		discovery:    dcc,
		mapper:       restmapper.NewDeferredDiscoveryRESTMapperWithContext(memory.NewMemCacheClientWithContext(dcc)),
		namespaces:   map[string]*nsEntry{},
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	a.inflight = make(chan struct{}, opts.MaxInFlight)
	if a.fieldManager == "" {
		a.fieldManager = DefaultFieldManager
	}
	a.kinds = newKindWaiter(a)
	return a, nil
}

// warningLogger passes API server warnings (deprecated APIs, say) to logf,
// naming the object being applied when the request's context carries it.
type warningLogger func(string, ...any)

// objectKey is the context key of the name of the object being applied.
type objectKey struct{}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (l warningLogger) HandleWarningHeaderWithContext(ctx context.Context, code int, _, text string) {
	if code != 299 || text == "" {
		return
	}
	if name, ok := ctx.Value(objectKey{}).(string); ok {
		l("%s: warning from the API server: %s", name, text)
		return
	}
	l("warning from the API server: %s", text)
}

// Apply server-side-applies obj (field manager Options.FieldManager,
// conflicts forced, unknown and duplicate fields rejected as kubectl does)
// and returns the object as the server returned it. obj itself is not
// changed.
//
//   - An object of a namespaced kind without metadata.namespace goes to
//     defaultNamespace ("default" if that is empty too); a cluster-scoped
//     object's metadata.namespace is ignored.
//   - If the object's namespace does not exist, Apply creates it first,
//     once however many goroutines apply into it, with obj's
//     app.kubernetes.io/managed-by and testbed.dev/stack labels, and
//     records it (see CreatedNamespaces). A namespace that is being
//     deleted is waited for and created again.
//   - If no API serves obj's kind yet (a custom resource whose CRD is being
//     applied by another goroutine, say), Apply waits for it, bounded by
//     ctx: this object only, woken by changes to CustomResourceDefinitions
//     and APIServices, with one discovery refresh shared by every object
//     waiting at that moment. When ctx ends first the error says that no
//     API serves the kind and asks whether its CRD is in the stack.
//
// Errors name the object ("Deployment ns/name: apply failed: ...") and carry
// the API server's message.
func (a *Applier) Apply(ctx context.Context, obj *unstructured.Unstructured, defaultNamespace string) (*unstructured.Unstructured, error) {
	return a.ApplyFrom(ctx, obj, defaultNamespace, "")
}

// ApplyFrom is Apply for an object read from a file: source says where
// ("deploy/db.yaml:12") and prefixes every error about obj.
func (a *Applier) ApplyFrom(ctx context.Context, obj *unstructured.Unstructured, defaultNamespace, source string) (*unstructured.Unstructured, error) {
	if obj == nil || obj.Object == nil {
		return nil, errors.New("apply: no object")
	}
	name := describe(obj, source)
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil || gv.Version == "" || obj.GetKind() == "" {
		return nil, fmt.Errorf("%s: apiVersion and kind are required (apiVersion %q)", name, obj.GetAPIVersion())
	}
	if obj.GetName() == "" {
		return nil, fmt.Errorf("%s: metadata.name is required", name)
	}
	md, ok := obj.Object["metadata"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: metadata: expected an object, got %s", name, jsonType(obj.Object["metadata"]))
	}
	gvk := gv.WithKind(obj.GetKind())

	mapping, waited, err := a.mapping(ctx, gvk, name)
	if err != nil {
		return nil, err
	}

	// Send a copy whose metadata.namespace is the one the object goes to.
	// Shallow copies suffice: only metadata.namespace differs.
	body := maps.Clone(obj.Object)
	md = maps.Clone(md)
	body["metadata"] = md
	namespace := ""
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		namespace = obj.GetNamespace()
		if namespace == "" {
			namespace = defaultNamespace
		}
		if namespace == "" {
			namespace = metav1.NamespaceDefault
		}
		md["namespace"] = namespace
	} else {
		delete(md, "namespace")
	}
	name = describeRef(source, gvk.Kind, namespace, obj.GetName())

	if namespace != "" {
		if err := a.ensureNamespace(ctx, namespace, obj.GetLabels()); err != nil {
			return nil, fmt.Errorf("%s: namespace %s: %w", name, namespace, err)
		}
	}

	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s: apply failed: encode: %w", name, err)
	}
	ri := a.dyn.Resource(mapping.Resource).Namespace(namespace)
	opts := metav1.PatchOptions{
		FieldManager:    a.fieldManager,
		Force:           new(true),
		FieldValidation: metav1.FieldValidationStrict,
	}
	var retry, transient backoff
	renewed := false
	for {
		out, err := a.patch(ctx, ri, name, obj.GetName(), data, opts)
		if err == nil {
			return out, nil
		}
		// Server-side apply is idempotent: a request that failed without
		// the server judging the object is sent again.
		if isTransient(err) && transient.n < maxTransientRetries && transient.wait(ctx) {
			continue
		}
		// The namespace was deleted (or is being deleted) since this
		// Applier made sure of it: make sure of it again, once.
		if namespace != "" && !renewed && namespaceGone(err, namespace) {
			renewed = true
			a.forgetNamespace(namespace)
			if err := a.ensureNamespace(ctx, namespace, obj.GetLabels()); err != nil {
				return nil, fmt.Errorf("%s: namespace %s: %w", name, namespace, err)
			}
			continue
		}
		// Right after a kind starts being served, its handler may still
		// answer 404 for a moment (retried for about 1.5s); the object
		// itself cannot be missing, since apply creates it.
		if waited && apierrors.IsNotFound(err) && retry.n < 5 && retry.wait(ctx) {
			continue
		}
		return nil, fmt.Errorf("%s: apply failed: %w", name, err)
	}
}

// patch sends one apply request, holding an in-flight token meanwhile.
func (a *Applier) patch(ctx context.Context, ri dynamic.ResourceInterface, desc, name string, data []byte, opts metav1.PatchOptions) (*unstructured.Unstructured, error) {
	select {
	case a.inflight <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-a.inflight }()
	return ri.Patch(context.WithValue(ctx, objectKey{}, desc), name, types.ApplyPatchType, data, opts)
}

// isTransient reports whether err says nothing about the object: the
// server was too busy, timed out, or the connection dropped.
func isTransient(err error) bool {
	return apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		utilnet.IsConnectionReset(err) || utilnet.IsConnectionRefused(err) || utilnet.IsProbableEOF(err)
}

// Mapping returns the resource and scope of gvk, from discovery as the
// Applier last saw it. It does not wait for a kind to be served; use it for
// objects that were applied.
func (a *Applier) Mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	return a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// CreatedNamespaces returns, sorted, the namespaces Apply created because
// an object went into a namespace that did not exist, so that teardown can
// delete exactly those (see DeleteAll). Namespaces that existed are not in
// it.
func (a *Applier) CreatedNamespaces() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := slices.Clone(a.created)
	slices.Sort(out)
	return out
}

// mapping returns the REST mapping of gvk, waiting for it to be served if
// it is not (see kindWaiter). waited says whether it had to wait.
func (a *Applier) mapping(ctx context.Context, gvk schema.GroupVersionKind, name string) (*meta.RESTMapping, bool, error) {
	m, err := a.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
	if err == nil {
		return m, false, nil
	}
	if !meta.IsNoMatchError(err) {
		return nil, false, fmt.Errorf("%s: apply failed: discovery: %w", name, err)
	}
	if apigroups.Builtin(gvk.Group) {
		// The API server's own kinds do not come and go: after one fresh
		// read of discovery, waiting would only wait for the timeout.
		a.mapper.Reset()
		if m, err := a.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version); err == nil {
			return m, false, nil
		}
		return nil, false, fmt.Errorf("%s: apply failed: %s", name, a.notServed(ctx, gvk))
	}
	m, err = a.kinds.wait(ctx, gvk, name)
	return m, true, err
}

// notServed says why a kind of a group the API server serves itself is
// not served: the group version it does serve, with its kinds (a
// misspelt kind), or the versions of the group it serves (a removed
// version).
func (a *Applier) notServed(ctx context.Context, gvk schema.GroupVersionKind) string {
	gv := gvk.GroupVersion()
	msg := fmt.Sprintf("the API server does not serve %s kind %s, and its own kinds do not change while it runs", gv, gvk.Kind)
	if list, err := a.discovery.ServerResourcesForGroupVersionWithContext(ctx, gv.String()); err == nil {
		var kinds []string
		for _, r := range list.APIResources {
			if !strings.Contains(r.Name, "/") && !slices.Contains(kinds, r.Kind) {
				kinds = append(kinds, r.Kind)
			}
		}
		slices.Sort(kinds)
		return msg + fmt.Sprintf(" (is the kind misspelt? %s serves %s)", gv, strings.Join(kinds, ", "))
	}
	groups, err := a.discovery.ServerGroupsWithContext(ctx)
	if err != nil {
		return msg
	}
	for _, g := range groups.Groups {
		if g.Name == gvk.Group {
			var versions []string
			for _, v := range g.Versions {
				versions = append(versions, v.GroupVersion)
			}
			return msg + fmt.Sprintf(" (was the version removed? it serves %s)", strings.Join(versions, ", "))
		}
	}
	return msg
}

// backoff waits 50ms, 100ms, ... up to 5s between retries.
type backoff struct {
	n int
}

// wait sleeps for the next delay and reports whether ctx is still live.
func (b *backoff) wait(ctx context.Context) bool {
	d := 50 * time.Millisecond << min(b.n, 7)
	d = min(d, 5*time.Second)
	b.n++
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Prepare readies the Applier for a run before its first object: it reads
// discovery and makes sure of namespace (creating it, with the testbed
// labels among labels, if missing), so that the first apply on a stack's
// critical path pays for neither. An empty namespace skips that part.
func (a *Applier) Prepare(ctx context.Context, namespace string, labels map[string]string) error {
	if _, err := a.mapper.RESTMappingWithContext(ctx, schema.GroupKind{Group: "apps", Kind: "Deployment"}, "v1"); err != nil {
		return fmt.Errorf("apply: discovery: %w", err)
	}
	if namespace == "" {
		return nil
	}
	if err := a.ensureNamespace(ctx, namespace, labels); err != nil {
		return fmt.Errorf("apply: namespace %s: %w", namespace, err)
	}
	return nil
}
