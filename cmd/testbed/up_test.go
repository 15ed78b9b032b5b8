package main_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/testenv"
)

// The stack commands (up, down, status, plan) run end to end: the built
// binary, a real sim cluster, and the files and exit codes a user sees.

// badHeader is a valid stack up to its components; the line numbers the
// bad-input cases expect count from it (components start on line 11).
const badHeader = `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata:
  name: bad
spec:
  images:
    - {name: app, ref: example/app:1}
  ports:
    - {name: web, nodePort: 30080}
  components:
`

// validStack is badHeader with one valid component, which the cases edit.
const validStack = badHeader + "    - {name: a, manifests: [cm.yaml], sim: {readyAfter: 1s}}\n"

// cmYAML is the manifest of validStack; it uses the stack's image and port.
const cmYAML = `apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  image: ${image:app}
  port: "${port:web}"
`

// withComponents is badHeader with the given component lines (line 11 on).
func withComponents(lines ...string) string {
	return badHeader + strings.Join(lines, "\n") + "\n"
}

// edit returns validStack with old replaced by repl, once.
func edit(old, repl string) string {
	if !strings.Contains(validStack, old) {
		panic("edit: " + strconv.Quote(old) + " is not in validStack")
	}
	return strings.Replace(validStack, old, repl, 1)
}

// manifestStack is a stack whose one component applies m.yaml.
var manifestStack = withComponents("    - {name: a, manifests: [m.yaml]}")

