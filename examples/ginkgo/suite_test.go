// Package ginkgo_test is a Ginkgo v2 suite against the hello stack
// (examples/hello): process 1 brings the stack up once, every parallel
// process talks to it through its kubeconfig, and process 1 tears it down
// after the last spec. Run it from examples/ginkgo with
//
//	go run github.com/onsi/ginkgo/v2/ginkgo --procs=4 -r
//
// which runs the suite of datastorage/ too: the same pattern on kind, with
// real HTTP requests to the DataStorage service of examples/kubernaut-real.
package ginkgo_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
	"github.com/kubetestbed/testbed/pkg/testbedtest"
)

// stackFile is the stack the suite runs against.
const stackFile = "../hello/testbed.yaml"

func TestHello(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "hello stack")
}

// shared is what process 1 hands every process once the stack is up.
type shared struct {
	Kubeconfig string `json:"kubeconfig"`
	// Ports maps the stack's port names to host ports (hello exposes
	// none): a spec reaches one at 127.0.0.1:PORT, as env.Endpoint does.
	Ports     map[string]int `json:"ports"`
	Stack     string         `json:"stack"`
	Namespace string         `json:"namespace"`
	Report    *report.Report `json:"report"`
}

// On process 1 only: the running stack and its state directory, a
// directory of the suite's own so that the cluster is never one found
// running (a `testbed up` of hello in the default directory, or another
// suite's).
var (
	env      *testbed.Env
	stateDir string
)

// In every process: the stack's facts and clients of its cluster.
var (
	stk            shared
	clientset      kubernetes.Interface
	metadataClient metadata.Interface
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	s, err := stack.Load(stackFile)
	Expect(err).NotTo(HaveOccurred())
	stateDir, err = os.MkdirTemp("", "testbed-ginkgo-")
	Expect(err).NotTo(HaveOccurred())

	// On failure Up has torn down what it started: env stays nil.
	e, err := testbed.Up(ctx, s, testbed.Options{StateDir: stateDir, OnEvent: testbedtest.LogEvents(logf)})
	Expect(err).NotTo(HaveOccurred(), "bring up %s", stackFile)
	env = e

	data, err := json.Marshal(shared{
		Kubeconfig: env.Kubeconfig,
		Ports:      env.Ports,
		Stack:      s.Metadata.Name,
		Namespace:  s.Spec.Namespace,
		Report:     env.Report,
	})
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(data []byte) {
	Expect(json.Unmarshal(data, &stk)).To(Succeed())
	cfg, err := clientcmd.BuildConfigFromFlags("", stk.Kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	metadataClient, err = metadata.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
})

// Process 1 runs its part once every other process has finished its specs.
var _ = SynchronizedAfterSuite(func() {}, func(ctx SpecContext) {
	if env != nil {
		Expect(env.Teardown(ctx)).To(Succeed())
	}
	if stateDir != "" {
		Expect(os.RemoveAll(stateDir)).To(Succeed())
	}
}, NodeTimeout(2*time.Minute))

// logf writes a line of the bring-up's progress to the GinkgoWriter (shown
// for a failed suite, or with -v).
func logf(format string, args ...any) { fmt.Fprintf(GinkgoWriter, format+"\n", args...) }
