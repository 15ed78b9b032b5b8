package stack

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestLoadExample loads DESIGN §2's example stack, in testdata/example.
func TestLoadExample(t *testing.T) {
	path := filepath.Join("testdata", "example", "stack.yaml")
	s, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "example"))
	if err != nil {
		t.Fatal(err)
	}
	if s.File != path || s.Dir != dir {
		t.Errorf("File, Dir = %q, %q; want %q, %q", s.File, s.Dir, path, dir)
	}
	if s.APIVersion != APIVersion || s.Kind != KindStack || s.Metadata.Name != "gateway-e2e" {
		t.Errorf("header = %q %q %q", s.APIVersion, s.Kind, s.Metadata.Name)
	}
	abs := func(p string) string { return filepath.Join(dir, p) }
	want := Spec{
		Cluster: Cluster{
			Provider: ProviderSim,
			Kind: KindCluster{
				NodeImage: "kindest/node:v1.36.1",
				Mounts:    []Mount{{HostPath: abs("coverdata"), ContainerPath: "/coverdata"}},
			},
		},
		Namespace: "kubernaut-system",
		Timeout:   10 * time.Minute,
		Images: []Image{
			{Name: "datastorage", Context: dir, Dockerfile: abs("docker/datastorage.Dockerfile"), BuildArgs: map[string]string{"GOFLAGS": "-cover"}},
			{Name: "postgres", Ref: "postgres:16-alpine"},
		},
		Ports: []Port{
			{Name: "datastorage-api", NodePort: 30081, HostPort: AutoHostPort},
			{Name: "postgresql", NodePort: 30432, HostPort: 25433},
		},
		Components: []Component{
			{
				Name:      "postgresql",
				Images:    []string{"postgres"},
				Manifests: []string{abs("deploy/postgresql.yaml")},
				Sim:       &Sim{ReadyAfter: 8 * time.Second},
				Timeout:   10 * time.Minute,
			},
			{
				Name:      "redis",
				Manifests: []string{abs("deploy/redis.yaml")},
				Sim:       &Sim{ReadyAfter: 2 * time.Second},
				Timeout:   10 * time.Minute,
			},
			{
				Name:      "migrations",
				Manifests: []string{abs("deploy/migrations-job.yaml")},
				DependsOn: []string{"postgresql"},
				Sim:       &Sim{ReadyAfter: 6 * time.Second},
				Timeout:   10 * time.Minute,
			},
			{
				Name:      "datastorage",
				Images:    []string{"datastorage"},
				Manifests: []string{abs("deploy/datastorage")},
				DependsOn: []string{"migrations"},
				Sim:       &Sim{ReadyAfter: 4 * time.Second, Requires: []string{"redis"}},
				Checks: []Check{
					{HTTP: &HTTPCheck{URL: "http://127.0.0.1:${port:datastorage-api}/health", Status: 200}},
					{TCP: &TCPCheck{Address: "127.0.0.1:${port:postgresql}"}},
				},
				Timeout: 3 * time.Minute,
			},
			{
				Name:      "register-workflows",
				DependsOn: []string{"datastorage"},
				Run: &Run{
					Command: []string{abs("hack/register.sh"), "${port:datastorage-api}"},
					Env:     map[string]string{},
					Timeout: 2 * time.Minute,
				},
				Timeout: 10 * time.Minute,
			},
		},
	}
	if !reflect.DeepEqual(s.Spec, want) {
		t.Errorf("Spec:\n got %+v\nwant %+v", s.Spec, want)
	}
	if c := s.Component("datastorage"); c == nil || c.Timeout != 3*time.Minute {
		t.Errorf("Component(datastorage) = %+v", c)
	}
	if c := s.Component("nope"); c != nil {
		t.Errorf("Component(nope) = %+v, want nil", c)
	}
}

