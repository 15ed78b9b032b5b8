package ready

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

var (
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	servicesGVR    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	widgetsGVR     = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
)

func TestObjectRefString(t *testing.T) {
	for _, c := range []struct {
		ref  ObjectRef
		want string
	}{
		{ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: "web"}, "Deployment ns/web"},
		{ObjectRef{GVR: crdsGVR, Kind: "CustomResourceDefinition", Name: "widgets.example.com"}, "CustomResourceDefinition widgets.example.com"},
		{ObjectRef{GVR: deploymentsGVR, Namespace: "ns", Name: "web"}, "deployments ns/web"},
	} {
		if got := c.ref.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.ref, got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	web := ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: "web"}
	migrate := ObjectRef{GVR: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, Kind: "Job", Namespace: "ns", Name: "migrate"}

	var err error = &FailedError{Ref: web, Result: Result{Status: Failed, Reason: `pod "web-abc": container "api" CrashLoopBackOff (restarts: 2)`, Message: "0/1 replicas ready"}}
	if want := `Deployment ns/web: pod "web-abc": container "api" CrashLoopBackOff (restarts: 2) (0/1 replicas ready)`; err.Error() != want {
		t.Errorf("FailedError = %q, want %q", err, want)
	}
	var fe *FailedError
	if !errors.As(fmt.Errorf("component api: %w", err), &fe) || fe.Ref != web {
		t.Errorf("errors.As(FailedError) failed")
	}

	pending := []ObjectStatus{
		{Ref: web, Result: inProgress("0/1 replicas ready")},
		{Ref: migrate, Result: inProgress("running: 0/1 succeeded, 1 active")},
	}
	err = &TimeoutError{Pending: pending, Err: context.DeadlineExceeded, Cause: context.DeadlineExceeded}
	if want := "timed out: Deployment ns/web: 0/1 replicas ready; Job ns/migrate: running: 0/1 succeeded, 1 active"; err.Error() != want {
		t.Errorf("TimeoutError = %q, want %q", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Errorf("TimeoutError on a deadline: errors.Is is wrong")
	}
	cause := errors.New("interrupted")
	err = &TimeoutError{Pending: pending[:1], Err: context.Canceled, Cause: cause}
	if want := "canceled (interrupted): Deployment ns/web: 0/1 replicas ready"; err.Error() != want {
		t.Errorf("TimeoutError = %q, want %q", err, want)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("TimeoutError on cancel: errors.Is is wrong")
	}
}

func TestCurrentPods(t *testing.T) {
	objs := y2us(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, uid: d1, generation: 2, annotations: {deployment.kubernetes.io/revision: "2"}}
status: {observedGeneration: 2}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-old
  namespace: ns
  uid: rs1
  annotations: {deployment.kubernetes.io/revision: "1"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-new
  namespace: ns
  uid: rs2
  annotations: {deployment.kubernetes.io/revision: "2"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-impostor
  namespace: ns
  uid: rs3
  annotations: {deployment.kubernetes.io/revision: "2"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d0-deleted, controller: true}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-old-a
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-old, uid: rs1, controller: true}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-new-a
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-new, uid: rs2, controller: true}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-new-leaving
  namespace: ns
  deletionTimestamp: "2026-01-01T00:00:00Z"
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-new, uid: rs2, controller: true}]
`)
	deploy, rss, pods := objs[0], objs[1:4], objs[4:]

	rs := currentReplicaSet(deploy, rss)
	if rs == nil || rs.GetName() != "web-new" {
		t.Fatalf("currentReplicaSet = %v, want web-new", rs)
	}
	got := controlledBy(rs, pods)
	if len(got) != 1 || got[0].GetName() != "web-new-a" {
		t.Errorf("controlledBy(web-new) = %v, want [web-new-a]", names(got))
	}

	// While the controller has not observed generation 2, no pods count:
	// those of the previous rollout must not fail the new one.
	pendingDeploy := deploy.DeepCopy()
	_ = unstructured.SetNestedField(pendingDeploy.Object, int64(1), "status", "observedGeneration")
	if !rolloutPending(pendingDeploy) || rolloutPending(deploy) {
		t.Errorf("rolloutPending is wrong")
	}
	// The Deployment's revision not yet written: no current ReplicaSet.
	noRev := deploy.DeepCopy()
	noRev.SetAnnotations(nil)
	if rs := currentReplicaSet(noRev, rss); rs != nil {
		t.Errorf("currentReplicaSet without a revision = %s, want nil", rs.GetName())
	}
}

func TestUnschedulableDeadline(t *testing.T) {
	pods := y2us(t, `
