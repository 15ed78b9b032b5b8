package ready

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	restclientwatch "k8s.io/client-go/rest/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// The protobuf watches hand the rules what the dynamic client's JSON would
// have: for objects with every field the rules read (times, quantities,
// int-or-strings, optional booleans, nested statuses), the transform's
// result equals the JSON decoding of the same object.
func TestToUnstructuredMatchesJSON(t *testing.T) {
	ts := metav1.NewTime(time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC))
	meta := func(name string, gen int64) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: name, Namespace: "ns", UID: "u-" + "1", ResourceVersion: "42", Generation: gen,
			CreationTimestamp: ts, Labels: map[string]string{"app": name, "controller-revision-hash": "abc"},
			Annotations:     map[string]string{"deployment.kubernetes.io/revision": "3"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "u2", Controller: ptr.To(true)}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "testbed", Operation: metav1.ManagedFieldsOperationApply, Time: &ts}},
		}
	}
	deleting := meta("p-deleting", 0)
	deleting.DeletionTimestamp = &ts
	cases := []struct {
		gvk schema.GroupVersionKind
		obj runtime.Object
	}{
		{corev1.SchemeGroupVersion.WithKind("Pod"), &corev1.Pod{
			ObjectMeta: meta("p", 0),
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure,
				Containers: []corev1.Container{{Name: "c", Image: "i", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				}, Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
				NodeName: "n",
			},
			Status: corev1.PodStatus{
				Phase:     corev1.PodRunning,
				StartTime: &ts,
				Conditions: []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes", LastTransitionTime: ts},
					{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ts},
				},
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: ts, FinishedAt: ts}}}},
				ContainerStatuses: []corev1.ContainerStatus{
					{Name: "c", Ready: false, Started: ptr.To(false), RestartCount: 3,
						State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s"}},
						LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ts}}},
				},
			},
		}},
		{corev1.SchemeGroupVersion.WithKind("Pod"), &corev1.Pod{ObjectMeta: deleting, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}},
		// Bound to a node before the scheduler's condition shows: the
		// pod rule reads spec.nodeName.
		{corev1.SchemeGroupVersion.WithKind("Pod"), &corev1.Pod{ObjectMeta: meta("p-bound", 0), Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodPending}}},
		{appsv1.SchemeGroupVersion.WithKind("Deployment"), &appsv1.Deployment{
			ObjectMeta: meta("d", 2),
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Paused: true, ProgressDeadlineSeconds: ptr.To[int32](600),
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromInt32(0))}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: ts, LastTransitionTime: ts}}},
		}},
		{appsv1.SchemeGroupVersion.WithKind("StatefulSet"), &appsv1.StatefulSet{
			ObjectMeta: meta("s", 1),
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec:       corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			}}},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, CurrentRevision: "s-1", UpdateRevision: "s-2", AvailableReplicas: 1},
		}},
		{batchv1.SchemeGroupVersion.WithKind("Job"), &batchv1.Job{
			ObjectMeta: meta("j", 1),
			Spec:       batchv1.JobSpec{Completions: ptr.To[int32](1), BackoffLimit: ptr.To[int32](6), ActiveDeadlineSeconds: ptr.To[int64](30), Suspend: ptr.To(false)},
			Status: batchv1.JobStatus{StartTime: &ts, CompletionTime: &ts, Succeeded: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0),
				UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{},
				Conditions:              []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastProbeTime: ts, LastTransitionTime: ts}}},
		}},
		{corev1.SchemeGroupVersion.WithKind("Service"), &corev1.Service{
			ObjectMeta: meta("svc", 0),
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", Selector: map[string]string{"app": "d"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromString("http"), NodePort: 30080, Protocol: corev1.ProtocolTCP}}},
		}},
		{discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), &discoveryv1.EndpointSlice{
			ObjectMeta:  meta("svc-abcde", 0),
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.244.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}},
				{Addresses: []string{"10.244.0.6"}, Conditions: discoveryv1.EndpointConditions{}},
			},
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
		}},
	}
	for _, c := range cases {
		name := c.gvk.Kind + " " + c.obj.(metav1.Object).GetName()
		t.Run(name, func(t *testing.T) {
			if _, ok := protoKind(c.gvk.GroupVersion().WithResource("x"), c.gvk.Kind); !ok {
				t.Fatalf("protoKind: %s is not watched in protobuf", c.gvk)
			}
			// What the dynamic client would have cached: the JSON of the
			// object, decoded, managed fields dropped; and the same for the
			// object without what no rule reads.
			full := jsonOf(t, c.obj, c.gvk)
			lean := c.obj.DeepCopyObject()
			dropUnread(lean)
			want := jsonOf(t, lean, c.gvk)

			got, err := toUnstructured(c.gvk)(c.obj.DeepCopyObject())
			if err != nil {
				t.Fatal(err)
			}
			u, ok := got.(*unstructured.Unstructured)
			if !ok {
				t.Fatalf("transform returned %T, want *unstructured.Unstructured", got)
			}
			if !reflect.DeepEqual(u.Object, want.Object) {
				gj, _ := json.MarshalIndent(u.Object, "", " ")
				wj, _ := json.MarshalIndent(want.Object, "", " ")
				t.Fatalf("protobuf path and JSON path differ\nprotobuf: %s\njson:     %s", gj, wj)
			}
			// Idempotent: the cached object passed again is unchanged.
			again, err := toUnstructured(c.gvk)(u)
			if err != nil || !reflect.DeepEqual(again.(*unstructured.Unstructured).Object, want.Object) {
				t.Fatalf("transform is not idempotent: %v", err)
			}
			// And the rules give the same verdict on it as on the full
			// object.
			if g, w := Compute(u), Compute(full); g != w {
				t.Fatalf("Compute differs: protobuf %v, json %v", g, w)
			}
			if c.gvk.Kind == "Pod" {
				now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
				gd, gr := PodDoomed(u, now, time.Minute)
				wd, wr := PodDoomed(full, now, time.Minute)
				if gd != wd || gr != wr {
					t.Fatalf("PodDoomed differs: protobuf %v %q, json %v %q", gd, gr, wd, wr)
				}
			}
			// Through the wire: encoded in protobuf and decoded as the
			// informer decodes it, the transform gives the same object.
			wire, err := toUnstructured(c.gvk)(protoRoundTrip(t, c.obj, c.gvk))
			if err != nil {
				t.Fatal(err)
			}
			if w := wire.(*unstructured.Unstructured); !reflect.DeepEqual(w.Object, want.Object) {
				gj, _ := json.MarshalIndent(w.Object, "", " ")
				wj, _ := json.MarshalIndent(want.Object, "", " ")
				t.Fatalf("after a protobuf round trip the object differs\nprotobuf: %s\njson:     %s", gj, wj)
			}
		})
	}
}

