package ready_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/kubetestbed/testbed/internal/ready"
	"github.com/kubetestbed/testbed/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const stack = "trk"

var selector = "testbed.dev/stack=" + stack

// gvrs maps the kinds the tests create to their resources.
var gvrs = map[string]schema.GroupVersionResource{
	"Namespace":                {Version: "v1", Resource: "namespaces"},
	"ConfigMap":                {Version: "v1", Resource: "configmaps"},
	"Service":                  {Version: "v1", Resource: "services"},
	"Pod":                      {Version: "v1", Resource: "pods"},
	"Deployment":               {Group: "apps", Version: "v1", Resource: "deployments"},
	"StatefulSet":              {Group: "apps", Version: "v1", Resource: "statefulsets"},
	"Job":                      {Group: "batch", Version: "v1", Resource: "jobs"},
	"CustomResourceDefinition": {Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"},
}

// simEnv is one sim cluster and one tracker, shared by the subtests.
type simEnv struct {
	cfg     *rest.Config
	dyn     dynamic.Interface
	tracker *ready.Tracker
	nsN     atomic.Int64
}

// namespace creates a namespace of its own for a subtest.
func (e *simEnv) namespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := fmt.Sprintf("%s-%d", prefix, e.nsN.Add(1))
	e.create(t, fmt.Sprintf(`
apiVersion: v1
kind: Namespace
metadata: {name: %s, labels: {testbed.dev/stack: %s}}
`, ns, stack))
	return ns
}

// create creates the object in doc and returns its reference.
func (e *simEnv) create(t *testing.T, doc string) ready.ObjectRef {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatalf("fixture: %v\n%s", err, doc)
	}
	ref := refOf(t, obj)
	var ri dynamic.ResourceInterface = e.dyn.Resource(ref.GVR)
	if ref.Namespace != "" {
		ri = e.dyn.Resource(ref.GVR).Namespace(ref.Namespace)
	}
	if _, err := ri.Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create %s: %v", ref, err)
	}
	return ref
}

