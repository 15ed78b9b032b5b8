package sim

import (
	"strings"

	"github.com/kubetestbed/testbed/pkg/stack"
)

// PodAnnotations returns the pod-template annotations that make the sim
// cluster play a component's sim block (nil without one): ready-after,
// and requires and fail when set.
func PodAnnotations(s *stack.Sim) map[string]string {
	if s == nil {
		return nil
	}
	a := map[string]string{AnnotationReadyAfter: s.ReadyAfter.String()}
	if len(s.Requires) > 0 {
		a[AnnotationRequires] = strings.Join(s.Requires, ",")
	}
	if s.Fail != "" {
		a[AnnotationFail] = string(s.Fail)
	}
	return a
}
