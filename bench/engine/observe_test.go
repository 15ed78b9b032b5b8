package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kubetestbed/testbed/internal/cluster/sim"
)

// milestone is a step of one component as the cluster shows it, keyed by
// the component's name (the Deployment's and Service's name, the pods'
// app label).
type milestone int

const (
	created    milestone = iota // the Deployment is first seen
	svcCreated                  // the Service is first seen
	podCreated                  // its pod is first seen
	scheduled                   // the pod is bound to a node
	podRunning                  // the pod is Running (kwok's start stage)
	podReady                    // the pod is Ready (kwok's ready stage)
	available                   // the Deployment passes testbed's rule (docs/design.md, "Readiness rules")
	endpoint                    // the Service's EndpointSlices hold a ready endpoint
	nMilestones
)

var milestoneNames = [nMilestones]string{"created", "svc", "pod", "scheduled", "running", "pod-ready", "available", "endpoint"}

// observer records, from an independent watch on one namespace
// (informers: list, then watch, no polling), when each component reached
// each milestone, as this process saw it. It is the cluster's timeline
// that testbed's own timings are compared against.
type observer struct {
	stop      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	at        map[string]*[nMilestones]time.Time
	changed   chan struct{} // closed and replaced on every new milestone
}

func observe(ctx context.Context, cs kubernetes.Interface, ns string) (*observer, error) {
	o := &observer{stop: make(chan struct{}), at: map[string]*[nMilestones]time.Time{}, changed: make(chan struct{})}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	for inf, fn := range map[cache.SharedIndexInformer]func(any){
		f.Apps().V1().Deployments().Informer():         o.deployment,
		f.Core().V1().Pods().Informer():                o.pod,
		f.Core().V1().Services().Informer():            o.service,
		f.Discovery().V1().EndpointSlices().Informer(): o.slice,
	} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: fn, UpdateFunc: func(_, obj any) { fn(obj) }}); err != nil {
			return nil, err
		}
	}
	f.Start(o.stop)
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			o.close()
			return nil, fmt.Errorf("observer: %v informer did not sync: %w", typ, ctx.Err())
		}
	}
	return o, nil
}

func (o *observer) close() { o.closeOnce.Do(func() { close(o.stop) }) }

func (o *observer) mark(key string, m milestone, t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.at[key]
	if a == nil {
		a = new([nMilestones]time.Time)
		o.at[key] = a
	}
	if a[m].IsZero() {
		a[m] = t
		close(o.changed)
		o.changed = make(chan struct{})
	}
}

func (o *observer) deployment(obj any) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return
	}
	now := time.Now()
	o.mark(d.Name, created, now)
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	if s.ObservedGeneration >= d.Generation && s.Replicas == want && s.UpdatedReplicas == want && s.ReadyReplicas == want && s.AvailableReplicas == want {
		o.mark(d.Name, available, now)
	}
}

func (o *observer) service(obj any) {
	if s, ok := obj.(*corev1.Service); ok {
		o.mark(s.Name, svcCreated, time.Now())
	}
}

func (o *observer) pod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Labels["app"] == "" {
		return
	}
	now, key := time.Now(), p.Labels["app"]
	o.mark(key, podCreated, now)
	if p.Spec.NodeName != "" {
		o.mark(key, scheduled, now)
	}
	if p.Status.Phase == corev1.PodRunning {
		o.mark(key, podRunning, now)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			o.mark(key, podReady, now)
		}
	}
}

func (o *observer) slice(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	for _, ep := range s.Endpoints {
		if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
			o.mark(s.Labels[discoveryv1.LabelServiceName], endpoint, time.Now())
			return
		}
	}
}

// times returns a copy of what was recorded for key.
func (o *observer) times(key string) [nMilestones]time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	if a := o.at[key]; a != nil {
		return *a
	}
	return [nMilestones]time.Time{}
}

// wait returns once every key has reached every milestone in ms.
func (o *observer) wait(ctx context.Context, keys []string, ms ...milestone) error {
	for {
		o.mu.Lock()
		missing, ch := "", o.changed
		for _, k := range keys {
			a := o.at[k]
			for _, m := range ms {
				if a == nil || a[m].IsZero() {
					missing = k + " " + milestoneNames[m]
					break
				}
			}
			if missing != "" {
				break
			}
		}
		o.mu.Unlock()
		if missing == "" {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("observer: still waiting for %s: %w", missing, ctx.Err())
		}
	}
}

// deployment and service build one component's objects as the stack's
// manifests have them, with the sim annotations testbed would add.
func deployment(ns, name string, ann map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: ann},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.k8s.io/pause:3.10",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
}

