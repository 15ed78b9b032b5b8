package apply_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubetestbed/testbed/internal/apply"
	"github.com/kubetestbed/testbed/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// logger returns a Logf that writes to t until t ends (the Applier may log
// from its own goroutines), and calls each of hooks with every message.
func logger(t *testing.T, hooks ...func(string)) func(string, ...any) {
	var done atomic.Bool
	t.Cleanup(func() { done.Store(true) })
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		for _, h := range hooks {
			h(msg)
		}
		if !done.Load() {
			t.Log(msg)
		}
	}
}

func newApplier(t *testing.T, cfg *rest.Config, hooks ...func(string)) *apply.Applier {
	t.Helper()
	a, err := apply.New(cfg, apply.Options{Logf: logger(t, hooks...)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// decorated parses a YAML fixture (fmt.Sprintf'd with args) and decorates
// it for stack and component "c".
func decorated(t *testing.T, stack, format string, args ...any) *unstructured.Unstructured {
	t.Helper()
	obj := parse(t, fmt.Sprintf(format, args...))
	if err := apply.Decorate(obj, stack, "c", nil); err != nil {
		t.Fatal(err)
	}
	return obj
}

func createNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  replicas: %d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec: {containers: [{name: c, image: "example.com/%[1]s:1"}]}
`

const configMap = `
apiVersion: v1
kind: ConfigMap
metadata: {name: %s}
data: {key: value}
`

// TestApply runs every integration case on one sim cluster, in parallel;
// each case uses its own namespaces, stack label and Applier.
func TestApply(t *testing.T) {
	start := time.Now()
	c := testenv.Cluster(t)
	cfg, err := c.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs := testenv.Clientset(t, c)
	t.Logf("sim cluster up in %s", time.Since(start).Round(time.Millisecond))

	t.Run("cases", func(t *testing.T) {
		t.Run("NewNamespaceCreatedAndRecorded", func(t *testing.T) {
			t.Parallel()
			testNewNamespace(t, cfg, cs)
		})
		t.Run("ExistingNamespaceNotRecorded", func(t *testing.T) {
			t.Parallel()
			testExistingNamespace(t, cfg, cs)
		})
		t.Run("PrepareCreatesTheStackNamespace", func(t *testing.T) {
			t.Parallel()
			testPrepare(t, cfg, cs)
		})
		t.Run("CRWaitsForConcurrentCRD", func(t *testing.T) {
			t.Parallel()
			testCRWaitsForCRD(t, cfg)
		})
		t.Run("UnservedBuiltinKindFailsAtOnce", func(t *testing.T) {
			t.Parallel()
			testUnservedBuiltinKind(t, cfg)
		})
		t.Run("CRWithoutCRDFailsAtDeadline", func(t *testing.T) {
			t.Parallel()
			testCRWithoutCRD(t, cfg)
		})
		t.Run("InvalidObject", func(t *testing.T) {
			t.Parallel()
			testInvalid(t, cfg, cs)
		})
		t.Run("DeleteAll", func(t *testing.T) {
			t.Parallel()
			testDeleteAll(t, cfg, cs)
		})
		t.Run("NamespaceDeletedUnderneath", func(t *testing.T) {
			t.Parallel()
			testNamespaceDeleted(t, cfg, cs)
		})
		t.Run("ManyConcurrent", func(t *testing.T) {
			t.Parallel()
			testMany(t, cfg, cs)
		})
	})
}

func testNewNamespace(t *testing.T, cfg *rest.Config, cs kubernetes.Interface) {
	ctx := timeout(t, 30*time.Second)
	a := newApplier(t, cfg)
	const ns = "apply-new"
	dep := decorated(t, "s-new", deployment, "web", 2)
	got, err := a.Apply(ctx, dep, ns)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetNamespace() != ns || got.GetUID() == "" {
		t.Fatalf("applied into %q (uid %q), want namespace %q", got.GetNamespace(), got.GetUID(), ns)
	}
	if dep.GetNamespace() != "" {
		t.Errorf("Apply changed its argument: namespace %q", dep.GetNamespace())
	}
	if created := a.CreatedNamespaces(); !slices.Equal(created, []string{ns}) {
		t.Errorf("CreatedNamespaces = %v, want [%s]", created, ns)
	}
	nsObj, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := nsObj.Labels; l[apply.LabelManagedBy] != "testbed" || l[apply.LabelStack] != "s-new" {
		t.Errorf("created namespace has labels %v, want testbed's", l)
	}

	// Re-applying is a no-op: no new generation, and for an object no
	// controller touches, not even a new resourceVersion.
	again, err := a.Apply(ctx, dep, ns)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetGeneration() != got.GetGeneration() {
		t.Errorf("re-apply moved generation %d -> %d", got.GetGeneration(), again.GetGeneration())
	}
	cm := decorated(t, "s-new", configMap, "settings")
	first, err := a.Apply(ctx, cm, ns)
	if err != nil {
		t.Fatal(err)
	}
	second, err := a.Apply(ctx, cm, ns)
	if err != nil {
		t.Fatal(err)
	}
	if first.GetResourceVersion() != second.GetResourceVersion() {
		t.Errorf("re-apply changed resourceVersion %s -> %s", first.GetResourceVersion(), second.GetResourceVersion())
	}
	if created := a.CreatedNamespaces(); len(created) != 1 {
		t.Errorf("CreatedNamespaces after re-apply = %v", created)
	}
	// The mapping of an applied kind is known.
	m, err := a.Mapping(dep.GroupVersionKind())
	if err != nil || m.Resource.Resource != "deployments" {
		t.Errorf("Mapping(Deployment) = %v, %v", m, err)
	}
}

func testExistingNamespace(t *testing.T, cfg *rest.Config, cs kubernetes.Interface) {
	ctx := timeout(t, 30*time.Second)
	const ns = "apply-existing"
	createNamespace(t, cs, ns)
	var warnings []string
	var mu sync.Mutex
	a := newApplier(t, cfg, func(msg string) {
		if strings.Contains(msg, "warning") {
			mu.Lock()
			warnings = append(warnings, msg)
			mu.Unlock()
		}
	})
	cm := decorated(t, "s-existing", configMap, "settings")
	cm.SetNamespace(ns)
	if _, err := a.Apply(ctx, cm, "ignored-default"); err != nil {
		t.Fatal(err)
	}
	if created := a.CreatedNamespaces(); len(created) != 0 {
		t.Errorf("CreatedNamespaces = %v, want none", created)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "ignored-default", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the default namespace was used although the object names its own: %v", err)
	}

	// API server warnings reach Logf, naming the object.
	ep := decorated(t, "s-existing", `{apiVersion: v1, kind: Endpoints, metadata: {name: ep}}`)
	if _, err := a.Apply(ctx, ep, ns); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Endpoints apply-existing/ep: warning from the API server: v1 Endpoints is deprecated") {
		t.Errorf("warnings = %q, want the Endpoints deprecation, naming the object", warnings)
	}
}

// countDiscovery wraps cfg to count discovery reads (GET /api and /apis).
func countDiscovery(cfg *rest.Config) (*rest.Config, *atomic.Int64) {
	var n atomic.Int64
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodGet && (r.URL.Path == "/api" || r.URL.Path == "/apis") {
				n.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	return cfg, &n
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.race.testbed.dev}
spec:
  group: race.testbed.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

func testCRWaitsForCRD(t *testing.T, cfg *rest.Config) {
	ctx := timeout(t, 60*time.Second)
	const crs = 20
	cfg, discoveries := countDiscovery(cfg)
	var waiting atomic.Int64
	allWaiting := make(chan struct{})
	a := newApplier(t, cfg, func(msg string) {
		if strings.Contains(msg, "waiting for an API to serve race.testbed.dev/v1 kind Widget") && waiting.Add(1) == crs {
			close(allWaiting)
		}
	})

	// The CRs start first, each in its own goroutine.
	start := time.Now()
	errs := make([]error, crs)
	var wg sync.WaitGroup
	for i := range crs {
		wg.Go(func() {
			cr := decorated(t, "s-crd", `
apiVersion: race.testbed.dev/v1
kind: Widget
metadata: {name: w%d}
spec: {size: %[1]d}
`, i)
			_, errs[i] = a.ApplyFrom(ctx, cr, "apply-crd", fmt.Sprintf("widgets.yaml:%d", 1+5*i))
		})
	}
	select {
	case <-allWaiting:
	case <-ctx.Done():
		t.Fatalf("the CRs did not all wait: %d of %d", waiting.Load(), crs)
	}
	before := discoveries.Load()
	t.Logf("%d CRs waiting after %s, %d discovery reads", crs, time.Since(start).Round(time.Millisecond), before)

	// Then the CRD, from another goroutine.
	crdStart := time.Now()
	crdErr := make(chan error, 1)
	go func() {
		_, err := a.Apply(ctx, decorated(t, "s-crd", widgetCRD), "apply-crd")
		crdErr <- err
	}()
	if err := <-crdErr; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("CR %d: %v", i, err)
		}
	}
	reads := discoveries.Load()
	t.Logf("CRD applied and %d CRs served %s after the CRD was sent; %d discovery reads in all, %d after all waited",
		crs, time.Since(crdStart).Round(time.Millisecond), reads, reads-before)
	// A refresh reads /api and /apis; one per CR would be 2*crs reads.
	if reads >= crs {
		t.Errorf("%d discovery reads for %d waiting CRs: refreshes are not shared", reads, crs)
	}
	if apply.KindWatchRunning(a) {
		t.Error("the kind watch still runs with no object waiting")
	}
	if created := a.CreatedNamespaces(); !slices.Equal(created, []string{"apply-crd"}) {
		t.Errorf("CreatedNamespaces = %v", created)
	}
}

// A kind of a group the API server serves itself is never waited for: a
// misspelt kind or a removed version fails at once, saying what is served.
func testUnservedBuiltinKind(t *testing.T, cfg *rest.Config) {
	ctx := timeout(t, time.Minute)
	a := newApplier(t, cfg)
	for _, tc := range []struct {
		doc  string
		want []string
	}{
		{"apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: web, namespace: apply-builtin}\n", []string{
			"web.yaml:1: Deploymnet apply-builtin/web: apply failed: the API server does not serve apps/v1 kind Deploymnet, and its own kinds do not change while it runs (is the kind misspelt? apps/v1 serves ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet)",
		}},
		{"apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: web, namespace: apply-builtin}\n", []string{
			"the API server does not serve extensions/v1beta1 kind Deployment",
		}},
		{"apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: web, namespace: apply-builtin}\n", []string{
			"the API server does not serve apps/v1beta1 kind Deployment, and its own kinds do not change while it runs (was the version removed? it serves apps/v1)",
		}},
	} {
		start := time.Now()
		_, err := a.ApplyFrom(ctx, decorated(t, "s-builtin", "%s", tc.doc), "", "web.yaml:1")
		elapsed := time.Since(start)
		if err == nil {
			t.Fatalf("applied %q", tc.doc)
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if elapsed > 10*time.Second {
			t.Errorf("gave up after %s; want at once (a discovery read)", elapsed)
		}
	}
	if apply.KindWatchRunning(a) {
		t.Error("the kind watch runs for a built-in kind")
	}
}

func testCRWithoutCRD(t *testing.T, cfg *rest.Config) {
	ctx := timeout(t, 2*time.Second)
	a := newApplier(t, cfg)
	cr := decorated(t, "s-nocrd", `
apiVersion: nothere.testbed.dev/v1
kind: Gadget
metadata: {name: g1, namespace: apply-nocrd}
`)
	start := time.Now()
	_, err := a.ApplyFrom(ctx, cr, "", "gadgets.yaml:7")
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("applied a kind no API serves")
	}
	t.Logf("after %s: %v", elapsed.Round(time.Millisecond), err)
	for _, want := range []string{
		"gadgets.yaml:7: Gadget apply-nocrd/g1",
		"no API serves nothere.testbed.dev/v1 kind Gadget; is its CRD in the stack?",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	var noAPI *apply.NoAPIError
	if !errors.As(err, &noAPI) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error is not a NoAPIError wrapping the deadline: %#v", err)
	}
	if elapsed < 1500*time.Millisecond || elapsed > 4*time.Second {
		t.Errorf("gave up after %s, want the 2s deadline", elapsed)
	}
	if apply.KindWatchRunning(a) {
		t.Error("the kind watch still runs with no object waiting")
	}
	if created := a.CreatedNamespaces(); len(created) != 0 {
		t.Errorf("created namespaces %v for an object that was never applied", created)
	}
}

func testInvalid(t *testing.T, cfg *rest.Config, cs kubernetes.Interface) {
	ctx := timeout(t, 30*time.Second)
	const ns = "apply-invalid"
	createNamespace(t, cs, ns)
	a := newApplier(t, cfg)
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want []string
	}{
		{
			name: "negative replicas",
			obj:  decorated(t, "s-invalid", deployment, "bad", -1),
			want: []string{"deploy.yaml:3: Deployment apply-invalid/bad: apply failed:", "spec.replicas", "must be greater than or equal to 0"},
		},
		{
			name: "unknown field",
			obj: decorated(t, "s-invalid", `
apiVersion: v1
kind: ConfigMap
metadata: {name: typo}
dta: {a: b}
`),
			want: []string{"deploy.yaml:3: ConfigMap apply-invalid/typo: apply failed:", ".dta: field not declared in schema"},
		},
		{
			name: "no name",
			obj:  parse(t, `{apiVersion: v1, kind: ConfigMap, metadata: {labels: {a: b}}}`),
			want: []string{"deploy.yaml:3: ConfigMap (no name): metadata.name is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.ApplyFrom(ctx, tt.obj, ns, "deploy.yaml:3")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func testDeleteAll(t *testing.T, cfg *rest.Config, cs kubernetes.Interface) {
	ctx := timeout(t, 90*time.Second)
	const (
		stack   = "s-delete"
		created = "apply-delete"
		keep    = "apply-keep"
	)
	createNamespace(t, cs, keep)
	a := newApplier(t, cfg)
	objs := []*unstructured.Unstructured{
		decorated(t, stack, deployment, "web", 1),
		decorated(t, stack, configMap, "settings"),
		decorated(t, stack, configMap+"metadata: {name: labelled, namespace: %s}\n", "x", keep),
		// A cluster-scoped object; its stray namespace is ignored.
		decorated(t, stack, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: apply-delete-reader, namespace: nonsense}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
`),
	}
	for _, o := range objs {
		if _, err := a.Apply(ctx, o, created); err != nil {
			t.Fatal(err)
		}
	}
	// A StatefulSet's claim outlives the StatefulSet: it is found by the
	// labels Decorate puts on the claim template.
	if _, err := a.Apply(ctx, decorated(t, stack, `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: example.com/db:1}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`), keep); err != nil {
		t.Fatal(err)
	}
	const claim = "data-db-0"
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().PersistentVolumeClaims(keep).Get(ctx, claim, metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("the StatefulSet's claim %s/%s never appeared: %v", keep, claim, err)
	}
	// Not testbed's: must survive.
	unlabelled := parse(t, fmt.Sprintf(configMap, "mine"))
	if _, err := a.Apply(ctx, unlabelled, keep); err != nil {
		t.Fatal(err)
	}
	if got := a.CreatedNamespaces(); !slices.Equal(got, []string{created}) {
		t.Fatalf("CreatedNamespaces = %v, want [%s]", got, created)
	}

	start := time.Now()
	if err := a.DeleteAll(ctx, apply.Selector(stack), a.CreatedNamespaces()); err != nil {
		t.Fatal(err)
	}
	t.Logf("DeleteAll took %s", time.Since(start).Round(time.Millisecond))

	if _, err := cs.CoreV1().Namespaces().Get(ctx, created, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s: %v, want it gone", created, err)
	}
	if _, err := cs.CoreV1().ConfigMaps(keep).Get(ctx, "labelled", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("labelled ConfigMap: %v, want it gone", err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, "apply-delete-reader", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("labelled ClusterRole: %v, want it gone", err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().PersistentVolumeClaims(keep).Get(ctx, claim, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		t.Errorf("the StatefulSet's claim %s/%s: still there after DeleteAll (%v)", keep, claim, err)
	}
	if _, err := cs.CoreV1().ConfigMaps(keep).Get(ctx, "mine", metav1.GetOptions{}); err != nil {
		t.Errorf("unlabelled ConfigMap: %v, want it kept", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, keep, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace %s: %v, want it kept", keep, err)
	}
	if got := a.CreatedNamespaces(); len(got) != 0 {
		t.Errorf("CreatedNamespaces after DeleteAll = %v", got)
	}
	if err := a.DeleteAll(ctx, "", nil); err == nil {
		t.Error("DeleteAll accepted an empty selector")
	}

	// The same Applier brings the stack up again: the namespace is created
	// (and recorded) anew.
	if _, err := a.Apply(ctx, decorated(t, stack, configMap, "settings"), created); err != nil {
		t.Fatal(err)
	}
	if got := a.CreatedNamespaces(); !slices.Equal(got, []string{created}) {
		t.Errorf("CreatedNamespaces after a new apply = %v, want [%s]", got, created)
	}
}

// testNamespaceDeleted deletes a namespace the Applier created behind its
// back: the next object going there waits for the deletion to finish and
// creates it again.
func testNamespaceDeleted(t *testing.T, cfg *rest.Config, cs kubernetes.Interface) {
	ctx := timeout(t, 60*time.Second)
	const ns = "apply-terminating"
	a := newApplier(t, cfg)
	// A Deployment with a pod keeps the namespace terminating for a while.
	if _, err := a.Apply(ctx, decorated(t, "s-term", deployment, "web", 1), ns); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := a.Apply(ctx, decorated(t, "s-term", configMap, "after"), ns); err != nil {
		t.Fatal(err)
	}
	t.Logf("applied into the re-created namespace after %s", time.Since(start).Round(time.Millisecond))
	got, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || got.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("namespace %s: %v, %v", ns, got.Status.Phase, err)
	}
	if created := a.CreatedNamespaces(); !slices.Equal(created, []string{ns}) {
		t.Errorf("CreatedNamespaces = %v, want [%s] once", created, ns)
	}
}

func testMany(t *testing.T, cfg *rest.Config, cs kubernetes.Interface) {
	ctx := timeout(t, 30*time.Second)
	const (
		n  = 50
		ns = "apply-many"
	)
	if cfg.QPS != 0 && cfg.QPS < 50 {
		t.Logf("the cluster's config limits QPS to %v; New raises it", cfg.QPS)
	}
	a := newApplier(t, cfg)
	start := time.Now()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = a.Apply(ctx, decorated(t, "s-many", configMap, fmt.Sprintf("cm-%02d", i)), ns)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d ConfigMaps applied concurrently in %s", n, elapsed.Round(time.Millisecond))
	// client-go's default 5 QPS would take about 10 s.
	if elapsed > 5*time.Second {
		t.Errorf("%d concurrent applies took %s: throttled?", n, elapsed)
	}
	if got := a.CreatedNamespaces(); !slices.Equal(got, []string{ns}) {
		t.Errorf("CreatedNamespaces = %v, want [%s] once", got, ns)
	}
	list, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: apply.Selector("s-many")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != n {
		t.Errorf("%d ConfigMaps in %s, want %d", len(list.Items), ns, n)
	}
}

func testPrepare(t *testing.T, cfg *rest.Config, cs kubernetes.Interface) {
	ctx := context.Background()
	a := newApplier(t, cfg)
	labels := map[string]string{apply.LabelManagedBy: apply.ManagedBy, apply.LabelStack: "s-prepare", "unrelated": "x"}
	if err := a.Prepare(ctx, "apply-prepare", labels); err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "apply-prepare", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace not created: %v", err)
	}
	if ns.Labels[apply.LabelStack] != "s-prepare" || ns.Labels[apply.LabelManagedBy] != apply.ManagedBy {
		t.Errorf("namespace labels %v, want the testbed labels", ns.Labels)
	}
	if got := a.CreatedNamespaces(); len(got) != 1 || got[0] != "apply-prepare" {
		t.Errorf("CreatedNamespaces = %v", got)
	}
	// An existing namespace is only checked, not recorded or relabelled.
	b := newApplier(t, cfg)
	if err := b.Prepare(ctx, "default", labels); err != nil {
		t.Fatal(err)
	}
	if got := b.CreatedNamespaces(); len(got) != 0 {
		t.Errorf("CreatedNamespaces after preparing default = %v", got)
	}
	def, _ := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	if def.Labels[apply.LabelStack] != "" {
		t.Errorf("the existing namespace default was labelled: %v", def.Labels)
	}
}