func refOf(t *testing.T, obj *unstructured.Unstructured) ready.ObjectRef {
	t.Helper()
	gvr, ok := gvrs[obj.GetKind()]
	if !ok {
		gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
		if err != nil {
			t.Fatal(err)
		}
		gvr = gv.WithResource(strings.ToLower(obj.GetKind()) + "s")
	}
	return ready.ObjectRef{GVR: gvr, Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// waitFor runs tracker.Wait with a timeout and returns its error and how
// long it took.
func (e *simEnv) waitFor(timeout time.Duration, refs ...ready.ObjectRef) (error, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err := e.tracker.Wait(ctx, refs)
	return err, time.Since(start)
}

// deployment returns a Deployment whose pods carry the sim annotations.
func deployment(ns, name string, replicas int, annotations string) string {
	return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s, labels: {testbed.dev/stack: %[5]s}}
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata:
      labels: {app: %[2]s, testbed.dev/stack: %[5]s}
      annotations: {%[4]s}
    spec:
      containers: [{name: app, image: example.com/%[2]s:1}]
`, ns, name, replicas, annotations, stack)
}

func job(ns, name, annotations string, backoffLimit int) string {
	return fmt.Sprintf(`
apiVersion: batch/v1
kind: Job
metadata: {name: %[2]s, namespace: %[1]s, labels: {testbed.dev/stack: %[5]s}}
spec:
  backoffLimit: %[4]d
  template:
    metadata:
      labels: {testbed.dev/stack: %[5]s}
      annotations: {%[3]s}
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: example.com/migrate:1}]
`, ns, name, annotations, backoffLimit, stack)
}

// readyAt watches one object directly and reports when Compute first calls
// it Ready: the reference for how late the tracker's Wait returns.
func (e *simEnv) readyAt(t *testing.T, gvr schema.GroupVersionResource, ns, name string) <-chan time.Time {
	t.Helper()
	w, err := e.dyn.Resource(gvr).Namespace(ns).Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan time.Time, 1)
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if u, ok := ev.Object.(*unstructured.Unstructured); ok && ready.Compute(u).Status == ready.Ready {
				ch <- time.Now()
				return
			}
		}
	}()
	return ch
}

// lag reports how long after a direct watch saw the object ready Wait
// returned.
func lag(t *testing.T, what string, seen <-chan time.Time, returned time.Time) {
	t.Helper()
	select {
	case at := <-seen:
		t.Logf("TIMING %s: Wait returned %v after a direct watch saw it ready", what, returned.Sub(at).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Errorf("%s: the direct watch never saw it ready", what)
	}
}

func wantFailed(t *testing.T, err error, ref ready.ObjectRef, contains ...string) {
	t.Helper()
	var fe *ready.FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("Wait = %v, want a *FailedError", err)
	}
	if fe.Ref != ref {
		t.Errorf("FailedError.Ref = %v, want %v", fe.Ref, ref)
	}
	for _, c := range append([]string{ref.String() + ": "}, contains...) {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not contain %q", err, c)
		}
	}
}

func wantTimeout(t *testing.T, err error, contains ...string) {
	t.Helper()
	var te *ready.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("Wait = %v, want a *TimeoutError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, context.DeadlineExceeded) = false", err)
	}
	for _, c := range append([]string{"timed out: "}, contains...) {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not contain %q", err, c)
		}
	}
}

func TestTrackerOnSimCluster(t *testing.T) {
	c := testenv.Cluster(t)
	cfg, err := c.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var changes sync.Map // ObjectRef → []ObjectStatus, for the OnChange subtest
	var changesMu sync.Mutex
	tr, err := ready.NewTracker(cfg, ready.TrackerOptions{
		Selector: selector,
		OnChange: func(s ready.ObjectStatus) {
			changesMu.Lock()
			defer changesMu.Unlock()
			old, _ := changes.Load(s.Ref)
			h, _ := old.([]ready.ObjectStatus)
			changes.Store(s.Ref, append(h, s))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Stop)
	// Once every subtest is done: the built-in kinds were watched in
	// protobuf, the CRDs and custom resources through the dynamic client.
	t.Cleanup(func() {
		for gvr, want := range map[schema.GroupVersionResource]bool{
			gvrs["Pod"]: true, gvrs["Deployment"]: true, gvrs["StatefulSet"]: true, gvrs["Job"]: true, gvrs["Service"]: true,
			{Group: "apps", Version: "v1", Resource: "replicasets"}:                true,
			{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}: true,
			gvrs["CustomResourceDefinition"]:                                       false,
		} {
			watched, proto := ready.ProtobufWatch(tr, gvr)
			if !watched || proto != want {
				t.Errorf("watch on %s: watched %v, protobuf %v; want watched, protobuf %v", gvr.GroupResource(), watched, proto, want)
			}
		}
	})
	e := &simEnv{cfg: cfg, dyn: dyn, tracker: tr}

	t.Run("Deployment ready-after 2s", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "deploy")
		seen := e.readyAt(t, gvrs["Deployment"], ns, "web")
		start := time.Now()
		ref := e.create(t, deployment(ns, "web", 2, `sim.testbed.dev/ready-after: 2s`))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tr.Wait(ctx, []ready.ObjectRef{ref}); err != nil {
			t.Fatal(err)
		}
		returned := time.Now()
		if d := returned.Sub(start); d < 2*time.Second {
			t.Errorf("Wait returned after %v, before the pods can be ready (2s)", d)
		}
		t.Logf("TIMING Deployment (2 replicas, ready-after 2s): Wait returned %v after create", returned.Sub(start).Round(time.Millisecond))
		lag(t, "Deployment", seen, returned)
		if got := tr.Status(ref); got.Status != ready.Ready || got.Reason != "2/2 replicas available" {
			t.Errorf("Status = %v, want Ready: 2/2 replicas available", got)
		}
		// OnChange saw it InProgress, then Ready, and the last change is Ready.
		h, _ := changes.Load(ref)
		hist, _ := h.([]ready.ObjectStatus)
		if len(hist) < 2 || hist[len(hist)-1].Result.Status != ready.Ready || hist[0].Result.Status != ready.InProgress {
			t.Errorf("OnChange history = %v, want InProgress … Ready", hist)
		}
		// Waiting again on a ready object returns at once.
		if err, d := e.waitFor(time.Second, ref); err != nil || d > 50*time.Millisecond {
			t.Errorf("second Wait = %v after %v, want nil at once", err, d)
		}
	})

	t.Run("StatefulSet", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "sts")
		ref := e.create(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: %s, labels: {testbed.dev/stack: %s}}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata:
      labels: {app: db, testbed.dev/stack: %[2]s}
      annotations: {sim.testbed.dev/ready-after: 1s}
    spec:
      containers: [{name: db, image: example.com/db:1}]
`, ns, stack))
		err, d := e.waitFor(time.Minute, ref)
		if err != nil {
			t.Fatal(err)
		}
		// OrderedReady: pod 1 starts once pod 0 is ready.
		if d < 2*time.Second {
			t.Errorf("Wait returned after %v, want at least 2s (two pods, ready-after 1s each, in order)", d)
		}
		t.Logf("TIMING StatefulSet (2 ordered replicas, ready-after 1s): %v", d.Round(time.Millisecond))
		if got := tr.Status(ref); got.Status != ready.Ready {
			t.Errorf("Status = %v", got)
		}
	})

	t.Run("Job completes", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "job")
		seen := e.readyAt(t, gvrs["Job"], ns, "migrate")
		ref := e.create(t, job(ns, "migrate", `sim.testbed.dev/ready-after: 1s`, 6))
		err, d := e.waitFor(time.Minute, ref)
		returned := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		if d < time.Second {
			t.Errorf("Wait returned after %v, before the Job can complete (1s)", d)
		}
		t.Logf("TIMING Job (ready-after 1s): %v", d.Round(time.Millisecond))
		lag(t, "Job", seen, returned)
	})

	t.Run("Job still running at the deadline", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "jobrun")
		ref := e.create(t, job(ns, "migrate", `sim.testbed.dev/fail: NeverReady`, 6))
		err, d := e.waitFor(3*time.Second, ref)
		wantTimeout(t, err, "Job "+ns+"/migrate: running: 0/1 succeeded, 1 active")
		// The deadline is set just before d's clock starts: allow for that.
		if d < 2900*time.Millisecond || d > 4*time.Second {
			t.Errorf("Wait returned after %v, want at its 3s deadline", d)
		}
	})

	t.Run("Job fails fast", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "jobfail")
		ref := e.create(t, job(ns, "migrate", `sim.testbed.dev/fail: JobFailed, sim.testbed.dev/ready-after: 1s`, 0))
		err, d := e.waitFor(5*time.Minute, ref)
		wantFailed(t, err, ref, "Job failed: BackoffLimitExceeded; last failed pod \"migrate-")
		if d > 15*time.Second {
			t.Errorf("Wait failed after %v, want within a few seconds", d)
		}
		t.Logf("TIMING Job JobFailed (ready-after 1s): failed after %v: %v", d.Round(time.Millisecond), err)
	})

	t.Run("CrashLoopBackOff fails fast", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "crash")
		ref := e.create(t, deployment(ns, "api", 1, `sim.testbed.dev/fail: CrashLoopBackOff`))
		err, d := e.waitFor(5*time.Minute, ref)
		wantFailed(t, err, ref, `container "app" CrashLoopBackOff (restarts: `, "back-off", "pod \"api-")
		if d > 15*time.Second {
			t.Errorf("Wait failed after %v, want within a few seconds", d)
		}
		t.Logf("TIMING CrashLoopBackOff: failed after %v: %v", d.Round(time.Millisecond), err)
	})

	t.Run("ImagePullBackOff fails fast", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "pull")
		ref := e.create(t, deployment(ns, "api", 1, `sim.testbed.dev/fail: ImagePullBackOff`))
		err, d := e.waitFor(5*time.Minute, ref)
		wantFailed(t, err, ref, `container "app" ImagePullBackOff`, "Back-off pulling image")
		if d > 15*time.Second {
			t.Errorf("Wait failed after %v, want within a few seconds", d)
		}
		t.Logf("TIMING ImagePullBackOff: failed after %v", d.Round(time.Millisecond))
	})

	t.Run("NeverReady times out with its reason", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "never")
		ref := e.create(t, deployment(ns, "stuck", 1, `sim.testbed.dev/fail: NeverReady`))
		cm := e.create(t, fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: %s, labels: {testbed.dev/stack: %s}}
