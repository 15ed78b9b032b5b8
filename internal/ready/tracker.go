package ready

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"

	"github.com/kubetestbed/testbed/internal/apigroups"
)

// ObjectRef names an object for the [Tracker]. Kind is the object's kind
// ("Deployment"); Namespace is empty for a cluster-scoped object.
type ObjectRef struct {
	GVR       schema.GroupVersionResource
	Kind      string
	Namespace string
	Name      string
}

// String returns "Kind ns/name", or "Kind name" for a cluster-scoped object.
func (r ObjectRef) String() string {
	kind := r.Kind
	if kind == "" {
		kind = r.GVR.Resource
	}
	if r.Namespace == "" {
		return kind + " " + r.Name
	}
	return kind + " " + r.Namespace + "/" + r.Name
}

func (r ObjectRef) validate() error {
	if r.GVR.Version == "" || r.GVR.Resource == "" || r.Kind == "" || r.Name == "" {
		return fmt.Errorf("ready: incomplete object reference %+v: GVR version and resource, Kind and Name are required", r)
	}
	return nil
}

// ObjectStatus is the latest evaluation of a tracked object.
type ObjectStatus struct {
	Ref    ObjectRef
	Result Result
	// At is when Result last changed (for a Ready object: when it became
	// ready, as far as the tracker saw).
	At time.Time
}

// String returns "Kind ns/name: reason".
func (s ObjectStatus) String() string { return s.Ref.String() + ": " + s.Result.Reason }

// TrackerOptions configure a [Tracker].
type TrackerOptions struct {
	// Selector is a label selector ("testbed.dev/stack=shop") that every
	// watch of the tracker uses, except the one on CustomResourceDefinitions
	// (which are few, and may come from outside the stack). Tracked objects,
	// the pod templates of tracked workloads and tracked Services must carry
	// the labels it selects: an object the selector does not match is never
	// seen (it stays InProgress, "not seen"), and a workload whose pods it
	// does not match cannot fail fast. Empty: every object.
	Selector string
	// UnschedulableGrace is how long a pod may stay Unschedulable before its
	// workload fails (see [PodDoomed]). Default 30s.
	UnschedulableGrace time.Duration
	// OnChange, if set, is called every time the Result of a tracked object
	// changes (its first evaluation included), in order, from a single
	// goroutine, before any Wait sees the change. It must not block;
	// it must not call Wait.
	OnChange func(ObjectStatus)
}

// DefaultUnschedulableGrace is TrackerOptions.UnschedulableGrace's default.
const DefaultUnschedulableGrace = 30 * time.Second

// ErrStopped is returned by Track and Wait once the Tracker is stopped.
var ErrStopped = errors.New("ready: tracker stopped")

// FailedError is returned by [Tracker.Wait] when an object fails: it will
// not become ready without a change.
type FailedError struct {
	Ref    ObjectRef
	Result Result
}

// Error returns "Kind ns/name: reason (message)".
func (e *FailedError) Error() string {
	s := e.Ref.String() + ": " + e.Result.Reason
	if e.Result.Message != "" {
		s += " (" + e.Result.Message + ")"
	}
	return s
}

// TimeoutError is returned by [Tracker.Wait] when its context ends before
// every object is ready. It lists every object not yet ready, with its
// latest reason, and wraps the context's error (context.DeadlineExceeded or
// context.Canceled) and its cause.
type TimeoutError struct {
	Pending []ObjectStatus
	// Err is ctx.Err(); Cause is context.Cause(ctx) (often the same).
	Err, Cause error
}

// Error returns "timed out: Deployment ns/web: 0/1 replicas ready; Job
// ns/migrate: running: …" (or "canceled: …" when the context was canceled).
func (e *TimeoutError) Error() string {
	what := "timed out"
	if !errors.Is(e.Err, context.DeadlineExceeded) {
		what = "canceled"
	}
	if e.Cause != nil && e.Cause != e.Err {
		what += " (" + e.Cause.Error() + ")"
	}
	return what + ": " + e.PendingString()
}

