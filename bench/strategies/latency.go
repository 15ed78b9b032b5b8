package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/internal/ready"
)

// latencyProbes is how many probes the cluster latency is the median of
// (after one warm-up probe that is not counted).
const latencyProbes = 5

const probeNamespace = "bench-probe"

var (
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	jobs        = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
)

// clusterLatency measures the cluster's own apply-to-ready latency, as the
// engine's benchmark does: a 1-replica Deployment whose pod is ready the
// moment it runs (sim ready-after 0s) is server-side-applied, and a watch
// started before the apply sees it pass testbed's Deployment rule
// (observedGeneration current, updated = available = ready = replicas).
// With job, the probe is instead a Job whose pod completes the moment it
// runs, until its condition Complete (the Job controller batches pod
// updates, so a Job costs more than a Deployment). The first probe warms up
// the namespace and controllers and is dropped.
func clusterLatency(ctx context.Context, cfg *rest.Config, n int, job bool) ([]time.Duration, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": probeNamespace}}}
	if err := applyObject(ctx, dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}), ns); err != nil {
		return nil, fmt.Errorf("namespace %s: %w", probeNamespace, err)
	}
	gvr, probe, prefix := deployments, probeDeployment, "probe-deploy"
	if job {
		gvr, probe, prefix = jobs, probeJob, "probe-job"
	}
	ri := dyn.Resource(gvr).Namespace(probeNamespace)
	var out []time.Duration
	for i := range n + 1 {
		name := fmt.Sprintf("%s-%d", prefix, i)
		w, err := ri.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			return nil, err
		}
		start := time.Now()
		err = applyObject(ctx, ri, probe(name))
		var d time.Duration
		if err == nil {
			d, err = untilReady(ctx, w, start)
		}
		w.Stop()
		if err != nil {
			return nil, fmt.Errorf("probe %s: %w", name, err)
		}
		if i > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

// untilReady reads w until the object passes testbed's rule, and
// returns the time since start.
func untilReady(ctx context.Context, w watch.Interface, start time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("watch closed")
			}
			u, isObj := ev.Object.(*unstructured.Unstructured)
			if !isObj || ev.Type == watch.Deleted {
				continue
			}
			if ready.Compute(u).Status == ready.Ready {
				return time.Since(start), nil
			}
		}
	}
}

func applyObject(ctx context.Context, ri dynamic.ResourceInterface, u *unstructured.Unstructured) error {
	body, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "bench", Force: new(true)})
	return err
}

func probeDeployment(name string) *unstructured.Unstructured {
	labels := map[string]any{"app": name}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": name, "namespace": probeNamespace},
		"spec": map[string]any{
			"replicas": int64(1),
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{
					"labels":      labels,
					"annotations": map[string]any{sim.AnnotationReadyAfter: "0s"},
				},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "probe", "image": "probe:1"}}},
			},
		},
	}}
}

func probeJob(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": name, "namespace": probeNamespace},
		"spec": map[string]any{
			"backoffLimit": int64(0),
			"template": map[string]any{
				"metadata": map[string]any{"annotations": map[string]any{sim.AnnotationReadyAfter: "0s"}},
				"spec": map[string]any{
					"restartPolicy": "Never",
					"containers":    []any{map[string]any{"name": "probe", "image": "probe:1"}},
				},
			},
		},
	}}
}
