package apply_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubetestbed/testbed/internal/apply"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
)

// parse turns a YAML fixture into an object.
func parse(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return &unstructured.Unstructured{Object: m}
}

// stringMap returns the string map at path, failing if it is missing.
func stringMap(t *testing.T, obj *unstructured.Unstructured, path ...string) map[string]string {
	t.Helper()
	m, ok, err := unstructured.NestedStringMap(obj.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s: ok=%v err=%v", strings.Join(path, "."), ok, err)
	}
	return m
}

func TestLabelsMatchSim(t *testing.T) {
	if apply.LabelStack != sim.LabelStack || apply.LabelComponent != sim.LabelComponent {
		t.Fatal("apply and sim disagree on the stack and component labels")
	}
}

func TestDecorate(t *testing.T) {
	sims := map[string]string{
		sim.AnnotationReadyAfter: "4s",
		sim.AnnotationRequires:   "redis",
	}
	want := map[string]string{
		apply.LabelManagedBy: "testbed",
		apply.LabelStack:     "gw",
		apply.LabelComponent: "api",
	}
	tests := []struct {
		name        string
		in          string
		annotations map[string]string
		// pod is the path of the pod metadata that must be decorated, nil
		// for kinds without pods.
		pod []string
		// extra are further metadata paths that must carry the labels.
		extra [][]string
		// keep are paths whose value must not change (selectors).
		keep    [][]string
		wantErr string
	}{
		{
			name: "Deployment",
			in: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: ns, labels: {app: api}}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}, annotations: {keep: me}}
    spec: {containers: [{name: c, image: x}]}
`,
			annotations: sims,
			pod:         []string{"spec", "template", "metadata"},
			keep:        [][]string{{"spec", "selector"}},
		},
		{
			name: "StatefulSet",
			in: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x}]}
`,
			annotations: sims,
			pod:         []string{"spec", "template", "metadata"},
			keep:        [][]string{{"spec", "selector"}},
		},
		{
			name: "Job without template metadata",
			in: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec: {restartPolicy: Never, containers: [{name: c, image: x}]}
`,
			annotations: map[string]string{sim.AnnotationReadyAfter: "6s"},
			pod:         []string{"spec", "template", "metadata"},
		},
		{
			name: "CronJob",
			in: `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      selector: {matchLabels: {job: nightly}}
      template:
        metadata: {labels: {job: nightly}}
        spec: {restartPolicy: Never, containers: [{name: c, image: x}]}
`,
			annotations: sims,
			pod:         []string{"spec", "jobTemplate", "spec", "template", "metadata"},
			extra:       [][]string{{"spec", "jobTemplate", "metadata"}},
			keep:        [][]string{{"spec", "jobTemplate", "spec", "selector"}},
		},
		{
			name: "Pod",
			in: `
apiVersion: v1
kind: Pod
metadata: {name: p, annotations: {keep: me}}
spec: {containers: [{name: c, image: x}]}
`,
			annotations: map[string]string{sim.AnnotationFail: sim.FailCrashLoopBackOff},
			pod:         []string{"metadata"},
		},
		{
			name: "DaemonSet with null metadata and no annotations",
			in: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, labels: null}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: null
    spec: {containers: [{name: c, image: x}]}
`,
			pod:  []string{"spec", "template", "metadata"},
			keep: [][]string{{"spec", "selector"}},
		},
		{
			name: "ConfigMap gets labels only",
			in: `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: b}
`,
			annotations: sims,
			keep:        [][]string{{"data"}},
		},
		{
			name: "a CR called Deployment is not a pod template",
			in: `
apiVersion: example.com/v1
kind: Deployment
metadata: {name: d}
spec: {template: 3}
`,
			annotations: sims,
			keep:        [][]string{{"spec"}},
		},
		{
			name: "malformed template",
			in: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: ns}
spec: {template: "oops"}
`,
			wantErr: "Deployment ns/api: spec.template: expected an object, got a string",
		},
		{
			name: "malformed template metadata",
			in: `
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec: {jobTemplate: {spec: {template: {metadata: [1, 2]}}}}
`,
			wantErr: "spec.jobTemplate.spec.template.metadata: expected an object, got an array",
		},
		{
			name: "malformed labels",
			in: `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: "a=b"}