`, ns, stack))
		err, _ := e.waitFor(3*time.Second, ref, cm)
		wantTimeout(t, err, "Deployment "+ns+"/stuck: 0/1 replicas ready")
		var te *ready.TimeoutError
		if errors.As(err, &te) && (len(te.Pending) != 1 || te.Pending[0].Ref != ref) {
			t.Errorf("Pending = %v, want only the Deployment", te.Pending)
		}
	})

	t.Run("Unschedulable fails after the grace period", func(t *testing.T) {
		t.Parallel()
		// A tracker of its own, with a short grace: nothing changes on
		// the cluster once the pod is Unschedulable; only the tracker's
		// timer can fail it.
		tr2, err := ready.NewTracker(cfg, ready.TrackerOptions{Selector: selector, UnschedulableGrace: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer tr2.Stop()
		ns := e.namespace(t, "unsched")
		ref := e.create(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: big, namespace: %[1]s, labels: {testbed.dev/stack: %[2]s}}
spec:
  selector: {matchLabels: {app: big}}
  template:
    metadata: {labels: {app: big, testbed.dev/stack: %[2]s}}
    spec:
      nodeSelector: {testbed.dev/no-such-node: "true"}
      containers: [{name: app, image: example.com/big:1}]
`, ns, stack))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		err = tr2.Wait(ctx, []ready.ObjectRef{ref})
		d := time.Since(start)
		wantFailed(t, err, ref, "unschedulable for", "node(s) didn't match")
		// The condition's time has a resolution of a second, so the grace
		// may run out up to a second early.
		if d < time.Second || d > 6*time.Second {
			t.Errorf("Wait failed after %v, want just after the 2s grace", d)
		}
		t.Logf("TIMING Unschedulable (grace 2s): failed after %v: %v", d.Round(time.Millisecond), err)
	})

	t.Run("Service ready once a ready pod backs it", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "svc")
		svc := e.create(t, fmt.Sprintf(`
apiVersion: v1
kind: Service
metadata: {name: api, namespace: %s, labels: {testbed.dev/stack: %s}}
spec:
  selector: {app: api}
  ports: [{port: 80}]
`, ns, stack))
		err, _ := e.waitFor(time.Second, svc)
		wantTimeout(t, err, "Service "+ns+"/api: no endpoints")

		start := time.Now()
		e.create(t, deployment(ns, "api", 1, `sim.testbed.dev/ready-after: 2s`))
		err, d := e.waitFor(time.Minute, svc)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("Service ready %v after its Deployment was created, before its pod can be ready (2s)", d)
		}
		t.Logf("TIMING Service behind a Deployment (ready-after 2s): ready %v after the Deployment was created", d.Round(time.Millisecond))
		if got := tr.Status(svc); got.Reason != "1 ready endpoint" {
			t.Errorf("Status = %v, want 1 ready endpoint", got)
		}
	})

	t.Run("ConfigMap ready at once", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "cm")
		ref := e.create(t, fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: %s, labels: {testbed.dev/stack: %s}}
