package testbed

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/kubetestbed/testbed/internal/apply"
	"github.com/kubetestbed/testbed/internal/cluster"
	"github.com/kubetestbed/testbed/internal/engine"
	"github.com/kubetestbed/testbed/internal/ready"
	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// checks runs a component's outside-in checks until each passes, within ctx.
// Each check is retried on a short interval: nothing can be watched on the
// far side of a socket.
func (r *run) checks(ctx context.Context, c *stack.Component) error {
	for _, ch := range c.Checks {
		var probe func(context.Context) error
		switch {
		case ch.HTTP != nil:
			url, err := stack.Substitute(ch.HTTP.URL, r.vars)
			if err != nil {
				return err
			}
			want := ch.HTTP.Status
			probe = func(ctx context.Context) error {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					return err
				}
				resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					return fmt.Errorf("GET %s: status %d, want %d", url, resp.StatusCode, want)
				}
				return nil
			}
		case ch.TCP != nil:
			addr, err := stack.Substitute(ch.TCP.Address, r.vars)
			if err != nil {
				return err
			}
			probe = func(ctx context.Context) error {
				conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", addr)
				if err != nil {
					return err
				}
				return conn.Close()
			}
		default:
			continue
		}
		var last error
		for {
			if last = probe(ctx); last == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("check %s: %w (last: %v)", ch.String(), ctx.Err(), last)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// report builds the run's report from the graph's timings and the tracker.
func (r *run) report(res *engine.Result, result report.Result) *report.Report {
	end := time.Now()
	rep := &report.Report{
		Stack: r.s.Metadata.Name, Run: r.id, Provider: r.provider.Name(), Result: result,
		StartedAt: r.start.UTC(), Seconds: report.Since(r.start, end),
	}
	rep.LowerBoundSeconds = r.plan.LowerBound
	var timings []engine.Timing
	if res != nil {
		timings = res.Timings
	}
	for _, sp := range engine.PhaseSpans(timings) {
		rep.Phases = append(rep.Phases, report.Phase{Name: sp.Name, Start: report.Since(r.start, sp.Start), End: report.Since(r.start, sp.End)})
	}
	byNode := map[engine.NodeID]engine.Timing{}
	for _, t := range timings {
		byNode[t.Node] = t
	}
	rep.Images = r.imageReports(byNode)
	statuses := map[ready.ObjectRef]ready.ObjectStatus{}
	if r.track != nil {
		for _, st := range r.track.Statuses() {
			statuses[st.Ref] = st
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.s.Spec.Components {
		st := r.comps[c.Name]
		rc := report.Component{Name: c.Name, Objects: []report.Object{}}
		if !st.applied.IsZero() {
			rc.AppliedAt = report.At(r.start, st.applied)
		}
		if !st.readyAt.IsZero() {
			rc.ReadyAt = report.At(r.start, st.readyAt)
		}
		t, ok := byNode[readyID(c.Name)]
		err := r.failures[c.Name]
		switch {
		case !st.readyAt.IsZero():
			rc.Status = report.StatusReady
		case err != nil && !errors.Is(err, context.Canceled):
			rc.Status = report.StatusFailed
			var te *ready.TimeoutError
			if errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded) {
				rc.Status = report.StatusTimeout
			}
			rc.Reason = err.Error()
		case ok && t.Err != nil && !errors.Is(t.Err, context.Canceled) && !errors.Is(t.Err, context.DeadlineExceeded):
			rc.Status = report.StatusFailed
			rc.Reason = t.Err.Error()
		case !ok || t.Skipped:
			if at, ok := byNode[applyID(c.Name)]; ok && at.Err != nil && !at.Skipped && !errors.Is(at.Err, context.Canceled) {
				rc.Status = report.StatusFailed
				rc.Reason = at.Err.Error()
			} else {
				rc.Status = report.StatusSkipped
			}
		default:
			// Still coming up when the run stopped: timed out only if the
			// stack's own deadline stopped it; pending if another
			// component's failure or timeout did.
			rc.Status = report.StatusPending
			if result == report.ResultTimeout && r.deadlinePassed {
				rc.Status = report.StatusTimeout
				rc.Reason = "not ready when the stack's deadline passed"
			}
		}
		for _, ref := range st.refs {
			o := report.Object{Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, Status: report.StatusPending}
			if os, ok := statuses[ref]; ok {
				switch os.Result.Status {
				case ready.Ready:
					o.Status = report.StatusReady
					o.ReadyAt = report.At(r.start, os.At)
				case ready.Failed:
					o.Status = report.StatusFailed
				}
			}
			rc.Objects = append(rc.Objects, o)
		}
		rep.Components = append(rep.Components, rc)
	}
	rep.CriticalPath = r.criticalPath(rep)
	if len(rep.CriticalPath) > 0 {
		if img := r.imageHead(rep.CriticalPath[0], byNode); img != "" {
			rep.CriticalPath = append([]string{"image:" + img}, rep.CriticalPath...)
		}
	}
	if rep.CriticalPath == nil {
		rep.CriticalPath = []string{}
	}
	return rep
}

// restarts records, per component, the containers of its pods that
// restarted during the run (not on sim, whose pods run nothing). It asks
// nothing of a cluster that died or of a run that was interrupted, and
// lists the stack's pods once per namespace.
func (r *run) restarts(ctx context.Context, rep *report.Report) {
	if r.cfg == nil || r.simulated() || ctx.Err() != nil || r.clusterDied() != nil {
		return
	}
	cs, err := kubernetes.NewForConfig(r.cfg)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	byName := map[string]*report.Component{}
	namespaces := map[string]bool{}
	for i := range rep.Components {
		rc := &rep.Components[i]
		byName[rc.Name] = rc
		for _, o := range rc.Objects {
			if o.Namespace != "" {
				namespaces[o.Namespace] = true
			}
		}
	}
	for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: apply.LabelStack + "=" + r.s.Metadata.Name})
		if err != nil {
			continue
		}
		for _, p := range pods.Items {
			rc := byName[p.Labels[apply.LabelComponent]]
			if rc == nil {
				continue
			}
			for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
				if c.RestartCount == 0 {
					continue
				}
				rs := report.Restart{Pod: p.Name, Container: c.Name, Count: int(c.RestartCount)}
				if t := c.LastTerminationState.Terminated; t != nil {
					rs.ExitCode = int(t.ExitCode)
					rs.Message = firstLine(strings.TrimSpace(t.Message))
				}
				rc.Restarts = append(rc.Restarts, rs)
			}
		}
	}
}