// PendingString lists the objects not ready, each with its reason:
// "Deployment ns/web: 0/1 replicas ready; Job ns/migrate: running: …".
func (e *TimeoutError) PendingString() string {
	parts := make([]string, len(e.Pending))
	for i, p := range e.Pending {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns the context's error and its cause.
func (e *TimeoutError) Unwrap() []error {
	if e.Cause != nil && e.Cause != e.Err {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// Tracker watches the objects of one stack and evaluates each one with the
// rules of this package whenever an event that can change its readiness
// arrives: an event on the object itself, on one of its pods (or, for a
// Deployment, its ReplicaSets), on its Service's EndpointSlices, or on its
// CRD. Watches are shared informers, one per resource, started when the
// first object of that resource is tracked and filtered by the Selector
// (none for objects of kinds without a rule that the caller applied: see
// [Tracker.Applied]).
// There is no polling loop; the only timers are the Unschedulable grace
// period (where the clock itself changes the answer) and the short wait
// between a CRD being Established and discovery serving it (which cannot be
// watched).
//
// Many Waits may run at once on one Tracker. Stop it when done.
type Tracker struct {
	dyn      dynamic.Interface
	proto    *protoSource // nil: every watch through dyn
	disco    resourceLister
	selector string
	grace    time.Duration
	onChange func(ObjectStatus)

	ctx      context.Context
	cancel   context.CancelFunc
	queue    *workqueue.Typed[ObjectRef]
	wg       sync.WaitGroup
	stopOnce sync.Once

	mu         sync.Mutex
	stopped    bool
	watches    map[schema.GroupVersionResource]*watch
	tracked    map[ObjectRef]*entry
	minGen     map[ObjectRef]int64                  // generations the caches must reach (see ExpectGeneration)
	applied    map[ObjectRef]bool                   // written by the caller, of a kind without a rule (see Applied)
	byObject   map[objectKey][]ObjectRef            // the object's own events
	byKind     map[kindKey][]ObjectRef              // owner references, Services of EndpointSlices
	byResource map[schema.GroupResource][]ObjectRef // custom resources, for events on their CRD
	served     map[string]*servedState              // CRD name → served by discovery
	stopCh     chan struct{}                        // closed by Stop
	// schedWaiters are the WaitScheduleds, woken on every event.
	schedWaiters map[chan struct{}]struct{}
}

// resourceLister is the part of discovery the tracker uses.
type resourceLister interface {
	ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error)
}

type entry struct {
	status ObjectStatus
	// published is what Waits see: status once OnChange has been told of
	// it (a downgrade by ExpectGeneration at once).
	published ObjectStatus
	evaluated bool
	timer     *time.Timer // re-evaluation when an Unschedulable grace ends
	// waiters are the Waits on this object, each woken (without blocking:
	// capacity 1) when its status changes. Only they are woken: a stack
	// of hundreds of components has as many Waits, and waking all of them
	// on every change anywhere costs more CPU than the watches.
	waiters map[chan struct{}]struct{}
}

type objectKey struct {
	gr        schema.GroupResource
	namespace string
	name      string
}

type kindKey struct {
	group, kind, namespace, name string
}

// NewTracker returns a Tracker on the cluster cfg points at. It starts no
// watch until an object is tracked.
func NewTracker(cfg *rest.Config, opts TrackerOptions) (*Tracker, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("ready: dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("ready: discovery client: %w", err)
	}
	proto, err := newProtoSource(cfg)
	if err != nil {
		return nil, err
	}
	t, err := newTracker(dyn, dc, opts)
	if err != nil {
		return nil, err
	}
	t.proto = proto
	return t, nil
}

func newTracker(dyn dynamic.Interface, disco resourceLister, opts TrackerOptions) (*Tracker, error) {
	if _, err := labels.Parse(opts.Selector); err != nil {
		return nil, fmt.Errorf("ready: selector %q: %w", opts.Selector, err)
	}
	if opts.UnschedulableGrace <= 0 {
		opts.UnschedulableGrace = DefaultUnschedulableGrace
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tracker{
		dyn:        dyn,
		disco:      disco,
		selector:   opts.Selector,
		grace:      opts.UnschedulableGrace,
		onChange:   opts.OnChange,
		ctx:        ctx,
		cancel:     cancel,
		queue:      workqueue.NewTyped[ObjectRef](),
		watches:    map[schema.GroupVersionResource]*watch{},
		tracked:    map[ObjectRef]*entry{},
		minGen:     map[ObjectRef]int64{},
		applied:    map[ObjectRef]bool{},
		byObject:   map[objectKey][]ObjectRef{},
		byKind:     map[kindKey][]ObjectRef{},
		byResource: map[schema.GroupResource][]ObjectRef{},
		served:     map[string]*servedState{},
		stopCh:     make(chan struct{}),

		schedWaiters: map[chan struct{}]struct{}{},
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		for t.processNext() {
		}
	}()
	return t, nil
}

// Track starts tracking refs (objects already tracked are left as they
// are): it starts the watches they need and evaluates them. Wait calls it;
// call it directly to have Status report on objects nobody waits for.
func (t *Tracker) Track(refs ...ObjectRef) error {
	for _, r := range refs {
		if err := r.validate(); err != nil {
			return err
		}
	}
	var added []ObjectRef
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return ErrStopped
	}
	for _, r := range refs {
		if _, ok := t.tracked[r]; ok {
			continue
		}
		st := ObjectStatus{Ref: r, Result: inProgress("not evaluated yet"), At: time.Now()}
		t.tracked[r] = &entry{status: st, published: st}
		ok := objectKey{r.GVR.GroupResource(), r.Namespace, r.Name}
		t.byObject[ok] = append(t.byObject[ok], r)
		kk := kindKey{r.GVR.Group, r.Kind, r.Namespace, r.Name}
		t.byKind[kk] = append(t.byKind[kk], r)
		if isCustom(r) {
			t.byResource[r.GVR.GroupResource()] = append(t.byResource[r.GVR.GroupResource()], r)
		}
		if !t.applied[r] {
			for _, rk := range watchesFor(r) {
				t.ensureWatchLocked(rk)
			}
		}
		added = append(added, r)
	}
	t.mu.Unlock()
	for _, r := range added {
		t.queue.Add(r)
	}
	return nil
}

// Watch starts the watches that tracking refs will need, without tracking
// refs: a caller that knows what it is about to apply starts them before
// the first apply, so that their initial lists are done, off the critical
// path, by the time the objects exist. Kinds that are ready on apply (see
// [Tracker.Applied]) need no watch, and custom kinds are left to Track
// (their resources may not be served yet: a watch started too early backs
// off). Errors of the watches show on the objects that use them.
func (t *Tracker) Watch(refs ...ObjectRef) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	for _, r := range refs {
		if r.validate() != nil || isCustom(r) || readyOnApply(r) {
			continue
		}
		for _, rk := range watchesFor(r) {
			t.ensureWatchLocked(rk)
		}
	}
}

// Applied tells the tracker that ref was just written, as the API server's
// answer to the write shows: the object exists, at metadata.generation gen.
// An object of a built-in kind without a readiness rule (ConfigMap, Secret,
// ServiceAccount, RBAC, …) is then ready on that answer alone: no watch is
// started for it, so that its contents (a Secret's values, a large
// ConfigMap) never reach the tracker, and the API server serves one watch
// less per such kind. For any other kind Applied is [Tracker.ExpectGeneration].
// Objects the caller did not write (Track alone) are watched whatever their
// kind: only a watch can say they exist.
func (t *Tracker) Applied(ref ObjectRef, gen int64) {
	if readyOnApply(ref) {
		t.mu.Lock()
		t.applied[ref] = true
		t.mu.Unlock()
		t.queue.Add(ref)
		return
	}
	t.ExpectGeneration(ref, gen)
}

// readyOnApply reports whether ref's kind is a built-in one without a
// readiness rule: ready once it exists.
func readyOnApply(ref ObjectRef) bool {
	if !apigroups.Builtin(ref.GVR.Group) || ref.Kind == "" {
		return false
	}
	_, ok := rules[schema.GroupKind{Group: ref.GVR.Group, Kind: ref.Kind}]
	return !ok
}

// ExpectGeneration tells the tracker that ref was just written with
// metadata.generation gen: until the watch cache holds that generation (or
// a later one), ref is not judged on an older copy. Re-applying a changed
// object to a running stack would otherwise be seen ready on its previous
// version. A gen of 0 (kinds without generations) does nothing.
func (t *Tracker) ExpectGeneration(ref ObjectRef, gen int64) {
	if gen <= 0 {
		return
	}
	t.mu.Lock()
	if gen > t.minGen[ref] {
		t.minGen[ref] = gen
		// Until the worker re-evaluates it, the verdict on the older
		// copy no longer stands.
		if e, ok := t.tracked[ref]; ok && e.status.Result.Status != InProgress {
			e.status.Result = inProgress("waiting for the watch to see generation %d", gen)
			e.published.Result = e.status.Result
		}
	}
	t.mu.Unlock()
	t.queue.Add(ref)
}

// Wait tracks refs and blocks until every one of them is Ready (it returns
// nil), or one of them is Failed (it returns a *[FailedError] at once,
// without waiting for the others or for ctx), or ctx ends (it returns a
// *[TimeoutError] listing every object not yet ready with its reason).
// Any number of Waits may run concurrently.
func (t *Tracker) Wait(ctx context.Context, refs []ObjectRef) error {
	if err := t.Track(refs...); err != nil {
		return err
	}
	wake := make(chan struct{}, 1)
	t.mu.Lock()
	for _, r := range refs {
		if e := t.tracked[r]; e != nil {
			if e.waiters == nil {
				e.waiters = map[chan struct{}]struct{}{}
			}
			e.waiters[wake] = struct{}{}
		}
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		for _, r := range refs {
			if e := t.tracked[r]; e != nil {
				delete(e.waiters, wake)
			}
		}
		t.mu.Unlock()
	}()
	for {
		t.mu.Lock()
		if t.stopped {
			t.mu.Unlock()
			return ErrStopped
		}
		var pending []ObjectStatus
		var failed *FailedError
		for _, r := range refs {
			s := t.tracked[r].published
			switch s.Result.Status {
			case Ready:
			case Failed:
				if failed == nil {
					failed = &FailedError{Ref: r, Result: s.Result}
				}
			default:
				pending = append(pending, s)
			}
		}
		t.mu.Unlock()
		switch {
		case failed != nil:
			return failed
		case len(pending) == 0:
			return nil
		}
		select {
		case <-wake:
		case <-t.stopCh:
		case <-ctx.Done():
			return &TimeoutError{Pending: pending, Err: ctx.Err(), Cause: context.Cause(ctx)}
		}
	}
}

// Status returns the latest evaluation of ref: InProgress "not tracked" if
// it is not tracked.
func (t *Tracker) Status(ref ObjectRef) Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.tracked[ref]; ok {
		return e.status.Result
	}
	return inProgress("not tracked")
}

// Statuses returns the latest evaluation of every tracked object, in no
// particular order.
func (t *Tracker) Statuses() []ObjectStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ObjectStatus, 0, len(t.tracked))
	for _, e := range t.tracked {
		out = append(out, e.status)
	}
	return out
}

