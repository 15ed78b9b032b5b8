package testbed

import (
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/kubetestbed/testbed/internal/apigroups"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// builtinKinds are the kinds of every group the API server serves itself,
// as this build's client knows them: the sim provider's API server is of
// the same Kubernetes version.
var builtinKinds = sync.OnceValue(func() map[string]map[string]bool {
	out := map[string]map[string]bool{
		"apiextensions.k8s.io":   {"CustomResourceDefinition": true},
		"apiregistration.k8s.io": {"APIService": true},
	}
	for gvk := range scheme.Scheme.AllKnownTypes() {
		if !apigroups.Builtin(gvk.Group) || gvk.Version == "__internal" || strings.HasSuffix(gvk.Kind, "List") || strings.HasSuffix(gvk.Kind, "Options") {
			continue
		}
		if out[gvk.Group] == nil {
			out[gvk.Group] = map[string]bool{}
		}
		out[gvk.Group][gvk.Kind] = true
	}
	return out
})

// simKinds checks, for the sim provider, that the API server can serve
// every object's kind, so that a misspelt kind is a plan-time error rather
// than a wait until the timeout: a kind of a group the API server serves
// itself must be one of that group's kinds; any other kind needs a CRD (or
// an APIService for its group) in the stack, since on sim nothing else
// installs one, unless a run step could (checked only when fresh: a
// cluster that is already running may have CRDs of its own). Versions are
// left to the apply, which names the ones served.
func simKinds(s *stack.Stack, cms []stack.ComponentManifests, fresh bool) error {
	crdKinds, apiGroups := map[schema.GroupKind]bool{}, map[string]bool{}
	runSteps := false
	for _, c := range s.Spec.Components {
		runSteps = runSteps || c.Run != nil
	}
	for _, cm := range cms {
		for _, d := range cm.Documents {
			spec, _ := d.Object["spec"].(map[string]any)
			group, _ := spec["group"].(string)
			switch gvk := docGVK(d); gvk.GroupKind() {
			case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
				names, _ := spec["names"].(map[string]any)
				kind, _ := names["kind"].(string)
				crdKinds[schema.GroupKind{Group: group, Kind: kind}] = true
			case schema.GroupKind{Group: "apiregistration.k8s.io", Kind: "APIService"}:
				apiGroups[group] = true
			}
		}
	}
	var errs stack.ErrorList
	for i, cm := range cms {
		object := fmt.Sprintf("components[%d] %q", i, cm.Component)
		for _, d := range cm.Documents {
			gvk := docGVK(d)
			what := fmt.Sprintf("%s (%s)", gvk.Kind, gvk.GroupVersion())
			if apigroups.Builtin(gvk.Group) {
				kinds := builtinKinds()[gvk.Group]
				if !kinds[gvk.Kind] {
					errs = append(errs, &stack.Error{File: d.File, Line: d.Line, Object: object,
						Message: fmt.Sprintf("%s: the API server has no kind %s in %s%s", what, gvk.Kind, groupName(gvk.Group), suggestKind(gvk.Kind, kinds))})
				}
				continue
			}
			if crdKinds[gvk.GroupKind()] || apiGroups[gvk.Group] || runSteps || !fresh {
				continue
			}
			errs = append(errs, &stack.Error{File: d.File, Line: d.Line, Object: object,
				Message: fmt.Sprintf("%s: no CustomResourceDefinition in the stack defines kind %s in group %s, and on sim nothing else installs one: add the CRD to a component", what, gvk.Kind, gvk.Group)})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func docGVK(d stack.Document) schema.GroupVersionKind {
	apiVersion, _ := d.Object["apiVersion"].(string)
	kind, _ := d.Object["kind"].(string)
	gv, _ := schema.ParseGroupVersion(apiVersion)
	return gv.WithKind(kind)
}

func groupName(g string) string {
	if g == "" {
		return "the core group (apiVersion v1)"
	}
	return "group " + g
}

// suggestKind returns ` (did you mean "Deployment"?)` for the known kind
// closest to kind, if one is close: the same but for case, or at most two
// edits away.
func suggestKind(kind string, known map[string]bool) string {
	best, bestD := "", 3
	for k := range known {
		d := editDistance(strings.ToLower(kind), strings.ToLower(k))
		if d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