// criticalPath names the components whose readiness the last one waited
// for (docs/design.md, "The report"): from the last component to get ready (or, for a run that
// did not, the first that failed), back through the dependsOn or
// sim.requires component that got ready last, to one that waited for none.
func (r *run) criticalPath(rep *report.Report) []string {
	byName := map[string]*report.Component{}
	var end *report.Component
	for i := range rep.Components {
		c := &rep.Components[i]
		byName[c.Name] = c
		switch {
		case rep.Result != report.ResultReady:
			if end == nil && (c.Status == report.StatusFailed || c.Status == report.StatusTimeout) {
				end = c
			}
		case c.ReadyAt != nil && (end == nil || *c.ReadyAt > *end.ReadyAt):
			end = c
		}
	}
	if end == nil {
		return []string{}
	}
	path := []string{end.Name}
	seen := map[string]bool{end.Name: true}
	for cur := r.s.Component(end.Name); cur != nil; {
		waited := append([]string{}, cur.DependsOn...)
		if cur.Sim != nil && r.simulated() {
			waited = append(waited, cur.Sim.Requires...)
		}
		var next *stack.Component
		last := -1.0
		for _, d := range waited {
			if rc := byName[d]; rc != nil && rc.ReadyAt != nil && *rc.ReadyAt > last && !seen[d] {
				last, next = *rc.ReadyAt, r.s.Component(d)
			}
		}
		if next == nil {
			break
		}
		seen[next.Name] = true
		path = append([]string{next.Name}, path...)
		cur = next
	}
	return path
}

