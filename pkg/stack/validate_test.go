package stack

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// goStack returns a valid stack built in Go, not yet defaulted.
func goStack() *Stack {
	return &Stack{
		APIVersion: APIVersion,
		Kind:       KindStack,
		Metadata:   Metadata{Name: "demo"},
		Spec: Spec{
			Images: []Image{{Name: "postgres", Ref: "postgres:16"}},
			Ports:  []Port{{Name: "api", NodePort: 30080}},
			Components: []Component{
				{Name: "db", Images: []string{"postgres"}, Manifests: []string{"testdata/example/deploy/postgresql.yaml"}, Sim: &Sim{ReadyAfter: time.Second}},
				{Name: "app", DependsOn: []string{"db"}, Manifests: []string{"testdata/example/deploy/redis.yaml"},
					Checks: []Check{{HTTP: &HTTPCheck{URL: "http://127.0.0.1:${port:api}/health"}}}},
				{Name: "seed", DependsOn: []string{"app"}, Run: &Run{Command: []string{"./seed.sh", "${port:api}"}}},
			},
		},
	}
}

func TestValidateGoStack(t *testing.T) {
	s := goStack()
	s.Default()
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

// A go image of a stack built in Go builds in the working directory
// unless it names a dir.
func TestValidateGoStackGoImage(t *testing.T) {
	s := goStack()
	s.Spec.Images = append(s.Spec.Images, Image{Name: "api", Go: &GoBuild{Package: "./cmd/api"}},
		Image{Name: "web", Go: &GoBuild{Package: "./cmd/web", Dir: "testdata"}})
	s.Default()
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got := s.Spec.Images[1].Go.Dir; got != "." {
		t.Errorf("go.dir defaulted to %q, want . (the working directory)", got)
	}
	if got := s.Spec.Images[2].Go.Dir; got != "testdata" {
		t.Errorf("go.dir %q changed to %q", "testdata", got)
	}
}

func TestDefaultIsIdempotent(t *testing.T) {
	once := goStack()
	once.Default()
	twice := goStack()
	twice.Default()
	twice.Default()
	if !reflect.DeepEqual(once, twice) {
		t.Errorf("Default twice:\n got %+v\nwant %+v", twice, once)
	}
	c := once.Spec.Components
	if once.Spec.Namespace != DefaultNamespace || c[1].Timeout != DefaultTimeout || c[1].Checks[0].HTTP.Status != DefaultHTTPStatus || c[2].Run.Timeout != DefaultTimeout {
		t.Errorf("defaults not applied: %+v", once.Spec)
	}
}

func TestValidateGoStackRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *Stack)
		want   string
	}{
		{
			name:   "missing stack name",
			change: func(s *Stack) { s.Metadata.Name = "" },
			want:   `metadata.name is required`,
		},
		{
			name:   "missing component name",
			change: func(s *Stack) { s.Spec.Components[2].Name = "" },
			want:   `components[2]: name is required`,
		},
		{
			name:   "duplicate component",
			change: func(s *Stack) { s.Spec.Components[2].Name = "app"; s.Spec.Components[2].DependsOn = nil },
			want:   `components[2] "app": component name "app" is already used by components[1]`,
		},
		{
			name:   "unknown dependsOn",
			change: func(s *Stack) { s.Spec.Components[1].DependsOn = []string{"postgres"} },
			want:   `components[1] "app": dependsOn "postgres" is not a component`,
		},
		{
			name:   "cycle",
			change: func(s *Stack) { s.Spec.Components[0].DependsOn = []string{"seed"} },
			want:   `components[1] "app": dependency cycle: db -> seed -> app -> db`,
		},
		{
			name:   "nodePort outside the NodePort range",
			change: func(s *Stack) { s.Spec.Ports[0].NodePort = 80 },
			want:   `ports[0] "api": nodePort: 80 is outside the NodePort range 30000-32767`,
		},
		{
			name:   "hostPort out of range",
			change: func(s *Stack) { s.Spec.Ports[0].HostPort = 70000 },
			want:   `ports[0] "api": hostPort: 70000 is out of range 1-65535 (or auto)`,
		},
		{
			name:   "negative timeout",
			change: func(s *Stack) { s.Spec.Components[0].Timeout = -5 * time.Second },
			want:   `components[0] "db": timeout: duration "-5s" is negative`,
		},
		{
			name:   "readyAfter out of range",
			change: func(s *Stack) { s.Spec.Components[0].Sim.ReadyAfter = 25 * time.Hour },
			want:   `components[0] "db": sim.readyAfter: duration "25h0m0s" is out of range: at most 24h0m0s`,
		},
		{
			name:   "go image without a package",
			change: func(s *Stack) { s.Spec.Images = append(s.Spec.Images, Image{Name: "api", Go: &GoBuild{}}) },
			want:   `images[1] "api": go.package is required: the main package, as go build takes it (./cmd/api)`,
		},
		{
			name: "go image with a ref",
			change: func(s *Stack) {
				s.Spec.Images = append(s.Spec.Images, Image{Name: "api", Ref: "api:1", Go: &GoBuild{Package: "./cmd/api"}})
			},
			want: `images[1] "api": set either ref (a pre-built image) or go (a build from a Go package), not both`,
		},
		{
			name: "go image with a context",
			change: func(s *Stack) {
				s.Spec.Images = append(s.Spec.Images, Image{Name: "api", Context: "testdata/example", Go: &GoBuild{Package: "./cmd/api"}})
			},
			want: `images[1] "api": set either go (a build from a Go package) or context and dockerfile (a Docker build), not both`,
		},
		{
			name: "go image whose dir is missing",
			change: func(s *Stack) {
				s.Spec.Images = append(s.Spec.Images, Image{Name: "api", Go: &GoBuild{Package: "./cmd/api", Dir: "testdata/nope"}})
			},
			want: `images[1] "api": go.dir "testdata/nope" is not a directory`,
		},
		{
			name:   "http status out of range",
			change: func(s *Stack) { s.Spec.Components[1].Checks[0].HTTP.Status = 99 },
			want:   `components[1] "app": checks[0].http.status: 99 is out of range 100-599`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := goStack()
			tt.change(s)
			s.Default()
			err := s.Validate()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v\nwant %s", err, tt.want)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want an ErrorList", err)
			}
			for _, e := range list {
				if e.File != "" || e.Line != 0 {
					t.Errorf("problem with a file or line: %q", e)
				}
			}
		})
	}
}