func service(ns, name, clusterIP string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			ClusterIP: clusterIP,
			Selector:  map[string]string{"app": name},
			Ports:     []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

// applyBody is obj as a server-side apply body: no status, no
// creationTimestamp.
func applyBody(obj runtime.Object) ([]byte, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
	return json.Marshal(m)
}

func ensureNamespace(ctx context.Context, cs kubernetes.Interface, ns string) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// probeNamespace holds the cluster-latency probes.
const probeNamespace = "bench-probe"

// clusterLatency measures the cluster's own latency: it server-side-applies
// (as testbed does) a 1-replica Deployment whose pod is ready after 0 s on
// sim (the same kwok stages as the components, without the wait), with a
// Service selecting it (headless like sh's) if withService, one at a time, and returns for each
// how long it took from the apply call to the Deployment passing testbed's
// rule (and, withService, the Service having a ready endpoint), as an
// independent watch sees it. The first probe (which may also wait for the
// namespace's default ServiceAccount) is a warm-up and is not returned.
func clusterLatency(ctx context.Context, c cluster, sh shape, withService bool, n int) ([]time.Duration, error) {
	cs := c.cs
	if err := ensureNamespace(ctx, cs, probeNamespace); err != nil {
		return nil, err
	}
	o, err := observe(ctx, c.watch, probeNamespace)
	if err != nil {
		return nil, err
	}
	defer o.close()
	opts := metav1.PatchOptions{FieldManager: "bench", Force: new(true)}
	var out []time.Duration
	for i := range n + 1 {
		name := fmt.Sprintf("probe-d-%d", i)
		ms := []milestone{available}
		if withService {
			name = fmt.Sprintf("probe-ds-%d", i)
			ms = append(ms, endpoint)
		}
		dep, err := applyBody(deployment(probeNamespace, name, map[string]string{sim.AnnotationReadyAfter: "0s"}))
		if err != nil {
			return nil, err
		}
		svc, err := applyBody(service(probeNamespace, name, sh.clusterIP()))
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if _, err := cs.AppsV1().Deployments(probeNamespace).Patch(ctx, name, types.ApplyPatchType, dep, opts); err != nil {
			return nil, fmt.Errorf("probe %s: %w", name, err)
		}
		if withService {
			if _, err := cs.CoreV1().Services(probeNamespace).Patch(ctx, name, types.ApplyPatchType, svc, opts); err != nil {
				return nil, fmt.Errorf("probe %s: %w", name, err)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = o.wait(wctx, []string{name}, ms...)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("probe %s: %w", name, err)
		}
		t := o.times(name)
		done := t[available]
		if withService && t[endpoint].After(done) {
			done = t[endpoint]
		}
		if i > 0 {
			out = append(out, done.Sub(start))
		}
	}
	return out, nil
}

// plainNamespace holds the plain parallel create.
const plainNamespace = "bench-plain"

// plainResult is what a plain parallel create took, from before the
// namespace is created: until every object was created, and until every
// Deployment passed testbed's rule and every Service had a ready endpoint.
// objects counts the Deployments and Services.
type plainResult struct {
	objects       int
	create, ready time.Duration
	// depCalls and svcCalls are the latencies of the Create calls.
	depCalls, svcCalls []time.Duration
}

// plainCreate creates the objects of sh (with the same sim annotation, in
// a fresh namespace) with client-go Create calls, concurrency at a time,
// through cs (whose client-side rate limit applies), and waits for them
// with an independent watch.
func plainCreate(ctx context.Context, c cluster, sh shape, concurrency int) (plainResult, error) {
	return plainRun(ctx, c, sh, concurrency, false)
}

// plainSSANamespace holds the plain parallel server-side apply.
const plainSSANamespace = "bench-plain-ssa"

// plainApply is plainCreate with server-side apply, as testbed sends it
// (force, strict field validation), instead of Create: the API server's
// own price for server-side apply, without testbed's engine.
func plainApply(ctx context.Context, c cluster, sh shape, concurrency int) (plainResult, error) {
	return plainRun(ctx, c, sh, concurrency, true)
}

func plainRun(ctx context.Context, c cluster, sh shape, concurrency int, ssa bool) (plainResult, error) {
	cs := c.cs
	ns := plainNamespace
	if ssa {
		ns = plainSSANamespace
	}
	opts := metav1.PatchOptions{FieldManager: "bench-plain", Force: new(true), FieldValidation: metav1.FieldValidationStrict}
	o, err := observe(ctx, c.watch, ns)
	if err != nil {
		return plainResult{}, err
	}
	defer o.close()
	names := sh.components()
	ann := map[string]string{sim.AnnotationReadyAfter: sh.readyAfter.String()}
	start := time.Now()
	if err := ensureNamespace(ctx, cs, ns); err != nil {
		return plainResult{}, err
	}
	calls := make([]time.Duration, 2*len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i := range calls {
		name := names[i/2]
		g.Go(func() error {
			var err error
			t := time.Now()
			switch {
			case i%2 == 0 && ssa:
				var data []byte
				if data, err = json.Marshal(deployment(ns, name, ann)); err == nil {
					_, err = cs.AppsV1().Deployments(ns).Patch(gctx, name, types.ApplyPatchType, data, opts)
				}
			case ssa:
				var data []byte
				if data, err = json.Marshal(service(ns, name, sh.clusterIP())); err == nil {
					_, err = cs.CoreV1().Services(ns).Patch(gctx, name, types.ApplyPatchType, data, opts)
				}
			case i%2 == 0:
				_, err = cs.AppsV1().Deployments(ns).Create(gctx, deployment(ns, name, ann), metav1.CreateOptions{})
			default:
				_, err = cs.CoreV1().Services(ns).Create(gctx, service(ns, name, sh.clusterIP()), metav1.CreateOptions{})
			}
			calls[i] = time.Since(t)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return plainResult{}, fmt.Errorf("plain run (server-side apply %v): %w", ssa, err)
	}
	res := plainResult{objects: 2 * len(names), create: time.Since(start)}
	for i, d := range calls {
		if i%2 == 0 {
			res.depCalls = append(res.depCalls, d)
		} else {
			res.svcCalls = append(res.svcCalls, d)
		}
	}
	if err := o.wait(ctx, names, available, endpoint); err != nil {
		return plainResult{}, fmt.Errorf("plain create: %w", err)
	}
	var last time.Time
	for _, n := range names {
		t := o.times(n)
		last = latest(last, t[available], t[endpoint])
	}
	res.ready = last.Sub(start)
	return res, nil
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
