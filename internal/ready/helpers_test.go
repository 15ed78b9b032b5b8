package ready

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// y2u decodes a YAML fixture the way objects arrive from the API (integers
// as int64), as cli-utils' kstatus tests do.
func y2u(t *testing.T, spec string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(spec))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	obj, _, err := unstructured.UnstructuredJSONScheme.Decode(j, nil, nil)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return obj.(*unstructured.Unstructured)
}

// y2us decodes fixtures separated by "---".
func y2us(t *testing.T, specs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, s := range strings.Split(specs, "\n---\n") {
		if strings.TrimSpace(s) != "" {
			out = append(out, y2u(t, s))
		}
	}
	return out
}

// check compares a Result with the wanted status and a substring of its
// reason.
func check(t *testing.T, got Result, want Status, reason string) {
	t.Helper()
	if got.Status != want {
		t.Errorf("status = %s, want %s (%s)", got.Status, want, got)
	}
	if !strings.Contains(got.Reason, reason) {
		t.Errorf("reason = %q, want it to contain %q", got.Reason, reason)
	}
	if got.Reason == "" {
		t.Errorf("empty reason (%s)", got)
	}
}

// kstatusVerdict is kstatus's answer for obj in our vocabulary
// (Terminating, like any not-ready answer, is InProgress).
func kstatusVerdict(obj *unstructured.Unstructured) (s Status, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kstatus panicked: %v", r)
		}
	}()
	res, err := kstatus.Compute(obj)
	if err != nil {
		return "", err
	}
	switch res.Status {
	case kstatus.CurrentStatus:
		return Ready, nil
	case kstatus.FailedStatus:
		return Failed, nil
	}
	return InProgress, nil
}