apiVersion: v1
kind: Pod
metadata: {name: a, creationTimestamp: "2026-01-01T10:00:00Z"}
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: "False", reason: Unschedulable, lastTransitionTime: "2026-01-01T10:00:05Z"}]
---
apiVersion: v1
kind: Pod
metadata: {name: b, creationTimestamp: "2026-01-01T10:00:02Z"}
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: "False", reason: Unschedulable}]
---
apiVersion: v1
kind: Pod
metadata: {name: scheduled}
status:
  phase: Running
  conditions: [{type: PodScheduled, status: "True", lastTransitionTime: "2026-01-01T09:00:00Z"}]
`)
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	if got, want := unschedulableDeadline(pods, 30*time.Second), base.Add(32*time.Second); !got.Equal(want) {
		t.Errorf("unschedulableDeadline = %v, want %v (pod b, from its creationTimestamp)", got, want)
	}
	if got := unschedulableDeadline(pods[2:], 30*time.Second); !got.IsZero() {
		t.Errorf("unschedulableDeadline(scheduled) = %v, want zero", got)
	}
}

func TestHasStatusSubresource(t *testing.T) {
	crd := y2u(t, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  versions:
  - {name: v1, served: true, storage: true, subresources: {status: {}}}
  - {name: v1beta1, served: true, storage: false}
`)
	if !hasStatusSubresource(crd, "v1") || hasStatusSubresource(crd, "v1beta1") || hasStatusSubresource(crd, "v2") {
		t.Errorf("hasStatusSubresource is wrong")
	}
}

// fakeDiscovery serves widgets.example.com/v1 from its (after+1)th call on.
type fakeDiscovery struct {
	mu    sync.Mutex
	calls int
	after int
}

func (f *fakeDiscovery) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.after {
		return nil, apierrors.NewNotFound(schema.GroupResource{}, gv)
	}
	return &metav1.APIResourceList{GroupVersion: gv, APIResources: []metav1.APIResource{{Name: "widgets", Kind: "Widget", Namespaced: true}}}, nil
}

// fakeTracker returns a Tracker on a fake dynamic client holding objs.
func fakeTracker(t *testing.T, disco resourceLister, opts TrackerOptions, objs ...*unstructured.Unstructured) (*Tracker, *dynamicfake.FakeDynamicClient) {
	t.Helper()
	var ros []runtime.Object
	for _, o := range objs {
		ros = append(ros, o)
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		podsGVR:                                 "PodList",
		replicaSetsGVR:                          "ReplicaSetList",
		endpointSlicesGVR:                       "EndpointSliceList",
		crdsGVR:                                 "CustomResourceDefinitionList",
		deploymentsGVR:                          "DeploymentList",
		servicesGVR:                             "ServiceList",
		widgetsGVR:                              "WidgetList",
		{Version: "v1", Resource: "configmaps"}: "ConfigMapList",
		{Group: "batch", Version: "v1", Resource: "jobs"}:                      "JobList",
		{Version: "v1", Resource: "secrets"}:                                   "SecretList",
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}: "RoleList",
	}, ros...)
	if disco == nil {
		disco = &fakeDiscovery{}
	}
	tr, err := newTracker(dyn, disco, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Stop)
	return tr, dyn
}

func waitFor(tr *Tracker, d time.Duration, refs ...ObjectRef) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return tr.Wait(ctx, refs)
}

func crashLooping(pod *unstructured.Unstructured) *unstructured.Unstructured {
	p := pod.DeepCopy()
	_ = unstructured.SetNestedSlice(p.Object, []any{map[string]any{
		"name": "api", "ready": false, "restartCount": int64(2),
		"state": map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff", "message": "back-off 20s"}},
	}}, "status", "containerStatuses")
	return p
}

