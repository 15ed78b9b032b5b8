// Package datastorage_test is a Ginkgo v2 suite that sends real HTTP
// requests to the DataStorage stack of examples/kubernaut-real (PostgreSQL,
// Redis, the schema migrations and the DataStorage service, every image
// built from source) running on a kind cluster: process 1 brings the stack
// up once, every parallel process talks to the service through the stack's
// host ports and to the cluster through its kubeconfig, and process 1 tears
// the cluster down after the last spec. Run it from examples/ginkgo, with
// the hello suite or alone:
//
//	go run github.com/onsi/ginkgo/v2/ginkgo --procs=4 -r
//	go run github.com/onsi/ginkgo/v2/ginkgo --procs=4 ./datastorage
//
// The kind nodes run testbed's own node image, built once from the Go
// module proxy and Debian's packages (`make kind-node`, about 7 minutes on 2
// cores) if the Docker engine does not have it; with the image there the
// stack comes up in about a minute. The suite is skipped, saying so, when
// no Docker engine answers.
package datastorage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
	"github.com/kubetestbed/testbed/pkg/testbedtest"
)

// stackFile is the stack the suite runs against; its provider is kind.
const stackFile = "../../kubernaut-real/datastorage.yaml"

// upTimeout bounds the bring-up, building testbed's kind node image
// included when the Docker engine does not have it yet (about 7 minutes on
// a cold 2-core machine; about a minute without that).
const upTimeout = 30 * time.Minute

func TestDataStorage(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "DataStorage stack on kind")
}

// shared is what process 1 hands every process once the stack is up.
type shared struct {
	Kubeconfig string `json:"kubeconfig"`
	// Ports maps the stack's port names (datastorage-api, postgresql) to
	// host ports, which testbed chose free (hostPort: auto).
	Ports     map[string]int `json:"ports"`
	Namespace string         `json:"namespace"`
	// Run is the run's ID: part of every service name a spec writes
	// events for.
	Run string `json:"run"`
}

// On process 1 only: the running stack and its state directory, a
// directory of the suite's own so that the kind cluster is one of its own
// (never one a `testbed up` left running, nor another suite's).
var (
	env      *testbed.Env
	stateDir string
)

// In every process: the stack's facts and a client of its cluster.
var (
	stk       shared
	clientset kubernetes.Interface
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	if reason := noDocker(ctx); reason != "" {
		Skip("the DataStorage stack runs on kind, and no Docker engine answers: " + reason)
	}
	s, err := stack.Load(stackFile)
	Expect(err).NotTo(HaveOccurred())
	stateDir, err = os.MkdirTemp("", "testbed-ginkgo-datastorage-")
	Expect(err).NotTo(HaveOccurred())

	upCtx, cancel := context.WithTimeout(ctx, upTimeout)
	defer cancel()
	// On failure Up has torn down what it started: env stays nil.
	e, err := testbed.Up(upCtx, s, testbed.Options{StateDir: stateDir, OnEvent: testbedtest.LogEvents(logf)})
	Expect(err).NotTo(HaveOccurred(), "bring up %s", stackFile)
	env = e
	logf("DataStorage at http://127.0.0.1:%d, PostgreSQL at 127.0.0.1:%d, KUBECONFIG=%s",
		env.Ports["datastorage-api"], env.Ports["postgresql"], env.Kubeconfig)

	data, err := json.Marshal(shared{
		Kubeconfig: env.Kubeconfig,
		Ports:      env.Ports,
		Namespace:  s.Spec.Namespace,
		Run:        env.Report.Run,
	})
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(data []byte) {
	Expect(json.Unmarshal(data, &stk)).To(Succeed())
	Expect(stk.Ports).To(HaveKey("datastorage-api"))
	Expect(stk.Ports).To(HaveKey("postgresql"))
	cfg, err := clientcmd.BuildConfigFromFlags("", stk.Kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
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
}, NodeTimeout(3*time.Minute))

// noDocker returns why `docker version` fails, or "" when a Docker engine
// answers it.
func noDocker(ctx context.Context) string {
	_, err := exec.CommandContext(ctx, "docker", "version").Output()
	if err == nil {
		return ""
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && len(bytes.TrimSpace(exit.Stderr)) > 0 {
		return "docker version: " + string(bytes.TrimSpace(exit.Stderr))
	}
	return "docker version: " + err.Error()
}

// logf writes a line of the bring-up's progress to the GinkgoWriter (shown
// for a failed suite, or with -v).
func logf(format string, args ...any) { fmt.Fprintf(GinkgoWriter, format+"\n", args...) }