// protoRoundTrip encodes obj in protobuf, as the API server sends it, and
// decodes it with the tracker's protobuf clients' decoder.
func protoRoundTrip(t *testing.T, obj runtime.Object, gvk schema.GroupVersionKind) runtime.Object {
	t.Helper()
	in := obj.DeepCopyObject()
	in.GetObjectKind().SetGroupVersionKind(gvk)
	var buf bytes.Buffer
	if err := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme).Encode(in, &buf); err != nil {
		t.Fatal(err)
	}
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.WithoutConversion().SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	out, _, err := info.Serializer.Decode(buf.Bytes(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An empty list the JSON would carry as [] arrives from protobuf as
// nothing: the verdicts that read such lists do not change.
func TestProtobufEmptyListsSameVerdict(t *testing.T) {
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "svc", "namespace": "ns"},
		"spec":     map[string]any{"clusterIP": "10.96.0.10", "selector": map[string]any{"app": "d"}},
	}}
	gvk := discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice")
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "svc-abc", Namespace: "ns", Labels: map[string]string{serviceNameLabel: "svc"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{},
		Ports:       []discoveryv1.EndpointPort{},
	}
	viaJSON := jsonOf(t, slice, gvk)
	got, err := toUnstructured(gvk)(protoRoundTrip(t, slice, gvk))
	if err != nil {
		t.Fatal(err)
	}
	viaProto := got.(*unstructured.Unstructured)
	if _, ok := viaJSON.Object["endpoints"].([]any); !ok {
		t.Fatalf("JSON path: endpoints = %#v, want []", viaJSON.Object["endpoints"])
	}
	g := Service(svc, []*unstructured.Unstructured{viaProto})
	w := Service(svc, []*unstructured.Unstructured{viaJSON})
	if g != w || g.Status != InProgress {
		t.Fatalf("Service with an empty EndpointSlice: protobuf %v, json %v; want the same, InProgress", g, w)
	}
}

// jsonOf returns obj as the dynamic client would have cached it: its JSON
// decoded into an unstructured object, managed fields dropped.
func jsonOf(t *testing.T, obj runtime.Object, gvk schema.GroupVersionKind) *unstructured.Unstructured {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(withKind(t, data, gvk)); err != nil {
		t.Fatal(err)
	}
	if _, err := slim(u); err != nil {
		t.Fatal(err)
	}
	return u
}