// A pod event reaches the Deployment through its ReplicaSet, and only the
// pods of the newest ReplicaSet can fail it.
func TestTrackerDeploymentFollowsItsCurrentPods(t *testing.T) {
	objs := y2us(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, uid: d1, generation: 2, annotations: {deployment.kubernetes.io/revision: "2"}}
spec: {replicas: 1}
status: {observedGeneration: 2, replicas: 2, updatedReplicas: 1, readyReplicas: 0}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-1
  namespace: ns
  uid: rs1
  annotations: {deployment.kubernetes.io/revision: "1"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-2
  namespace: ns
  uid: rs2
  annotations: {deployment.kubernetes.io/revision: "2"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1-old
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: rs1, controller: true}]
status:
  phase: Running
  containerStatuses: [{name: api, ready: false, restartCount: 9, state: {waiting: {reason: CrashLoopBackOff}}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-2-new
  namespace: ns
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-2, uid: rs2, controller: true}]
status:
  phase: Running
  containerStatuses: [{name: api, ready: false, restartCount: 0, state: {running: {}}}]
`)
	var mu sync.Mutex
	var seen []ObjectStatus
	tr, dyn := fakeTracker(t, nil, TrackerOptions{OnChange: func(s ObjectStatus) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	}}, objs...)
	web := ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: "web"}

	err := waitFor(tr, 300*time.Millisecond, web)
	var te *TimeoutError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "Deployment ns/web: 1 old replicas pending termination") {
		t.Fatalf("Wait = %v, want a timeout (the old revision's crash loop does not count)", err)
	}

	// The new revision's pod starts crash looping: one pod event.
	if _, err := dyn.Resource(podsGVR).Namespace("ns").Update(context.Background(), crashLooping(objs[4]), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = waitFor(tr, 5*time.Second, web)
	want := `Deployment ns/web: pod "web-2-new": container "api" CrashLoopBackOff (restarts: 2): back-off 20s (1 old replicas pending termination)`
	if err == nil || err.Error() != want {
		t.Fatalf("Wait = %v, want %s", err, want)
	}
	if got := tr.Status(web); got.Status != Failed {
		t.Errorf("Status = %v, want Failed", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(seen); n < 2 || seen[n-1].Result.Status != Failed || seen[n-1].Ref != web {
		t.Errorf("OnChange saw %v, want the last change to be Failed", seen)
	}
}

// Nothing changes on the cluster while a pod is Unschedulable: only the
// tracker's timer can fail it when the grace period runs out.
func TestTrackerUnschedulableTimer(t *testing.T) {
	now := time.Now().UTC()
	pod := y2u(t, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: big, namespace: ns, creationTimestamp: %q}
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: "False", reason: Unschedulable, message: "0/3 nodes are available", lastTransitionTime: %q}]
`, now.Format(time.RFC3339), now.Format(time.RFC3339)))
	grace := 1500 * time.Millisecond
	tr, _ := fakeTracker(t, nil, TrackerOptions{UnschedulableGrace: grace}, pod)
	ref := ObjectRef{GVR: podsGVR, Kind: "Pod", Namespace: "ns", Name: "big"}

	start := time.Now()
	err := waitFor(tr, 10*time.Second, ref)
	d := time.Since(start)
	var fe *FailedError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "Pod ns/big: pod \"big\": unschedulable for 2s: 0/3 nodes are available") {
		t.Fatalf("Wait = %v, want a FailedError for an unschedulable pod", err)
	}
	// The condition's time is truncated to the second.
	if d < grace-time.Second || d > grace+time.Second {
		t.Errorf("failed after %v, want about the grace (%v)", d, grace)
	}
}

// A CRD is ready once discovery serves it; discovery is asked again, with a
// short backoff, until it does. Its custom resources follow what it says
// about the status subresource.
func TestTrackerCRDAndCustomResource(t *testing.T) {
	objs := y2us(t, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com, uid: c1, generation: 1}
spec:
  group: example.com
  names: {plural: widgets, kind: Widget}
  versions: [{name: v1, served: true, storage: true, subresources: {status: {}}}]
status:
  conditions:
  - {type: NamesAccepted, status: "True"}
  - {type: Established, status: "True"}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: ns, generation: 1}
