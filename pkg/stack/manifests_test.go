package stack

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// docSummary is what these tests compare of a Document.
type docSummary struct {
	File string
	Line int
	Kind string
	Name string
}

func summarize(docs []Document) []docSummary {
	var out []docSummary
	for _, d := range docs {
		meta := d.Object["metadata"].(map[string]any)
		out = append(out, docSummary{d.File, d.Line, d.Object["kind"].(string), meta["name"].(string)})
	}
	return out
}

func TestManifestsExample(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "example", "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Manifests(nil)
	if err != nil {
		t.Fatalf("Manifests: %v", err)
	}
	file := func(p string) string { return filepath.Join("testdata", "example", p) }
	want := map[string][]docSummary{
		"postgresql": {
			{file("deploy/postgresql.yaml"), 1, "Secret", "postgresql"},
			{file("deploy/postgresql.yaml"), 10, "Deployment", "postgresql"},
			{file("deploy/postgresql.yaml"), 31, "Service", "postgresql"},
		},
		"redis": { // a kind List, expanded
			{file("deploy/redis.yaml"), 4, "Deployment", "redis"},
			{file("deploy/redis.yaml"), 20, "Service", "redis"},
		},
		"migrations": {
			{file("deploy/migrations-job.yaml"), 1, "Job", "migrations"},
		},
		"datastorage": { // a directory: *.json, *.yaml, *.yml in name order, README.md skipped
			{file("deploy/datastorage/config.json"), 1, "ConfigMap", "datastorage-config"},
			{file("deploy/datastorage/deployment.yaml"), 1, "Deployment", "datastorage"},
			{file("deploy/datastorage/service.yml"), 1, "Service", "datastorage"},
		},
		"register-workflows": nil,
	}
	if len(ms) != len(s.Spec.Components) {
		t.Fatalf("got %d components, want %d", len(ms), len(s.Spec.Components))
	}
	for i, m := range ms {
		if m.Component != s.Spec.Components[i].Name {
			t.Errorf("ms[%d].Component = %q", i, m.Component)
		}
		if got := summarize(m.Documents); !reflect.DeepEqual(got, want[m.Component]) {
			t.Errorf("%s:\n got %v\nwant %v", m.Component, got, want[m.Component])
		}
	}
	// Objects hold JSON-compatible values: int64, not int.
	svc := ms[0].Documents[2].Object
	port := svc["spec"].(map[string]any)["ports"].([]any)[0].(map[string]any)["nodePort"]
	if port != int64(30432) {
		t.Errorf("nodePort = %#v, want int64(30432)", port)
	}
	// Without vars, references are left as written.
	image := ms[0].Documents[1].Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]
	if image != "${image:postgres}" {
		t.Errorf("image = %v, want the reference as written", image)
	}
}

func TestManifestsSubstitutes(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "example", "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vars := &Vars{
		Stack:     "gateway-e2e",
		Namespace: "kubernaut-system",
		Run:       "k3x9q",
		Images:    map[string]string{"datastorage": "testbed.local/datastorage:k3x9q", "postgres": "postgres:16-alpine"},
		Ports:     map[string]int{"datastorage-api": 41234, "postgresql": 25433},
	}
	ms, err := s.Manifests(vars)
	if err != nil {
		t.Fatalf("Manifests: %v", err)
	}
	job := ms[2].Documents[0].Object
	args := job["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["args"].([]any)
	want := `psql "postgresql://$POSTGRES_USER:$POSTGRES_PASSWORD@${PGHOST:-postgresql}.kubernaut-system:5432/$POSTGRES_DB" -c 'CREATE TABLE IF NOT EXISTS actions (id serial PRIMARY KEY)'`
	if args[0] != want {
		t.Errorf("args[0] = %q\nwant %q", args[0], want)
	}

	// A value missing from vars is reported at the manifest's file:line.
	delete(vars.Images, "datastorage")
	_, err = s.Manifests(vars)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("got %v, want one problem", err)
	}
	wantErr := filepath.Join("testdata", "example", "deploy", "datastorage", "deployment.yaml") +
		`:16: components[3] "datastorage": ${image:datastorage}: no value for image "datastorage"`
	if err.Error() != wantErr {
		t.Errorf("got  %v\nwant %s", err, wantErr)
	}
}

