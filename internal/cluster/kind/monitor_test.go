package kind

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestMonitor(t *testing.T) {
	start := func(t *testing.T) (*fakeKind, *Cluster, chan error, context.CancelFunc) {
		f := newFake(t)
		p := newProvider(t, f, Options{Grace: time.Second})
		c, _, err := p.Ensure(context.Background(), "shop")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		done := make(chan error, 1)
		go func() { done <- c.(*Cluster).Monitor(ctx) }()
		select {
		case err := <-done:
			t.Fatalf("Monitor returned %v on a working cluster", err)
		case <-time.After(600 * time.Millisecond):
		}
		return f, c.(*Cluster), done, cancel
	}
	wait := func(t *testing.T, done chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Monitor did not return")
			return nil
		}
	}

	t.Run("a node container stops", func(t *testing.T) {
		f, _, done, _ := start(t)
		f.mu.Lock()
		f.stopped["testbed-shop-control-plane"] = "exited"
		f.mu.Unlock()
		err := wait(t, done)
		if err == nil || !strings.Contains(err.Error(), "kind cluster testbed-shop: node container testbed-shop-control-plane is exited, not running") {
			t.Errorf("Monitor = %v", err)
		}
	})

	t.Run("the API server stops answering", func(t *testing.T) {
		f, _, done, _ := start(t)
		f.silence.Store(true)
		silent := time.Now()
		err := wait(t, done)
		if err == nil || !strings.Contains(err.Error(), "kind cluster testbed-shop: API server has not answered for 1s") {
			t.Errorf("Monitor = %v", err)
		}
		if took := time.Since(silent); took < time.Second {
			t.Errorf("Monitor gave up after %s, inside the grace period", took)
		}
	})

	t.Run("ctx ends", func(t *testing.T) {
		_, _, done, cancel := start(t)
		cancel()
		if err := wait(t, done); err != nil {
			t.Errorf("Monitor = %v after ctx ended, want nil", err)
		}
	})
}
