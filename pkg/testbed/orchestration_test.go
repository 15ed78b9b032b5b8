package testbed

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubetestbed/testbed/internal/cluster"
	"github.com/kubetestbed/testbed/pkg/report"
)

// fakeProvider records what Up asks of a provider. Its clusters' API is a
// listener that accepts connections and never answers, so a run waits in
// its first API call until it is stopped.
type fakeProvider struct {
	t          *testing.T
	prepare    time.Duration // Prepare's duration
	ensureErr  error
	exists     bool       // a cluster of the stack's name runs already
	dies       chan error // the cluster's Monitor returns what it receives
	mu         sync.Mutex
	deleted    []string
	prepared   bool
	ensureTime time.Time
}

func (p *fakeProvider) Name() string { return "fake" }

func (p *fakeProvider) Prepare(ctx context.Context) error {
	select {
	case <-time.After(p.prepare):
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	p.prepared = true
	p.mu.Unlock()
	return nil
}

func (p *fakeProvider) Ensure(ctx context.Context, name string) (cluster.Cluster, bool, error) {
	p.mu.Lock()
	p.ensureTime = time.Now()
	p.mu.Unlock()
	if p.ensureErr != nil {
		return nil, false, p.ensureErr
	}
	return p.cluster(), !p.exists, nil
}

func (p *fakeProvider) Find(ctx context.Context, name string) (cluster.Cluster, error) {
	if !p.exists {
		return nil, cluster.ErrNotFound
	}
	return p.cluster(), nil
}

func (p *fakeProvider) Delete(ctx context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deleted = append(p.deleted, name)
	return nil
}

func (p *fakeProvider) Deleted() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.deleted...)
}

func (p *fakeProvider) cluster() cluster.Cluster {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.t.Cleanup(func() { c.Close() })
		}
	}()
	return &fakeCluster{host: "http://" + l.Addr().String(), dies: p.dies}
}

type fakeCluster struct {
	host string
	dies chan error
}

func (c *fakeCluster) KubeconfigPath() string { return "/nonexistent/kubeconfig" }
func (c *fakeCluster) RESTConfig() (*rest.Config, error) {
	return &rest.Config{Host: c.host}, nil
}
func (c *fakeCluster) Monitor(ctx context.Context) error {
	select {
	case err := <-c.dies:
		return err
	case <-ctx.Done():
		return nil
	}
}

// simFake is a fakeProvider that simulates pods.
type simFake struct{ *fakeProvider }

func (simFake) PodAnnotations(time.Duration, []string, string) map[string]string { return nil }

func fakeUp(t *testing.T, ctx context.Context, p cluster.Provider, timeout time.Duration) (*Env, error) {
	t.Helper()
	s := parse(t, `
    - {name: db, manifests: [db.yaml]}`)
	return Up(ctx, s, Options{provider: p, Timeout: timeout, StateDir: t.TempDir(), DiagDir: t.TempDir()})
}

// The provider's preparation (the sim control-plane build) is not part of
// the bring-up: a stack timeout shorter than it does not fail the run, and
// the report's clock starts after it.
func TestPrepareOutsideTheTimeout(t *testing.T) {
	p := &fakeProvider{t: t, prepare: 1500 * time.Millisecond, ensureErr: errors.New("no cluster today")}
	start := time.Now()
	env, err := fakeUp(t, context.Background(), p, 500*time.Millisecond)
	if !p.prepared {
		t.Fatal("Prepare was not called, or did not finish")
	}
	if KindOf(err) != KindInfra || !strings.Contains(err.Error(), "no cluster today") {
		t.Fatalf("Up = %v; want the cluster's own error (exit 3), not a timeout", err)
	}
	if env.Report.Seconds >= 1.5 {
		t.Errorf("report seconds %.2f count the preparation (%.2f s in all)", env.Report.Seconds, time.Since(start).Seconds())
	}
	if p.ensureTime.Sub(start) < 1500*time.Millisecond {
		t.Errorf("the cluster step started %s after Up, before the preparation ended", p.ensureTime.Sub(start))
	}
}

