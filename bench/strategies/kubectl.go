package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/kubetestbed/testbed/internal/apply"
)

// kubectlTimeout bounds each kubectl wait, as the seed's Eventually did.
const kubectlTimeout = "2m"

// scoper says whether a kind is namespaced: from the cluster's discovery for
// built-in kinds, from the stack's CRDs for its custom resources. A script
// writer knows this; it is worked out before the clock starts.
type scoper struct {
	mapper  *restmapper.DeferredDiscoveryRESTMapper
	crdNS   map[string]bool // group/Kind -> namespaced
	builtin map[string]bool
}

func newScoper(cfg *rest.Config, p *plan) (*scoper, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	gr, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		return nil, err
	}
	sc := &scoper{crdNS: map[string]bool{}, builtin: map[string]bool{}}
	m := restmapper.NewDiscoveryRESTMapper(gr)
	for _, pc := range p.comps {
		for _, o := range pc.objs {
			if !isCRD(o.u) {
				continue
			}
			group, _, _ := unstructured.NestedString(o.u.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.u.Object, "spec", "names", "kind")
			scope, _, _ := unstructured.NestedString(o.u.Object, "spec", "scope")
			sc.crdNS[group+"/"+kind] = scope != "Cluster"
		}
	}
	for _, pc := range p.comps {
		for _, o := range pc.objs {
			gk := groupKind(o.u)
			if _, ok := sc.crdNS[gk]; ok {
				continue
			}
			gvk := o.u.GroupVersionKind()
			mapping, err := m.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", o.source, err)
			}
			sc.builtin[gk] = mapping.Scope.Name() == "namespace"
		}
	}
	return sc, nil
}

func (sc *scoper) namespaced(u *unstructured.Unstructured) bool {
	gk := groupKind(u)
	if ns, ok := sc.crdNS[gk]; ok {
		return ns
	}
	return sc.builtin[gk]
}

// kubectlStep is one command of the script.
type kubectlStep struct {
	args []string
	comp string // the component this wait belongs to, if it is a wait
}

// kubectlWave is what the script does for one wave of components.
type kubectlWave struct {
	steps []kubectlStep
	comps []string // manifest components, ready when their last wait returns
	runs  []string // run steps, after the waits
}

// runKubectl is what a careful shell script does with kubectl: the stack's
// components in waves (everything that waits for nothing, then everything
// whose dependsOn and sim.requires are in earlier waves, …; see waves);
// per wave one `kubectl apply --server-side -f wave.yaml` of all its
// objects (Namespaces and CRDs first in the file; CRDs applied and waited
// for Established first when the wave also holds their custom resources),
// then, one after the other, `kubectl rollout status` for every
// Deployment, StatefulSet and DaemonSet, `kubectl wait
// --for=condition=complete` for every Job, `--for=condition=established`
// for every CRD, `--for=condition=ready` for every bare Pod and
// `--for=jsonpath={.status.phase}=Bound` for every PVC (kubectl's own
// watch-based waits; Services are not waited for, as scripts do not), then
// the wave's run steps. The files are written before the clock starts.
func runKubectl(ctx context.Context, e *env, p *plan, cl *cluster) (*outcome, error) {
	dir, err := e.scratch("kubectl")
	if err != nil {
		return nil, err
	}
	sc, err := newScoper(cl.cfg, p)
	if err != nil {
		return nil, err
	}
	ws, err := kubectlScript(dir, p, sc)
	if err != nil {
		return nil, err
	}
	kubectl := func(ctx context.Context, args ...string) error {
		full := append([]string{"--kubeconfig", cl.c.Kubeconfig, "--cache-dir", filepath.Join(dir, "cache")}, args...)
		cmd := exec.CommandContext(ctx, e.kubectl, full...)
		var outb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &outb, &outb
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, tailLines(outb.String(), 20))
		}
		return nil
	}

	out := &outcome{readyAt: map[string]time.Duration{}}
	start := time.Now()
	for _, w := range ws {
		for _, st := range w.steps {
			if err := kubectl(ctx, st.args...); err != nil {
				return nil, err
			}
			if st.comp != "" {
				out.readyAt[st.comp] = time.Since(start)
			}
		}
		for _, name := range w.comps {
			if _, ok := out.readyAt[name]; !ok {
				out.readyAt[name] = time.Since(start) // nothing to wait for: ready on apply
			}
		}
		for _, name := range w.runs {
			if err := runStep(ctx, p, p.component(name).c, cl.c.Kubeconfig); err != nil {
				return nil, err
			}
			out.readyAt[name] = time.Since(start)
		}
	}
	out.deploy = time.Since(start)
	return out, nil
}

