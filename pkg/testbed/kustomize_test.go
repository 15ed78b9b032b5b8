package testbed_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

// TestKustomizeComponent brings up a component whose manifests entry is a
// kustomize overlay over a base, on sim: kustomize's output is applied,
// with ${image:api} substituted, and waited for as a plain file's objects.
func TestKustomizeComponent(t *testing.T) {
	s := writeStack(t, map[string]string{
		"testbed.yaml": `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: kust}
spec:
  namespace: kust
  timeout: 2m
  images:
    - {name: api, ref: example.invalid/api:1}
  components:
    - {name: api, manifests: [config/overlay], sim: {readyAfter: 1s}}
`,
		"config/base/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
		"config/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: main, image: "${image:api}"}]}
`,
		"config/base/service.yaml": `apiVersion: v1
kind: Service
metadata: {name: api}
spec: {selector: {app: api}, ports: [{port: 80}]}
`,
		"config/overlay/kustomization.yaml": "resources: [../base]\nnamePrefix: dev-\nlabels: [{pairs: {tier: backend}}]\n",
	})
	opts := options(t)
	plan, err := testbed.NewPlan(s, opts)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if n, kustomized := plan.Objects("api"); n != 2 || !kustomized {
		t.Errorf("plan.Objects(api) = %d, %v; want 2, true", n, kustomized)
	}
	env, err := up(t, s, opts)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	c := component(t, env.Report, "api")
	if c.Status != report.StatusReady || len(c.Objects) != 2 {
		t.Fatalf("component api: %s %s, objects %+v; want ready with 2 objects", c.Status, c.Reason, c.Objects)
	}
	for _, o := range c.Objects {
		if o.Name != "dev-api" || o.Status != report.StatusReady {
			t.Errorf("%s %s/%s: %s; want dev-api ready", o.Kind, o.Namespace, o.Name, o.Status)
		}
	}
	cs, err := kubernetes.NewForConfig(env.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	d, err := cs.AppsV1().Deployments("kust").Get(context.Background(), "dev-api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "example.invalid/api:1" {
		t.Errorf("image = %q, want ${image:api} substituted", got)
	}
	if d.Labels["tier"] != "backend" {
		t.Errorf("labels = %v, want the overlay's tier=backend", d.Labels)
	}
}
