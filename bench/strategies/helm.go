package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// helmVersion is the Helm the benchmark builds with -helm build.
const helmVersion = "v4.3.1"

// helmCachePath is where -helm build puts the binary, under the user's
// cache directory, so that it is built once.
func helmCachePath() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "testbed", "bench", "helm-"+helmVersion, "helm")
}

// resolveHelm turns the -helm flag into a binary path, or "" to leave Helm
// out: "off"; "auto" (the cached build, if there is one); "build" (go
// install helm.sh/helm/v4/cmd/helm@v4.3.1 from the module proxy into the
// cache, once, outside this module so that go.mod is not touched); or a
// path.
func resolveHelm(ctx context.Context, flag string, logf func(string, ...any)) (string, error) {
	cached := helmCachePath()
	switch flag {
	case "off", "":
		return "", nil
	case "auto":
		if _, err := os.Stat(cached); err == nil {
			return cached, nil
		}
		logf("no Helm %s at %s: the helm column is left out (build it with -helm build)", helmVersion, cached)
		return "", nil
	case "build":
		if _, err := os.Stat(cached); err == nil {
			return cached, nil
		}
		logf("building Helm %s from the Go module proxy into %s", helmVersion, filepath.Dir(cached))
		cmd := exec.CommandContext(ctx, "go", "install", "helm.sh/helm/v4/cmd/helm@"+helmVersion)
		cmd.Dir = os.TempDir()
		cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(cached), "GOFLAGS=")
		started := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go install helm.sh/helm/v4/cmd/helm@%s: %w\n%s", helmVersion, err, tailLines(string(out), 20))
		}
		logf("built Helm %s in %s", helmVersion, time.Since(started).Round(time.Second))
		return cached, nil
	}
	if _, err := os.Stat(flag); err != nil {
		return "", fmt.Errorf("-helm %s: %w", flag, err)
	}
	return flag, nil
}

// runHelm is `helm install --wait --wait-for-jobs` (Helm v4: server-side
// apply, then kstatus's watcher over every object) of one chart holding
// every object of the stack, decorated as the others are: Helm has no
// dependsOn, so everything is applied at once, like the seed. The chart's
// template only includes a plain file, so nothing in the manifests is
// read as a template. Run steps come after, as post-install steps. The
// chart is written before the clock starts.
func runHelm(ctx context.Context, e *env, p *plan, cl *cluster) (*outcome, error) {
	if e.helm == "" {
		return nil, errSkipped
	}
	dir, err := e.scratch("helm")
	if err != nil {
		return nil, err
	}
	sc, err := newScoper(cl.cfg, p)
	if err != nil {
		return nil, err
	}
	chart := filepath.Join(dir, "chart")
	if err := writeChart(chart, p, sc); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, e.helm, "install", p.s.Metadata.Name, chart,
		"--kubeconfig", cl.c.Kubeconfig, "--namespace", p.s.Spec.Namespace, "--create-namespace",
		"--wait", "--wait-for-jobs", "--timeout", p.s.Spec.Timeout.String())
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HELM_DATA_HOME="+filepath.Join(dir, "data"))
	var outb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outb, &outb

	c, err := newClient(cl.cfg, p)
	if err != nil {
		return nil, err
	}
	out := &outcome{readyAt: map[string]time.Duration{}}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm install: %w\n%s", err, tailLines(outb.String(), 20))
	}
	installed := time.Since(start)
	refs := map[string][]applied{}
	for _, pc := range p.comps {
		if pc.c.Run == nil {
			out.readyAt[pc.c.Name] = installed
		}
	}
	if err := runStepsAfter(ctx, p, cl, out, start); err != nil {
		return nil, err
	}
	out.deploy = time.Since(start)
	for _, pc := range p.comps {
		if pc.c.Run != nil {
			continue
		}
		for _, o := range pc.objs {
			m, err := c.app.Mapping(o.u.GroupVersionKind())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", o.source, err)
			}
			ns := ""
			if sc.namespaced(o.u) {
				ns = o.u.GetNamespace()
				if ns == "" {
					ns = p.s.Spec.Namespace
				}
			}
			refs[pc.c.Name] = append(refs[pc.c.Name], applied{gvr: m.Resource, gk: groupKind(o.u), namespace: ns, name: o.u.GetName()})
		}
	}
	out.races = findRaces(ctx, c, p, refs, start)
	return out, nil
}

// writeChart writes a chart holding every object of p's manifest
// components, with explicit namespaces: the CRDs in crds/ (Helm installs
// those first and waits for them, as a chart author would put them), the
// rest as one template that only includes a plain file, so that nothing in
// the manifests is read as a template. Namespace objects for the
// namespaces the objects use and no file declares, other than the
// release's (which --create-namespace makes), come first.
func writeChart(dir string, p *plan, sc *scoper) error {
	for _, d := range []string{"templates", "files", "crds"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	chartYAML := fmt.Sprintf("apiVersion: v2\nname: %s\nversion: 0.1.0\ndescription: every object of the %s stack, for the strategies benchmark\n", p.s.Metadata.Name, p.s.Metadata.Name)
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(chartYAML), 0o644); err != nil {
		return err
	}
	tmpl := "{{ .Files.Get \"files/objects.yaml\" }}\n"
	if err := os.WriteFile(filepath.Join(dir, "templates", "objects.yaml"), []byte(tmpl), 0o644); err != nil {
		return err
	}
	declared := map[string]bool{p.s.Spec.Namespace: true}
	var nsObjs, crds, objs []*unstructured.Unstructured
	for _, pc := range p.comps {
		for _, o := range pc.objs {
			if isNamespace(o.u) {
				declared[o.u.GetName()] = true
			}
		}
	}
	for _, pc := range p.comps {
		for _, o := range pc.objs {
			u := o.u.DeepCopy()
			switch {
			case isNamespace(u) && u.GetName() == p.s.Spec.Namespace:
				continue // --create-namespace makes it
			case isCRD(u):
				crds = append(crds, u)
				continue
			}
			if sc.namespaced(u) {
				if u.GetNamespace() == "" {
					u.SetNamespace(p.s.Spec.Namespace)
				}
				if !declared[u.GetNamespace()] {
					declared[u.GetNamespace()] = true
					nsObjs = append(nsObjs, namespaceObject(u.GetNamespace(), p.s.Metadata.Name))
				}
			} else {
				u.SetNamespace("")
			}
			objs = append(objs, u)
		}
	}
	if len(crds) > 0 {
		if _, err := writeObjects(filepath.Join(dir, "crds"), "crds.yaml", crds); err != nil {
			return err
		}
	}
	_, err := writeObjects(filepath.Join(dir, "files"), "objects.yaml", append(nsObjs, objs...))
	return err
}