// An interrupt during preparation is an interruption, with nothing to tear
// down.
func TestInterruptDuringPrepare(t *testing.T) {
	p := &fakeProvider{t: t, prepare: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	env, err := fakeUp(t, ctx, p, 0)
	if KindOf(err) != KindInterrupted || env == nil || env.Report.Result != report.ResultInterrupted {
		t.Fatalf("Up = %v; want interrupted with a report", err)
	}
	if d := p.Deleted(); len(d) != 0 {
		t.Errorf("deleted %q; nothing was created", d)
	}
}

// A run that fails after creating its cluster removes it; one that found
// the cluster running leaves it; KeepOnFailure keeps it.
func TestTeardownOnFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		exists bool
		keep   bool
		want   int
	}{
		{"created: deleted", false, false, 1},
		{"found running: left", true, false, 0},
		{"created, keep on failure: kept", false, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakeProvider{t: t, exists: tc.exists}
			s := parse(t, `
    - {name: db, manifests: [db.yaml]}`)
			_, err := Up(context.Background(), s, Options{provider: p, Timeout: 300 * time.Millisecond, KeepOnFailure: tc.keep, StateDir: t.TempDir(), DiagDir: t.TempDir()})
			if err == nil {
				t.Fatal("Up succeeded against an API that never answers")
			}
			if got := len(p.Deleted()); got != tc.want {
				t.Errorf("Delete called %d times, want %d", got, tc.want)
			}
		})
	}
}

// Ctrl-C (the caller's ctx) mid-run is KindInterrupted, and the cluster the
// run created is removed.
func TestInterruptTearsDown(t *testing.T) {
	p := &fakeProvider{t: t}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	env, err := fakeUp(t, ctx, p, time.Minute)
	if KindOf(err) != KindInterrupted || env.Report.Result != report.ResultInterrupted {
		t.Fatalf("Up = %v (report %v); want interrupted", err, env.Report.Result)
	}
	if d := p.Deleted(); len(d) != 1 {
		t.Errorf("deleted %q; want the created cluster once", d)
	}
}

// A cluster that dies mid-run fails the run at once as an infrastructure
// failure naming what died, not as a component timing out.
func TestClusterDeathFailsFast(t *testing.T) {
	p := &fakeProvider{t: t, dies: make(chan error, 1)}
	time.AfterFunc(300*time.Millisecond, func() { p.dies <- errors.New("kube-apiserver (pid 42) exited") })
	start := time.Now()
	env, err := fakeUp(t, context.Background(), p, time.Minute)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Up took %s to notice", took)
	}
	if KindOf(err) != KindInfra || !strings.Contains(err.Error(), "kube-apiserver (pid 42) exited") {
		t.Fatalf("Up = %v; want an infrastructure failure naming the dead process", err)
	}
	if env.Report.Result != report.ResultFailed || !strings.Contains(env.Report.Reason, "kube-apiserver") {
		t.Errorf("report: %s %q", env.Report.Result, env.Report.Reason)
	}
	if d := p.Deleted(); len(d) != 1 {
		t.Errorf("deleted %q; want the created cluster removed", d)
	}
}

// Only a provider that simulates pods gets a lower bound in its plan.
func TestPlanLowerBoundOnSimulatedPods(t *testing.T) {
	s := parse(t, `
    - {name: db, manifests: [db.yaml], sim: {readyAfter: 2s}}`)
	plain, err := NewPlan(s, Options{provider: &fakeProvider{t: t}})
	if err != nil || plain.LowerBound != nil {
		t.Fatalf("plan on a real-pod provider: %v, lower bound %v", err, plain.LowerBound)
	}
	sp, err := NewPlan(s, Options{provider: simFake{&fakeProvider{t: t}}})
	if err != nil || sp.LowerBound == nil || *sp.LowerBound != 2 || sp.Provider != "fake" {
		t.Fatalf("plan on a pod simulator: %+v, %v", sp, err)
	}
}
