package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// RunGate runs the sim gate until ctx ends: it watches every pod and, when
// all pods of the components a held pod requires (AnnotationRequires) are
// Ready or Succeeded, writes AnnotationReadyAt on it (now plus its
// AnnotationReadyAfter), which starts its simulated clock. A required
// component is looked up by LabelComponent among pods of the same stack
// (LabelStack) or, for pods without one, of the same namespace.
// logf receives one line per released pod and per error.
func RunGate(ctx context.Context, cs kubernetes.Interface, logf func(format string, args ...any)) error {
	factory := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	inf := factory.Core().V1().Pods().Informer()
	kick := make(chan struct{}, 1)
	notify := func(any) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, n any) { notify(n) },
		DeleteFunc: notify,
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return ctx.Err()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		}
		var pods []*corev1.Pod
		for _, o := range inf.GetStore().List() {
			if p, ok := o.(*corev1.Pod); ok {
				pods = append(pods, p)
			}
		}
		for _, p := range releasable(pods) {
			readyAt := time.Now().Add(readyAfter(p)).UTC().Format(time.RFC3339Nano)
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationReadyAt: readyAt}}})
			_, err := cs.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{})
			if err != nil {
				logf("release pod %s/%s: %v", p.Namespace, p.Name, err)
				notify(nil)
				continue
			}
			logf("released pod %s/%s (requires %s): ready at %s", p.Namespace, p.Name, p.Annotations[AnnotationRequires], readyAt)
		}
	}
}

func readyAfter(p *corev1.Pod) time.Duration {
	d, err := time.ParseDuration(p.Annotations[AnnotationReadyAfter])
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// groupKey scopes component names: the stack if the pod has one, else its
// namespace.
func groupKey(p *corev1.Pod) string {
	if s := p.Labels[LabelStack]; s != "" {
		return "stack:" + s
	}
	return "ns:" + p.Namespace
}

func podDone(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded {
		return true
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// releasable returns the held pods whose required components are ready.
// It is a pure function of the pods, so it is tested without a cluster.
func releasable(pods []*corev1.Pod) []*corev1.Pod {
	type count struct{ total, ready int }
	comps := map[string]*count{}
	for _, p := range pods {
		c := p.Labels[LabelComponent]
		if c == "" || p.DeletionTimestamp != nil {
			continue
		}
		k := groupKey(p) + "/" + c
		if comps[k] == nil {
			comps[k] = &count{}
		}
		comps[k].total++
		if podDone(p) {
			comps[k].ready++
		}
	}
	var out []*corev1.Pod
	for _, p := range pods {
		req := strings.TrimSpace(p.Annotations[AnnotationRequires])
		if req == "" || p.Annotations[AnnotationReadyAt] != "" || p.DeletionTimestamp != nil || p.Spec.NodeName == "" {
			continue
		}
		ok := true
		for _, r := range strings.Split(req, ",") {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			c := comps[groupKey(p)+"/"+r]
			if c == nil || c.total == 0 || c.ready < c.total {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, p)
		}
	}
	return out
}

// GateLogf formats gate log lines with a timestamp, for the gate process's
// own log file.
func GateLogf(w interface{ Write([]byte) (int, error) }) func(string, ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(w, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
	}
}