// A Job whose pod has succeeded after a restart under OnFailure waits for
// the Job controller: the verdict reads the pod template's restartPolicy,
// which dropUnread keeps.
func TestDropUnreadKeepsJobVerdict(t *testing.T) {
	ts := metav1.NewTime(time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC))
	jobGVK := batchv1.SchemeGroupVersion.WithKind("Job")
	podGVK := corev1.SchemeGroupVersion.WithKind("Pod")
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate", Namespace: "ns", Generation: 1},
		Spec: batchv1.JobSpec{Completions: ptr.To[int32](1), BackoffLimit: ptr.To[int32](6),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{Name: "m", Image: "i"}}}}},
		Status: batchv1.JobStatus{StartTime: &ts, Active: 1},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate-x", Namespace: "ns"},
		Spec:       corev1.PodSpec{NodeName: "n", RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{Name: "m", Image: "i"}}},
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "m", RestartCount: 1,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: ts, FinishedAt: ts}}}}},
	}
	verdict := func(j, p *unstructured.Unstructured) Result {
		return WithSucceededJobPods(Compute(j), j, []*unstructured.Unstructured{p})
	}
	lj, err := toUnstructured(jobGVK)(job.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	lp, err := toUnstructured(podGVK)(pod.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	g := verdict(lj.(*unstructured.Unstructured), lp.(*unstructured.Unstructured))
	w := verdict(jsonOf(t, job, jobGVK), jsonOf(t, pod, podGVK))
	if g != w || g.Status != InProgress {
		t.Fatalf("Job verdict: transformed %v, full %v; want the same, InProgress", g, w)
	}
}

// withKind sets apiVersion and kind in a typed object's JSON (typed Go
// objects built in code carry no TypeMeta; the API server's JSON does).
func withKind(t *testing.T, data []byte, gvk schema.GroupVersionKind) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["apiVersion"], m["kind"] = gvk.GroupVersion().String(), gvk.Kind
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestProtoKind(t *testing.T) {
	for _, c := range []struct {
		gvr  schema.GroupVersionResource
		kind string
		want bool
	}{
		{podsGVR, "Pod", true},
		{replicaSetsGVR, "ReplicaSet", true},
		{endpointSlicesGVR, "EndpointSlice", true},
		{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, "Job", true},
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "", false},
		{crdsGVR, "CustomResourceDefinition", false},
		{schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}, "Widget", false},
		{schema.GroupVersionResource{Group: "apps", Version: "v1beta9", Resource: "deployments"}, "Deployment", false},
	} {
		if _, got := protoKind(c.gvr, c.kind); got != c.want {
			t.Errorf("protoKind(%v, %q) = %v, want %v", c.gvr, c.kind, got, c.want)
		}
	}
}

