package apply

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The labels testbed puts on every object it applies and on their pod
// templates. DeleteAll finds a stack's objects by them (see Selector).
const (
	// LabelManagedBy marks an object as applied by testbed; its value is
	// ManagedBy.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "testbed"
	// LabelStack holds the name of the stack an object belongs to.
	LabelStack = "testbed.dev/stack"
	// LabelComponent holds the name of the component an object belongs to.
	LabelComponent = "testbed.dev/component"
)

// Selector returns the label selector of every object testbed applied for
// stack: "app.kubernetes.io/managed-by=testbed,testbed.dev/stack=<stack>".
func Selector(stack string) string {
	return LabelManagedBy + "=" + ManagedBy + "," + LabelStack + "=" + stack
}

// podTemplate says where a kind keeps the metadata of the pods it makes.
type podTemplate struct {
	// pod is the path of the pod metadata (the pod template's, or a bare
	// Pod's own).
	pod []string
	// extra are further metadata paths that get the labels only (a
	// CronJob's job template).
	extra [][]string
}

var (
	specTemplate = podTemplate{pod: []string{"spec", "template", "metadata"}}
	// podTemplates is keyed by group/Kind ("apps/Deployment"; core kinds
	// have an empty group: "/Pod").
	podTemplates = map[string]podTemplate{
		"apps/Deployment":        specTemplate,
		"apps/ReplicaSet":        specTemplate,
		"apps/StatefulSet":       specTemplate,
		"apps/DaemonSet":         specTemplate,
		"batch/Job":              specTemplate,
		"/ReplicationController": specTemplate,
		"/Pod":                   {pod: []string{"metadata"}},
		"batch/CronJob": {
			pod:   []string{"spec", "jobTemplate", "spec", "template", "metadata"},
			extra: [][]string{{"spec", "jobTemplate", "metadata"}},
		},
	}
)

// Decorate sets the labels app.kubernetes.io/managed-by=testbed,
// testbed.dev/stack=<stack> and testbed.dev/component=<component> on obj and
// on the metadata of the pods it makes: the pod template of a Deployment,
// ReplicaSet, StatefulSet, DaemonSet, Job or ReplicationController
// (spec.template), of a CronJob (spec.jobTemplate.spec.template, and the
// job template's own metadata), or a bare Pod's metadata. When
// podAnnotations is not empty (the sim annotations: sim.testbed.dev/ready-after,
// sim.testbed.dev/requires, sim.testbed.dev/fail) it sets them on that pod
// metadata too; kinds that make no pods get the labels only. A
// StatefulSet with volumeClaimTemplates gets whenDeleted: Delete unless it
// says otherwise (see deleteClaimsWithStatefulSet).
//
// Decorate changes obj in place, keeps every other label and annotation,
// and never touches selectors. A field of the wrong type (spec.template a
// string, say) is an error naming the object and the field; obj may then
// be partly decorated.
func Decorate(obj *unstructured.Unstructured, stack, component string, podAnnotations map[string]string) error {
	if obj == nil || obj.Object == nil {
		return errors.New("decorate: no object")
	}
	if stack == "" || component == "" {
		return fmt.Errorf("decorate %s: stack and component names are required", describe(obj, ""))
	}
	labels := map[string]string{
		LabelManagedBy: ManagedBy,
		LabelStack:     stack,
		LabelComponent: component,
	}
	if err := setStrings(obj.Object, labels, "metadata", "labels"); err != nil {
		return fmt.Errorf("decorate %s: %w", describe(obj, ""), err)
	}
	gvk := obj.GroupVersionKind()
	tmpl, ok := podTemplates[gvk.Group+"/"+gvk.Kind]
	if !ok {
		return nil
	}
	for _, path := range append([][]string{tmpl.pod}, tmpl.extra...) {
		if err := setStrings(obj.Object, labels, slices.Concat(path, []string{"labels"})...); err != nil {
			return fmt.Errorf("decorate %s: %w", describe(obj, ""), err)
		}
	}
	if len(podAnnotations) > 0 {
		if err := setStrings(obj.Object, podAnnotations, slices.Concat(tmpl.pod, []string{"annotations"})...); err != nil {
			return fmt.Errorf("decorate %s: %w", describe(obj, ""), err)
		}
	}
	if gvk.Group == "apps" && gvk.Kind == "StatefulSet" {
		if err := deleteClaimsWithStatefulSet(obj.Object); err != nil {
			return fmt.Errorf("decorate %s: %w", describe(obj, ""), err)
		}
	}
	return nil
}

// deleteClaimsWithStatefulSet sets a StatefulSet's
// spec.persistentVolumeClaimRetentionPolicy.whenDeleted to Delete when it
// has volumeClaimTemplates and the manifest does not say: the claims its
// controller creates then belong to it, and go when DeleteAll deletes it,
// instead of outliving the stack. (Labelling the claim templates instead
// would make re-applying a StatefulSet created without those labels fail:
// volumeClaimTemplates are immutable; the retention policy is not.) A
// manifest that says Retain keeps its claims.
func deleteClaimsWithStatefulSet(sts map[string]any) error {
	spec, ok := sts["spec"].(map[string]any)
	if !ok {
		return nil
	}
	switch v := spec["volumeClaimTemplates"].(type) {
	case nil:
		return nil
	case []any:
		if len(v) == 0 {
			return nil
		}
	default:
		return fmt.Errorf("spec.volumeClaimTemplates: expected an array, got %s", jsonType(v))
	}
	policy, err := child(spec, "persistentVolumeClaimRetentionPolicy", []string{"spec", "persistentVolumeClaimRetentionPolicy"})
	if err != nil {
		return err
	}
	if _, ok := policy["whenDeleted"]; !ok {
		policy["whenDeleted"] = "Delete"
	}
	return nil
}

// setStrings sets kv in the map at path in root, creating the maps on the
// way that are missing or null. A value on the way that is not a map is an
// error naming its field.
func setStrings(root map[string]any, kv map[string]string, path ...string) error {
	m := root
	for i, key := range path {
		next, err := child(m, key, path[:i+1])
		if err != nil {
			return err
		}
		m = next
	}
	for k, v := range kv {
		m[k] = v
	}
	return nil
}

// child returns m[key] as a map, creating it if it is missing or null.
func child(m map[string]any, key string, path []string) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		c := map[string]any{}
		m[key] = c
		return c, nil
	}
	c, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected an object, got %s", strings.Join(path, "."), jsonType(v))
	}
	return c, nil
}

// jsonType names the JSON type of a value of an unstructured object.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int32, int64, float32, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("a value of Go type %T", v)
	}
}

// describe names an object as messages do: "Kind namespace/name", or
// "Kind name" without a namespace, prefixed by "source: " when source is
// not empty.
func describe(obj *unstructured.Unstructured, source string) string {
	return describeRef(source, obj.GetKind(), obj.GetNamespace(), obj.GetName())
}

func describeRef(source, kind, namespace, name string) string {
	if kind == "" {
		kind = "object"
	}
	if name == "" {
		name = "(no name)"
	}
	s := kind + " " + name
	if namespace != "" {
		s = kind + " " + namespace + "/" + name
	}
	if source != "" {
		s = source + ": " + s
	}
	return s
}
