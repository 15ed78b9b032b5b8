package ready

import "testing"

const svcWithSelector = `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: ns}
spec: {clusterIP: 10.96.0.10, selector: {app: api, tier: web}, ports: [{port: 80}]}
`

func TestService(t *testing.T) {
	cases := []struct {
		name   string
		svc    string
		slices string // EndpointSlices, separated by ---
		want   Status
		reason string
	}{{
		name: "no selector",
		svc: `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: ns}
spec: {clusterIP: 10.96.0.11, ports: [{port: 5432}]}
`,
		want:   Ready,
		reason: "ClusterIP 10.96.0.11; no selector",
	}, {
		name: "headless without selector",
		svc: `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: ns}
spec: {clusterIP: None}
`,
		want:   Ready,
		reason: "ClusterIP None",
	}, {
		name: "ExternalName",
		svc: `
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: ns}
spec: {type: ExternalName, externalName: db.example.com}
`,
		want:   Ready,
		reason: "ExternalName db.example.com",
	}, {
		name: "no ClusterIP yet",
		svc: `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: ns}
spec: {selector: {app: api}}
`,
		want:   InProgress,
		reason: "no ClusterIP assigned yet",
	}, {
		name:   "selector, no slices",
		svc:    svcWithSelector,
		want:   InProgress,
		reason: "no EndpointSlices yet (selector app=api,tier=web)",
	}, {
		name: "selector, empty slice",
		svc:  svcWithSelector,
		slices: `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-abc, namespace: ns, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
endpoints: null
`,
		want:   InProgress,
		reason: "no endpoints: no pod with an IP matches selector app=api,tier=web",
	}, {
		name: "only not-ready endpoints",
		svc:  svcWithSelector,
		slices: `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-abc, namespace: ns, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.5], conditions: {ready: false, serving: false}}
- {addresses: [10.244.0.6], conditions: {ready: false, serving: true, terminating: true}}
`,
		want:   InProgress,
		reason: "0/2 endpoints ready (selector app=api,tier=web)",
	}, {
		name: "a ready endpoint",
		svc:  svcWithSelector,
		slices: `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-abc, namespace: ns, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.5], conditions: {ready: false}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-def, namespace: ns, labels: {kubernetes.io/service-name: api}}
addressType: IPv6
endpoints:
- {addresses: ["fd00::5"], conditions: {ready: true}}
`,
		want:   Ready,
		reason: "1 ready endpoint",
	}, {
		name: "unset ready counts as ready",
		svc:  svcWithSelector,
		slices: `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-abc, namespace: ns, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
endpoints:
- {addresses: [10.244.0.5]}
- {addresses: [10.244.0.6], conditions: {}}
`,
		want:   Ready,
		reason: "2 ready endpoints",
	}, {
		name: "slices of another service or namespace are ignored",
		svc:  svcWithSelector,
		slices: `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: ns, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.5], conditions: {ready: true}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-abc, namespace: other, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.6], conditions: {ready: true}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: unlabelled, namespace: ns}
addressType: IPv4
endpoints: [{addresses: [10.244.0.7], conditions: {ready: true}}]
`,
		want:   InProgress,
		reason: "no EndpointSlices yet",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := y2u(t, tc.svc)
			got := Service(svc, y2us(t, tc.slices))
			check(t, got, tc.want, tc.reason)
			if tc.slices == "" {
				if c := Compute(svc); c != got {
					t.Errorf("Compute(svc) = %s, want Service(svc, nil) = %s", c, got)
				}
			}
		})
	}
}