func TestUpBadInput(t *testing.T) {
	type badCase struct {
		name string
		// args default to up -f FILE. In args and want, FILE is replaced by
		// the stack file's path and DIR by its directory.
		args []string
		// stack is the stack file (default validStack); files are more
		// files next to it, besides cm.yaml.
		stack string
		files map[string]string
		// want holds the lines stderr must contain, one each: stderr has
		// exactly len(want) lines, so that no other error hides among them.
		want []string
		// limit, if set, is how long the command may take before it is
		// killed and the case failed.
		limit time.Duration
	}
	up := func(extra ...string) []string { return append([]string{"up", "-f", "FILE"}, extra...) }
	plan := []string{"plan", "-f", "FILE"}
	cases := []badCase{
		// The stack file itself.
		{name: "unknown top-level field", stack: edit("spec:\n", "status: {}\nspec:\n"),
			want: []string{`testbed: FILE:5: unknown field "status"; known fields: apiVersion, kind, metadata, spec`}},
		{name: "unknown field in a component", stack: withComponents("    - {name: a, manifests: [cm.yaml], replicas: 3}"),
			want: []string{`testbed: FILE:11: components[0] "a": unknown field "replicas"; known fields: name, images, manifests, dependsOn, sim, checks, timeout, run`}},
		{name: "misspelled field gets a hint", stack: withComponents("    - {name: a, manifests: [cm.yaml], dependson: [a]}"),
			want: []string{`testbed: FILE:11: components[0] "a": unknown field "dependson" (did you mean "dependsOn"?)`}},
		{name: "unknown field through plan", args: plan, stack: edit("    - {name: web, nodePort: 30080}", "    - {name: web, nodePort: 30080, protocol: UDP}"),
			want: []string{`testbed: FILE:9: ports[0] "web": unknown field "protocol"; known fields: name, nodePort, hostPort`}},
		{name: "bad apiVersion", stack: edit("v1alpha1", "v1beta9"),
			want: []string{`testbed: FILE:1: apiVersion "testbed.dev/v1beta9" is not supported: want "testbed.dev/v1alpha1"`}},
		{name: "wrong kind", stack: edit("kind: Stack", "kind: Deployment"),
			want: []string{`testbed: FILE:2: kind "Deployment" is not supported: want "Stack"`}},
		{name: "missing metadata.name", stack: edit("metadata:\n  name: bad\n", "metadata: {}\n"),
			want: []string{`testbed: FILE:3: metadata.name is required`}},
		{name: "name not a DNS-1123 label", stack: edit("name: bad", "name: Bad_Stack"),
			want: []string{`testbed: FILE:4: metadata.name "Bad_Stack" is not a DNS-1123 label`}},
		{name: "duplicate component", stack: withComponents("    - {name: a, manifests: [cm.yaml]}", "    - {name: a, manifests: [b.yaml]}"),
			files: map[string]string{"b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"},
			want:  []string{`testbed: FILE:12: components[1] "a": component name "a" is already used by components[0]`}},
		{name: "unknown dependsOn", stack: withComponents("    - {name: a, manifests: [cm.yaml], dependsOn: [ghost]}"),
			want: []string{`testbed: FILE:11: components[0] "a": dependsOn "ghost" is not a component`}},
		{name: "unknown sim.requires", stack: withComponents("    - {name: a, manifests: [cm.yaml], sim: {requires: [ghost]}}"),
			want: []string{`testbed: FILE:11: components[0] "a": sim.requires "ghost" is not a component`}},
		{name: "unknown image in images", stack: withComponents("    - {name: a, manifests: [cm.yaml], images: [app, ghost]}"),
			want: []string{`testbed: FILE:11: components[0] "a": images "ghost" is not an image in spec.images`}},
		{name: "dependency cycle", stack: withComponents(
			"    - {name: a, manifests: [cm.yaml], dependsOn: [b]}",
			"    - {name: b, manifests: [b.yaml], dependsOn: [a]}"),
			files: map[string]string{"b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"},
			want:  []string{`testbed: FILE:12: components[1] "b": dependency cycle: a -> b -> a`}},
		{name: "cycle through requires, through plan", args: plan, stack: withComponents(
			"    - {name: a, manifests: [cm.yaml], dependsOn: [c]}",
			"    - {name: b, manifests: [b.yaml], dependsOn: [a]}",
			"    - {name: c, manifests: [c.yaml], sim: {requires: [b]}}"),
			files: map[string]string{"b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n", "c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"},
			want:  []string{`testbed: FILE:12: components[1] "b": dependency cycle through dependsOn and sim.requires: a -> c -> b -> a`}},
		{name: "bad duration", stack: withComponents("    - {name: a, manifests: [cm.yaml], sim: {readyAfter: 3 parsecs}}"),
			want: []string{`testbed: FILE:11: components[0] "a": sim.readyAfter: invalid duration "3 parsecs": want a number with a unit, like 30s or 10m`}},
		{name: "negative component timeout", stack: withComponents("    - {name: a, manifests: [cm.yaml], timeout: -5s}"),
			want: []string{`testbed: FILE:11: components[0] "a": timeout: duration "-5s" is negative`}},
		{name: "negative stack timeout", stack: edit("spec:\n", "spec:\n  timeout: -1m\n"),
			want: []string{`testbed: FILE:6: spec.timeout: duration "-1m" is negative`}},
		{name: "invalid sim.fail", stack: withComponents("    - {name: a, manifests: [cm.yaml], sim: {fail: Explode}}"),
			want: []string{`testbed: FILE:11: components[0] "a": sim.fail "Explode" is not one of CrashLoopBackOff, ImagePullBackOff, NeverReady, JobFailed`}},
		{name: "duplicate nodePort", stack: edit("    - {name: web, nodePort: 30080}\n", "    - {name: web, nodePort: 30080}\n    - {name: api, nodePort: 30080}\n"),
			want: []string{`testbed: FILE:10: ports[1] "api": nodePort 30080 is already used by ports[0]`}},
		{name: "nodePort out of range", stack: edit("nodePort: 30080", "nodePort: 80"),
			want: []string{`testbed: FILE:9: ports[0] "web": nodePort: 80 is outside the NodePort range 30000-32767`}},
		{name: "component with nothing to do", stack: withComponents("    - {name: a, sim: {readyAfter: 1s}}"),
			want: []string{`testbed: FILE:11: components[0] "a": nothing to do: give the component manifests or a run step`}},
		{name: "empty run.command", stack: withComponents("    - {name: a, run: {command: []}}"),
			want: []string{`testbed: FILE:11: components[0] "a": run.command is required: the program and its arguments`}},

		// Manifests.
		{name: "missing manifest file", stack: withComponents("    - {name: a, manifests: [cm.yaml, deploy/missing.yaml]}"),
			want: []string{`testbed: FILE:11: components[0] "a": manifests[1] "DIR/deploy/missing.yaml": does not exist`}},
		{name: "manifest not YAML", stack: manifestStack,
			files: map[string]string{"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\ndata:\n  x: \"unterminated\n"},
			want:  []string{`testbed: DIR/m.yaml:6: components[0] "a": invalid YAML: found unexpected end of stream`}},
		{name: "manifest not an object", stack: manifestStack,
			files: map[string]string{"m.yaml": "just some words\n"},
			want:  []string{`testbed: DIR/m.yaml:1: components[0] "a": document 1: want a Kubernetes object (a mapping), got "just some words"`}},
		{name: "manifest without kind", stack: manifestStack,
			files: map[string]string{"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n---\napiVersion: v1\nmetadata:\n  name: n\n"},
			want:  []string{`testbed: DIR/m.yaml:5: components[0] "a": document 2: missing kind`}},
		{name: "manifest without metadata.name", stack: manifestStack,
			files: map[string]string{"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {x: y}\n"},
			want:  []string{`testbed: DIR/m.yaml:1: components[0] "a": document 1 (ConfigMap): missing metadata.name`}},
		{name: "unknown port in a manifest", stack: manifestStack,
			files: map[string]string{"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\ndata:\n  p: \"${port:ghost}\"\n"},
			want:  []string{`testbed: DIR/m.yaml:6: components[0] "a": ${port:ghost}: "ghost" is not a port in spec.ports`}},
		{name: "unknown image in a manifest", stack: manifestStack,
			files: map[string]string{"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\ndata:\n  i: ${image:app}\n  j: ${image:ghost}\n"},
			want:  []string{`testbed: DIR/m.yaml:7: components[0] "a": ${image:ghost}: "ghost" is not an image in spec.images`}},
		{name: "unknown substitution kind", stack: manifestStack,
			files: map[string]string{"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\ndata:\n  f: ${foo:bar}\n  shell: ${HOME:-/root} $PATH\n"},
			want:  []string{`testbed: DIR/m.yaml:6: components[0] "a": unknown substitution ${foo:bar}: want ${image:NAME}, ${port:NAME}, ${namespace}, ${stack} or ${run}`}},
		{name: "unknown substitution kind through plan", args: plan, stack: manifestStack,
			files: map[string]string{"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\ndata:\n  f: ${foo:bar}\n"},
			want:  []string{`testbed: DIR/m.yaml:6: components[0] "a": unknown substitution ${foo:bar}`}},

		{name: "manifests holding no object, through plan", args: plan, stack: withComponents("    - {name: a, manifests: [empty.yaml]}"),
			files: map[string]string{"empty.yaml": "# to do\n---\n"},
			want:  []string{`testbed: FILE:11: components[0] "a": nothing to do: its manifests (DIR/empty.yaml) hold no objects`}},
		{name: "kustomization referencing a missing resource, through plan", args: plan, stack: withComponents("    - {name: a, manifests: [k]}"),
			files: map[string]string{"k/kustomization.yaml": "resources: [missing.yaml]\n"},
			want:  []string{`testbed: DIR/k/kustomization.yaml: components[0] "a": kustomize build: accumulating resources: accumulation err='accumulating resources from 'missing.yaml': evalsymlink failure on 'DIR/k/missing.yaml' : lstat DIR/k/missing.yaml: no such file or directory'`}},
		{name: "an object in two components", stack: withComponents("    - {name: a, manifests: [cm.yaml]}", "    - {name: b, manifests: [cm.yaml]}"),
			want: []string{`testbed: DIR/cm.yaml:1: components[1] "b": ConfigMap cm is also declared at DIR/cm.yaml:1 (component a): an object belongs to one component, declared once`}},
		{name: "misspelt kind, on sim", stack: withComponents("    - {name: a, manifests: [cm.yaml]}", "    - {name: b, manifests: [b.yaml]}"),
			files: map[string]string{"b.yaml": "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: b}\n---\napiVersion: v1\nkind: configmap\nmetadata: {name: b}\n"},
			want: []string{
				`testbed: DIR/b.yaml:1: components[1] "b": Deploymnet (apps/v1): the API server has no kind Deploymnet in group apps (did you mean "Deployment"?)`,
				`DIR/b.yaml:5: components[1] "b": configmap (v1): the API server has no kind configmap in the core group (apiVersion v1) (did you mean "ConfigMap"?)`,
			}},
		{name: "custom resource without its CRD, on sim, through plan", args: plan, stack: withComponents("    - {name: a, manifests: [cm.yaml]}", "    - {name: b, manifests: [b.yaml]}"),
			files: map[string]string{"b.yaml": "apiVersion: testbed.dev/v1alpha1\nkind: Stack\nmetadata: {name: b}\n"},
			want:  []string{`testbed: DIR/b.yaml:1: components[1] "b": Stack (testbed.dev/v1alpha1): no CustomResourceDefinition in the stack defines kind Stack in group testbed.dev, and on sim nothing else installs one: add the CRD to a component`}},
		{name: "duration out of range", stack: withComponents("    - {name: a, manifests: [cm.yaml], timeout: 99999999999h}"),
			want: []string{`testbed: FILE:11: components[0] "a": timeout: duration "99999999999h" is out of range: at most 24h0m0s`}},
		{name: "readyAfter never within the component's timeout, on sim", stack: withComponents("    - {name: a, manifests: [cm.yaml], timeout: 30s, sim: {readyAfter: 5m}}"),
			want: []string{`testbed: FILE:11: components[0] "a": sim.readyAfter 5m0s is not less than the component's timeout 30s: on sim it can never be ready in time`}},
		{name: "lower bound past the stack's timeout, through plan", args: plan, stack: strings.Replace(withComponents(
			"    - {name: a, manifests: [cm.yaml], sim: {readyAfter: 40s}, timeout: 45s}",
			"    - {name: b, manifests: [b.yaml], dependsOn: [a], sim: {readyAfter: 30s}}"), "spec:\n", "spec:\n  timeout: 1m\n", 1),
			files: map[string]string{"b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"},
			want:  []string{`testbed: FILE:6: the stack's sim lower bound, 70.0 s (critical path a → b), is not less than its timeout 1m0s: on sim it can never be ready in time`}},
		{name: "lower bound past --timeout", args: up("--timeout", "1s"),
			want: []string{`testbed: FILE:5: the stack's sim lower bound, 1.0 s (critical path a), is not less than its timeout 1s`}},
		{name: "image built from source on kubeconfig, through plan", args: append(slices.Clone(plan), "--provider", "kubeconfig"),
			stack: edit("    - {name: app, ref: example/app:1}", "    - {name: app, context: .}"), files: map[string]string{"Dockerfile": "FROM scratch\n"},
			want: []string{`testbed: image "app" is built from source, and image builds are not implemented yet for provider kubeconfig`}},

		// Files that are not stack files at all.
		{name: "binary garbage", stack: "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00",
			want: []string{`testbed: FILE:1: control character U+007F is not allowed in YAML; is it a binary file?`}},
		{name: "invalid UTF-8 on line 3", stack: "apiVersion: testbed.dev/v1alpha1\nkind: Stack\nmetadata: {name: \xff\xfe}\n",
			want: []string{`testbed: FILE:3: not UTF-8 text (byte 0xff); is it a binary file?`}},
		{name: "YAML alias bomb", limit: 10 * time.Second, stack: `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: bomb}
spec:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`,
			want: []string{`testbed: FILE:11: YAML aliases expand to more than 1000000 nodes`}},
		{name: "stack file is a directory", args: []string{"up", "-f", "DIR"},
			want: []string{`testbed: DIR: not a regular file`}},
		{name: "empty -f", args: []string{"plan", "-f", ""},
			want: []string{`testbed: -f: no stack file given (default testbed.yaml)`}},
		{name: "missing stack file", args: []string{"up", "-f", "DIR/nope.yaml"},
			want: []string{`testbed: DIR/nope.yaml: file does not exist`}},

		// Flags and arguments.
		{name: "unknown provider", args: up("--provider", "bogus"),
			want: []string{`testbed: --provider "bogus": want sim, kind or kubeconfig`}},
		{name: "--image without =", args: up("--image", "app"),
			want: []string{`testbed: --image "app": want NAME=REF`}},
		{name: "--image of an image the stack lacks", args: up("--image", "ghost=example/ghost:1"),
			want: []string{`testbed: image override ghost: the stack has no image "ghost"`}},
		{name: "unknown --container-tool", args: up("--container-tool", "nerdctl"),
			want: []string{`testbed: --container-tool "nerdctl": want docker or podman`}},
		{name: "negative --build-concurrency", args: up("--build-concurrency", "-1"),
			want: []string{`testbed: --build-concurrency -1: must not be negative`}},
		{name: "target on a ref image", stack: edit("{name: app, ref: example/app:1}", "{name: app, ref: example/app:1, target: build}"),
			want: []string{`testbed: FILE:7: images[0] "app": target applies only to Dockerfile builds, not to ref`}},
		{name: "unknown phases", args: up("--phases", "bogus"),
			want: []string{`testbed: --phases "bogus": want overlap or strict`}},
		{name: "--report in a missing directory", args: up("--report", "DIR/nope/r.json"),
			want: []string{`testbed: --report DIR/nope/r.json: directory DIR/nope does not exist`}},
		{name: "--timeline is a directory", args: up("--timeline", "DIR"),
			want: []string{`testbed: --timeline DIR: is a directory`}},
		{name: "negative --timeout", args: up("--timeout", "-1s"),
			want: []string{`testbed: --timeout -1s: must not be negative`}},
		{name: "unknown flag", args: up("--bogus-flag"),
			want: []string{"testbed: unknown flag: --bogus-flag (see `testbed up --help`)"}},
		{name: "stray argument", args: up("extra"),
			want: []string{"testbed: testbed up takes no arguments, got [\"extra\"] (see `testbed up --help`)"}},
		{name: "stray argument to plan", args: append(slices.Clone(plan), "extra"),
			want: []string{"testbed: testbed plan takes no arguments, got [\"extra\"]"}},
		{name: "invalid stack given to down", args: []string{"down", "-f", "FILE"}, stack: edit("kind: Stack", "kind: Stak"),
			want: []string{`testbed: FILE:2: kind "Stak" is not supported: want "Stack"`}},
		{name: "invalid stack given to status", args: []string{"status", "-f", "FILE"}, stack: edit("kind: Stack", "kind: Stak"),
			want: []string{`testbed: FILE:2: kind "Stak" is not supported: want "Stack"`}},
	}

	// write lays out a case's files and returns the stack file's path.
	write := func(t *testing.T, stack string, files map[string]string) string {
		dir := t.TempDir()
		all := map[string]string{"testbed.yaml": stack, "cm.yaml": cmYAML}
		for name, text := range files {
			all[name] = text
		}
		for name, text := range all {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(dir, "testbed.yaml")
	}

	t.Run("the base stack is valid", func(t *testing.T) {
		file := write(t, validStack, nil)
		r := run(t, t.TempDir(), "plan", "-f", file)
		if r.code != 0 || !strings.Contains(r.stdout, "lower bound (sim): 1.0 s") {
			t.Fatalf("plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("plan counts a kustomize component's objects", func(t *testing.T) {
		file := write(t, withComponents("    - {name: a, manifests: [k], sim: {readyAfter: 1s}}"), map[string]string{
			"k/kustomization.yaml": "resources: [cm.yaml, cm2.yaml]\nnamePrefix: k-\n",
			"k/cm.yaml":            cmYAML,
			"k/cm2.yaml":           strings.Replace(cmYAML, "name: cm", "name: cm2", 1),
		})
		r := run(t, t.TempDir(), "plan", "-f", file)
		if r.code != 0 || !strings.Contains(r.stdout, "1 manifest (with kustomize: 2 objects)") {
			t.Fatalf("plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stack := tc.stack
			if stack == "" {
				stack = validStack
			}
			file := write(t, stack, tc.files)
			dir := filepath.Dir(file)
			expand := strings.NewReplacer("FILE", file, "DIR", dir).Replace
			args := tc.args
			if args == nil {
				args = up()
			}
			args = slices.Clone(args)
			for i := range args {
				args[i] = expand(args[i])
			}
			state := t.TempDir()

			start := time.Now()
			var r result
			if tc.limit > 0 {
				r = startTestbed(t, state, args...).wait(t, tc.limit)
			} else {
				r = run(t, state, args...)
			}
			elapsed := time.Since(start)

			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("stderr has %d lines, want %d", len(lines), len(tc.want))
			}
			for _, w := range tc.want {
				if w = expand(w); !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
			if elapsed > 10*time.Second {
				t.Errorf("took %s: invalid input must be rejected at once", elapsed.Round(time.Millisecond))
			}
			if t.Failed() {
				t.Logf("args %q\nstderr:\n%s", args, r.stderr)
			}
			if left := clusterDirs(t, state); len(left) > 0 {
				t.Errorf("invalid input started clusters: %q", left)
			}
		})
	}

	// docs/design.md, "The report": the report is written on failure too, with result invalid.
	t.Run("report on invalid input", func(t *testing.T) {
		for _, tc := range []struct {
			stack string
			args  []string
		}{
			{withComponents("    - {name: a, manifests: [cm.yaml], dependsOn: [ghost]}"), nil},
			{validStack, []string{"--provider", "bogus"}},
		} {
			file := write(t, tc.stack, nil)
			reportPath := filepath.Join(filepath.Dir(file), "r.json")
			args := append([]string{"up", "-f", file, "--report", reportPath}, tc.args...)
			state := t.TempDir()
			r := run(t, state, args...)
			if r.code != 2 {
				t.Errorf("%q: exit %d, want 2\n%s", args, r.code, r.stderr)
			}
			rep := readReport(t, reportPath)
			if rep.Result != "invalid" {
				t.Errorf("%q: report result %q, want invalid", args, rep.Result)
			}
			if len(rep.Components) != 0 || rep.Seconds != 0 {
				t.Errorf("%q: report of a run that never started has components %v, seconds %v", args, rep.Components, rep.Seconds)
			}
			if left := clusterDirs(t, state); len(left) > 0 {
				t.Errorf("invalid input started clusters: %q", left)
			}
		}
	})
}

// TestUpReportsAndRerun brings the hello example up with both reports, checks
// the order the report shows against its dependsOn edges, runs up again on
// the running stack, then status and down (twice).
func TestUpReportsAndRerun(t *testing.T) {
	testenv.Assets(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(testenv.ModuleRoot(), "examples", "hello"))); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "testbed.yaml")
	state := stackState(t, file)
	reportPath, junitPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "j.xml")

	r := run(t, state, "up", "-f", file, "--report", reportPath, "--junit", junitPath)
	if r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	kubeconfig := filepath.Join(state, "clusters", "hello", "kubeconfig")
	if r.stdout != kubeconfig+"\n" {
		t.Errorf("stdout = %q, want only the kubeconfig path %q", r.stdout, kubeconfig)
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}
	if procs := testenv.ProcsMentioning(state); len(procs) < 6 {
		t.Errorf("%d processes mention the state dir while the stack runs, want the 6 of the control plane:\n%s", len(procs), strings.Join(procs, "\n"))
	}

	rep := readReport(t, reportPath)
	if rep.Stack != "hello" || rep.Provider != "sim" || rep.Result != "ready" || rep.Run == "" {
		t.Errorf("report stack %q provider %q result %q run %q; want hello, sim, ready and a run ID", rep.Stack, rep.Provider, rep.Result, rep.Run)
	}
	readyAfter := map[string]float64{"postgresql": 3, "redis": 1, "migrations": 2, "api": 2}
	objects := map[string]int{"postgresql": 3, "redis": 2, "migrations": 1, "api": 3}
	var names []string
	comp := map[string]reportComponent{}
	for _, c := range rep.Components {
		names = append(names, c.Name)
		comp[c.Name] = c
		if c.Status != "ready" || c.Reason != "" || c.AppliedAt == nil || c.ReadyAt == nil {
			t.Errorf("component %s: status %q reason %q appliedAt %v readyAt %v; want ready, no reason, both times", c.Name, c.Status, c.Reason, c.AppliedAt, c.ReadyAt)
			continue
		}
		if !(*c.AppliedAt < *c.ReadyAt) {
			t.Errorf("component %s: appliedAt %.2f not before readyAt %.2f", c.Name, *c.AppliedAt, *c.ReadyAt)
		}
		// Pods are scheduled after the apply, and turn ready readyAfter
		// later: no component can be ready sooner (0.02 s of rounding).
		if *c.ReadyAt-*c.AppliedAt < readyAfter[c.Name]-0.02 {
			t.Errorf("component %s: ready %.2f s after its apply, sooner than its readyAfter %.0f s", c.Name, *c.ReadyAt-*c.AppliedAt, readyAfter[c.Name])
		}
		if len(c.Objects) != objects[c.Name] {
			t.Errorf("component %s: %d objects, want %d", c.Name, len(c.Objects), objects[c.Name])
		}
		for _, o := range c.Objects {
			if o.Status != "ready" || o.ReadyAt == nil || o.Namespace != "hello" {
				t.Errorf("component %s: object %s %s/%s is %q (readyAt %v); want ready in namespace hello", c.Name, o.Kind, o.Namespace, o.Name, o.Status, o.ReadyAt)
			}
		}
	}
	if !slices.Equal(names, []string{"postgresql", "redis", "migrations", "api"}) {
		t.Fatalf("report components %q, want the stack's four in file order", names)
	}
	after := func(later, earlier string) {
		t.Helper()
		l, e := comp[later].AppliedAt, comp[earlier].ReadyAt
		if l == nil || e == nil || *l < *e {
			t.Errorf("%s applied at %v, before %s was ready at %v (dependsOn)", later, deref(l), earlier, deref(e))
		}
	}
	after("migrations", "postgresql")
	after("api", "migrations")
	// api requires redis: its pods' clock starts only once redis is ready.
	if a, r := comp["api"].ReadyAt, comp["redis"].ReadyAt; a != nil && r != nil && *a < *r+2-0.02 {
		t.Errorf("api ready at %.2f, less than its readyAfter 2 s after redis (ready at %.2f), which it requires", *a, *r)
	}
	if !slices.Equal(rep.CriticalPath, []string{"postgresql", "migrations", "api"}) {
		t.Errorf("criticalPath %q, want [postgresql migrations api]", rep.CriticalPath)
	}
	if rep.LowerBoundSeconds == nil || *rep.LowerBoundSeconds != 7 {
		t.Errorf("lowerBoundSeconds %v, want 7", deref(rep.LowerBoundSeconds))
	}
	if rep.Seconds < 7 {
		t.Errorf("seconds %.2f, below the lower bound 7", rep.Seconds)
	}
	if last := comp["api"].ReadyAt; last != nil && rep.Seconds < *last {
		t.Errorf("seconds %.2f is before the last component was ready (%.2f)", rep.Seconds, *last)
	}

	suite := readJUnit(t, junitPath)
	if suite.Name != "hello" || suite.Tests != 4 || suite.Failures != 0 || suite.Errors != 0 || len(suite.Cases) != 4 {
		t.Errorf("junit: suite %q tests=%d failures=%d errors=%d cases=%d; want hello, 4, 0, 0, 4", suite.Name, suite.Tests, suite.Failures, suite.Errors, len(suite.Cases))
	}
	for _, c := range suite.Cases {
		if c.Failure != nil || c.Skipped != nil {
			t.Errorf("junit: testcase %s failed or skipped: %+v %+v", c.Name, c.Failure, c.Skipped)
		}
	}

	// up again on the running stack: re-apply and re-wait, same cluster.
	r = run(t, state, "up", "-f", file, "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("second up: exit %d\n%s", r.code, r.stderr)
	}
	if r.stdout != kubeconfig+"\n" {
		t.Errorf("second up: stdout = %q, want %q", r.stdout, kubeconfig+"\n")
	}
	if !strings.Contains(r.stderr, "sim cluster hello is running: re-applying") || strings.Contains(r.stderr, "writing certificates") {
		t.Errorf("second up did not reuse the running cluster:\n%s", r.stderr)
	}
	if rep := readReport(t, reportPath); rep.Result != "ready" || len(rep.Components) != 4 {
		t.Errorf("second up: report result %q with %d components, want ready with 4", rep.Result, len(rep.Components))
	}

	r = run(t, state, "status", "-f", file)
	if r.code != 0 {
		t.Fatalf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ready := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 {
			ready[f[0]] = f[1]
		}
	}
	for _, name := range names {
		if ready[name] != "yes" {
			t.Errorf("status: component %s ready %q, want yes\n%s", name, ready[name], r.stdout)
		}
	}

	// A report that cannot be written fails the run (exit 3), but a run
	// that re-applied to a running cluster did not start it: it stays.
	_, devFull := os.Stat("/dev/full")
	if devFull == nil {
		r = run(t, state, "up", "-f", file, "--report", "/dev/full")
		if r.code != 3 || !strings.Contains(r.stderr, "stack hello is ready, but write /dev/full") || !strings.Contains(r.stderr, "no space left on device") {
			t.Errorf("up --report /dev/full on the running stack: exit %d; want 3 and the write error\n%s", r.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("up --report /dev/full: stdout = %q, want nothing (no kubeconfig for a failed run)", r.stdout)
		}
		if r := run(t, state, "status", "-f", file); r.code != 0 {
			t.Errorf("status after a re-run whose report failed: exit %d, want 0 (the cluster was not this run's to remove)\n%s", r.code, r.stderr)
		}
	}

	r = run(t, state, "down", "-f", file)
	if r.code != 0 {
		t.Fatalf("down: exit %d\n%s", r.code, r.stderr)
	}
	if left := clusterDirs(t, state); len(left) > 0 {
		t.Errorf("clusters left after down: %q", left)
	}
	if procs := testenv.ProcsMentioning(state); len(procs) > 0 {
		t.Errorf("processes left after down:\n%s", strings.Join(procs, "\n"))
	}

	r = run(t, state, "down", "-f", file)
	if r.code != 0 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("second down: exit %d, stderr %q; want 0 and 'not running'", r.code, r.stderr)
	}
	r = run(t, state, "status", "-f", file)
	if r.code != 1 || !strings.Contains(r.stderr, "stack hello: not running") {
		t.Errorf("status after down: exit %d, stderr %q; want 1 and 'not running'", r.code, r.stderr)
	}

	// A fresh run whose report cannot be written exits 3 and, like every
	// failed run, leaves no cluster and no process behind.
	if devFull == nil {
		r = run(t, state, "up", "-f", file, "--report", "/dev/full")
		if r.code != 3 || !strings.Contains(r.stderr, "tearing down what this run started") {
			t.Errorf("fresh up --report /dev/full: exit %d; want 3 and the teardown\n%s", r.code, r.stderr)
		}
		if left := clusterDirs(t, state); len(left) > 0 {
			t.Errorf("clusters left after a run whose report failed: %q", left)
		}
		if procs := testenv.ProcsMentioning(state); len(procs) > 0 {
			t.Errorf("processes left after a run whose report failed:\n%s", strings.Join(procs, "\n"))
		}
	}
}

// TestUpFailFastAndTeardown: a crash-looping component fails the run at once,
// although another component is still on its way and the timeout is 5m; the
// run leaves a report and diagnostics, and no cluster and no process.
func TestUpFailFastAndTeardown(t *testing.T) {
	testenv.Assets(t)
	tmp := diagTempDir(t)
	file := testdataStack(t, "failfast")
	state := stackState(t, file)
	reportPath, junitPath := filepath.Join(tmp, "r.json"), filepath.Join(tmp, "j.xml")

	start := time.Now()
	r := run(t, state, "up", "-f", file, "--report", reportPath, "--junit", junitPath)
	elapsed := time.Since(start)
	if r.code != 1 {
		t.Fatalf("up: exit %d, want 1\n%s", r.code, r.stderr)
	}
	if elapsed > 30*time.Second {
		t.Errorf("up took %s to fail: it must not wait for the slow component or the timeout", elapsed.Round(time.Second))
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing on failure", r.stdout)
	}
	for _, want := range []string{"stack failfast failed", "component broken", "Deployment ff/broken", "CrashLoopBackOff"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	rep := readReport(t, reportPath)
	if rep.Result != "failed" {
		t.Errorf("report result %q, want failed", rep.Result)
	}
	comp := map[string]reportComponent{}
	for _, c := range rep.Components {
		comp[c.Name] = c
	}
	broken := comp["broken"]
	if broken.Status != "failed" || !strings.Contains(broken.Reason, "Deployment ff/broken") || !strings.Contains(broken.Reason, "CrashLoopBackOff") {
		t.Errorf("broken: status %q reason %q; want failed, naming the Deployment and CrashLoopBackOff", broken.Status, broken.Reason)
	}
	if broken.Diagnostics == "" {
		t.Errorf("broken has no diagnostics")
	} else if data, err := os.ReadFile(filepath.Join(broken.Diagnostics, "summary.txt")); err != nil || !strings.Contains(string(data), "component broken: failed") {
		t.Errorf("diagnostics summary.txt: %v\n%s", err, data)
	}
	if slow := comp["slow"]; slow.Status != "pending" || slow.Diagnostics != "" {
		t.Errorf("slow: status %q diagnostics %q; want pending (stopped by the other's failure) and no diagnostics", slow.Status, slow.Diagnostics)
	}
	suite := readJUnit(t, junitPath)
	if suite.Tests != 2 || suite.Failures != 1 {
		t.Errorf("junit: tests=%d failures=%d, want 2 and 1", suite.Tests, suite.Failures)
	}
	for _, c := range suite.Cases {
		if c.Name == "broken" && (c.Failure == nil || !strings.Contains(c.Failure.Message, "CrashLoopBackOff")) {
			t.Errorf("junit: broken has failure %+v, want one naming CrashLoopBackOff", c.Failure)
		}
	}

	// Teardown: no cluster in the state dir or in the cluster list, and no
	// process of the run.
	if left := clusterDirs(t, state); len(left) > 0 {
		t.Errorf("clusters left after a failed run: %q", left)
	}
	if r := run(t, state, "cluster", "list"); r.code != 0 || strings.Contains(r.stdout, "failfast") {
		t.Errorf("cluster list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if procs := testenv.ProcsMentioning(state); len(procs) > 0 {
		t.Errorf("processes left after a failed run:\n%s", strings.Join(procs, "\n"))
	}
}

// TestUpInterrupt sends Ctrl-C (SIGINT) while up waits for a component: up
// exits 130, reports the run interrupted and leaves no cluster or process.
func TestUpInterrupt(t *testing.T) {
	testenv.Assets(t)
	file := testdataStack(t, "interrupt")
	state := stackState(t, file)
	reportPath := filepath.Join(t.TempDir(), "r.json")

	p := startTestbed(t, state, "up", "-f", file, "--report", reportPath)
	if !p.waitFor("slow applied", 90*time.Second) {
		t.Fatalf("the component was never applied; stderr:\n%s", p.stderrText())
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := p.wait(t, 20*time.Second)
	if r.code != 130 {
		t.Fatalf("exit %d, want 130\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "interrupted") || r.stdout != "" {
		t.Errorf("stdout %q, stderr:\n%s\nwant nothing on stdout and 'interrupted' on stderr", r.stdout, r.stderr)
	}
	if rep := readReport(t, reportPath); rep.Result != "interrupted" {
		t.Errorf("report result %q, want interrupted", rep.Result)
	}
	if procs := testenv.ProcsMentioning(state); len(procs) > 0 {
		t.Errorf("processes left after Ctrl-C:\n%s", strings.Join(procs, "\n"))
	}
	if left := clusterDirs(t, state); len(left) > 0 {
		t.Errorf("clusters left after Ctrl-C: %q", left)
	}
}

// TestUpClusterDies: a control-plane process killed mid-wait fails the run
// within seconds with exit 3, naming the process and its last log lines,
// and the run removes the cluster it created.
func TestUpClusterDies(t *testing.T) {
	testenv.Assets(t)
	file := testdataStack(t, "interrupt")
	state := stackState(t, file)
	p := startTestbed(t, state, "up", "-f", file)
	if !p.waitFor("slow applied", 90*time.Second) {
		t.Fatalf("the component was never applied; stderr:\n%s", p.stderrText())
	}
	data, err := os.ReadFile(filepath.Join(state, "clusters", "interrupt", "cluster.json"))
	if err != nil {
		t.Fatal(err)
	}
	type proc struct {
		Name string `json:"name"`
		PID  int    `json:"pid"`
	}
	var c struct {
		Procs []proc `json:"procs"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(c.Procs, func(p proc) bool { return p.Name == "kube-apiserver" })
	if i < 0 {
		t.Fatalf("no kube-apiserver in %s", data)
	}
	killed := time.Now()
	if err := syscall.Kill(c.Procs[i].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := p.wait(t, 30*time.Second)
	if took := time.Since(killed); took > 10*time.Second {
		t.Errorf("noticed %s after the kill", took.Round(time.Millisecond))
	}
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "kube-apiserver (pid "+itoa(c.Procs[i].PID)+") exited") || !strings.Contains(r.stderr, "last lines of") {
		t.Errorf("stderr does not name the dead process with its log:\n%s", r.stderr)
	}
	if procs := testenv.ProcsMentioning(state); len(procs) > 0 {
		t.Errorf("processes left:\n%s", strings.Join(procs, "\n"))
	}
	if left := clusterDirs(t, state); len(left) > 0 {
		t.Errorf("clusters left: %q", left)
	}
}

// TestNoSecretLeak: Secret values, as written and base64-encoded, appear in
// no output of a failed run: stdout, stderr, the reports, the diagnostics.
func TestNoSecretLeak(t *testing.T) {
	testenv.Assets(t)
	tmp := diagTempDir(t)
	file := testdataStack(t, "secrets")
	state := stackState(t, file)
	reportPath, junitPath := filepath.Join(tmp, "r.json"), filepath.Join(tmp, "j.xml")

	var secrets []string
	for _, v := range []string{"s3cr3t-Value-42", "s3cr3t-Token-42", "s3cr3t-ApiKey-7"} {
		secrets = append(secrets, v, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	manifests, err := os.ReadFile(filepath.Join(filepath.Dir(file), "vault.yaml"))
	if err != nil || !strings.Contains(string(manifests), secrets[0]) || !strings.Contains(string(manifests), secrets[3]) {
		t.Fatalf("testdata lost its secrets: %v", err)
	}

	r := run(t, state, "up", "-v", "1", "-f", file, "--report", reportPath, "--junit", junitPath)
	if r.code != 1 || !strings.Contains(r.stderr, "ImagePullBackOff") {
		t.Fatalf("up: exit %d, want 1 with ImagePullBackOff\n%s", r.code, r.stderr)
	}
	outputs := map[string]string{"stdout": r.stdout, "stderr": r.stderr}
	for _, p := range []string{reportPath, junitPath} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		outputs[p] = string(data)
	}
	var diag string
	for _, c := range readReport(t, reportPath).Components {
		if c.Name == "vault" {
			diag = c.Diagnostics
		}
	}
	if diag == "" {
		t.Fatal("the failed component has no diagnostics")
	}
	err = filepath.WalkDir(diag, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		outputs[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := outputs[filepath.Join(diag, "summary.txt")]; !ok || len(outputs) < 6 {
		t.Errorf("diagnostics hold only %d files; want summary.txt and more", len(outputs)-4)
	}
	for name, text := range outputs {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains the secret value %q", name, s)
			}
		}
	}
}

// TestUpTimeout: a component that never turns ready fails the run when its
// own timeout passes, naming the object that is not ready.
func TestUpTimeout(t *testing.T) {
	testenv.Assets(t)
	tmp := diagTempDir(t)
	file := testdataStack(t, "timeout")
	state := stackState(t, file)
	reportPath := filepath.Join(tmp, "r.json")

	r := run(t, state, "up", "-f", file, "--report", reportPath)
	if r.code != 1 {
		t.Fatalf("up: exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"stack timeout not ready", "component stuck", "timed out", "Deployment tmo/stuck: 0/1 replicas ready"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	rep := readReport(t, reportPath)
	if rep.Result != "timeout" {
		t.Errorf("report result %q, want timeout", rep.Result)
	}
	if len(rep.Components) != 1 {
		t.Fatalf("report has %d components, want 1", len(rep.Components))
	}
	c := rep.Components[0]
	if c.Status != "timeout" || c.ReadyAt != nil || !strings.Contains(c.Reason, "timed out") || !strings.Contains(c.Reason, "Deployment tmo/stuck: 0/1 replicas ready") {
		t.Errorf("stuck: status %q readyAt %v reason %q; want timeout, naming the Deployment and what is not ready", c.Status, deref(c.ReadyAt), c.Reason)
	}
	if c.AppliedAt != nil {
		// The component's 3 s timeout, not the stack's 5m, ended the run.
		if waited := rep.Seconds - *c.AppliedAt; waited < 3-0.02 || waited > 30 {
			t.Errorf("the run ended %.2f s after the apply, want its 3 s timeout", waited)
		}
	}
	if c.Diagnostics == "" {
		t.Errorf("stuck has no diagnostics")
	}
	if left := clusterDirs(t, state); len(left) > 0 {
		t.Errorf("clusters left after a timeout: %q", left)
	}
	if procs := testenv.ProcsMentioning(state); len(procs) > 0 {
		t.Errorf("processes left after a timeout:\n%s", strings.Join(procs, "\n"))
	}

	// Again, keeping what failed and with the diagnostics where asked: up
	// says what it kept and how to remove it.
	diag := filepath.Join(tmp, "diag")
	r = run(t, state, "up", "-f", file, "--keep-on-failure", "--diagnostics-dir", diag)
	kubeconfig := filepath.Join(state, "clusters", "timeout", "kubeconfig")
	if want := "testbed: kept for inspection (--keep-on-failure): KUBECONFIG=" + kubeconfig + "; remove it with `testbed down -f " + file + "`"; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("up --keep-on-failure: exit %d; want 1 and %q in:\n%s", r.code, want, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(diag, "stuck")); err != nil {
		t.Errorf("no diagnostics under --diagnostics-dir: %v", err)
	}
	// The events of the Deployment, of its ReplicaSet (where FailedCreate
	// would say why no pod exists) and of its pod.
	if data, err := os.ReadFile(filepath.Join(diag, "stuck", "events.txt")); err != nil {
		t.Errorf("events.txt: %v", err)
	} else {
		for _, want := range []string{"Deployment/stuck ScalingReplicaSet", "ReplicaSet/stuck-", "Pod/stuck-"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("events.txt lacks %q:\n%s", want, data)
			}
		}
	}
	if r := run(t, state, "down", "-f", file); r.code != 0 || len(clusterDirs(t, state)) > 0 {
		t.Errorf("down after --keep-on-failure: exit %d, clusters %q\n%s", r.code, clusterDirs(t, state), r.stderr)
	}
}

// jsonReport is the JSON report, as docs/design.md, "The report" writes it.
type jsonReport struct {
	Stack             string            `json:"stack"`
	Run               string            `json:"run"`
	Provider          string            `json:"provider"`
	Result            string            `json:"result"`
	StartedAt         time.Time         `json:"startedAt"`
	Seconds           float64           `json:"seconds"`
	Phases            []reportPhase     `json:"phases"`
	Components        []reportComponent `json:"components"`
	CriticalPath      []string          `json:"criticalPath"`
	LowerBoundSeconds *float64          `json:"lowerBoundSeconds"`
}

type reportPhase struct {
	Name  string  `json:"name"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

type reportComponent struct {
	Name        string         `json:"name"`
	Status      string         `json:"status"`
	AppliedAt   *float64       `json:"appliedAt"`
	ReadyAt     *float64       `json:"readyAt"`
	Reason      string         `json:"reason"`
	Diagnostics string         `json:"diagnostics"`
	Objects     []reportObject `json:"objects"`
}

type reportObject struct {
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Status    string   `json:"status"`
	ReadyAt   *float64 `json:"readyAt"`
}

// readReport parses a JSON report, checking that the keys every report has
// are spelled as docs/design.md, "The report" spells them.
func readReport(t *testing.T, path string) jsonReport {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatalf("report %s: %v\n%s", path, err, data)
	}
	for _, k := range []string{"stack", "run", "provider", "result", "startedAt", "seconds", "phases", "components", "criticalPath"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("report %s has no %q", path, k)
		}
	}
	var r jsonReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report %s: %v\n%s", path, err, data)
	}
	return r
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name    string `xml:"name,attr"`
	Failure *struct {
		Message string `xml:"message,attr"`
	} `xml:"failure"`
	Skipped *struct{} `xml:"skipped"`
}

func readJUnit(t *testing.T, path string) junitSuite {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("junit: %v", err)
	}
	var s junitSuite
	if err := xml.Unmarshal(data, &s); err != nil {
		t.Fatalf("junit %s: %v\n%s", path, err, data)
	}
	return s
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// testdataStack returns the absolute path of testdata/NAME/testbed.yaml.
func testdataStack(t *testing.T, name string) string {
	t.Helper()
	file, err := filepath.Abs(filepath.Join("testdata", name, "testbed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// stackState returns a new state directory for the stack in file, and takes
// the stack down when the test ends, whatever happened to it.
func stackState(t *testing.T, file string) string {
	t.Helper()
	state := t.TempDir()
	t.Cleanup(func() {
		if left := clusterDirs(t, state); len(left) > 0 {
			run(t, state, "down", "-f", file)
		}
	})
	return state
}

// diagTempDir points the temporary directory of the commands the test runs
// (where diagnostics go) to a directory removed when the test ends.
func diagTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return dir
}

// clusterDirs lists the clusters in a state directory.
func clusterDirs(t *testing.T, state string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(state, "clusters"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// background is a testbed command running in the background, whose stderr
// can be watched while it runs.
type background struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr watchedBuffer
	exited chan struct{}
	err    error
}

// startTestbed starts testbed as run does, without waiting for it. The
// process is killed when the test ends, if it still runs.
func startTestbed(t *testing.T, state string, args ...string) *background {
	t.Helper()
	b := &background{exited: make(chan struct{})}
	b.stderr.changed = make(chan struct{})
	b.cmd = exec.Command(testenv.Binary(t), args...)
	b.cmd.Env = append(os.Environ(), "TESTBED_STATE_DIR="+state, "TESTBED_ASSETS_DIR="+testenv.AssetsCacheDir())
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-b.exited:
		default:
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	})
	return b
}

// waitFor reports whether stderr shows s within d (false if the command
// exits first without it).
func (b *background) waitFor(s string, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		b.stderr.mu.Lock()
		found, changed := strings.Contains(b.stderr.buf.String(), s), b.stderr.changed
		b.stderr.mu.Unlock()
		if found {
			return true
		}
		select {
		case <-changed:
		case <-b.exited:
			return strings.Contains(b.stderrText(), s)
		case <-timer.C:
			return false
		}
	}
}

func (b *background) stderrText() string {
	b.stderr.mu.Lock()
	defer b.stderr.mu.Unlock()
	return b.stderr.buf.String()
}

// wait waits for the command to exit; if it takes longer than d, it is
// killed and the test fails.
func (b *background) wait(t *testing.T, d time.Duration) result {
	t.Helper()
	select {
	case <-b.exited:
	case <-time.After(d):
		_ = b.cmd.Process.Kill()
		<-b.exited
		t.Fatalf("testbed %q still running after %s; killed it. stderr:\n%s", b.cmd.Args[1:], d, b.stderrText())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(b.err, &ee) {
		code = ee.ExitCode()
	} else if b.err != nil {
		t.Fatal(b.err)
	}
	return result{code, b.stdout.String(), b.stderrText()}
}

// watchedBuffer is a buffer that signals each write by closing changed.
type watchedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.changed)
	w.changed = make(chan struct{})
	return w.buf.Write(p)
}
