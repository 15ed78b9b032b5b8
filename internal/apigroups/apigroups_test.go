package apigroups

import (
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
)

// Every group the client's scheme knows is one kube-apiserver serves
// itself (the scheme holds no custom resources): the list keeps up with
// the Kubernetes version testbed is built against.
func TestBuiltinCoversTheClientScheme(t *testing.T) {
	for _, gv := range scheme.Scheme.PrioritizedVersionsAllGroups() {
		if !Builtin(gv.Group) {
			t.Errorf("group %q (%s) is in client-go's scheme but not in the built-in list", gv.Group, gv)
		}
	}
	for _, g := range []string{"apiextensions.k8s.io", "apiregistration.k8s.io", "", "apps"} {
		if !Builtin(g) {
			t.Errorf("Builtin(%q) = false", g)
		}
	}
	for _, g := range []string{"tekton.dev", "metrics.k8s.io", "gateway.networking.k8s.io", "kubernaut.ai"} {
		if Builtin(g) {
			t.Errorf("Builtin(%q) = true for a group served by a CRD or an aggregated API", g)
		}
	}
}