data: {a: b}
`, ns, stack))
		err, d := e.waitFor(10*time.Second, ref)
		if err != nil {
			t.Fatal(err)
		}
		if d > time.Second {
			t.Errorf("Wait took %v for a ConfigMap", d)
		}
		t.Logf("TIMING ConfigMap: %v", d.Round(time.Millisecond))
	})

	t.Run("unlabelled object is never seen", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "nolabel")
		ref := e.create(t, fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: stray, namespace: %s}
`, ns))
		err, _ := e.waitFor(time.Second, ref)
		wantTimeout(t, err, "ConfigMap "+ns+"/stray: not seen (watching objects labelled "+selector+")")
	})

	t.Run("CRD and custom resources", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "cr")
		group := ns + ".example.com"
		crd := func(plural, kind, subresources string) string {
			return fmt.Sprintf(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: %[1]s.%[3]s, labels: {testbed.dev/stack: %[5]s}}
spec:
  group: %[3]s
  scope: Namespaced
  names: {plural: %[1]s, singular: %[2]s, kind: %[4]s, listKind: %[4]sList}
  versions:
  - name: v1
    served: true
    storage: true
    %[6]s
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`, plural, strings.ToLower(kind), group, kind, stack, subresources)
		}
		cr := func(kind, name string) string {
			return fmt.Sprintf(`
apiVersion: %s/v1
kind: %s
metadata: {name: %s, namespace: %s, labels: {testbed.dev/stack: %s}}
spec: {size: 1}
`, group, kind, name, ns, stack)
		}

		// With a status subresource: InProgress until its status says Ready.
		start := time.Now()
		widgets := e.create(t, crd("widgets", "Widget", "subresources: {status: {}}"))
		if err, d := e.waitFor(time.Minute, widgets); err != nil {
			t.Fatal(err)
		} else {
			t.Logf("TIMING CRD established and served: %v after create", d.Round(time.Millisecond))
		}
		if got := tr.Status(widgets); got.Reason != "established and served" {
			t.Errorf("Status = %v", got)
		}
		w := e.create(t, cr("Widget", "w1"))
		err, _ := e.waitFor(time.Second, w)
		wantTimeout(t, err, "Widget "+ns+"/w1: no status reported yet")

		obj, err := e.dyn.Resource(w.GVR).Namespace(ns).Get(context.Background(), "w1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		obj.Object["status"] = map[string]any{"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "Reconciled", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}}}
		setAt := time.Now()
		if _, err := e.dyn.Resource(w.GVR).Namespace(ns).UpdateStatus(context.Background(), obj, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err, _ := e.waitFor(10*time.Second, w); err != nil {
			t.Fatal(err)
		}
		t.Logf("TIMING custom resource: Wait returned %v after its status was set", time.Since(setAt).Round(time.Millisecond))

		// Without a status subresource: ready on apply. Tracked before its
		// CRD exists, so its watch starts failing and must be restarted
		// once the CRD is served.
		gadget := ready.ObjectRef{GVR: schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"}, Kind: "Gadget", Namespace: ns, Name: "g1"}
		if err := tr.Track(gadget); err != nil {
			t.Fatal(err)
		}
		gadgets := e.create(t, crd("gadgets", "Gadget", ""))
		if err, _ := e.waitFor(time.Minute, gadgets); err != nil {
			t.Fatal(err)
		}
		e.create(t, cr("Gadget", "g1"))
		// The first create of a new custom resource can take the apiserver
		// seconds; measure from its response.
		created := time.Now()
		if err, _ := e.waitFor(10*time.Second, gadget); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(created); d > 2*time.Second {
			t.Errorf("custom resource without status subresource ready %v after create, want at once", d)
			h, _ := changes.Load(gadget)
			for _, s := range h.([]ready.ObjectStatus) {
				t.Logf("%s %v", s.At.Format("15:04:05.000"), s.Result)
			}
			t.Logf("created at %s", created.Format("15:04:05.000"))
		} else {
			t.Logf("TIMING custom resource without status subresource (tracked before its CRD): ready %v after create", d.Round(time.Millisecond))
		}
		if got := tr.Status(gadget); got.Status != ready.Ready {
			t.Errorf("Status = %v", got)
		}
		t.Logf("CRD subtest took %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("three concurrent Waits", func(t *testing.T) {
		t.Parallel()
		ns := e.namespace(t, "multi")
		var refs []ready.ObjectRef
		var created []time.Time
		for i := 1; i <= 3; i++ {
			created = append(created, time.Now())
			refs = append(refs, e.create(t, deployment(ns, fmt.Sprintf("c%d", i), 1, fmt.Sprintf(`sim.testbed.dev/ready-after: %ds`, i))))
		}
		took := make([]time.Duration, 3) // from each one's create
		errs := make([]error, 3)
		var wg sync.WaitGroup
		for i, ref := range refs {
			wg.Go(func() {
				errs[i], _ = e.waitFor(time.Minute, ref)
				took[i] = time.Since(created[i])
			})
		}
		wg.Wait()
		for i := range refs {
			if errs[i] != nil {
				t.Errorf("Wait %s: %v", refs[i], errs[i])
			}
			if after := time.Duration(i+1) * time.Second; took[i] < after {
				t.Errorf("%s ready %v after create, before its ready-after %v", refs[i], took[i], after)
			}
		}
		if !(took[0] < took[1] && took[1] < took[2]) {
			t.Errorf("Waits returned %v after create, want in the order of their ready-after (1s, 2s, 3s)", took)
		}
		t.Logf("TIMING three concurrent Waits (ready-after 1s, 2s, 3s): %v", took)
	})
}
