package testbedtest_test

import (
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubetestbed/testbed/pkg/testbedtest"
)

// A test brings its stack up in one line; the stack is torn down when the
// test ends. Run it with TESTBED_KEEP=1 to keep the stack of a failed
// test, and inspect it through the KUBECONFIG the test logs.
func ExampleStart() {
	_ = func(t *testing.T) {
		env := testbedtest.Start(t, "testdata/testbed.yaml", testbedtest.WithTimeout(5*time.Minute))

		// The stack's ports, from the host.
		addr, err := env.Endpoint("api")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /healthz: %s", resp.Status)
		}

		// The cluster, through client-go.
		cs, err := kubernetes.NewForConfig(env.RESTConfig())
		if err != nil {
			t.Fatal(err)
		}
		pods, err := cs.CoreV1().Pods(env.Stack.Spec.Namespace).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d pods in %s", len(pods.Items), env.Stack.Spec.Namespace)
	}
}