`)
	disco := &fakeDiscovery{after: 3}
	tr, dyn := fakeTracker(t, disco, TrackerOptions{}, objs...)
	crd := ObjectRef{GVR: crdsGVR, Kind: "CustomResourceDefinition", Name: "widgets.example.com"}
	w := ObjectRef{GVR: widgetsGVR, Kind: "Widget", Namespace: "ns", Name: "w"}

	if err := waitFor(tr, 5*time.Second, crd); err != nil {
		t.Fatal(err)
	}
	disco.mu.Lock()
	calls := disco.calls
	disco.mu.Unlock()
	if calls != 4 {
		t.Errorf("discovery asked %d times, want 4 (not served 3 times, then served)", calls)
	}
	if got := tr.Status(crd); got.Reason != "established and served" {
		t.Errorf("Status(crd) = %v", got)
	}

	err := waitFor(tr, 200*time.Millisecond, w)
	if err == nil || !strings.Contains(err.Error(), "Widget ns/w: no status reported yet") {
		t.Fatalf("Wait = %v, want a timeout: no status reported yet", err)
	}
	obj := objs[1].DeepCopy()
	obj.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}
	if _, err := dyn.Resource(widgetsGVR).Namespace("ns").UpdateStatus(context.Background(), obj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(tr, 5*time.Second, w); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerService(t *testing.T) {
	objs := y2us(t, `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: ns}
spec: {clusterIP: 10.96.0.10, selector: {app: api}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-x, namespace: ns, labels: {kubernetes.io/service-name: api}}
endpoints: [{addresses: [10.0.0.1], conditions: {ready: true}}]
`)
	tr, _ := fakeTracker(t, nil, TrackerOptions{}, objs...)
	svc := ObjectRef{GVR: servicesGVR, Kind: "Service", Namespace: "ns", Name: "api"}
	if err := waitFor(tr, 5*time.Second, svc); err != nil {
		t.Fatal(err)
	}
	if got := tr.Status(svc); got.Reason != "1 ready endpoint" {
		t.Errorf("Status = %v", got)
	}
}

func TestTrackerMisuse(t *testing.T) {
	if _, err := newTracker(nil, nil, TrackerOptions{Selector: "a in (b"}); err == nil {
		t.Error("NewTracker with a bad selector: no error")
	}
	tr, _ := fakeTracker(t, nil, TrackerOptions{})
	if err := tr.Track(ObjectRef{Name: "x"}); err == nil {
		t.Error("Track of an incomplete ref: no error")
	}
	if got := tr.Status(ObjectRef{GVR: podsGVR, Kind: "Pod", Name: "x"}); got.Reason != "not tracked" {
		t.Errorf("Status of an untracked object = %v", got)
	}
	if err := waitFor(tr, time.Second); err != nil {
		t.Errorf("Wait for nothing = %v", err)
	}

	// Stop ends a Wait in progress.
	done := make(chan error, 1)
	go func() {
		done <- tr.Wait(context.Background(), []ObjectRef{{GVR: podsGVR, Kind: "Pod", Namespace: "ns", Name: "missing"}})
	}()
	time.Sleep(50 * time.Millisecond) // let Wait block; either way it must end
	tr.Stop()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopped) {
			t.Errorf("Wait after Stop = %v, want ErrStopped", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after Stop")
	}
	tr.Stop() // twice is fine
	if err := tr.Track(ObjectRef{GVR: podsGVR, Kind: "Pod", Name: "x"}); !errors.Is(err, ErrStopped) {
		t.Errorf("Track after Stop = %v, want ErrStopped", err)
	}
}

func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetName())
	}
	return out
}

func TestSlim(t *testing.T) {
	crd := y2u(t, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
  managedFields: [{manager: kubectl}]
spec:
  group: example.com
  versions: [{name: v1, served: true, subresources: {status: {}}, schema: {openAPIV3Schema: {type: object}}}]
`)
	if _, err := slim(crd); err != nil {
		t.Fatal(err)
	}
	if crd.GetManagedFields() != nil {
		t.Error("managedFields kept")
	}
	v := crd.Object["spec"].(map[string]any)["versions"].([]any)[0].(map[string]any)
	if _, ok := v["schema"]; ok {
		t.Error("schema kept")
	}
	if !hasStatusSubresource(crd, "v1") {
		t.Error("subresources dropped")
	}
	// Malformed objects pass through.
	for _, obj := range []any{
		&unstructured.Unstructured{Object: map[string]any{"kind": "CustomResourceDefinition", "spec": "x"}},
		&unstructured.Unstructured{Object: map[string]any{"kind": "CustomResourceDefinition", "spec": map[string]any{"versions": []any{"x"}}}},
		"not an object",
	} {
		if _, err := slim(obj); err != nil {
			t.Error(err)
		}
	}
}