// kubectlScript writes the wave files into dir and returns the script.
func kubectlScript(dir string, p *plan, sc *scoper) ([]kubectlWave, error) {
	declared := map[string]bool{}
	var out []kubectlWave
	for i, names := range waves(p.s) {
		var w kubectlWave
		var nsObjs, crds, custom, rest []*unstructured.Unstructured
		var waits []kubectlStep
		used := []string{}
		for _, name := range names {
			pc := p.component(name)
			if pc.c.Run != nil {
				w.runs = append(w.runs, name)
				continue
			}
			w.comps = append(w.comps, name)
			for _, o := range pc.objs {
				u := o.u.DeepCopy()
				if sc.namespaced(u) {
					if u.GetNamespace() == "" {
						u.SetNamespace(p.s.Spec.Namespace)
					}
					used = append(used, u.GetNamespace())
				} else {
					u.SetNamespace("")
				}
				switch {
				case isNamespace(u):
					declared[u.GetName()] = true
					nsObjs = append(nsObjs, u)
				case isCRD(u):
					crds = append(crds, u)
				case isCustom(u, p):
					custom = append(custom, u)
				default:
					rest = append(rest, u)
				}
				if args := waitArgs(u); args != nil {
					waits = append(waits, kubectlStep{args: args, comp: name})
				}
			}
		}
		// A script creates the namespaces its objects need and no file declares.
		var created []*unstructured.Unstructured
		for _, ns := range used {
			if !declared[ns] {
				declared[ns] = true
				created = append(created, namespaceObject(ns, p.s.Metadata.Name))
			}
		}
		nsObjs = append(created, nsObjs...)
		if len(nsObjs)+len(crds)+len(custom)+len(rest) > 0 {
			first := slices.Concat(nsObjs, crds)
			if len(custom) > 0 && len(crds) > 0 {
				file, err := writeObjects(dir, fmt.Sprintf("wave-%d-crds.yaml", i), first)
				if err != nil {
					return nil, err
				}
				w.steps = append(w.steps, kubectlStep{args: applyArgs(file)})
				wait := []string{"wait", "--for=condition=established", "--timeout=" + kubectlTimeout}
				for _, c := range crds {
					wait = append(wait, "crd/"+c.GetName())
				}
				w.steps = append(w.steps, kubectlStep{args: wait})
				first = nil
			}
			file, err := writeObjects(dir, fmt.Sprintf("wave-%d.yaml", i), slices.Concat(first, custom, rest))
			if err != nil {
				return nil, err
			}
			w.steps = append(w.steps, kubectlStep{args: applyArgs(file)})
		}
		w.steps = append(w.steps, waits...)
		out = append(out, w)
	}
	return out, nil
}

func applyArgs(file string) []string {
	return []string{"apply", "--server-side", "--field-manager=bench", "-f", file}
}

// waitArgs is the kubectl command a script waits for an object with, or
// nil when it would not wait for it.
func waitArgs(u *unstructured.Unstructured) []string {
	ns := []string{"-n", u.GetNamespace()}
	timeout := "--timeout=" + kubectlTimeout
	switch groupKind(u) {
	case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet":
		return append([]string{"rollout", "status", strings.ToLower(u.GetKind()) + "/" + u.GetName(), timeout}, ns...)
	case "batch/Job":
		return append([]string{"wait", "--for=condition=complete", "job/" + u.GetName(), timeout}, ns...)
	case "/Pod":
		return append([]string{"wait", "--for=condition=ready", "pod/" + u.GetName(), timeout}, ns...)
	case "/PersistentVolumeClaim":
		return append([]string{"wait", "--for=jsonpath={.status.phase}=Bound", "pvc/" + u.GetName(), timeout}, ns...)
	case "apiextensions.k8s.io/CustomResourceDefinition":
		return []string{"wait", "--for=condition=established", "crd/" + u.GetName(), timeout}
	}
	return nil
}

// isCustom reports whether u is a custom resource of a CRD in the stack.
func isCustom(u *unstructured.Unstructured, p *plan) bool {
	_, ok := p.crds[groupKind(u)]
	return ok
}

func namespaceObject(name, stackName string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Namespace",
		"metadata": map[string]any{"name": name, "labels": map[string]any{
			apply.LabelManagedBy: apply.ManagedBy,
			apply.LabelStack:     stackName,
		}},
	}}
}

// writeObjects writes objs as one multi-document YAML file.
func writeObjects(dir, name string, objs []*unstructured.Unstructured) (string, error) {
	var b bytes.Buffer
	for _, u := range objs {
		y, err := yaml.Marshal(u.Object)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, b.Bytes(), 0o644)
}
