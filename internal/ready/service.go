package ready

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// serviceNameLabel links an EndpointSlice to its Service
// (discovery.k8s.io/v1 LabelServiceName).
const serviceNameLabel = "kubernetes.io/service-name"

// Service returns a Service's readiness given the EndpointSlices that may
// belong to it (slices labelled kubernetes.io/service-name with another
// Service's name, or in another namespace, are ignored, so the caller may
// pass a superset). A Service is ready when its ClusterIP is set (an
// ExternalName or headless Service counts as set) and, if it has a selector,
// when at least one endpoint in its slices is ready (an endpoint whose ready
// condition is unset counts as ready, as the API specifies).
//
// Departs from kstatus, which calls any Service Current (only a LoadBalancer
// without a ClusterIP is InProgress): a Service nobody can reach is not ready
// for a test to use. Compute(svc) is Service(svc, nil).
func Service(svc *unstructured.Unstructured, slices []*unstructured.Unstructured) Result {
	return evaluate(svc, func(f *fields) Result { return service(f, slices) })
}

func service(f *fields, slices []*unstructured.Unstructured) Result {
	if f.str("spec", "type") == "ExternalName" {
		return ready("ExternalName %s: no endpoints to wait for", f.str("spec", "externalName"))
	}
	ip := f.str("spec", "clusterIP")
	if ip == "" {
		return inProgress("no ClusterIP assigned yet")
	}
	selector := f.stringMap("spec", "selector")
	if len(selector) == 0 {
		return ready("ClusterIP %s; no selector, so no endpoints to wait for", ip)
	}
	sel := formatSelector(selector)

	name, ns := f.str("metadata", "name"), f.str("metadata", "namespace")
	var nSlices, total, readyN int
	for _, s := range slices {
		if s == nil || s.Object == nil {
			continue
		}
		sf := f.sub(s.Object, "EndpointSlice "+s.GetName())
		if sf.stringMap("metadata", "labels")[serviceNameLabel] != name {
			continue
		}
		if sns := sf.str("metadata", "namespace"); sns != "" && ns != "" && sns != ns {
			continue
		}
		nSlices++
		for _, ep := range sf.objects("endpoints") {
			total++
			if r, set := ep.boolean("conditions", "ready"); r || !set {
				readyN++
			}
		}
	}
	switch {
	case readyN == 1:
		return ready("1 ready endpoint")
	case readyN > 1:
		return ready("%d ready endpoints", readyN)
	case nSlices == 0:
		return inProgress("no EndpointSlices yet (selector %s)", sel)
	case total == 0:
		return inProgress("no endpoints: no pod with an IP matches selector %s", sel)
	}
	return inProgress("0/%d endpoints ready (selector %s)", total, sel)
}

// formatSelector writes a selector as "k1=v1,k2=v2", sorted.
func formatSelector(sel map[string]string) string {
	parts := make([]string, 0, len(sel))
	for k, v := range sel {
		parts = append(parts, fmt.Sprintf("%s=%s", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
