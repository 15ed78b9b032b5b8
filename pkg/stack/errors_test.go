package stack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// head is the start of every stack in these tests; spec's fields start on
// line 6.
const head = `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata:
  name: demo
spec:
`

// okManifest is a valid manifest that every test directory holds as ok.yaml.
const okManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: ok
data:
  key: value
`

// writeFiles writes files (relative path -> content) under dir, plus ok.yaml.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	all := map[string]string{"ok.yaml": okManifest}
	for name, content := range files {
		all[name] = content
	}
	for name, content := range all {
		path := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") { // just the directory
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name  string
		stack string
		files map[string]string
		want  []string // each must appear in the error
		only  bool     // and nothing else: one problem per want
	}{
		{
			name: "unknown field in spec",
			stack: head + `  colour: red
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:6: unknown field "spec.colour"; known fields: cluster, namespace`},
		},
		{
			name: "unknown field in component, with a hint",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      dependson: [db]
`,
			want: []string{`stack.yaml:9: components[0] "app": unknown field "dependson" (did you mean "dependsOn"?)`},
		},
		{
			name: "unknown field in sim",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      sim: {readyAfter: 1s, delay: 2s}
`,
			want: []string{`stack.yaml:9: components[0] "app": unknown field "sim.delay"`},
		},
		{
			name: "wrong apiVersion",
			stack: `apiVersion: testbed.dev/v1
kind: Stack
metadata: {name: demo}
spec:
  components: [{name: app, manifests: [ok.yaml]}]
`,
			want: []string{`stack.yaml:1: apiVersion "testbed.dev/v1" is not supported: want "testbed.dev/v1alpha1"`},
		},
		{
			name: "missing kind",
			stack: `apiVersion: testbed.dev/v1alpha1
metadata: {name: demo}
spec:
  components: [{name: app, manifests: [ok.yaml]}]
`,
			want: []string{`stack.yaml:1: kind is required: want "Stack"`},
		},
		{
			name: "stack name not a DNS-1123 label",
			stack: `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata:
  name: Gateway_E2E
spec:
  components: [{name: app, manifests: [ok.yaml]}]
`,
			want: []string{`stack.yaml:4: metadata.name "Gateway_E2E" is not a DNS-1123 label`},
		},
		{
			name: "missing stack name",
			stack: `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {}
spec:
  components: [{name: app, manifests: [ok.yaml]}]
`,
			want: []string{`stack.yaml:3: metadata.name is required`},
		},
		{
			name: "component name not a DNS-1123 label",
			stack: head + `  components:
    - name: App.1
      manifests: [ok.yaml]
`,
			want: []string{`stack.yaml:7: components[0] "App.1": name "App.1" is not a DNS-1123 label`},
		},
		{
			name: "duplicate component",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
    - name: app
      manifests: [ok.yaml]
`,
			want: []string{`stack.yaml:9: components[1] "app": component name "app" is already used by components[0]`},
		},
		{
			name: "duplicate image",
			stack: head + `  images:
    - {name: pg, ref: postgres:16}
    - {name: pg, ref: postgres:17}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:8: images[1] "pg": image name "pg" is already used by images[0]`},
		},
		{
			name: "duplicate port name and nodePort",
			stack: head + `  ports:
    - {name: api, nodePort: 30080, hostPort: auto}
    - {name: api, nodePort: 30080, hostPort: auto}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{
				`stack.yaml:8: ports[1] "api": port name "api" is already used by ports[0]`,
				`stack.yaml:8: ports[1] "api": nodePort 30080 is already used by ports[0]`,
			},
		},
		{
			name: "duplicate fixed hostPort",
			stack: head + `  ports:
    - {name: a, nodePort: 30080, hostPort: 8080}
    - {name: b, nodePort: 30081, hostPort: 8080}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:8: ports[1] "b": hostPort 8080 is already used by ports[0]`},
		},
		{
			name: "nodePort outside the NodePort range",
			stack: head + `  ports:
    - name: api
      nodePort: 8080
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:8: ports[0] "api": nodePort: 8080 is outside the NodePort range 30000-32767`},
		},
		{
			name: "missing nodePort",
			stack: head + `  ports:
    - name: api
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:7: ports[0] "api": nodePort is required (30000-32767)`},
		},
		{
			name: "hostPort out of range",
			stack: head + `  ports:
    - name: api
      nodePort: 30080
      hostPort: 70000
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:9: ports[0] "api": hostPort: 70000 is out of range 1-65535 (or auto)`},
		},
		{
			name: "hostPort neither a number nor auto",
			stack: head + `  ports:
    - {name: api, nodePort: 30080, hostPort: any}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:7: ports[0] "api": hostPort: want a port number or auto, got "any"`},
		},
		{
			name: "unknown dependsOn",
			stack: head + `  components:
    - name: postgresql
      manifests: [ok.yaml]
    - name: migrations
      manifests: [ok.yaml]
      dependsOn: [postgres]
`,
			want: []string{`stack.yaml:11: components[1] "migrations": dependsOn "postgres" is not a component`},
		},
		{
			name: "dependsOn itself",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      dependsOn: [app]
`,
			want: []string{`stack.yaml:9: components[0] "app": dependsOn "app" is the component itself`},
		},
		{
			name: "unknown sim.requires",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      sim:
        requires: [redis]
`,
			want: []string{`stack.yaml:10: components[0] "app": sim.requires "redis" is not a component`},
		},
		{
			name: "unknown image in component",
			stack: head + `  components:
    - name: app
      images: [datastorage]
      manifests: [ok.yaml]
`,
			want: []string{`stack.yaml:8: components[0] "app": images "datastorage" is not an image in spec.images`},
		},
		{
			name: "dependency cycle",
			stack: head + `  components:
    - {name: a, manifests: [ok.yaml], dependsOn: [b]}
    - {name: b, manifests: [ok.yaml], dependsOn: [c]}
    - {name: c, manifests: [ok.yaml], dependsOn: [a]}
`,
			want: []string{`stack.yaml:9: components[2] "c": dependency cycle: a -> b -> c -> a`},
		},
		{
			name: "cycle through sim.requires",
			stack: head + `  components:
    - {name: a, manifests: [ok.yaml], dependsOn: [b]}
    - {name: b, manifests: [ok.yaml], sim: {requires: [a]}}
`,
			want: []string{`stack.yaml:8: components[1] "b": dependency cycle through dependsOn and sim.requires: a -> b -> a`},
		},
		{
			name: "bad duration",
			stack: head + `  timeout: 10 minutes
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:6: spec.timeout: invalid duration "10 minutes": want a number with a unit, like 30s or 10m`},
		},
		{
			name: "durations out of range",
			stack: head + `  timeout: 99999999999h
  components:
    - {name: a, manifests: [ok.yaml], timeout: 25h}
    - {name: b, manifests: [b.yaml], dependsOn: [a], sim: {readyAfter: 2562047h}}
    - {name: c, manifests: [c.yaml], sim: {readyAfter: 24h}, timeout: 1440m}
`,
			files: map[string]string{"b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n", "c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"},
			want: []string{
				`stack.yaml:6: spec.timeout: duration "99999999999h" is out of range: at most 24h0m0s`,
				`stack.yaml:8: components[0] "a": timeout: duration "25h" is out of range: at most 24h0m0s`,
				`stack.yaml:9: components[1] "b": sim.readyAfter: duration "2562047h" is out of range: at most 24h0m0s`,
			},
		},
		{
			name: "duration without a unit",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      timeout: 300
`,
			want: []string{`stack.yaml:9: components[0] "app": timeout: invalid duration "300"`},
		},
		{
			name: "negative duration",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      sim: {readyAfter: -5s}
`,
			want: []string{`stack.yaml:9: components[0] "app": sim.readyAfter: duration "-5s" is negative`},
		},
		{
			name: "zero timeout",
			stack: head + `  timeout: 0s
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:6: spec.timeout: a timeout must be greater than 0`},
		},
		{
			name: "invalid sim.fail",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      sim: {fail: CrashLoop}
`,
			want: []string{`stack.yaml:9: components[0] "app": sim.fail "CrashLoop" is not one of CrashLoopBackOff, ImagePullBackOff, NeverReady, JobFailed`},
		},
		{
			name: "image with ref and a build",
			stack: head + `  images:
    - name: api
      ref: api:1
      context: .
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:8: images[0] "api": set either ref (a pre-built image) or context and dockerfile (a build), not both`},
		},
		{
			name: "image with neither ref nor a build",
			stack: head + `  images:
    - name: api
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:7: images[0] "api": set ref (a pre-built image), go (a build from a Go package) or context and dockerfile (a Docker build)`},
		},
		{
			name: "image build without a Dockerfile",
			stack: head + `  images:
    - name: api
      context: src
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			files: map[string]string{"src/": ""},
			want:  []string{`stack.yaml:7: images[0] "api": dockerfile "src/Dockerfile" is not a file`},
		},
		{
			name: "go image without a package",
			stack: head + `  images:
    - name: api
      go: {dir: .}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:8: images[0] "api": go.package is required: the main package, as go build takes it (./cmd/api)`},
			only: true,
		},
		{
			name: "go image with an empty go block",
			stack: head + `  images:
    - name: api
      go:
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:8: images[0] "api": go.package is required`},
			only: true,
		},
		{
			name: "go image with an empty package",
			stack: head + `  images:
    - name: api
      go:
        package: "  "
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:9: images[0] "api": go.package is required`},
			only: true,
		},
		{
			name: "go image package that is a flag, and one that is two",
			stack: head + `  images:
    - {name: api, go: {package: -race}}
    - {name: web, go: {package: ./cmd/web ./cmd/x}}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{
				`stack.yaml:7: images[0] "api": go.package "-race" starts with '-': go build would take it for a flag`,
				`stack.yaml:8: images[1] "web": go.package "./cmd/web ./cmd/x" contains whitespace: give one package`,
			},
			only: true,
		},
		{
			name: "go image whose dir is missing, and one whose dir is a file",
			stack: head + `  images:
    - name: api
      go: {package: ./cmd/api, dir: services/api}
    - name: web
      go: {package: ., dir: ok.yaml}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{
				`stack.yaml:8: images[0] "api": go.dir "services/api" is not a directory`,
				`stack.yaml:10: images[1] "web": go.dir "ok.yaml" is not a directory`,
			},
			only: true,
		},
		{
			name: "go image with a ref",
			stack: head + `  images:
    - name: api
      ref: api:1
      go: {package: ./cmd/api}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:9: images[0] "api": set either ref (a pre-built image) or go (a build from a Go package), not both`},
			only: true,
		},
		{
			name: "go image with a Dockerfile build",
			stack: head + `  images:
    - name: api
      go: {package: ./cmd/api}
      dockerfile: Dockerfile
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:8: images[0] "api": set either go (a build from a Go package) or context and dockerfile (a Docker build), not both`},
			only: true,
		},
		{
			name: "go image with Dockerfile build options",
			stack: head + `  images:
    - name: api
      go: {package: ./cmd/api}
      buildArgs: {A: "1"}
      target: test
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{
				`stack.yaml:9: images[0] "api": buildArgs apply only to Dockerfile builds, not to go`,
				`stack.yaml:10: images[0] "api": target applies only to Dockerfile builds, not to go`,
			},
			only: true,
		},
		{
			name: "go image with bad tags",
			stack: head + `  images:
    - name: api
      go:
        package: ./cmd/api
        tags: [netgo, "a,b", ""]
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{
				`stack.yaml:10: images[0] "api": go.tags[1] "a,b" is not a build tag: want one word, no commas or spaces`,
				`stack.yaml:10: images[0] "api": go.tags[2] "" is not a build tag: want one word, no commas or spaces`,
			},
			only: true,
		},
		{
			name: "unknown field in a go block, with a hint",
			stack: head + `  images:
    - name: api
      go:
        package: ./cmd/api
        ldFlags: -X main.v=1
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:10: images[0] "api": unknown field "go.ldFlags" (did you mean "ldflags"?); known fields: package, dir, ldflags, tags`},
			only: true,
		},
		{
			name: "go block of the wrong type",
			stack: head + `  images:
    - name: api
      go: ./cmd/api
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:8: images[0] "api": go: want a mapping, got "./cmd/api"`},
			only: true,
		},
		{
			name: "unknown provider",
			stack: head + `  cluster: {provider: minikube}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:6: spec.cluster.provider "minikube" is not one of sim, kind, kubeconfig`},
		},
		{
			name: "mount with a relative containerPath",
			stack: head + `  cluster:
    kind:
      mounts:
        - {hostPath: ./cover, containerPath: cover}
  components:
    - {name: app, manifests: [ok.yaml]}
`,
			want: []string{`stack.yaml:9: cluster.kind.mounts[0]: containerPath "cover" must be an absolute path`},
		},
		{
			name: "missing manifest file",
			stack: head + `  components:
    - name: app
      manifests: [deploy/missing.yaml]
`,
			want: []string{`stack.yaml:8: components[0] "app": manifests[0] "deploy/missing.yaml": does not exist`},
		},
		{
			name: "glob matching nothing",
			stack: head + `  components:
    - name: app
      manifests:
        - ok.yaml
        - deploy/*.yaml
`,
			want: []string{`stack.yaml:10: components[0] "app": manifests[1] "deploy/*.yaml": matches no files`},
		},
		{
			name: "directory without manifests",
			stack: head + `  components:
    - name: app
      manifests: [deploy/]
`,
			files: map[string]string{"deploy/README.md": "nothing here"},
			want:  []string{`stack.yaml:8: components[0] "app": manifests[0] "deploy": directory holds no *.yaml, *.yml or *.json files`},
		},
		{
			name: "manifest that is not YAML",
			stack: head + `  components:
    - name: app
      manifests: [bad.yaml]
`,
			files: map[string]string{"bad.yaml": "apiVersion: v1\nkind: [ConfigMap\nmetadata: {name: x}\n"},
			// The line where the unclosed flow sequence starts.
			want: []string{`bad.yaml:2: components[0] "app": invalid YAML: did not find expected ',' or ']' (in the block that starts on this line)`},
		},
		{
			name: "manifest that is not JSON",
			stack: head + `  components:
    - name: app
      manifests: [bad.json]
`,
			files: map[string]string{"bad.json": "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"ConfigMap\"\n  \"metadata\": {}\n}\n"},
			want:  []string{`bad.json:`, `components[0] "app": invalid YAML`},
		},
		{
			name: "manifest document without kind and metadata.name",
			stack: head + `  components:
    - name: app
      manifests: [bad.yaml]
`,
			files: map[string]string{"bad.yaml": okManifest + "---\n# a comment only: skipped\n---\napiVersion: v1\nmetadata: {}\n"},
			want:  []string{`bad.yaml:10: components[0] "app": document 3: missing kind, metadata.name`},
		},
		{
			name: "List item without apiVersion",
			stack: head + `  components:
    - name: app
      manifests: [list.yaml]
`,
			files: map[string]string{"list.yaml": "apiVersion: v1\nkind: List\nitems:\n  - kind: ConfigMap\n    metadata: {name: x}\n"},
			want:  []string{`list.yaml:4: components[0] "app": document 1 items[0] (ConfigMap): missing apiVersion`},
		},
		{
			name: "manifest document that is not a mapping",
			stack: head + `  components:
    - name: app
      manifests: [bad.yaml]
`,
			files: map[string]string{"bad.yaml": "- just\n- a list\n"},
			want:  []string{`bad.yaml:1: components[0] "app": document 1: want a Kubernetes object (a mapping), got a list`},
		},
		{
			name: "unknown substitution kind in a manifest",
			stack: head + `  components:
    - name: app
      manifests: [bad.yaml]
`,
			files: map[string]string{"bad.yaml": okManifest + "  password: ${secret:db}\n"},
			want:  []string{`bad.yaml:7: components[0] "app": unknown substitution ${secret:db}: want ${image:NAME}, ${port:NAME}, ${namespace}, ${stack} or ${run}`},
		},
		{
			name: "unknown image in a manifest",
			stack: head + `  components:
    - name: app
      manifests: [bad.yaml]
`,
			files: map[string]string{"bad.yaml": okManifest + "  image: ${image:api}\n"},
			want:  []string{`bad.yaml:7: components[0] "app": ${image:api}: "api" is not an image in spec.images`},
		},
		{
			name: "binary manifest",
			stack: head + `  components:
    - name: app
      manifests: [bin.yaml]
`,
			files: map[string]string{"bin.yaml": "apiVersion: v1\n\x7fELF\x00\x01\x02"},
			want:  []string{`bin.yaml:2: components[0] "app": control character U+007F is not allowed in YAML; is it a binary file?`},
		},
		{
			name: "component with nothing to do",
			stack: head + `  components:
    - name: app
      sim: {readyAfter: 1s}
`,
			want: []string{`stack.yaml:7: components[0] "app": nothing to do: give the component manifests or a run step`},
		},
		{
			name: "component that is not a mapping",
			stack: head + `  components:
    - {name: app, manifests: [ok.yaml]}
    - 5
`,
			want: []string{`stack.yaml:8: components[1]: want a mapping, got "5"`},
		},
		{
			name: "kind that is not a string",
			stack: head + `  components:
    - name: app
      manifests: [bad.yaml]
`,
			files: map[string]string{"bad.yaml": "apiVersion: v1\nkind: 5\nmetadata: {name: x}\n"},
			want:  []string{`bad.yaml:1: components[0] "app": document 1: kind: want a string, got 5`},
		},
		{
			name: "Secret data that is not base64, its value never shown",
			stack: head + `  components:
    - name: app
      manifests: [s.yaml]
`,
			files: map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ndata:\n  ok: czNjcjN0\n  PASSWORD: s3cr3t-VALUE\n  ref: ${stack}\nstringData: {plain: s3cr3t-VALUE}\n"},
			want:  []string{`s.yaml:1: components[0] "app": document 1 (Secret): data.PASSWORD is not base64 (the API server would reject it); put plain text under stringData`},
			only:  true,
		},
		{
			name: "manifests without an object",
			stack: head + `  components:
    - name: app
      manifests: [empty.yaml, comments.yaml]
`,
			files: map[string]string{"empty.yaml": "", "comments.yaml": "# nothing yet\n---\n---\n"},
			want:  []string{`stack.yaml:8: components[0] "app": nothing to do: its manifests (empty.yaml, comments.yaml) hold no objects`},
		},
		{
			name: "an object in two components",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
    - name: other
      manifests: [again.yaml]
`,
			files: map[string]string{"again.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n" + okManifest},
			want:  []string{`again.yaml:5: components[1] "other": ConfigMap ok is also declared at ok.yaml:1 (component app): an object belongs to one component, declared once`},
		},
		{
			name: "an object twice in one component, in another API version, its namespace written once",
			stack: head + `  namespace: apps
  components:
    - name: app
      manifests: [a.yaml]
`,
			files: map[string]string{"a.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\napiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: web, namespace: apps}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: other}\n"},
			want:  []string{`a.yaml:5: components[0] "app": Deployment apps/web is also declared at a.yaml:1: an object belongs to one component, declared once`},
		},
		{
			name: "an object in two components, once through ${namespace}",
			stack: head + `  namespace: apps
  components:
    - name: app
      manifests: [a.yaml]
    - name: other
      manifests: [b.yaml]
`,
			files: map[string]string{
				"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${stack}-cfg\n",
				"b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-cfg\n  namespace: ${namespace}\n",
			},
			want: []string{`b.yaml:1: components[1] "other": ConfigMap apps/demo-cfg is also declared at a.yaml:1 (component app): an object belongs to one component, declared once`},
		},
		{
			name: "component with manifests and run",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      run: {command: [true]}
`,
			want: []string{`stack.yaml:9: components[0] "app": a component has manifests or a run step, not both`},
		},
		{
			name: "run with an empty command",
			stack: head + `  components:
    - name: seed
      run: {command: []}
`,
			want: []string{`stack.yaml:8: components[0] "seed": run.command is required`},
		},
		{
			name: "run step with sim",
			stack: head + `  components:
    - name: seed
      run: {command: [./seed.sh]}
      sim: {readyAfter: 1s}
`,
			want: []string{`stack.yaml:9: components[0] "seed": sim models a component's pods; a run step has none`},
		},
		{
			name: "unknown port in a run argument",
			stack: head + `  components:
    - name: seed
      run:
        command: [./seed.sh, "${port:api}"]
`,
			want: []string{`stack.yaml:9: components[0] "seed": run.command[1]: ${port:api}: "api" is not a port in spec.ports`},
		},
		{
			name: "namespace takes no name",
			stack: head + `  components:
    - name: seed
      run:
        command: [./seed.sh]
        env: {NS: "${namespace:x}"}
`,
			want: []string{`stack.yaml:10: components[0] "seed": run.env.NS: unknown substitution ${namespace:x}`},
		},
		{
			name: "check with neither http nor tcp",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      checks:
        - {}
`,
			want: []string{`stack.yaml:10: components[0] "app": checks[0]: set http or tcp`},
		},
		{
			name: "check with both http and tcp",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      checks:
        - http: {url: "http://127.0.0.1:8080/"}
          tcp: {address: "127.0.0.1:8080"}
`,
			want: []string{`stack.yaml:10: components[0] "app": checks[0]: set http or tcp, not both`},
		},
		{
			name: "http status out of range",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      checks:
        - http: {url: "http://127.0.0.1:8080/", status: 99}
`,
			want: []string{`stack.yaml:10: components[0] "app": checks[0].http.status: 99 is out of range 100-599`},
		},
		{
			name: "http check url that is not http",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      checks:
        - http: {url: "ftp://127.0.0.1/"}
`,
			want: []string{`stack.yaml:10: components[0] "app": checks[0].http.url "ftp://127.0.0.1/" is not an http or https URL`},
		},
		{
			name: "tcp check address without a port",
			stack: head + `  ports: [{name: db, nodePort: 30432}]
  components:
    - name: app
      manifests: [ok.yaml]
      checks:
        - tcp: {address: "127.0.0.1"}
        - tcp: {address: "127.0.0.1:${port:db}"}
`,
			want: []string{`stack.yaml:11: components[0] "app": checks[0].tcp.address "127.0.0.1" is not host:port`},
		},
		{
			name: "unknown port in a check",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      checks:
        - http: {url: "http://127.0.0.1:${port:api}/health"}
`,
			want: []string{`stack.yaml:10: components[0] "app": checks[0].http.url: ${port:api}: "api" is not a port in spec.ports`},
		},
		{
			name: "wrong type",
			stack: head + `  components:
    - name: app
      manifests: ok.yaml
`,
			want: []string{`stack.yaml:8: components[0] "app": manifests: want a list, got "ok.yaml"`},
		},
		{
			name: "key set twice",
			stack: head + `  components:
    - name: app
      manifests: [ok.yaml]
      manifests: [other.yaml]
`,
			want: []string{`stack.yaml:9: components[0] "app": "manifests" is set twice (first at line 8)`},
		},
		{
			name: "no components",
			stack: head + `  namespace: test
`,
			want: []string{`stack.yaml:5: spec.components: a stack needs at least one component`},
		},
		{
			name:  "YAML syntax error in the stack file",
			stack: head + "  components:\n    - name: app\n     manifests: [ok.yaml]\n",
			// The line of the enclosing block (the list item), not the bad line.
			want: []string{`stack.yaml:7: invalid YAML: did not find expected '-' indicator (in the block that starts on this line)`},
		},
		{
			name:  "two documents in the stack file",
			stack: head + "  components: [{name: app, manifests: [ok.yaml]}]\n---\nkind: Stack\n",
			want:  []string{`stack.yaml:7: a stack file holds one YAML document, found another`},
		},
		{
			name:  "empty stack file",
			stack: "# nothing yet\n",
			want:  []string{`stack.yaml:1: empty stack file`},
		},
		{
			name:  "stack file that is a list",
			stack: "- a\n- b\n",
			want:  []string{`stack.yaml:1: a stack file is a mapping (apiVersion, kind, metadata, spec), got a list`},
		},
		{
			name:  "binary stack file",
			stack: head + "  \x00\x01\x02",
			want:  []string{`stack.yaml:6: NUL byte; is it a binary file?`},
		},
		{
			name:  "stack file that is not UTF-8",
			stack: head + "  namespace: caf\xe9\n",
			want:  []string{`stack.yaml:6: not UTF-8 text (byte 0xe9)`},
		},
		{
			name: "YAML alias bomb in the stack file",
			stack: head + `  namespace: x
  components:
    - &c {name: app, manifests: &m [` + strings.Repeat("ok.yaml,", 2000) + `ok.yaml]}
` + "    " + strings.Repeat("- *c\n    ", 1000) + "\n",
			want: []string{`stack.yaml:8: YAML aliases expand to more than 1000000 nodes`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			s, err := Parse("stack.yaml", []byte(tt.stack), dir)
			if err == nil {
				t.Fatalf("Parse succeeded, want an error containing %q", tt.want)
			}
			if s != nil {
				t.Errorf("Parse returned a stack and an error")
			}
			t.Logf("error:\n%v", err)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want an ErrorList", err)
			}
			for _, e := range list {
				if e.File == "" || e.Line < 1 {
					t.Errorf("problem without file and line: %q", e)
				}
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain\n  %s\ngot:\n  %s", want, strings.ReplaceAll(err.Error(), "\n", "\n  "))
				}
			}
			if tt.only && len(list) != len(tt.want) {
				t.Errorf("%d problems, want only %d:\n%v", len(list), len(tt.want), err)
			}
			if strings.Contains(err.Error(), "s3cr3t-VALUE") {
				t.Errorf("a Secret's value is in the error:\n%v", err)
			}
		})
	}
}

// TestParseReportsEveryProblem checks that problems are reported together,
// one per line, ordered by line.
func TestParseReportsEveryProblem(t *testing.T) {
	stack := `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata:
  name: Demo
spec:
  timeout: soon
  components:
    - name: migrations
      manifests: [missing.yaml]
      dependsOn: [postgres]
      sim: {fail: Sometimes}
    - name: migrations
      run: {command: []}
`
	_, err := Parse("stack.yaml", []byte(stack), t.TempDir())
	want := `stack.yaml:4: metadata.name "Demo" is not a DNS-1123 label: use at most 63 lower case letters, digits and '-', starting and ending with a letter or digit
stack.yaml:6: spec.timeout: invalid duration "soon": want a number with a unit, like 30s or 10m
stack.yaml:9: components[0] "migrations": manifests[0] "missing.yaml": does not exist
stack.yaml:10: components[0] "migrations": dependsOn "postgres" is not a component
stack.yaml:11: components[0] "migrations": sim.fail "Sometimes" is not one of CrashLoopBackOff, ImagePullBackOff, NeverReady, JobFailed
stack.yaml:12: components[1] "migrations": component name "migrations" is already used by components[0]
stack.yaml:13: components[1] "migrations": run.command is required: the program and its arguments`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

// TestAliasBombsFailFast checks that "billion laughs" files are rejected
// quickly, as stack files and as manifests.
func TestAliasBombsFailFast(t *testing.T) {
	bomb := `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
	tests := []struct {
		name  string
		stack string
		files map[string]string
		want  string
	}{
		{
			name:  "stack file",
			stack: bomb,
			want:  "stack.yaml:7: YAML aliases expand to more than 1000000 nodes",
		},
		{
			name:  "manifest",
			stack: head + "  components: [{name: app, manifests: [bomb.yaml]}]\n",
			files: map[string]string{"bomb.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n" + indent(bomb)},
			want:  `bomb.yaml:11: components[0] "app": document 1: YAML aliases expand to more than 1000000 nodes`,
		},
		{
			name:  "self-referencing alias",
			stack: head + "  components: [{name: app, manifests: [self.yaml]}]\n",
			files: map[string]string{"self.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &d\n  <<: *d\n"},
			want:  `self.yaml:`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			start := time.Now()
			_, err := Parse("stack.yaml", []byte(tt.stack), dir)
			if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
				t.Errorf("Parse took %v, want well under a second", elapsed)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "testbed.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want an error matching os.ErrNotExist", err)
	}
	if err == nil || !strings.Contains(err.Error(), "testbed.yaml: file does not exist") {
		t.Errorf("got %v, want it to name the file", err)
	}
}

func TestLoadRejectsLargeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "testbed.yaml")
	if err := os.WriteFile(path, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "file is larger than 4 MiB") {
		t.Errorf("got %v, want a size error", err)
	}
}
