package stack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kustomizeFiles is a base (a Deployment and a Service, the Deployment's
// image a reference) and an overlay over it with a namePrefix,
// commonLabels and a patch.
var kustomizeFiles = map[string]string{
	"base/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
	"base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: ${image:api}
          env:
            - {name: NS, value: "${namespace}"}
`,
	"base/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {app: api}
  ports: [{port: 80}]
`,
	"overlay/kustomization.yaml": `resources: [../base]
namePrefix: dev-
commonLabels:
  tier: backend
patches:
  - target: {kind: Deployment, name: api}
    patch: |
      - op: replace
        path: /spec/replicas
        value: 2
`,
}

const kustomizeStack = head + `  namespace: shop
  images:
    - {name: api, ref: example.com/api:v1}
  components:
    - name: api
      manifests: [overlay]
`

func TestKustomize(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, kustomizeFiles)
	s, err := Parse("stack.yaml", []byte(kustomizeStack), dir)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	// Built once per Stack: Parse built it; the run reads the same output.
	if err := os.RemoveAll(filepath.Join(dir, "base")); err != nil {
		t.Fatal(err)
	}
	cms, err := s.Manifests(&Vars{Stack: "demo", Namespace: "shop", Run: "r1", Images: map[string]string{"api": "registry.local/api:abc"}})
	if err != nil {
		t.Fatalf("Manifests: %v", err)
	}
	docs := cms[0].Documents
	var got []string
	for _, d := range docs {
		meta := d.Object["metadata"].(map[string]any)
		labels, _ := meta["labels"].(map[string]any)
		got = append(got, d.Object["kind"].(string)+" "+meta["name"].(string)+" tier="+labels["tier"].(string))
		if d.File != filepath.Join("overlay", "kustomization.yaml") || d.Line != 0 {
			t.Errorf("%s: File, Line = %q, %d, want the kustomization file and 0", got[len(got)-1], d.File, d.Line)
		}
	}
	// In the order kustomize emits them.
	if want := []string{"Deployment dev-api tier=backend", "Service dev-api tier=backend"}; strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("objects = %q, want %q", got, want)
	}
	spec := docs[0].Object["spec"].(map[string]any)
	if spec["replicas"] != int64(2) {
		t.Errorf("replicas = %v, want 2 (the overlay's patch)", spec["replicas"])
	}
	container := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if container["image"] != "registry.local/api:abc" {
		t.Errorf("image = %v, want ${image:api} substituted", container["image"])
	}
	if env := container["env"].([]any)[0].(map[string]any); env["value"] != "shop" {
		t.Errorf("env NS = %v, want ${namespace} substituted", env["value"])
	}
	if got := docs[0].Source(); got != filepath.Join("overlay", "kustomization.yaml") {
		t.Errorf("Source() = %q, want the kustomization file alone", got)
	}
}

func TestKustomizeErrors(t *testing.T) {
	kustomization := filepath.Join("overlay", "kustomization.yaml")
	tests := []struct {
		name  string
		stack string
		files map[string]string
		want  []string // each a problem, as ErrorList prints it
	}{
		{
			name:  "missing resource",
			stack: kustomizeStack,
			files: map[string]string{"overlay/kustomization.yaml": "resources: [../base, missing.yaml]\n"},
			want:  []string{kustomization + `: components[0] "api": kustomize build: accumulating resources: accumulation err='accumulating resources from 'missing.yaml': evalsymlink failure on '` + filepath.Join("overlay", "missing.yaml") + `' : lstat ` + filepath.Join("overlay", "missing.yaml") + `: no such file or directory'`},
		},
		{
			name:  "missing resource in a base",
			stack: kustomizeStack,
			files: map[string]string{"base/kustomization.yaml": "resources: [deployment.yaml, gone.yaml]\n"},
			want:  []string{kustomization + `: components[0] "api": kustomize build: accumulating resources: accumulation err='accumulating resources from '../base': ` + "'" + filepath.Join("base") + `' must resolve to a file': recursed accumulation of path '` + filepath.Join("base") + `': accumulating resources: accumulation err='accumulating resources from 'gone.yaml': evalsymlink failure on '` + filepath.Join("base", "gone.yaml") + `' : lstat ` + filepath.Join("base", "gone.yaml") + `: no such file or directory'`},
		},
		{
			name:  "a reference to no image, in what kustomize built",
			stack: strings.Replace(kustomizeStack, "{name: api,", "{name: web,", 1),
			want:  []string{kustomization + `: components[0] "api": Deployment dev-api: ${image:api}: "api" is not an image in spec.images`},
		},
		{
			name:  "an object in a kustomization and in a plain file",
			stack: strings.Replace(kustomizeStack, "manifests: [overlay]", "manifests: [overlay]\n    - {name: svc, manifests: [svc.yaml]}", 1),
			files: map[string]string{"svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: dev-api}\nspec: {ports: [{port: 80}]}\n"},
			want:  []string{`svc.yaml:1: components[1] "svc": Service dev-api is also declared at ` + kustomization + ` (component api): an object belongs to one component, declared once`},
		},
		{
			name:  "a kustomization that yields nothing",
			stack: kustomizeStack,
			files: map[string]string{"overlay/kustomization.yaml": "namePrefix: dev-\n"},
			want:  []string{`stack.yaml:11: components[0] "api": nothing to do: its manifests (overlay) hold no objects`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{}
			for k, v := range kustomizeFiles {
				files[k] = v
			}
			for k, v := range tt.files {
				files[k] = v
			}
			writeFiles(t, dir, files)
			_, err := Parse("stack.yaml", []byte(tt.stack), dir)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse: got %v, want an ErrorList", err)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			for _, e := range list {
				if e.Object == "" {
					t.Errorf("%v: no object", e)
				}
			}
		})
	}
}