func TestCRD(t *testing.T) {
	cases := []struct {
		name   string
		crd    string
		served bool
		want   Status
		reason string
	}{{
		name: "established and served",
		crd: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
status:
  conditions: [{type: NamesAccepted, status: "True"}, {type: Established, status: "True"}]
`,
		served: true,
		want:   Ready,
		reason: "established and served",
	}, {
		name: "established, not served",
		crd: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
status:
  conditions: [{type: NamesAccepted, status: "True"}, {type: Established, status: "True"}]
`,
		want:   InProgress,
		reason: "established, not yet served by discovery",
	}, {
		name: "installing",
		crd: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
status:
  conditions: [{type: NamesAccepted, status: "True"}, {type: Established, status: "False", reason: Installing}]
`,
		served: true,
		want:   InProgress,
		reason: "not established yet (Established=False Installing)",
	}, {
		name: "no status yet",
		crd: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
`,
		served: true,
		want:   InProgress,
		reason: "not established yet",
	}, {
		name: "NamesAccepted=False",
		crd: `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
status:
  conditions:
  - {type: NamesAccepted, status: "False", reason: ListKindConflict, message: '"WidgetList" is already in use'}
  - {type: Established, status: "False", reason: NotAccepted}
`,
		served: true,
		want:   Failed,
		reason: "names not accepted: ListKindConflict",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			crd := y2u(t, tc.crd)
			check(t, CRD(crd, tc.served), tc.want, tc.reason)
			if c, n := Compute(crd), CRD(crd, false); c != n {
				t.Errorf("Compute(crd) = %s, want CRD(crd, false) = %s", c, n)
			}
		})
	}
}

func TestCustomResource(t *testing.T) {
	cases := []struct {
		name      string
		obj       string
		hasStatus bool
		want      Status
		reason    string
	}{{
		name: "no status subresource: ready on apply",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
spec: {size: 1}
`,
		want:   Ready,
		reason: "no status subresource",
	}, {
		name: "status subresource, no status yet",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
spec: {size: 1}
`,
		hasStatus: true,
		want:      InProgress,
		reason:    "no status reported yet",
	}, {
		name: "stale observedGeneration",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 3}
status:
  observedGeneration: 2
  conditions: [{type: Ready, status: "True"}]
`,
		hasStatus: true,
		want:      InProgress,
		reason:    "generation 3 not yet observed by its controller (observedGeneration 2)",
	}, {
		name: "Ready=True",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 3}
status:
  observedGeneration: 3
  conditions: [{type: Ready, status: "True", reason: Succeeded}]
`,
		hasStatus: true,
		want:      Ready,
		reason:    "Ready",
	}, {
		name: "Ready=True without observedGeneration",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 3}
status:
  conditions: [{type: Ready, status: "True"}]
`,
		hasStatus: true,
		want:      Ready,
	}, {
		name: "Available=True",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status:
  conditions: [{type: Available, status: "True"}, {type: Reconciled, status: "True"}]
`,
		hasStatus: true,
		want:      Ready,
		reason:    "Available",
	}, {
		name: "Available=False",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status:
  conditions: [{type: Available, status: "False", reason: NoReplicas}]
`,
		hasStatus: true,
		want:      InProgress,
		reason:    "Available=False NoReplicas",
	}, {
		name: "Ready=False, still working",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status:
  conditions: [{type: Ready, status: "False", reason: ReconciliationFailed, message: connection refused}]
`,
		hasStatus: true,
		want:      InProgress,
		reason:    "Ready=False ReconciliationFailed",
	}, {
		name: "Ready=False Stalled",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status:
  observedGeneration: 1
  conditions: [{type: Ready, status: "False", reason: Stalled, message: "spec.size: must be positive"}]
`,
		hasStatus: true,
		want:      Failed,
		reason:    "Ready=False Stalled",
	}, {
		name: "Ready=False Failed",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status:
  conditions: [{type: Ready, status: "False", reason: Failed}]
`,
		hasStatus: true,
		want:      Failed,
		reason:    "Ready=False Failed",
	}, {
		name: "Stalled=True",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status:
  conditions: [{type: Stalled, status: "True", reason: InvalidSpec}, {type: Ready, status: "Unknown"}]
`,
		hasStatus: true,
		want:      Failed,
		reason:    "Stalled: InvalidSpec",
	}, {
		name: "Reconciling=True beats a Ready=True from before",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status:
  conditions: [{type: Reconciling, status: "True", reason: Progressing}, {type: Ready, status: "True"}]
`,
		hasStatus: true,
		want:      InProgress,
		reason:    "reconciling (Reconciling=True Progressing)",
	}, {
		name: "status but no Ready or Available condition",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status: {phase: Running}
`,
		hasStatus: true,
		want:      InProgress,
		reason:    "no Ready or Available condition yet",
	}, {
		name: "being deleted",
		obj: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1, deletionTimestamp: "2026-01-01T00:00:00Z"}
`,
		want:   InProgress,
		reason: "being deleted",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, CustomResource(y2u(t, tc.obj), tc.hasStatus), tc.want, tc.reason)
		})
	}
}
