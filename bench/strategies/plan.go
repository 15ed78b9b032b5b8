package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubetestbed/testbed/internal/apply"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// plan is a stack prepared once for every strategy: the same substitutions
// (stack.Vars, with one run ID) and the same decorated objects, so that
// every strategy sends the cluster identical pods with identical sim
// annotations.
type plan struct {
	s     *stack.Stack
	vars  stack.Vars
	comps []*component // in the stack file's order
	// order is stack.Order(): each component after its dependsOn and
	// sim.requires components.
	order []string
	// lowerBound is the stack's sim lower bound in seconds, and critical
	// the components on its critical path, first to last.
	lowerBound float64
	critical   []string
	// hops is the number of dependsOn edges on the critical path, plus 1:
	// each component reached through one is applied only once its
	// predecessor is ready, and pays the cluster's apply-to-ready latency.
	hops int
	// jobHops is how many of those hops are components holding a Job,
	// whose readiness the Job controller reports up to a second late.
	jobHops int
	// crds maps group/Kind of the custom resources the stack defines to
	// whether their CRD declares a status subresource.
	crds map[string]bool
	// retry is the same plan with every dependsOn on a component that runs
	// pods folded into sim.requires (see withRetries); nil in itself.
	retry *plan
}

// component is one component of a plan.
type component struct {
	c    *stack.Component
	objs []object
}

// object is a decorated object and where it was read from.
type object struct {
	u      *unstructured.Unstructured
	source string // "deploy/db.yaml:12"
}

func (p *plan) component(name string) *component {
	for _, c := range p.comps {
		if c.c.Name == name {
			return c
		}
	}
	return nil
}

// newPlan loads the stack at path and prepares it with run as ${run}. Host
// ports marked auto get a port from freePort.
func newPlan(path, run string, freePort func() (int, error)) (*plan, error) {
	s, err := stack.Load(path)
	if err != nil {
		return nil, err
	}
	vars := stack.Vars{Stack: s.Metadata.Name, Namespace: s.Spec.Namespace, Run: run,
		Images: map[string]string{}, Ports: map[string]int{}}
	for _, img := range s.Spec.Images {
		vars.Images[img.Name] = imageRef(s, img, run)
	}
	for _, pt := range s.Spec.Ports {
		if !pt.HostPort.Auto() {
			vars.Ports[pt.Name] = int(pt.HostPort)
			continue
		}
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("port %s: %w", pt.Name, err)
		}
		vars.Ports[pt.Name] = port
	}
	cms, err := s.Manifests(&vars)
	if err != nil {
		return nil, err
	}
	p := &plan{s: s, vars: vars, order: s.Order(), crds: map[string]bool{}}
	p.lowerBound, p.critical = s.LowerBound()
	p.hops = hops(s, p.critical)
	for i, cm := range cms {
		c := &s.Spec.Components[i]
		pc := &component{c: c}
		ann := simAnnotations(c)
		for _, d := range cm.Documents {
			u := (&unstructured.Unstructured{Object: d.Object}).DeepCopy()
			source := d.Source()
			if err := apply.Decorate(u, s.Metadata.Name, c.Name, ann); err != nil {
				return nil, fmt.Errorf("%s: %w", source, err)
			}
			if isCRD(u) {
				group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
				kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
				p.crds[group+"/"+kind] = crdHasStatus(u)
			}
			pc.objs = append(pc.objs, object{u: u, source: source})
		}
		p.comps = append(p.comps, pc)
	}
	for _, name := range hopComponents(s, p.critical) {
		if c := p.component(name); c != nil && slices.ContainsFunc(c.objs, func(o object) bool { return groupKind(o.u) == "batch/Job" }) {
			p.jobHops++
		}
	}
	if p.retry, err = p.withRetries(); err != nil {
		return nil, err
	}
	return p, nil
}

// podKinds are the kinds whose pods the sim gate counts for sim.requires.
var podKinds = []string{"apps/Deployment", "apps/ReplicaSet", "apps/StatefulSet", "apps/DaemonSet", "batch/Job", "/Pod", "/ReplicationController"}

// withRetries returns p as the seed claimed its services behave: every
// dependsOn on a component that runs pods becomes a sim.requires, so the
// pods, applied at once, wait (as an app retrying its dependency would)
// instead of the apply. dependsOn on components without pods (CRDs,
// namespaces, run steps) is dropped: applied at once, those are ready at
// once. The lower bound is unchanged: LowerBound treats both edges alike.
func (p *plan) withRetries() (*plan, error) {
	q := *p
	q.retry, q.comps = nil, nil
	makesPods := map[string]bool{}
	for _, pc := range p.comps {
		makesPods[pc.c.Name] = slices.ContainsFunc(pc.objs, func(o object) bool { return slices.Contains(podKinds, groupKind(o.u)) })
	}
	for _, pc := range p.comps {
		var requires []string
		if pc.c.Sim != nil {
			requires = slices.Clone(pc.c.Sim.Requires)
		}
		folded := false
		for _, d := range pc.c.DependsOn {
			if makesPods[d] && !slices.Contains(requires, d) {
				requires, folded = append(requires, d), true
			}
		}
		if !folded || pc.c.Run != nil {
			q.comps = append(q.comps, pc)
			continue
		}
		ann := simAnnotations(pc.c)
		if ann == nil {
			ann = map[string]string{sim.AnnotationReadyAfter: "0s"}
		}
		ann[sim.AnnotationRequires] = strings.Join(requires, ",")
		qc := &component{c: pc.c}
		for _, o := range pc.objs {
			u := o.u.DeepCopy()
			if err := apply.Decorate(u, p.s.Metadata.Name, pc.c.Name, ann); err != nil {
				return nil, fmt.Errorf("%s: %w", o.source, err)
			}
			qc.objs = append(qc.objs, object{u: u, source: o.source})
		}
		q.comps = append(q.comps, qc)
	}
	return &q, nil
}

