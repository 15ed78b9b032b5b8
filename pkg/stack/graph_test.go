package stack

import (
	"reflect"
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