// Stop stops every watch and timer and waits for the tracker's goroutines
// to end. Waits in progress return ErrStopped. Stop may be called more than
// once.
func (t *Tracker) Stop() {
	t.stopOnce.Do(func() {
		t.mu.Lock()
		t.stopped = true
		for _, e := range t.tracked {
			if e.timer != nil {
				e.timer.Stop()
			}
		}
		close(t.stopCh)
		t.mu.Unlock()
		t.cancel()
		t.queue.ShutDown()
		t.wg.Wait()
	})
}

// processNext evaluates the next queued object and records the result; it
// returns false once the queue is shut down.
func (t *Tracker) processNext() bool {
	ref, shutdown := t.queue.Get()
	if shutdown {
		return false
	}
	defer t.queue.Done(ref)

	t.mu.Lock()
	gen := t.minGen[ref]
	t.mu.Unlock()
	r, recheck := t.evaluate(ref)
	now := time.Now()

	t.mu.Lock()
	e := t.tracked[ref]
	if e == nil || t.stopped {
		t.mu.Unlock()
		return true
	}
	if t.minGen[ref] != gen {
		// ExpectGeneration ran meanwhile: this answer may be about the
		// previous generation. It queued ref again; that evaluation counts.
		t.mu.Unlock()
		return true
	}
	switch {
	case !recheck.IsZero():
		// Just past the instant the answer changes: PodDoomed compares
		// with >, and condition times have a resolution of a second.
		d := recheck.Sub(now) + 50*time.Millisecond
		if e.timer == nil {
			e.timer = time.AfterFunc(d, func() { t.queue.Add(ref) })
		} else {
			e.timer.Reset(d)
		}
	case e.timer != nil:
		e.timer.Stop()
	}
	changed := !e.evaluated || e.status.Result != r
	if changed && e.evaluated && e.status.Result.Status == Ready && r.Status == Ready {
		// Still ready, for another reason (a Job ready on its pods, then
		// Complete): At stays when it became ready, and nobody is told.
		e.status.Result = r
		changed = false
	}
	if changed {
		e.evaluated = true
		e.status = ObjectStatus{Ref: ref, Result: r, At: now}
	}
	st := e.status
	t.mu.Unlock()

	// OnChange first, then what Waits see: whoever a Wait returns to has
	// been told of every change it returned on.
	if changed && t.onChange != nil {
		t.onChange(st)
	}
	t.mu.Lock()
	// The current status: ExpectGeneration may have taken it back to
	// InProgress meanwhile (and published that at once).
	e.published = e.status
	var wake []chan struct{}
	if changed {
		for w := range e.waiters {
			wake = append(wake, w)
		}
		t.wakeScheduledLocked()
	}
	t.mu.Unlock()
	for _, w := range wake {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	return true
}