// diagnose writes a bundle for every failed or timed-out component: its
// objects' readiness, the status (never the data or spec) of its pods with
// their conditions and container states, the events of its objects, its
// Deployments' ReplicaSets and its pods, and the last log lines of current
// and previous containers where the cluster has logs. Secrets are never
// read.
func (r *run) diagnose(rep *report.Report) {
	if r.cfg == nil {
		return
	}
	cs, err := kubernetes.NewForConfig(r.cfg)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := diagDir(r.opts, r.s, r.id)
	if x, ok := r.provider.(cluster.NodeLogExporter); ok && r.failedComponents(rep) {
		// The nodes' own logs (kubelet, container runtime, pods) say what
		// the API cannot.
		if err := x.ExportNodeLogs(ctx, r.s.Metadata.Name, filepath.Join(root, "nodes")); err == nil {
			rep.Reason += " (node logs: " + filepath.Join(root, "nodes") + ")"
		}
	}
	for i := range rep.Components {
		rc := &rep.Components[i]
		if rc.Status != report.StatusFailed && rc.Status != report.StatusTimeout {
			continue
		}
		dir := filepath.Join(root, rc.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			continue
		}
		rc.Diagnostics = dir
		r.mu.Lock()
		refs := r.comps[rc.Name].refs
		r.mu.Unlock()

		var b strings.Builder
		fmt.Fprintf(&b, "component %s: %s\n%s\n\nobjects:\n", rc.Name, rc.Status, rc.Reason)
		namespaces := map[string]bool{}
		names := map[string]bool{}
		for _, ref := range refs {
			res := r.track.Status(ref)
			fmt.Fprintf(&b, "  %s: %s %s", ref, res.Status, res.Reason)
			if res.Message != "" {
				fmt.Fprintf(&b, " (%s)", res.Message)
			}
			b.WriteString("\n")
			if ref.Namespace != "" {
				namespaces[ref.Namespace] = true
			}
			names[ref.Name] = true
		}
		_ = os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(b.String()), 0o644)

		var podDump []map[string]any
		var logs strings.Builder
		var events []string
		for ns := range namespaces {
			selector := metav1.ListOptions{LabelSelector: apply.LabelStack + "=" + r.s.Metadata.Name + "," + apply.LabelComponent + "=" + rc.Name}
			// A Deployment's ReplicaSets carry its pod template's labels;
			// their events say why pods were not created (FailedCreate:
			// quota, admission), which no pod can.
			if rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, selector); err == nil {
				for _, rs := range rss.Items {
					names[rs.Name] = true
				}
			}
			pods, err := cs.CoreV1().Pods(ns).List(ctx, selector)
			if err == nil {
				for _, p := range pods.Items {
					names[p.Name] = true
					podDump = append(podDump, map[string]any{"name": p.Namespace + "/" + p.Name, "node": p.Spec.NodeName, "status": p.Status})
					r.podLogs(ctx, cs, &p, &logs)
				}
			}
			evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
			if err == nil {
				sort.Slice(evs.Items, func(i, j int) bool { return eventTime(&evs.Items[i]).Before(eventTime(&evs.Items[j])) })
				for _, e := range evs.Items {
					if names[e.InvolvedObject.Name] {
						events = append(events, fmt.Sprintf("%s %s %s/%s %s: %s", eventTime(&e).UTC().Format(time.RFC3339), e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message))
					}
				}
			}
		}
		if data, err := yaml.Marshal(podDump); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "pods.yaml"), data, 0o644)
		}
		_ = os.WriteFile(filepath.Join(dir, "events.txt"), []byte(strings.Join(events, "\n")+"\n"), 0o644)
		if logs.Len() == 0 {
			logs.WriteString("no container logs: ")
			if r.simulated() {
				logs.WriteString("on the " + r.provider.Name() + " provider containers do not run\n")
			} else {
				logs.WriteString("none could be read\n")
			}
		}
		_ = os.WriteFile(filepath.Join(dir, "logs.txt"), []byte(logs.String()), 0o644)
	}
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// podLogs appends the last lines of each container's current and previous
// logs. The sim provider has none (its containers never run).
func (r *run) podLogs(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod, w *strings.Builder) {
	if r.simulated() {
		return
	}
	lines := int64(50)
	for _, c := range p.Spec.Containers {
		for _, prev := range []bool{false, true} {
			data, err := cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name, Previous: prev, TailLines: &lines}).DoRaw(ctx)
			if err != nil || len(data) == 0 {
				continue
			}
			which := "current"
			if prev {
				which = "previous"
			}
			fmt.Fprintf(w, "==> %s/%s container %s (%s) <==\n%s\n", p.Namespace, p.Name, c.Name, which, data)
		}
	}
}

