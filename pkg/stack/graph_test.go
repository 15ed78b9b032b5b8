package stack

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// component is shorthand for the components of graph tests.
func component(name string, readyAfter time.Duration, dependsOn, requires []string) Component {
	c := Component{Name: name, DependsOn: dependsOn, Manifests: []string{"x.yaml"}}
	if readyAfter > 0 || requires != nil {
		c.Sim = &Sim{ReadyAfter: readyAfter, Requires: requires}
	}
	return c
}

func TestLowerBound(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name       string
		components []Component
		seconds    float64
		path       []string
		order      []string
	}{
		{
			name:    "empty",
			seconds: 0,
		},
		{
			name:       "one component",
			components: []Component{component("a", 3*s, nil, nil)},
			seconds:    3,
			path:       []string{"a"},
			order:      []string{"a"},
		},
		{
			name: "chain",
			components: []Component{
				component("c", 1*s, []string{"b"}, nil),
				component("b", 2*s, []string{"a"}, nil),
				component("a", 4*s, nil, nil),
			},
			seconds: 7,
			path:    []string{"a", "b", "c"},
			order:   []string{"a", "b", "c"},
		},
		{
			name: "diamond takes the longer side",
			components: []Component{
				component("top", 1*s, nil, nil),
				component("fast", 2*s, []string{"top"}, nil),
				component("slow", 5*s, []string{"top"}, nil),
				component("bottom", 1*s, []string{"fast", "slow"}, nil),
			},
			seconds: 7,
			path:    []string{"top", "slow", "bottom"},
			order:   []string{"top", "fast", "slow", "bottom"},
		},
		{
			name: "independent components run in parallel",
			components: []Component{
				component("a", 8*s, nil, nil),
				component("b", 2*s, nil, nil),
				component("c", 5*s, nil, nil),
			},
			seconds: 8,
			path:    []string{"a"},
			order:   []string{"a", "b", "c"},
		},
		{
			name: "requires starts the clock like dependsOn",
			components: []Component{
				component("db", 10*s, nil, nil),
				component("api", 3*s, nil, []string{"db"}),
			},
			seconds: 13,
			path:    []string{"db", "api"},
			order:   []string{"db", "api"},
		},
		{
			name: "the later of dependsOn and requires wins",
			components: []Component{
				component("postgresql", 8*s, nil, nil),
				component("redis", 2*s, nil, nil),
				component("migrations", 6*s, []string{"postgresql"}, nil),
				component("datastorage", 4*s, []string{"redis"}, []string{"migrations"}),
			},
			seconds: 18,
			path:    []string{"postgresql", "migrations", "datastorage"},
			order:   []string{"postgresql", "redis", "migrations", "datastorage"},
		},
		{
			name: "run steps and components without sim take no time",
			components: []Component{
				component("db", 5*s, nil, nil),
				{Name: "seed", DependsOn: []string{"db"}, Run: &Run{Command: []string{"./seed.sh"}}},
				{Name: "web", DependsOn: []string{"seed"}, Manifests: []string{"web.yaml"}},
			},
			seconds: 5,
			path:    []string{"db", "seed", "web"},
			order:   []string{"db", "seed", "web"},
		},
		{
			name: "a cycle does not hang",
			components: []Component{
				component("a", 1*s, []string{"b"}, nil),
				component("b", 1*s, []string{"a"}, nil),
			},
			seconds: 2,
			path:    []string{"b", "a"},
			order:   []string{"b", "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &Stack{Spec: Spec{Components: tt.components}}
			seconds, path := st.LowerBound()
			if seconds != tt.seconds || !reflect.DeepEqual(path, tt.path) {
				t.Errorf("LowerBound() = %v, %q; want %v, %q", seconds, path, tt.seconds, tt.path)
			}
			if got := st.Order(); !reflect.DeepEqual(got, tt.order) {
				t.Errorf("Order() = %q, want %q", got, tt.order)
			}
		})
	}
}

// TestLowerBoundExample checks DESIGN §2's example: postgresql (8s), then
// migrations (6s), then datastorage (4s, redis already ready), then the
// register-workflows run step.
func TestLowerBoundExample(t *testing.T) {
	s, err := Load("testdata/example/stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seconds, path := s.LowerBound()
	wantPath := []string{"postgresql", "migrations", "datastorage", "register-workflows"}
	if seconds != 18 || !reflect.DeepEqual(path, wantPath) {
		t.Errorf("LowerBound() = %v, %q; want 18, %q", seconds, path, wantPath)
	}
}

// SimTimeouts names a component whose readyAfter reaches its timeout and a
// lower bound that reaches the stack's timeout (or the caller's), and
// leaves alone what is fine, run steps, and stacks failing on purpose.
func TestSimTimeouts(t *testing.T) {
	const s = time.Second
	stackOf := func(timeout time.Duration, cs ...Component) *Stack {
		st := &Stack{File: "stack.yaml"}
		st.Spec.Timeout = timeout
		st.Spec.Components = cs
		return st
	}
	withTimeout := func(c Component, d time.Duration) Component { c.Timeout = d; return c }
	failing := component("f", s, nil, nil)
	failing.Sim.Fail = FailCrashLoopBackOff
	tests := []struct {
		name     string
		s        *Stack
		override time.Duration
		want     []string // substrings, one per error; none: nil
	}{
		{name: "fine", s: stackOf(time.Minute, withTimeout(component("a", 10*s, nil, nil), 20*s), component("b", 30*s, []string{"a"}, nil))},
		{name: "readyAfter reaches the component's timeout", s: stackOf(time.Minute, withTimeout(component("a", 20*s, nil, nil), 20*s)),
			want: []string{`components[0] "a": sim.readyAfter 20s is not less than the component's timeout 20s`}},
		{name: "lower bound reaches the stack's timeout", s: stackOf(time.Minute, component("a", 30*s, nil, nil), component("b", 30*s, []string{"a"}, nil)),
			want: []string{`the stack's sim lower bound, 60.0 s (critical path a → b), is not less than its timeout 1m0s`}},
		{name: "lower bound reaches the caller's timeout", s: stackOf(time.Minute, component("a", 30*s, nil, nil)), override: 30 * s,
			want: []string{`lower bound, 30.0 s (critical path a), is not less than its timeout 30s`}},
		{name: "a stack failing on purpose is not judged on its lower bound", s: stackOf(time.Minute, component("a", 90*s, nil, nil), failing)},
		{name: "a component failing on purpose is not judged on its readyAfter", s: stackOf(time.Minute, withTimeout(func() Component { c := component("f", time.Minute, nil, nil); c.Sim.Fail = FailNeverReady; return c }(), 10*s))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.SimTimeouts(tt.override)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("SimTimeouts = %v, want nil", err)
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != len(tt.want) {
				t.Fatalf("SimTimeouts = %v, want %d errors", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(list[i].Error(), w) || !strings.HasPrefix(list[i].Error(), "stack.yaml:") {
					t.Errorf("error %d = %q, want it to start with stack.yaml: and contain %q", i, list[i], w)
				}
			}
		})
	}
}
