package cli

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

// errFakeUp stops a faked bring-up: an infrastructure failure, so that
// its exit code (3) tells it from the command's own rejections (2).
var errFakeUp = &testbed.Error{Kind: testbed.KindInfra, Err: errors.New("fake up: nothing started")}

// upOptions runs `testbed up -f STACK args...` under env with testbed.Up
// faked, and returns the options up passed to it (OnEvent cleared).
func upOptions(t *testing.T, env map[string]string, args ...string) testbed.Options {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var got []testbed.Options
	replace(t, &bringUp, func(_ context.Context, _ *stack.Stack, opts testbed.Options) (*testbed.Env, error) {
		if opts.OnEvent == nil {
			t.Error("up passed no OnEvent: its progress would be lost")
		}
		opts.OnEvent = nil
		got = append(got, opts)
		return nil, errFakeUp
	})
	code, stdout, stderr := runMain(t, append([]string{"up", "-f", writeStack(t, stackYAML)}, args...)...)
	if code != ExitInfra || len(got) != 1 {
		t.Fatalf("up %q: exit %d, testbed.Up called %d times; want exit %d from one call\nstderr: %s", args, code, len(got), ExitInfra, stderr)
	}
	if stdout != "" {
		t.Errorf("up %q: stdout %q, want nothing (the error goes to stderr)", args, stdout)
	}
	return got[0]
}

// TestDirectories checks each directory's precedence: the flag beats the
// environment variable, which beats the library's default.
func TestDirectories(t *testing.T) {
	dirs := []struct {
		flag, env string
		def       func() string
		got       func(testbed.Options) string
	}{
		{"--assets-dir", "TESTBED_ASSETS_DIR", testbed.DefaultAssetsDir, func(o testbed.Options) string { return o.AssetsDir }},
		{"--bin-dir", "TESTBED_BIN_DIR", func() string { return "" }, func(o testbed.Options) string { return o.BinDir }},
		{"--state-dir", "TESTBED_STATE_DIR", testbed.DefaultStateDir, func(o testbed.Options) string { return o.StateDir }},
	}
	for _, d := range dirs {
		for _, tc := range []struct {
			name   string
			envVal string
			args   []string
			want   string
		}{
			{name: "default", want: d.def()},
			{name: "env", envVal: "/from/env", want: "/from/env"},
			{name: "flag", args: []string{d.flag, "/from/flag"}, want: "/from/flag"},
			{name: "flag beats env", envVal: "/from/env", args: []string{d.flag, "/from/flag"}, want: "/from/flag"},
			{name: "flag=value", envVal: "/from/env", args: []string{d.flag + "=/from/flag"}, want: "/from/flag"},
		} {
			t.Run(d.env+"/"+tc.name, func(t *testing.T) {
				isolate(t)
				opts := upOptions(t, map[string]string{d.env: tc.envVal}, tc.args...)
				if got := d.got(opts); got != tc.want {
					t.Errorf("%s = %q, want %q", d.flag, got, tc.want)
				}
			})
		}
	}
}