func TestParseDefaults(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})
	stack := head + `  images:
    - {name: api, context: .}
  components:
    - name: app
      manifests: [ok.yaml]
      checks: [{http: {url: "https://localhost:8443/"}}]
    - name: seed
      dependsOn: [app]
      timeout: 1m
      run: {command: [kubectl, get, pods]}
`
	s, err := Parse("stack.yaml", []byte(stack), dir)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	absDir, _ := filepath.Abs(dir)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"provider", s.Spec.Cluster.Provider, ProviderSim},
		{"namespace", s.Spec.Namespace, "default"},
		{"stack timeout", s.Spec.Timeout, 10 * time.Minute},
		{"component timeout", s.Spec.Components[0].Timeout, 10 * time.Minute},
		{"run timeout", s.Spec.Components[1].Run.Timeout, time.Minute},
		{"http status", s.Spec.Components[0].Checks[0].HTTP.Status, 200},
		{"image context", s.Spec.Images[0].Context, absDir},
		{"image dockerfile", s.Spec.Images[0].Dockerfile, filepath.Join(absDir, "Dockerfile")},
		{"bare command left for PATH", s.Spec.Components[1].Run.Command[0], "kubectl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

// TestParseAccepts covers valid forms that are easy to get wrong.
func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		stack string
		files map[string]string
		check func(t *testing.T, s *Stack)
	}{
		{
			name: "merge keys",
			stack: head + `  components:
    - &base {name: a, manifests: [ok.yaml], sim: {readyAfter: 3s}}
    - <<: *base
      name: b
      manifests: [b.yaml]
`,
			files: map[string]string{"b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"},
			check: func(t *testing.T, s *Stack) {
				if got := s.Spec.Components[1]; got.Name != "b" || got.Sim.ReadyAfter != 3*time.Second || got.Manifests[0] != filepath.Join(s.Dir, "b.yaml") {
					t.Errorf("merged component = %+v", got)
				}
			},
		},
		{
			name: "objects named through references are not duplicates before substitution",
			stack: head + `  components:
    - {name: a, manifests: [a.yaml]}
    - {name: b, manifests: [b.yaml]}
`,
			files: map[string]string{
				// Flow mappings: the references' braces break the YAML as
				// written, so both are read with placeholders.
				"a.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: ${stack}-db}}\n",
				"b.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: ${run}-db}}\n",
			},
			check: func(t *testing.T, s *Stack) {
				if _, err := s.Manifests(nil); err != nil {
					t.Errorf("Manifests(nil) = %v, want no duplicate", err)
				}
				ms, err := s.Manifests(&Vars{Stack: "demo", Namespace: "demo", Run: "r1"})
				if err != nil {
					t.Fatalf("Manifests(vars) = %v", err)
				}
				meta := ms[1].Documents[0].Object["metadata"].(map[string]any)
				if meta["name"] != "r1-db" {
					t.Errorf("b's name = %v, want r1-db", meta["name"])
				}
			},
		},
		{
			name: "JSON stack file",
			stack: `{"apiVersion": "testbed.dev/v1alpha1", "kind": "Stack", "metadata": {"name": "j"},
 "spec": {"components": [{"name": "app", "manifests": ["ok.yaml"]}]}}`,
			check: func(t *testing.T, s *Stack) {
				if s.Metadata.Name != "j" {
					t.Errorf("name = %q", s.Metadata.Name)
				}
			},
		},
		{
			name: "shell variables are left alone",
			stack: head + `  components:
    - name: seed
      run:
        command: [sh, -c, 'echo $HOME ${HOME} ${HOME:-/root} ${namespace}']
        env: {PATH: "${PATH}:/opt/bin"}
`,
			check: func(t *testing.T, s *Stack) {
				if got := s.Spec.Components[0].Run.Env["PATH"]; got != "${PATH}:/opt/bin" {
					t.Errorf("env PATH = %q", got)
				}
			},
		},
		{
			name: "host port numbers and auto",
			stack: head + `  ports:
    - {name: a, nodePort: 30000, hostPort: 1}
    - {name: b, nodePort: 32767, hostPort: 65535}
    - {name: c, nodePort: 30001, hostPort: auto}
    - {name: d, nodePort: 30002}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			check: func(t *testing.T, s *Stack) {
				got := []HostPort{s.Spec.Ports[0].HostPort, s.Spec.Ports[1].HostPort, s.Spec.Ports[2].HostPort, s.Spec.Ports[3].HostPort}
				if want := []HostPort{1, 65535, AutoHostPort, AutoHostPort}; !reflect.DeepEqual(got, want) {
					t.Errorf("host ports = %v, want %v", got, want)
				}
			},
		},
		{
			name: "go images: dir resolved against the stack file, or the stack's directory",
			stack: head + `  images:
    - name: datastorage
      go:
        package: ./cmd/datastorage
        dir: datastorage
        ldflags: "-X main.version=e2e"
        tags: [netgo]
    - {name: api, go: {package: example.com/shop/cmd/api}}
  components:
    - {name: app, images: [datastorage, api], manifests: [ok.yaml]}
`,
			files: map[string]string{"datastorage/": ""},
			check: func(t *testing.T, s *Stack) {
				want := []Image{
					{Name: "datastorage", Go: &GoBuild{Package: "./cmd/datastorage", Dir: filepath.Join(s.Dir, "datastorage"), LDFlags: "-X main.version=e2e", Tags: []string{"netgo"}}},
					{Name: "api", Go: &GoBuild{Package: "example.com/shop/cmd/api", Dir: s.Dir}},
				}
				if !reflect.DeepEqual(s.Spec.Images, want) {
					t.Errorf("images:\n got %+v %+v\nwant %+v %+v", s.Spec.Images[0].Go, s.Spec.Images[1].Go, want[0].Go, want[1].Go)
				}
				if !s.Spec.Images[0].Built() || s.Spec.Images[0].Context != "" || s.Spec.Images[0].Dockerfile != "" {
					t.Errorf("a go image is built, with no context or Dockerfile: %+v", s.Spec.Images[0])
				}
			},
		},
		{
			name: "kustomize directory",
			stack: head + `  components:
    - name: app
      manifests: [overlay/]
`,
			files: map[string]string{"overlay/kustomization.yaml": "resources: [cm.yaml]\n", "overlay/cm.yaml": okManifest},
			check: func(t *testing.T, s *Stack) {
				ms, err := s.Manifests(nil)
				if err != nil {
					t.Fatal(err)
				}
				if f := ms[0].Files; len(f) != 1 || !f[0].Kustomize || f[0].Name != "overlay" {
					t.Errorf("files = %+v", f)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			s, err := Parse("stack.yaml", []byte(tt.stack), dir)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, s)
		})
	}
}

func TestLoadResolvesPathsAgainstTheStackFile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"e2e/stack.yaml":      head + "  components: [{name: app, manifests: [deploy/app.yaml]}]\n",
		"e2e/deploy/app.yaml": okManifest,
	})
	// Run from dir, naming the stack file relative to it.
	t.Chdir(dir)
	s, err := Load(filepath.Join("e2e", "stack.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ms, err := s.Manifests(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := ms[0].Files[0]
	if want := filepath.Join("e2e", "deploy", "app.yaml"); f.Name != want {
		t.Errorf("Name = %q, want %q", f.Name, want)
	}
	if _, err := os.Stat(f.Path); err != nil || !filepath.IsAbs(f.Path) {
		t.Errorf("Path = %q: want an absolute path that exists (%v)", f.Path, err)
	}
}