func TestManifestFiles(t *testing.T) {
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\n"
	}
	tests := []struct {
		name      string
		manifests string
		files     map[string]string
		want      []string // ManifestFile.Name, with "(kustomize)" for kustomize dirs
	}{
		{
			name:      "file",
			manifests: "[ok.yaml]",
			want:      []string{"ok.yaml"},
		},
		{
			name:      "directory, sorted, not recursive",
			manifests: "[d]",
			files: map[string]string{
				"d/b.yml": cm("b"), "d/a.yaml": cm("a"), "d/c.JSON": `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}`,
				"d/notes.txt": "x", "d/sub/x.yaml": cm("x"),
			},
			want: []string{"d/a.yaml", "d/b.yml", "d/c.JSON"},
		},
		{
			name:      "glob",
			manifests: "['g/*-crd.yaml', g/z.yaml]",
			files:     map[string]string{"g/b-crd.yaml": cm("b"), "g/a-crd.yaml": cm("a"), "g/z.yaml": cm("z")},
			want:      []string{"g/a-crd.yaml", "g/b-crd.yaml", "g/z.yaml"},
		},
		{
			name:      "a file listed twice is read once",
			manifests: "[ok.yaml, '*.yaml']",
			want:      []string{"ok.yaml"},
		},
		{
			name:      "kustomize directory",
			manifests: "[k, ok.yaml]",
			files:     map[string]string{"k/kustomization.yaml": "resources: [a.yaml]\n", "k/a.yaml": cm("a")},
			want:      []string{"k (kustomize)", "ok.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			stack := head + "  components: [{name: app, manifests: " + tt.manifests + "}]\n"
			s, err := Parse("stack.yaml", []byte(stack), dir)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			ms, err := s.Manifests(nil)
			if err != nil {
				t.Fatalf("Manifests: %v", err)
			}
			var got []string
			for _, f := range ms[0].Files {
				name := f.Name
				if f.Kustomize {
					name += " (kustomize)"
				}
				if !filepath.IsAbs(f.Path) {
					t.Errorf("Path %q is not absolute", f.Path)
				}
				got = append(got, filepath.ToSlash(name))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("files = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJSONValue(t *testing.T) {
	got := jsonValue(map[any]any{1: []any{int(2), uint64(3), 1.5, "s", true, nil}})
	want := map[string]any{"1": []any{int64(2), int64(3), 1.5, "s", true, nil}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

// References inside YAML flow collections: as written, the braces of
// ${namespace} break the flow mapping; the file is judged as it will be
// applied, with its values, so it loads, and a real syntax error in such a
// file is still reported at its line.
func TestManifestsReferencesInFlowCollections(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"stack.yaml": `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: flow}
spec:
  images:
  - {name: api, ref: example.com/api:1}
  components:
  - name: api
    images: [api]
    manifests: [api.yaml]
  - name: broken
    manifests: [broken.yaml]
`,
		"api.yaml": `apiVersion: v1
kind: Pod
metadata: {name: api, labels: {stack: "${stack}"}}
spec:
  containers:
  - {name: api, image: ${image:api}, env: [{name: DB, value: db.${namespace}.svc}]}
`,
		"broken.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: broken}
data: {host: db.${namespace}.svc
`,
	})
	_, err := Load(filepath.Join(dir, "stack.yaml"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("Load = %v, want one problem (broken.yaml)", err)
	}
	if !strings.Contains(err.Error(), "broken.yaml:4:") {
		t.Errorf("Load = %v, want it at broken.yaml:4", err)
	}

	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte(okManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(filepath.Join(dir, "stack.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ms, err := s.Manifests(&Vars{Stack: "flow", Namespace: "e2e", Run: "r1", Images: map[string]string{"api": "example.com/api:1"}})
	if err != nil {
		t.Fatalf("Manifests: %v", err)
	}
	c := ms[0].Documents[0].Object["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if c["image"] != "example.com/api:1" {
		t.Errorf("image = %v", c["image"])
	}
	if v := c["env"].([]any)[0].(map[string]any)["value"]; v != "db.e2e.svc" {
		t.Errorf("env value = %v, want db.e2e.svc", v)
	}
}
