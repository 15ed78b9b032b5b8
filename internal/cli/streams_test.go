package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

// TestOutputStreams checks, with up and status faked, that stdout carries
// only what scripts read (up's kubeconfig path, status's table) and that
// progress, the run's table and errors go to stderr.
func TestOutputStreams(t *testing.T) {
	const kubeconfig = "/state/clusters/clitest/kubeconfig"
	ready := func(f float64) *float64 { return &f }
	env := func(status report.Status, reason string) *testbed.Env {
		return &testbed.Env{Kubeconfig: kubeconfig, Report: &report.Report{Stack: "clitest", Run: "abcde", Provider: "sim",
			Components: []report.Component{{Name: "db", Status: status, AppliedAt: ready(0.5), ReadyAt: ready(2.5), Reason: reason}}}}
	}
	// progress sends one event of each sort up prints.
	progress := func(opts testbed.Options) {
		now := time.Now()
		for _, ev := range []testbed.Event{
			{State: testbed.StatePrepare, Detail: "prepare-detail", At: now},
			{State: testbed.StateCluster, Detail: "cluster-detail", At: now},
			{Component: "db", State: testbed.StateApplied, Detail: "applied-detail", At: now},
			{Component: "db", State: testbed.StateObject, Detail: "object-detail", At: now,
				Object: &testbed.ObjectEvent{Kind: "ConfigMap", Namespace: "clitest", Name: "db", Reason: "waiting"}},
		} {
			opts.OnEvent(ev)
		}
	}
	for _, tc := range []struct {
		name   string
		args   []string
		up     func(context.Context, *stack.Stack, testbed.Options) (*testbed.Env, error)
		status func(context.Context, *stack.Stack, testbed.Options) ([]testbed.ComponentStatus, error)
		code   int
		// stdout is the whole of stdout; stderr holds substrings of stderr
		// (nil: nothing may be written there).
		stdout string
		stderr []string
	}{
		{
			name: "up ready",
			args: []string{"up"},
			up: func(_ context.Context, _ *stack.Stack, opts testbed.Options) (*testbed.Env, error) {
				progress(opts)
				return env(report.StatusReady, ""), nil
			},
			code:   ExitOK,
			stdout: kubeconfig + "\n",
			stderr: []string{"prepare-detail", "cluster-detail", "db applied: applied-detail", "COMPONENT", "ready"},
		},
		{
			name: "up failed",
			args: []string{"up"},
			up: func(_ context.Context, _ *stack.Stack, opts testbed.Options) (*testbed.Env, error) {
				progress(opts)
				return env(report.StatusFailed, "CrashLoopBackOff"), errors.New("component db failed: CrashLoopBackOff")
			},
			code:   ExitFailed,
			stderr: []string{"cluster-detail", "COMPONENT", "failed: CrashLoopBackOff", "testbed: component db failed"},
		},
		{
			name: "up failed kept",
			args: []string{"up", "--keep-on-failure"},
			up: func(_ context.Context, _ *stack.Stack, opts testbed.Options) (*testbed.Env, error) {
				return env(report.StatusFailed, "boom"), errors.New("component db failed: boom")
			},
			code:   ExitFailed,
			stderr: []string{"kept for inspection (--keep-on-failure): KUBECONFIG=" + kubeconfig},
		},
		{
			name: "up infrastructure failure",
			args: []string{"up"},
			up: func(context.Context, *stack.Stack, testbed.Options) (*testbed.Env, error) {
				return env(report.StatusPending, ""), &testbed.Error{Kind: testbed.KindInfra, Err: errors.New("kube-apiserver exited")}
			},
			code:   ExitInfra,
			stderr: []string{"testbed: kube-apiserver exited"},
		},
		{
			name: "status ready",
			args: []string{"status"},
			status: func(context.Context, *stack.Stack, testbed.Options) ([]testbed.ComponentStatus, error) {
				return []testbed.ComponentStatus{{Name: "db", Ready: true}, {Name: "api", Ready: true}}, nil
			},
			code:   ExitOK,
			stdout: "COMPONENT  READY  REASON\ndb         yes    \napi        yes    \n",
		},
		{
			name: "status not ready",
			args: []string{"status"},
			status: func(context.Context, *stack.Stack, testbed.Options) ([]testbed.ComponentStatus, error) {
				return []testbed.ComponentStatus{{Name: "db", Ready: true}, {Name: "api", Reason: "not ready: Deployment clitest/api"}}, nil
			},
			code:   ExitFailed,
			stdout: "COMPONENT  READY  REASON\ndb         yes    \napi        no     not ready: Deployment clitest/api\n",
			stderr: []string{"testbed: stack clitest is not ready"},
		},
		{
			name: "status unreachable",
			args: []string{"status"},
			status: func(context.Context, *stack.Stack, testbed.Options) ([]testbed.ComponentStatus, error) {
				return nil, &testbed.Error{Kind: testbed.KindInfra, Err: errors.New("connection refused")}
			},
			code:   ExitInfra,
			stderr: []string{"testbed: connection refused"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			replace(t, &bringUp, func(context.Context, *stack.Stack, testbed.Options) (*testbed.Env, error) {
				t.Fatal("testbed.Up called")
				return nil, nil
			})
			replace(t, &stackStatus, func(context.Context, *stack.Stack, testbed.Options) ([]testbed.ComponentStatus, error) {
				t.Fatal("testbed.Status called")
				return nil, nil
			})
			if tc.up != nil {
				replace(t, &bringUp, tc.up)
			}
			if tc.status != nil {
				replace(t, &stackStatus, tc.status)
			}
			args := append(tc.args, "-f", writeStack(t, stackYAML))
			code, stdout, stderr := runMain(t, args...)
			if code != tc.code {
				t.Errorf("testbed %q: exit %d, want %d\nstderr: %s", args, code, tc.code, stderr)
			}
			if stdout != tc.stdout {
				t.Errorf("testbed %q: stdout\n%q\nwant\n%q", args, stdout, tc.stdout)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("testbed %q: stderr does not contain %q:\n%s", args, want, stderr)
				}
			}
			if tc.stderr == nil && stderr != "" {
				t.Errorf("testbed %q: stderr %q, want nothing", args, stderr)
			}
		})
	}
}