// imageRef is what ${image:NAME} resolves to, as testbed resolves it: the
// pre-built ref, or the run-unique tag a build would produce.
func imageRef(s *stack.Stack, img stack.Image, run string) string {
	if img.Ref != "" {
		return img.Ref
	}
	return fmt.Sprintf("testbed.local/%s/%s:%s", s.Metadata.Name, img.Name, run)
}

// simAnnotations are the pod annotations of a component's sim block,
// exactly as testbed writes them.
func simAnnotations(c *stack.Component) map[string]string {
	if c.Sim == nil {
		return nil
	}
	return sim.PodAnnotations(c.Sim.ReadyAfter, c.Sim.Requires, string(c.Sim.Fail))
}

// hops is the number of dependsOn edges between consecutive components of
// the critical path, plus 1 (the first component's own apply). A
// sim.requires edge is not a hop: nothing waits to be applied across it.
func hops(s *stack.Stack, critical []string) int {
	return len(hopComponents(s, critical))
}

// hopComponents are the components of the critical path that pay an
// apply-to-ready latency of their own: the first, and each one reached
// through a dependsOn edge.
func hopComponents(s *stack.Stack, critical []string) []string {
	if len(critical) == 0 {
		return nil
	}
	out := []string{critical[0]}
	for i := 1; i < len(critical); i++ {
		if c := s.Component(critical[i]); c != nil && slices.Contains(c.DependsOn, critical[i-1]) {
			out = append(out, critical[i])
		}
	}
	return out
}

// target is what testbed should come within on sim: the lower bound, plus
// the cluster's own apply-to-ready latency per hop, plus 0.3 s.
func target(lowerBound float64, hops int, latency time.Duration) float64 {
	return lowerBound + float64(hops)*latency.Seconds() + 0.3
}

// kindTarget is target with each hop's latency that of its kind: a Job's
// (the Job controller batches pod updates for a second) for the jobHops
// hops that are Jobs, a Deployment's for the others.
func kindTarget(lowerBound float64, hops, jobHops int, latency, jobLatency time.Duration) float64 {
	return lowerBound + float64(hops-jobHops)*latency.Seconds() + float64(jobHops)*jobLatency.Seconds() + 0.3
}

// waves groups the components by depth: wave 0 waits for nothing, wave k
// for components of earlier waves only, at least one of them in wave k-1.
// Within a wave, components keep the file order. This is how a script
// that respects the stack's edges brings it up: apply everything it can,
// wait for all of it, then the next wave. Both dependsOn and sim.requires
// are edges here: a script waits for a whole wave before the next, so a
// component whose pods wait for a later wave (the gateway retries
// DataStorage) would block its own wave until the script timed out.
func waves(s *stack.Stack) [][]string {
	level := map[string]int{}
	var depth func(name string, seen map[string]bool) int
	depth = func(name string, seen map[string]bool) int {
		if l, ok := level[name]; ok {
			return l
		}
		c := s.Component(name)
		if c == nil || seen[name] {
			return 0
		}
		seen[name] = true
		preds := slices.Clone(c.DependsOn)
		if c.Sim != nil {
			preds = append(preds, c.Sim.Requires...)
		}
		l := 0
		for _, d := range preds {
			l = max(l, depth(d, seen)+1)
		}
		level[name] = l
		return l
	}
	var out [][]string
	for _, c := range s.Spec.Components {
		l := depth(c.Name, map[string]bool{})
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], c.Name)
	}
	return out
}

func isCRD(u *unstructured.Unstructured) bool {
	return u.GetKind() == "CustomResourceDefinition" && strings.HasPrefix(u.GetAPIVersion(), "apiextensions.k8s.io/")
}

func isNamespace(u *unstructured.Unstructured) bool {
	return u.GetKind() == "Namespace" && u.GetAPIVersion() == "v1"
}

// crdHasStatus reports whether any version of a CRD declares a status
// subresource.
func crdHasStatus(crd *unstructured.Unstructured) bool {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if _, ok, _ := unstructured.NestedMap(m, "subresources", "status"); ok {
			return true
		}
	}
	return false
}

// groupKind is "group/Kind" of an object ("apps/Deployment", "/Service").
func groupKind(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind
}