`,
			wantErr: "ConfigMap cfg: metadata.labels: expected an object, got a string",
		},
		{
			name:    "malformed metadata",
			in:      `{apiVersion: v1, kind: Pod, metadata: 7}`,
			wantErr: "metadata: expected an object, got a number",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := parse(t, tt.in)
			before := parse(t, tt.in)
			err := apply.Decorate(obj, "gw", "api", tt.annotations)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range append([][]string{{"metadata"}}, tt.extra...) {
				checkLabels(t, obj, before, want, path)
			}
			if tt.pod != nil {
				checkLabels(t, obj, before, want, tt.pod)
				got, _, _ := unstructured.NestedStringMap(obj.Object, append(tt.pod, "annotations")...)
				old, _, _ := unstructured.NestedStringMap(before.Object, append(tt.pod, "annotations")...)
				for k, v := range tt.annotations {
					if got[k] != v {
						t.Errorf("%s annotation %s = %q, want %q", strings.Join(tt.pod, "."), k, got[k], v)
					}
				}
				for k, v := range old {
					if got[k] != v {
						t.Errorf("%s annotation %s was lost", strings.Join(tt.pod, "."), k)
					}
				}
			} else if a := obj.GetAnnotations(); len(a) != 0 {
				t.Errorf("annotations set on a kind without pods: %v", a)
			}
			for _, path := range tt.keep {
				got, _, _ := unstructured.NestedFieldNoCopy(obj.Object, path...)
				old, _, _ := unstructured.NestedFieldNoCopy(before.Object, path...)
				if !reflect.DeepEqual(got, old) {
					t.Errorf("%s changed: %v -> %v", strings.Join(path, "."), old, got)
				}
			}
		})
	}
}

// checkLabels checks that the metadata at path has the testbed labels and
// kept its others.
func checkLabels(t *testing.T, obj, before *unstructured.Unstructured, want map[string]string, path []string) {
	t.Helper()
	got := stringMap(t, obj, append(path, "labels")...)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s.labels[%s] = %q, want %q", strings.Join(path, "."), k, got[k], v)
		}
	}
	old, _, _ := unstructured.NestedStringMap(before.Object, append(path, "labels")...)
	for k, v := range old {
		if got[k] != v {
			t.Errorf("%s.labels[%s] was lost", strings.Join(path, "."), k)
		}
	}
}

func TestDecorateNeedsNames(t *testing.T) {
	obj := parse(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}`)
	if err := apply.Decorate(obj, "", "api", nil); err == nil {
		t.Error("no error without a stack name")
	}
	if err := apply.Decorate(nil, "s", "c", nil); err == nil {
		t.Error("no error without an object")
	}
}

func TestSelector(t *testing.T) {
	if got, want := apply.Selector("gw"), "app.kubernetes.io/managed-by=testbed,testbed.dev/stack=gw"; got != want {
		t.Errorf("Selector = %q, want %q", got, want)
	}
}

// A StatefulSet with volumeClaimTemplates gets whenDeleted: Delete, so that
// the claims its controller creates go with it; a manifest's own policy is
// kept; malformed fields are errors naming the field.
func TestDecorateStatefulSetClaims(t *testing.T) {
	const sts = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: ns}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x}]}
%s`
	const claims = `  volumeClaimTemplates:
  - metadata: {name: data, labels: {tier: db}}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`
	for _, tc := range []struct {
		name, extra      string
		whenDeleted      string // "" = not set
		whenScaled       string
		templatesChanged bool
	}{
		{name: "claims", extra: claims, whenDeleted: "Delete"},
		{name: "claims, Retain kept", extra: claims + "  persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain}\n", whenDeleted: "Retain"},
		{name: "claims, whenScaled kept", extra: claims + "  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete}\n", whenDeleted: "Delete", whenScaled: "Delete"},
		{name: "no claims", extra: ""},
		{name: "empty claims", extra: "  volumeClaimTemplates: []\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := parse(t, fmt.Sprintf(sts, tc.extra))
			before := parse(t, fmt.Sprintf(sts, tc.extra))
			if err := apply.Decorate(obj, "gw", "db", nil); err != nil {
				t.Fatal(err)
			}
			got, _, _ := unstructured.NestedString(obj.Object, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted")
			if got != tc.whenDeleted {
				t.Errorf("whenDeleted = %q, want %q", got, tc.whenDeleted)
			}
			scaled, _, _ := unstructured.NestedString(obj.Object, "spec", "persistentVolumeClaimRetentionPolicy", "whenScaled")
			if scaled != tc.whenScaled {
				t.Errorf("whenScaled = %q, want %q", scaled, tc.whenScaled)
			}
			a, _, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "volumeClaimTemplates")
			b, _, _ := unstructured.NestedFieldNoCopy(before.Object, "spec", "volumeClaimTemplates")
			if !reflect.DeepEqual(a, b) {
				t.Errorf("volumeClaimTemplates changed (they are immutable): %v -> %v", b, a)
			}
		})
	}

	for _, tc := range []struct{ spec, want string }{
		{`{volumeClaimTemplates: {name: data}}`, "StatefulSet ns/db: spec.volumeClaimTemplates: expected an array, got an object"},
		{`{volumeClaimTemplates: [{}], persistentVolumeClaimRetentionPolicy: Delete}`, "StatefulSet ns/db: spec.persistentVolumeClaimRetentionPolicy: expected an object, got a string"},
	} {
		obj := parse(t, "{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, namespace: ns}, spec: "+tc.spec+"}")
		if err := apply.Decorate(obj, "gw", "db", nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("spec %s: error %v, want %q", tc.spec, err, tc.want)
		}
	}
}