// TestUpOptions checks that up's flags map onto testbed.Options, and that
// none of them sets another option.
func TestUpOptions(t *testing.T) {
	assets, state := t.TempDir(), t.TempDir()
	base := testbed.Options{AssetsDir: assets, StateDir: state, Phases: testbed.PhasesOverlap}
	with := func(f func(*testbed.Options)) testbed.Options {
		o := base
		f(&o)
		return o
	}
	for _, tc := range []struct {
		name string
		args []string
		want testbed.Options
	}{
		{name: "no flags", want: base},
		{name: "provider", args: []string{"--provider", "kubeconfig"}, want: with(func(o *testbed.Options) { o.Provider = "kubeconfig" })},
		{name: "provider sim", args: []string{"--provider=sim"}, want: with(func(o *testbed.Options) { o.Provider = "sim" })},
		{name: "timeout", args: []string{"--timeout", "90s"}, want: with(func(o *testbed.Options) { o.Timeout = 90 * time.Second })},
		{name: "timeout zero is the stack's", args: []string{"--timeout", "0"}, want: base},
		{name: "keep on failure", args: []string{"--keep-on-failure"}, want: with(func(o *testbed.Options) { o.KeepOnFailure = true })},
		{name: "diagnostics dir", args: []string{"--diagnostics-dir", "/tmp/diag"}, want: with(func(o *testbed.Options) { o.DiagDir = "/tmp/diag" })},
		{name: "bin dir", args: []string{"--bin-dir", "/opt/k8s/bin"}, want: with(func(o *testbed.Options) { o.BinDir = "/opt/k8s/bin" })},
		{
			name: "all together",
			args: []string{"--provider", "kubeconfig", "--timeout", "5m", "--keep-on-failure", "--diagnostics-dir", "/tmp/d", "--state-dir", "/s", "--assets-dir", "/a"},
			want: testbed.Options{Provider: "kubeconfig", Timeout: 5 * time.Minute, KeepOnFailure: true, DiagDir: "/tmp/d", StateDir: "/s", AssetsDir: "/a", Phases: testbed.PhasesOverlap},
		},
		{name: "phases strict", args: []string{"--phases", "strict"}, want: with(func(o *testbed.Options) { o.Phases = testbed.PhasesStrict })},
		{name: "container tool", args: []string{"--container-tool", "podman"}, want: with(func(o *testbed.Options) { o.ContainerTool = "podman" })},
		{name: "build concurrency", args: []string{"--build-concurrency", "1"}, want: with(func(o *testbed.Options) { o.BuildConcurrency = 1 })},
		{name: "go command", args: []string{"--go-command", "/opt/go1.26/bin/go"}, want: with(func(o *testbed.Options) { o.GoCommand = "/opt/go1.26/bin/go" })},
		{name: "image overrides", args: []string{"--image", "api=reg.example/api:1", "--image", "db=postgres:16"},
			want: with(func(o *testbed.Options) {
				o.Images = map[string]string{"api": "reg.example/api:1", "db": "postgres:16"}
			})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			got := upOptions(t, map[string]string{"TESTBED_ASSETS_DIR": assets, "TESTBED_STATE_DIR": state}, tc.args...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("up %q:\n got %+v\nwant %+v", tc.args, got, tc.want)
			}
		})
	}
}

// TestStackOptions checks the options every stack command but up shares,
// through globals.options as plan, down and status call it.
func TestStackOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want testbed.Options
	}{
		{name: "env", want: testbed.Options{AssetsDir: "/env/assets", StateDir: "/env/state", BinDir: "/env/bin"}},
		{name: "flags", args: []string{"--assets-dir", "/a", "--state-dir", "/s", "--bin-dir", "/b", "--provider", "kubeconfig"},
			want: testbed.Options{AssetsDir: "/a", StateDir: "/s", BinDir: "/b", Provider: "kubeconfig"}},
	} {
		for _, cmd := range []string{"plan", "down", "status"} {
			t.Run(cmd+"/"+tc.name, func(t *testing.T) {
				t.Setenv("TESTBED_ASSETS_DIR", "/env/assets")
				t.Setenv("TESTBED_STATE_DIR", "/env/state")
				t.Setenv("TESTBED_BIN_DIR", "/env/bin")
				g := &globals{}
				root := newRoot(g)
				c, rest, err := root.Find(append([]string{cmd}, tc.args...))
				if err != nil || c.Name() != cmd {
					t.Fatalf("find %s: %v, %v", cmd, c, err)
				}
				if err := c.ParseFlags(rest); err != nil {
					t.Fatal(err)
				}
				provider, err := c.Flags().GetString("provider")
				if err != nil {
					t.Fatal(err)
				}
				if got := g.options(&stackFlags{provider: provider}); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s %q:\n got %+v\nwant %+v", cmd, tc.args, got, tc.want)
				}
			})
		}
	}
}

// up says where each port answers: auto ports are chosen at run time.
func TestWritePorts(t *testing.T) {
	s := &stack.Stack{Spec: stack.Spec{Ports: []stack.Port{{Name: "api", NodePort: 30081}, {Name: "db", NodePort: 30432}, {Name: "unused", NodePort: 30500}}}}
	var b strings.Builder
	writePorts(&b, s, map[string]int{"api": 35861, "db": 43989})
	want := "testbed: port api: 127.0.0.1:35861 (NodePort 30081)\ntestbed: port db: 127.0.0.1:43989 (NodePort 30432)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
