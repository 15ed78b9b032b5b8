package ready_test

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubetestbed/testbed/internal/ready"
)

func decode(s string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &obj.Object); err != nil {
		panic(err)
	}
	return obj
}

func ExampleCompute() {
	deploy := decode(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2}
`)
	fmt.Println(ready.Compute(deploy))
	// Output: InProgress: 2/3 replicas ready
}

func ExampleWithDoomedPods() {
	deploy := decode(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, generation: 1}
spec: {replicas: 1}
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1}
`)
	pod := decode(`
apiVersion: v1
kind: Pod
metadata: {name: api-7d9f8-x2x4q}
status:
  phase: Running
  containerStatuses:
  - name: api
    restartCount: 3
    state: {waiting: {reason: CrashLoopBackOff, message: back-off 40s restarting failed container}}
`)
	r := ready.WithDoomedPods(ready.Compute(deploy), []*unstructured.Unstructured{pod}, time.Now(), 30*time.Second)
	fmt.Println(r.Status)
	fmt.Println(r.Reason)
	// Output:
	// Failed
	// pod "api-7d9f8-x2x4q": container "api" CrashLoopBackOff (restarts: 3): back-off 40s restarting failed container
}

func ExampleService() {
	svc := decode(`
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {clusterIP: 10.96.0.10, selector: {app: api}}
`)
	slice := decode(`
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-abcde, namespace: shop, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.7], conditions: {ready: false}}]
`)
	fmt.Println(ready.Service(svc, nil))
	fmt.Println(ready.Service(svc, []*unstructured.Unstructured{slice}))
	// Output:
	// InProgress: no EndpointSlices yet (selector app=api)
	// InProgress: 0/1 endpoints ready (selector app=api)
}