// A cached copy older than the generation just applied is not judged:
// re-applying a changed Deployment must not be seen ready on its old
// version.
func TestTrackerExpectGeneration(t *testing.T) {
	objs := y2us(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, uid: d1, generation: 1}
spec: {replicas: 1, selector: {matchLabels: {app: web}}}
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
`)
	tr, dyn := fakeTracker(t, nil, TrackerOptions{}, objs...)
	web := ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: "web"}
	if err := waitFor(tr, 5*time.Second, web); err != nil {
		t.Fatalf("generation 1: %v", err)
	}
	tr.ExpectGeneration(web, 2)
	err := waitFor(tr, 300*time.Millisecond, web)
	var te *TimeoutError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "generation 2") {
		t.Fatalf("Wait on a stale cache = %v, want a timeout waiting for generation 2", err)
	}
	next := objs[0].DeepCopy()
	next.SetGeneration(2)
	_ = unstructured.SetNestedField(next.Object, int64(2), "status", "observedGeneration")
	if _, err := dyn.Resource(deploymentsGVR).Namespace("ns").Update(context.Background(), next, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(tr, 5*time.Second, web); err != nil {
		t.Fatalf("generation 2 observed: %v", err)
	}
}

// An object the caller applied whose kind has no readiness rule is ready on
// the apply alone, with no watch on its resource; the same kind merely
// tracked is watched, and not ready until seen. Kinds with a rule are
// watched whether applied or not.
func TestTrackerAppliedWithoutRule(t *testing.T) {
	configMapsGVR := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	secretsGVR := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	rolesGVR := schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
	tr, _ := fakeTracker(t, nil, TrackerOptions{})
	cfg := ObjectRef{GVR: configMapsGVR, Kind: "ConfigMap", Namespace: "ns", Name: "cfg"}
	secret := ObjectRef{GVR: secretsGVR, Kind: "Secret", Namespace: "ns", Name: "creds"}
	role := ObjectRef{GVR: rolesGVR, Kind: "Role", Namespace: "ns", Name: "reader"}
	web := ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: "web"}
	for _, r := range []ObjectRef{cfg, secret, role} {
		tr.Applied(r, 0)
	}
	tr.Applied(web, 1)
	// None of them is in the (fake) cluster: only the apply vouches for them.
	if err := waitFor(tr, 5*time.Second, cfg, secret, role); err != nil {
		t.Fatalf("applied objects without a rule: %v", err)
	}
	check(t, tr.Status(secret), Ready, "applied (Secret has no readiness rule: ready on apply)")
	err := waitFor(tr, 300*time.Millisecond, web)
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("applied Deployment nobody has seen: Wait = %v, want a timeout", err)
	}
	tr.mu.Lock()
	for _, gvr := range []schema.GroupVersionResource{configMapsGVR, secretsGVR, rolesGVR} {
		if tr.watches[gvr] != nil {
			t.Errorf("%s is watched; want no watch for applied objects without a rule", gvr.GroupResource())
		}
	}
	if tr.watches[deploymentsGVR] == nil {
		t.Error("deployments.apps is not watched; want a watch for a kind with a rule, applied or not")
	}
	tr.mu.Unlock()

	// Tracked without being applied (as `testbed status` does): watched,
	// and not ready while nobody has seen it.
	stray := ObjectRef{GVR: configMapsGVR, Kind: "ConfigMap", Namespace: "ns", Name: "stray"}
	err = waitFor(tr, 300*time.Millisecond, stray)
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "ConfigMap ns/stray: ") {
		t.Fatalf("tracked, never applied ConfigMap: Wait = %v, want a timeout naming it", err)
	}
	tr.mu.Lock()
	watched := tr.watches[configMapsGVR] != nil
	tr.mu.Unlock()
	if !watched {
		t.Error("configmaps is not watched for a ConfigMap only tracked")
	}
	// The applied ConfigMap stays ready with a watch on its resource now
	// running (it is not in the fake cluster).
	check(t, tr.Status(cfg), Ready, "applied (ConfigMap has no readiness rule")
}

func TestTrackerWatchStartsWatchesEarly(t *testing.T) {
	statefulSetsGVR := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	configMapsGVR := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	tr, _ := fakeTracker(t, nil, TrackerOptions{})
	web := ObjectRef{GVR: deploymentsGVR, Kind: "Deployment", Namespace: "ns", Name: "web"}
	tr.Watch(
		web,
		ObjectRef{GVR: servicesGVR, Kind: "Service", Namespace: "ns", Name: "web"},
		ObjectRef{GVR: configMapsGVR, Kind: "ConfigMap", Namespace: "ns", Name: "cfg"},
		ObjectRef{GVR: widgetsGVR, Kind: "Widget", Namespace: "ns", Name: "w"},
		ObjectRef{GVR: statefulSetsGVR, Kind: "StatefulSet", Namespace: "ns"}, // no name: skipped
	)
	tr.mu.Lock()
	got := map[string]bool{}
	for gvr := range tr.watches {
		got[gvr.GroupResource().String()] = true
	}
	tracked := len(tr.tracked)
	tr.mu.Unlock()
	want := map[string]bool{"deployments.apps": true, "pods": true, "replicasets.apps": true, "services": true, "endpointslices.discovery.k8s.io": true}
	if !maps.Equal(got, want) {
		t.Errorf("watches after Watch = %v, want %v (none for a kind ready on apply, none for a custom kind)", got, want)
	}
	if tracked != 0 {
		t.Errorf("Watch tracked %d objects, want none", tracked)
	}
	// Tracking an object later reuses the watch started early.
	tr.mu.Lock()
	early := tr.watches[deploymentsGVR]
	tr.mu.Unlock()
	if err := tr.Track(web); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	same := tr.watches[deploymentsGVR] == early
	tr.mu.Unlock()
	if !same {
		t.Error("Track started a second watch on deployments.apps")
	}
	tr.Stop()
	tr.Watch(ObjectRef{GVR: statefulSetsGVR, Kind: "StatefulSet", Namespace: "ns", Name: "db"})
	tr.mu.Lock()
	after := len(tr.watches)
	tr.mu.Unlock()
	if after != len(want) {
		t.Errorf("Watch after Stop: %d watches, want the %d from before", after, len(want))
	}
}

// When Wait returns, OnChange has been told of every change it returned on:
// a caller reporting progress never says "ready" before its objects are.
func TestTrackerOnChangeBeforeWaitReturns(t *testing.T) {
	configMapsGVR := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	for round := range 20 {
		var mu sync.Mutex
		told := map[ObjectRef]bool{}
		tr, _ := fakeTracker(t, nil, TrackerOptions{OnChange: func(st ObjectStatus) {
			time.Sleep(2 * time.Millisecond) // a slow callback widens any gap
			mu.Lock()
			told[st.Ref] = st.Result.Status == Ready
			mu.Unlock()
		}})
		var refs []ObjectRef
		for i := range 5 {
			refs = append(refs, ObjectRef{GVR: configMapsGVR, Kind: "ConfigMap", Namespace: "ns", Name: fmt.Sprintf("cm-%d", i)})
		}
		for _, r := range refs {
			tr.Applied(r, 0)
		}
		if err := waitFor(tr, 5*time.Second, refs...); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for _, r := range refs {
			if !told[r] {
				t.Errorf("round %d: Wait returned before OnChange was told %s is ready", round, r)
			}
		}
		mu.Unlock()
		tr.Stop()
	}
}
