package testbed_test

import (
	"context"
	"fmt"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

// Bring a stack up, reach one of its ports from the host, and tear down
// what the run started. The zero Options run the stack on the provider it
// names (sim by default), with its own timeout.
func ExampleUp() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	s, err := stack.Load("testbed.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	env, err := testbed.Up(ctx, s, testbed.Options{})
	if err != nil {
		// Up has torn down what it started; env.Report says which
		// component failed and why.
		fmt.Println(err)
		return
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := env.Teardown(ctx); err != nil {
			fmt.Println(err)
		}
	}()

	// "api" is a port of the stack file's spec.ports.
	addr, err := env.Endpoint("api")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println("api:", resp.Status, "- kubeconfig:", env.Kubeconfig)
}

// A plan shows what Up would do without starting anything: on sim, the
// least time the bring-up can take and the components that set it.
func ExampleNewPlan() {
	s, err := stack.Load("../../examples/hello/testbed.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := testbed.NewPlan(s, testbed.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("provider:", plan.Provider)
	fmt.Printf("lower bound: %.1fs via %s\n", *plan.LowerBound, strings.Join(plan.CriticalPath, " -> "))
	// Output:
	// provider: sim
	// lower bound: 7.0s via postgresql -> migrations -> api
}