// simulated reports whether the run's pods are simulated (nothing runs in
// them: no logs, no checks).
func (r *run) simulated() bool {
	_, ok := r.provider.(cluster.PodSimulator)
	return ok
}

// imageReports says what the run did with each image it built or loaded.
func (r *run) imageReports(byNode map[engine.NodeID]engine.Timing) []report.Image {
	var out []report.Image
	span := func(t engine.Timing) *report.Span {
		if t.Skipped || t.Start.IsZero() {
			return nil
		}
		return &report.Span{Start: report.Since(r.start, t.Start), End: report.Since(r.start, t.End)}
	}
	for _, img := range r.s.Spec.Images {
		bt, built := byNode[buildID(img.Name)]
		lt, loaded := byNode[loadID(img.Name)]
		if !built && !loaded {
			continue
		}
		ri := report.Image{Name: img.Name, Ref: r.imageRef(img.Name), Status: report.StatusReady}
		r.mu.Lock()
		if st := r.images[img.Name]; st != nil {
			ri.Unchanged = st.unchanged
		}
		r.mu.Unlock()
		if built {
			ri.Build = span(bt)
		}
		if loaded {
			ri.Load = span(lt)
		}
		for _, t := range []engine.Timing{bt, lt} {
			switch {
			case t.Node.Kind == "" || ri.Status == report.StatusFailed:
			case t.Err != nil && !errors.Is(t.Err, context.Canceled) && !errors.Is(t.Err, context.DeadlineExceeded):
				ri.Status, ri.Reason = report.StatusFailed, t.Err.Error()
			case t.Skipped:
				ri.Status = report.StatusSkipped
			case t.Err != nil:
				ri.Status = report.StatusPending
			}
		}
		out = append(out, ri)
	}
	return out
}

// failedComponents reports whether a component failed or timed out.
func (r *run) failedComponents(rep *report.Report) bool {
	for _, c := range rep.Components {
		if c.Status == report.StatusFailed || c.Status == report.StatusTimeout {
			return true
		}
	}
	return false
}

// imageHead names the image whose load the first component of the
// critical path waited for last, when that load ended after everything
// else it waited for (the cluster, other loads): the path then runs
// through that image's build and load.
func (r *run) imageHead(head string, byNode map[engine.NodeID]engine.Timing) string {
	if r.g == nil {
		return ""
	}
	deps, ok := r.g.Deps(applyID(head))
	if !ok {
		deps, _ = r.g.Deps(readyID(head)) // a run step
	}
	var last engine.Timing
	for _, d := range deps {
		if t, ok := byNode[d]; ok && !t.Skipped && t.End.After(last.End) {
			last = t
		}
	}
	if last.Node.Kind == engine.KindLoad {
		return last.Node.Name
	}
	return ""
}
