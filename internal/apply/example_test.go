package apply_test

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/kubetestbed/testbed/internal/apply"
)

func ExampleDecorate() {
	var m map[string]any
	_ = yaml.Unmarshal([]byte(`
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec: {restartPolicy: Never, containers: [{name: m, image: migrate:1}]}
`), &m)
	job := &unstructured.Unstructured{Object: m}
	err := apply.Decorate(job, "gateway-e2e", "migrations", map[string]string{"sim.testbed.dev/ready-after": "6s"})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := yaml.Marshal(job.Object["spec"].(map[string]any)["template"].(map[string]any)["metadata"])
	fmt.Print(string(out))
	// Output:
	// annotations:
	//   sim.testbed.dev/ready-after: 6s
	// labels:
	//   app.kubernetes.io/managed-by: testbed
	//   testbed.dev/component: migrations
	//   testbed.dev/stack: gateway-e2e
}

func ExampleApplier() {
	var cfg *rest.Config // the cluster's, from its provider
	var objs []*unstructured.Unstructured

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	a, err := apply.New(cfg, apply.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, obj := range objs { // in practice, each in its own goroutine
		if err := apply.Decorate(obj, "gateway-e2e", "datastorage", nil); err != nil {
			fmt.Println(err)
			return
		}
		if _, err := a.ApplyFrom(ctx, obj, "kubernaut-system", "deploy/datastorage.yaml:1"); err != nil {
			fmt.Println(err) // deploy/datastorage.yaml:1: Deployment kubernaut-system/datastorage: apply failed: ...
			return
		}
	}
	// Teardown.
	if err := a.DeleteAll(ctx, apply.Selector("gateway-e2e"), a.CreatedNamespaces()); err != nil {
		fmt.Println(err)
	}
}
