package ready_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/kubetestbed/testbed/internal/ready"
)

func ExampleTracker() {
	var cfg *rest.Config // the cluster's
	tr, err := ready.NewTracker(cfg, ready.TrackerOptions{
		Selector: "testbed.dev/stack=shop",
		OnChange: func(s ready.ObjectStatus) { fmt.Println(s.Result.Status, s) },
	})
	if err != nil {
		return
	}
	defer tr.Stop()

	// One Wait per component, all on the same Tracker.
	api := []ready.ObjectRef{{
		GVR:  schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
		Kind: "Deployment", Namespace: "shop", Name: "api",
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var failed *ready.FailedError
	var timeout *ready.TimeoutError
	switch err := tr.Wait(ctx, api); {
	case err == nil:
		fmt.Println("api ready")
	case errors.As(err, &failed):
		fmt.Println("api failed:", failed.Ref, failed.Result.Reason)
	case errors.As(err, &timeout):
		fmt.Println("api not ready in time:", err) // every pending object and why
	}
}
