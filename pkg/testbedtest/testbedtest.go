// Package testbedtest brings a testbed stack up from a Go test in one line
// and tears it down when the test ends:
//
//	func TestAPI(t *testing.T) {
//		env := testbedtest.Start(t, "testdata/testbed.yaml")
//		addr, _ := env.Endpoint("api")
//		// ... talk to the stack through env.Kubeconfig, env.RESTConfig(), addr
//	}
//
// Each Start runs its stack in a cluster of its own (a state directory of
// its own), so test packages that start the same stack at once do not
// collide. Set TESTBED_KEEP=1 to keep the stack of a failed test for
// inspection: Start logs its KUBECONFIG and how to remove it.
package testbedtest

import (
	"context"
	"os"
	"time"

	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

// TB is what Start needs of a test: *testing.T and *testing.B satisfy it,
// and so does Ginkgo's GinkgoT().
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// Option changes the testbed.Options Start runs with.
type Option func(*testbed.Options)

// WithOptions runs the stack with o; Start still logs progress through the
// test and keeps o.OnEvent's events going to o.OnEvent as well.
func WithOptions(o testbed.Options) Option {
	return func(opts *testbed.Options) {
		onEvent := opts.OnEvent
		*opts = o
		if o.OnEvent != nil {
			opts.OnEvent = func(ev testbed.Event) { onEvent(ev); o.OnEvent(ev) }
		} else {
			opts.OnEvent = onEvent
		}
	}
}

// WithTimeout bounds the bring-up (default: the stack's spec.timeout).
func WithTimeout(d time.Duration) Option {
	return func(opts *testbed.Options) { opts.Timeout = d }
}

// KeepEnv is the environment variable that, set to a non-empty value,
// keeps the stack of a failed test running.
const KeepEnv = "TESTBED_KEEP"

// Start loads the stack file at path, brings it up and returns its Env,
// logging progress through t.Logf. It fails the test (t.Fatalf) with the
// reason when the stack does not come up. When the test ends, what the run
// started is torn down, unless the test failed and TESTBED_KEEP is set.
func Start(t TB, path string, opts ...Option) *testbed.Env {
	t.Helper()
	s, err := stack.Load(path)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return StartStack(t, s, opts...)
}

// StartStack is Start for a stack already loaded or built in Go.
func StartStack(t TB, s *stack.Stack, opts ...Option) *testbed.Env {
	t.Helper()
	o := testbed.Options{OnEvent: LogEvents(t.Logf)}
	for _, opt := range opts {
		opt(&o)
	}
	keep := os.Getenv(KeepEnv) != ""
	o.KeepOnFailure = o.KeepOnFailure || keep
	// A test binary killed by its -timeout or Ctrl-C runs no cleanup: the
	// cluster goes with the process unless it is to be kept.
	o.Ephemeral = !o.KeepOnFailure
	ownState := o.StateDir == ""
	if ownState {
		dir, err := os.MkdirTemp("", "testbed-"+s.Metadata.Name+"-")
		if err != nil {
			t.Fatalf("testbed: %v", err)
		}
		o.StateDir = dir
	}
	removeState := func() {
		if ownState {
			_ = os.RemoveAll(o.StateDir)
		}
	}
	env, err := testbed.Up(context.Background(), s, o)
	if err != nil {
		if keep && env != nil && env.Kubeconfig != "" {
			t.Logf("testbed: kept for inspection (%s): KUBECONFIG=%s; remove it with `testbed --state-dir %s down -f %s`", KeepEnv, env.Kubeconfig, o.StateDir, s.File)
		} else {
			removeState()
		}
		t.Fatalf("testbed: %v", err)
	}
	t.Cleanup(func() {
		if keep && t.Failed() {
			t.Logf("testbed: test failed; kept stack %s (%s): KUBECONFIG=%s; remove it with `testbed --state-dir %s down -f %s`", s.Metadata.Name, KeepEnv, env.Kubeconfig, o.StateDir, s.File)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := env.Teardown(ctx); err != nil {
			t.Errorf("testbed: %v (its state is in %s)", err, o.StateDir)
			return
		}
		removeState()
	})
	return env
}

// LogEvents returns an Options.OnEvent that logs a run's progress through
// logf (t.Logf, or a GinkgoWriter's Printf): cluster steps and component
// state changes, not every object's, and the control-plane build once per
// step and then every 30 s.
func LogEvents(logf func(format string, args ...any)) func(testbed.Event) {
	var step string
	var last time.Time
	return func(ev testbed.Event) {
		switch {
		case ev.State == testbed.StateObject:
		case ev.State == testbed.StatePrepare && ev.Prepare != nil:
			// The control-plane build reports twice a second: log a line
			// per step and then every 30 s.
			if ev.Prepare.Step != step || time.Since(last) >= 30*time.Second {
				step, last = ev.Prepare.Step, time.Now()
				logf("testbed: %s (%s)", ev.Detail, ev.Prepare.Elapsed.Round(time.Second))
			}
		case ev.Image != "":
			logf("testbed: image %s %s: %s", ev.Image, ev.State, ev.Detail)
		case ev.Component == "":
			logf("testbed: %s", ev.Detail)
		case ev.Detail != "":
			logf("testbed: %s %s: %s", ev.Component, ev.State, ev.Detail)
		default:
			logf("testbed: %s %s", ev.Component, ev.State)
		}
	}
}
