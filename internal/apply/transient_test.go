package apply

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestIsTransient(t *testing.T) {
	gr := schema.GroupResource{Resource: "services"}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"504 from the API server's request timeout", apierrors.NewTimeoutError("request did not complete within 34s", 0), true},
		{"server timeout", apierrors.NewServerTimeout(gr, "create", 1), true},
		{"429 throttled", apierrors.NewTooManyRequests("slow down", 1), true},
		{"connection reset", fmt.Errorf("patch: %w", syscall.ECONNRESET), true},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"invalid object", apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, "x", nil), false},
		{"forbidden", apierrors.NewForbidden(gr, "x", errors.New("no")), false},
		{"conflict", apierrors.NewConflict(gr, "x", errors.New("no")), false},
		{"plain error", errors.New("boom"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := isTransient(tc.err); got != tc.want {
				t.Fatalf("isTransient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