// benchPod is a pod as a sim cluster serves one of a Deployment's: a
// container with probes and resources, the service account volume, the
// default tolerations, five conditions, and the managed fields of the three
// writers (the ReplicaSet controller, the scheduler, kwok).
func benchPod() *corev1.Pod {
	ts := metav1.NewTime(time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC))
	mf := func(manager, sub string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &ts,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{}},"f:spec":{"f:containers":{}}}`)}, Subresource: sub}
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}, InitialDelaySeconds: 5, PeriodSeconds: 5, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
	cond := func(t corev1.PodConditionType) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: ts}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "datastorage-5d4f8c7b9-x2k8q", GenerateName: "datastorage-5d4f8c7b9-", Namespace: "kubernaut-system",
			UID: "0b7d9c7e-4c1e-4a57-9f0e-1b2c3d4e5f60", ResourceVersion: "12345", CreationTimestamp: ts,
			Labels: map[string]string{"app": "datastorage", "pod-template-hash": "5d4f8c7b9", "app.kubernetes.io/managed-by": "testbed",
				"testbed.dev/stack": "kubernaut-datastorage", "testbed.dev/component": "datastorage"},
			Annotations:     map[string]string{"sim.testbed.dev/ready-after": "10s"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "datastorage-5d4f8c7b9", UID: "u2", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
			ManagedFields:   []metav1.ManagedFieldsEntry{mf("kube-controller-manager", ""), mf("kube-scheduler", "status"), mf("kwok", "status")},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "datastorage", Image: "localhost/kubernaut/datastorage:testbed-1a2b3c",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {Name: "metrics", ContainerPort: 9181, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "CONFIG_PATH", Value: "/etc/datastorage/config.yaml"}, {Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "datastorage-secret"}, Key: "password"}}}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
				},
				ReadinessProbe: probe, LivenessProbe: probe,
				VolumeMounts:             []corev1.VolumeMount{{Name: "config", MountPath: "/etc/datastorage"}, {Name: "kube-api-access-abcde", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
				TerminationMessagePath:   "/dev/termination-log",
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				ImagePullPolicy:          corev1.PullIfNotPresent,
			}},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "datastorage-config"}, DefaultMode: ptr.To[int32](420)}}},
				{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](420), Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
				}}}},
			},
			RestartPolicy: corev1.RestartPolicyAlways, TerminationGracePeriodSeconds: ptr.To[int64](30), DNSPolicy: corev1.DNSClusterFirst,
			ServiceAccountName: "default", NodeName: "testbed-worker-1", SchedulerName: "default-scheduler",
			SecurityContext: &corev1.PodSecurityContext{},
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
			},
			Priority: ptr.To[int32](0), EnableServiceLinks: ptr.To(true), PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority),
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{cond("PodReadyToStartContainers"), cond(corev1.PodInitialized), cond(corev1.PodReady), cond(corev1.ContainersReady), cond(corev1.PodScheduled)},
			HostIP:     "10.0.0.2", HostIPs: []corev1.HostIP{{IP: "10.0.0.2"}}, PodIP: "10.244.1.17", PodIPs: []corev1.PodIP{{IP: "10.244.1.17"}},
			StartTime: &ts, QOSClass: corev1.PodQOSBurstable,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "datastorage", Ready: true, Started: ptr.To(true), Image: "localhost/kubernaut/datastorage:testbed-1a2b3c", ImageID: "sha256:abc",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ts}}}},
		},
	}
}

// BenchmarkWatchStream compares, per pod watch event, what the tracker's
// dynamic (JSON) informers did with what its protobuf informers do: a
// watch stream of pod events, read as client-go reads one (frames, the
// watch event, the object, each through the negotiated serializers of the
// dynamic client and of the protobuf clients), then the informer's
// transform, to the unstructured object in the cache. Side by side in one
// run: compare the ns/event of the two.
func BenchmarkWatchStream(b *testing.B) {
	pod := benchPod()
	gvk := corev1.SchemeGroupVersion.WithKind("Pod")
	const events = 100
	for _, c := range []struct {
		name       string
		serializer runtime.NegotiatedSerializer
		mediaType  string
		transform  cache.TransformFunc
	}{
		{"json-dynamic", dynamic.ConfigFor(&rest.Config{}).NegotiatedSerializer, runtime.ContentTypeJSON, slim},
		{"protobuf-typed", scheme.Codecs.WithoutConversion(), runtime.ContentTypeProtobuf, toUnstructured(gvk)},
	} {
		info, ok := runtime.SerializerInfoForMediaType(c.serializer.SupportedMediaTypes(), c.mediaType)
		if !ok || info.StreamSerializer == nil {
			b.Fatalf("%s: no stream serializer", c.mediaType)
		}
		// The stream as the API server writes it.
		obj := pod.DeepCopy()
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		var raw bytes.Buffer
		objEncoder := info.Serializer
		if c.mediaType == runtime.ContentTypeProtobuf {
			objEncoder = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
		}
		if err := objEncoder.Encode(obj, &raw); err != nil {
			b.Fatal(err)
		}
		var stream bytes.Buffer
		fw := info.StreamSerializer.Framer.NewFrameWriter(&stream)
		for range events {
			ev := &metav1.WatchEvent{Type: "MODIFIED", Object: runtime.RawExtension{Raw: raw.Bytes()}}
			if err := info.StreamSerializer.Encode(ev, fw); err != nil {
				b.Fatal(err)
			}
		}
		data := stream.Bytes()
		b.Run(c.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				fr := info.StreamSerializer.Framer.NewFrameReader(io.NopCloser(bytes.NewReader(data)))
				d := restclientwatch.NewDecoder(streaming.NewDecoder(fr, info.StreamSerializer.Serializer), info.Serializer)
				for {
					_, o, err := d.Decode()
					if err != nil {
						if errors.Is(err, io.EOF) {
							break
						}
						b.Fatal(err)
					}
					if _, err := c.transform(o); err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			if n != b.N*events {
				b.Fatalf("decoded %d events, want %d", n, b.N*events)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
			b.ReportMetric(float64(len(data))/events, "bytes/event")
		})
	}
}
