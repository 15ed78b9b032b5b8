package ginkgo_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubetestbed/testbed/pkg/report"
)

// The labels testbed puts on every object it applies.
const (
	labelStack     = "testbed.dev/stack"
	labelComponent = "testbed.dev/component"
	labelManagedBy = "app.kubernetes.io/managed-by"
)

// within bounds a spec's calls to the API.
var within = SpecTimeout(time.Minute)

// stackObjects lists what the suite expects to find in the stack's
// namespace: the resource, and each object's name with its component.
var stackObjects = map[schema.GroupVersionResource]map[string]string{
	appsv1.SchemeGroupVersion.WithResource("deployments"): {"postgresql": "postgresql", "redis": "redis", "api": "api"},
	batchv1.SchemeGroupVersion.WithResource("jobs"):       {"migrations": "migrations"},
	corev1.SchemeGroupVersion.WithResource("services"):    {"postgresql": "postgresql", "redis": "redis", "api": "api"},
	corev1.SchemeGroupVersion.WithResource("secrets"):     {"postgresql": "postgresql"},
	corev1.SchemeGroupVersion.WithResource("configmaps"):  {"api": "api"},
}

var _ = Describe("the hello stack", func() {
	It("runs in a namespace of its own, labelled with the stack", func(ctx SpecContext) {
		ns, err := clientset.CoreV1().Namespaces().Get(ctx, stk.Namespace, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(ns.Status.Phase).To(Equal(corev1.NamespaceActive))
		Expect(ns.Labels).To(HaveKeyWithValue(labelStack, stk.Stack))
		Expect(ns.Labels).To(HaveKeyWithValue(labelManagedBy, "testbed"))
	}, within)

	DescribeTable("runs its Deployments with every replica ready",
		func(ctx SpecContext, name string, replicas int32) {
			d, err := clientset.AppsV1().Deployments(stk.Namespace).Get(ctx, name, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(d.Spec.Replicas).To(HaveValue(Equal(replicas)))
			Expect(d.Status.ReadyReplicas).To(Equal(replicas))
			Expect(d.Status.Conditions).To(ContainElement(And(
				HaveField("Type", appsv1.DeploymentAvailable),
				HaveField("Status", corev1.ConditionTrue))))
		},
		EntryDescription("%s: %d ready"),
		Entry(nil, "postgresql", int32(1), within),
		Entry(nil, "redis", int32(1), within),
		Entry(nil, "api", int32(2), within),
	)

	It("ran the migrations Job to completion", func(ctx SpecContext) {
		job, err := clientset.BatchV1().Jobs(stk.Namespace).Get(ctx, "migrations", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(job.Status.Succeeded).To(BeNumerically(">=", 1))
		Expect(job.Status.Conditions).To(ContainElement(And(
			HaveField("Type", batchv1.JobComplete),
			HaveField("Status", corev1.ConditionTrue))))
	}, within)

	It("labels each object it applied with the stack and the object's component", func(ctx SpecContext) {
		sel := metav1.ListOptions{LabelSelector: labelStack + "=" + stk.Stack}
		for gvr, want := range stackObjects {
			list, err := metadataClient.Resource(gvr).Namespace(stk.Namespace).List(ctx, sel)
			Expect(err).NotTo(HaveOccurred())
			got := map[string]string{}
			for _, obj := range list.Items {
				Expect(obj.Labels).To(HaveKeyWithValue(labelManagedBy, "testbed"), "%s %s", gvr.Resource, obj.Name)
				got[obj.Name] = obj.Labels[labelComponent]
			}
			Expect(got).To(Equal(want), "%s labelled %s=%s", gvr.Resource, labelStack, stk.Stack)
		}
	}, within)

	It("runs each component's pods, labelled with the component", func(ctx SpecContext) {
		pods, err := clientset.CoreV1().Pods(stk.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labelStack + "=" + stk.Stack})
		Expect(err).NotTo(HaveOccurred())
		running := map[string]int{}
		for _, pod := range pods.Items {
			c := pod.Labels[labelComponent]
			if c == "migrations" {
				Expect(pod.Status.Phase).To(Equal(corev1.PodSucceeded), "pod %s", pod.Name)
				continue
			}
			Expect(pod.Status.Phase).To(Equal(corev1.PodRunning), "pod %s", pod.Name)
			Expect(pod.Status.Conditions).To(ContainElement(And(
				HaveField("Type", corev1.PodReady),
				HaveField("Status", corev1.ConditionTrue))), "pod %s", pod.Name)
			running[c]++
		}
		Expect(running).To(Equal(map[string]int{"postgresql": 1, "redis": 1, "api": 2}))
	}, within)

	It("serves the api Service from its two ready pods", func(ctx SpecContext) {
		sel := metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=api"}
		Eventually(func(g Gomega) int {
			slices, err := clientset.DiscoveryV1().EndpointSlices(stk.Namespace).List(ctx, sel)
			g.Expect(err).NotTo(HaveOccurred())
			ready := 0
			for _, s := range slices.Items {
				for _, ep := range s.Endpoints {
					if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
						ready++
					}
				}
			}
			return ready
		}).WithContext(ctx).Should(Equal(2))
	}, within)

	It("substituted ${namespace} and ${stack} in the api's configuration", func(ctx SpecContext) {
		cm, err := clientset.CoreV1().ConfigMaps(stk.Namespace).Get(ctx, "api", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(cm.Data).To(HaveKeyWithValue("config.yaml", And(
			ContainSubstring("postgres://postgresql."+stk.Namespace+".svc:5432/hello"),
			ContainSubstring("stack: "+stk.Stack))))
	}, within)

	It("was reported ready, component by component", func() {
		Expect(stk.Report.Result).To(Equal(report.ResultReady))
		Expect(stk.Report.Components).To(ConsistOf(
			HaveField("Name", "postgresql"), HaveField("Name", "redis"),
			HaveField("Name", "migrations"), HaveField("Name", "api")))
		Expect(stk.Report.Components).To(HaveEach(HaveField("Status", report.StatusReady)))
	})
})
