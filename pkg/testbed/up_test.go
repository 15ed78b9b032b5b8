package testbed_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetestbed/testbed/internal/testenv"
	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// writeStack writes files (name → content) into a temp dir and loads
// testbed.yaml from it.
func writeStack(t *testing.T, files map[string]string) *stack.Stack {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := stack.Load(filepath.Join(dir, "testbed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func options(t *testing.T) testbed.Options {
	return testbed.Options{
		AssetsDir: testenv.AssetsCacheDir(),
		StateDir:  t.TempDir(),
		DiagDir:   t.TempDir(),
	}
}

func up(t *testing.T, s *stack.Stack, opts testbed.Options) (*testbed.Env, error) {
	t.Helper()
	testenv.Assets(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, err := testbed.Up(ctx, s, opts)
	if err == nil {
		t.Cleanup(func() {
			if err := testbed.Down(context.Background(), s, opts); err != nil {
				t.Errorf("down: %v", err)
			}
		})
	}
	return env, err
}

func component(t *testing.T, r *report.Report, name string) report.Component {
	t.Helper()
	for _, c := range r.Components {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("report has no component %s", name)
	return report.Component{}
}

func at(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME}
spec:
  replicas: 1
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec: {containers: [{name: main, image: "example.invalid/NAME:1"}]}
`

func dep(name string) string { return strings.ReplaceAll(deployment, "NAME", name) }

// TestEveryKind brings up one component per kind of docs/design.md, "Readiness rules" and checks
// that each is reported ready.
func TestEveryKind(t *testing.T) {
	s := writeStack(t, map[string]string{
		"testbed.yaml": `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: kinds}
spec:
  namespace: kinds
  timeout: 3m
  components:
    - {name: deployment, manifests: [deployment.yaml], sim: {readyAfter: 1s}}
    - {name: workloads, manifests: [workloads.yaml], sim: {readyAfter: 1s}}
    - {name: job, manifests: [job.yaml], sim: {readyAfter: 1s}}
    - {name: service, manifests: [service.yaml]}
    - {name: storage, manifests: [storage.yaml]}
    - {name: crds, manifests: [crd.yaml]}
    - {name: crs, manifests: [cr.yaml]}
    - {name: plain, manifests: [plain.yaml]}
    - {name: apiservice, manifests: [apiservice.yaml]}
`,
		"deployment.yaml": dep("web"),
		"workloads.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "example.invalid/db:1"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: "example.invalid/agent:1"}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  replicas: 1
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec: {containers: [{name: rs, image: "example.invalid/rs:1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: lone, labels: {app: lone}}
spec: {containers: [{name: lone, image: "example.invalid/lone:1"}]}
`,
		"job.yaml": `apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "example.invalid/migrate:1"}]
`,
		"service.yaml": `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`,
		"storage.yaml": `apiVersion: v1
kind: PersistentVolume
metadata: {name: kinds-pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  hostPath: {path: /tmp/kinds-pv}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  resources: {requests: {storage: 1Gi}}
`,
		"crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.testbed.dev}
spec:
  group: example.testbed.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`,
		"cr.yaml": `apiVersion: example.testbed.dev/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
`,
		"plain.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
`,
		"apiservice.yaml": `apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.example.testbed.dev}
spec:
  group: example.testbed.dev
  version: v1
  groupPriorityMinimum: 1000
  versionPriority: 15
`,
	})
	env, err := up(t, s, options(t))
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if env.Report.Result != report.ResultReady {
		t.Fatalf("result %s", env.Report.Result)
	}
	kinds := map[string]bool{}
	for _, c := range env.Report.Components {
		if c.Status != report.StatusReady {
			t.Errorf("component %s: %s %s", c.Name, c.Status, c.Reason)
		}
		for _, o := range c.Objects {
			kinds[o.Kind] = true
			if o.Status != report.StatusReady {
				t.Errorf("%s %s/%s: %s", o.Kind, o.Namespace, o.Name, o.Status)
			}
		}
	}
	for _, k := range []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "Job", "Service", "PersistentVolume",
		"PersistentVolumeClaim", "CustomResourceDefinition", "Widget", "ConfigMap", "ServiceAccount", "Role", "APIService"} {
		if !kinds[k] {
			t.Errorf("no %s in the report", k)
		}
	}
	// The job is ready only once Complete, not when it starts: its
	// readyAt is at least its readyAfter past its apply.
	j := component(t, env.Report, "job")
	if at(j.ReadyAt)-at(j.AppliedAt) < 0.9 {
		t.Errorf("job ready %.2f s after apply, want ≥ its readyAfter (1 s)", at(j.ReadyAt)-at(j.AppliedAt))
	}
}

// TestOrdering checks dependsOn (apply after the dependency is ready) and
// requires (the pod clock starts once the required component is ready).
func TestOrdering(t *testing.T) {
	s := writeStack(t, map[string]string{
		"testbed.yaml": `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: order}
spec:
  namespace: order
  timeout: 3m
  components:
    - {name: db, manifests: [db.yaml], sim: {readyAfter: 2s}}
    - {name: cache, manifests: [cache.yaml], sim: {readyAfter: 3s}}
    - {name: migrate, manifests: [migrate.yaml], dependsOn: [db], sim: {readyAfter: 1s}}
    - {name: api, manifests: [api.yaml], dependsOn: [migrate], sim: {readyAfter: 1s, requires: [cache]}}
`,
		"db.yaml":    dep("db"),
		"cache.yaml": dep("cache"),
		"migrate.yaml": `apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: "example.invalid/m:1"}]
`,
		"api.yaml": dep("api"),
	})
	env, err := up(t, s, options(t))
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	r := env.Report
	db, cache, migrate, api := component(t, r, "db"), component(t, r, "cache"), component(t, r, "migrate"), component(t, r, "api")
	if at(migrate.AppliedAt) < at(db.ReadyAt) {
		t.Errorf("migrate applied at %.2f, before db was ready (%.2f)", at(migrate.AppliedAt), at(db.ReadyAt))
	}
	if at(api.AppliedAt) < at(migrate.ReadyAt) {
		t.Errorf("api applied at %.2f, before migrate was ready (%.2f)", at(api.AppliedAt), at(migrate.ReadyAt))
	}
	// db and cache have no edge between them: both applied at once.
	if d := at(cache.AppliedAt) - at(db.AppliedAt); d > 0.5 || d < -0.5 {
		t.Errorf("db and cache applied %.2f s apart, want together", d)
	}
	// api requires cache: its 1 s clock starts once cache is ready (3 s).
	if at(api.ReadyAt) < at(cache.ReadyAt)+0.9 {
		t.Errorf("api ready at %.2f, want ≥ cache ready (%.2f) + 1 s", at(api.ReadyAt), at(cache.ReadyAt))
	}
	lb, path := s.LowerBound()
	if r.LowerBoundSeconds == nil || *r.LowerBoundSeconds != lb {
		t.Errorf("report lower bound %v, want %v", r.LowerBoundSeconds, lb)
	}
	if deploy := r.Seconds - r.Phases[len(r.Phases)-1].Start; deploy < lb {
		t.Errorf("deploy took %.2f s, below the lower bound %.2f s: the sim clocks are not honoured", deploy, lb)
	}
	if strings.Join(r.CriticalPath, ",") != strings.Join(path, ",") && strings.Join(r.CriticalPath, ",") != "cache,api" {
		t.Errorf("critical path %v, want %v (or cache,api)", r.CriticalPath, path)
	}
}

// TestCRDAndCRInDifferentComponents: a CR waits for its own CRD even with
// no declared edge between their components.
func TestCRDAndCRInDifferentComponents(t *testing.T) {
	s := writeStack(t, map[string]string{
		"testbed.yaml": `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: crds}
spec:
  namespace: crds
  timeout: 90s
  components:
    - {name: crs, manifests: [cr.yaml]}
    - {name: definitions, manifests: [crd.yaml]}
    # crs heads the only dependsOn chain; it must not be applied before
    # definitions (which would wait for its CRD until the timeout).
    - {name: app, manifests: [app.yaml], dependsOn: [crs]}
`,
		"app.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: app}
`,
		"crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.testbed.dev}
spec:
  group: example.testbed.dev
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`,
		"cr.yaml": `apiVersion: example.testbed.dev/v1
kind: Gadget
metadata: {name: g1}
spec: {color: blue}
---
apiVersion: example.testbed.dev/v1
kind: Gadget
metadata: {name: g2}
spec: {color: red}
`,
	})
	env, err := up(t, s, options(t))
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	crs := component(t, env.Report, "crs")
	if crs.Status != report.StatusReady || len(crs.Objects) != 2 {
		t.Fatalf("crs: %s %s, %d objects", crs.Status, crs.Reason, len(crs.Objects))
	}
}

func TestFailures(t *testing.T) {
	t.Run("a failing Job fails the run with its reason", func(t *testing.T) {
		s := writeStack(t, map[string]string{
			"testbed.yaml": `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: jobfail}
spec:
  namespace: jobfail
  timeout: 5m
  components:
    - {name: slow, manifests: [slow.yaml], sim: {readyAfter: 120s}}
    - {name: migrate, manifests: [job.yaml], sim: {fail: JobFailed}}
`,
			"slow.yaml": dep("slow"),
			"job.yaml": `apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: "example.invalid/m:1"}]
`,
		})
		opts := options(t)
		start := time.Now()
		env, err := up(t, s, opts)
		if err == nil {
			t.Fatal("up succeeded with a failing Job")
		}
		if time.Since(start) > 90*time.Second {
			t.Errorf("took %s: not fail-fast", time.Since(start))
		}
		if testbed.KindOf(err) != testbed.KindFailed {
			t.Errorf("kind %v, want KindFailed", testbed.KindOf(err))
		}
		if !strings.Contains(err.Error(), "Job jobfail/migrate") {
			t.Errorf("error does not name the Job: %v", err)
		}
		m := component(t, env.Report, "migrate")
		if m.Status != report.StatusFailed || m.Diagnostics == "" {
			t.Errorf("migrate: %s, diagnostics %q", m.Status, m.Diagnostics)
		}
		if _, err := os.Stat(filepath.Join(m.Diagnostics, "summary.txt")); err != nil {
			t.Errorf("diagnostics bundle: %v", err)
		}
		if sl := component(t, env.Report, "slow"); sl.Status == report.StatusReady {
			t.Errorf("slow reported ready")
		}
		// Torn down: the sim cluster this run created is gone.
		if _, err := testbed.Status(context.Background(), s, opts); !errors.Is(err, testbed.ErrNotRunning) {
			t.Errorf("status after a failed run: %v, want not running", err)
		}
	})

	t.Run("a component that never gets ready times out naming the object", func(t *testing.T) {
		s := writeStack(t, map[string]string{
			"testbed.yaml": `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: never}
spec:
  namespace: never
  components:
    - {name: stuck, manifests: [stuck.yaml], sim: {fail: NeverReady}, timeout: 3s}
    - {name: slow, manifests: [slow.yaml], sim: {readyAfter: 60s}}
`,
			"stuck.yaml": dep("stuck"),
			"slow.yaml":  dep("slow"),
		})
		opts := options(t)
		opts.KeepOnFailure = true // for status, below
		t.Cleanup(func() {
			if err := testbed.Down(context.Background(), s, opts); err != nil {
				t.Errorf("down: %v", err)
			}
		})
		env, err := up(t, s, opts)
		if err == nil {
			t.Fatal("up succeeded with a NeverReady component")
		}
		if !strings.Contains(err.Error(), "Deployment never/stuck") || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("error = %v, want it to name Deployment never/stuck and say it timed out", err)
		}
		st := component(t, env.Report, "stuck")
		if st.Status != report.StatusTimeout || !strings.Contains(st.Reason, "Deployment never/stuck") {
			t.Errorf("stuck: %s %q", st.Status, st.Reason)
		}
		// Still coming up when stuck's own timeout stopped the run: pending,
		// not timed out (the stack's deadline never passed).
		if sl := component(t, env.Report, "slow"); sl.Status != report.StatusPending || sl.Reason != "" {
			t.Errorf("slow: %s %q, want pending with no reason", sl.Status, sl.Reason)
		}
		// status on the kept stack: slow is not ready yet, which is not a
		// timeout: status looks, it does not wait.
		sts, err := testbed.Status(context.Background(), s, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			if st.Name == "slow" && (st.Ready || !strings.HasPrefix(st.Reason, "not ready: Deployment never/slow: ")) {
				t.Errorf("status of slow: ready %v, reason %q; want not ready: Deployment never/slow: …", st.Ready, st.Reason)
			}
		}
	})
}

// TestKubeconfigProvider brings a stack up on an existing cluster and takes
// it down again: down deletes what testbed applied and the namespace it
// created, and leaves everything else alone.
func TestKubeconfigProvider(t *testing.T) {
	c := testenv.Cluster(t)
	cs := testenv.Clientset(t, c)
	ctx := context.Background()
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "not-ours"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := writeStack(t, map[string]string{
		"testbed.yaml": `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: existing}
spec:
  cluster:
    provider: kubeconfig
    kubeconfig: {path: ` + c.Kubeconfig + `}
  namespace: existing-app
  components:
    - {name: app, manifests: [app.yaml, cm.yaml]}
`,
		"app.yaml": dep("app"),
		"cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: ours, namespace: default}
data: {x: "1"}
`,
	})
	opts := options(t)
	env, err := testbed.Up(ctx, s, opts)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if env.Report.Provider != "kubeconfig" || env.Report.LowerBoundSeconds != nil {
		t.Errorf("report provider %s, lower bound %v", env.Report.Provider, env.Report.LowerBoundSeconds)
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := testbed.Down(dctx, s, opts); err != nil {
		t.Fatalf("down: %v", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "existing-app", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace testbed created still there: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "ours", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap testbed applied still there: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "not-ours", metav1.GetOptions{}); err != nil {
		t.Errorf("a ConfigMap testbed did not apply was touched: %v", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("pre-existing namespace default: %v", err)
	}
}

// TestRestartsOnAClusterThatRunsPods: on a provider whose pods run (here a
// kubeconfig cluster whose pods kwok plays), the report names each
// component's restarted containers with their last exit, from one list of
// the stack's pods per namespace, across namespaces.
func TestRestartsOnAClusterThatRunsPods(t *testing.T) {
	c := testenv.Cluster(t)
	crash := `apiVersion: apps/v1
kind: Deployment
metadata: {name: crash, namespace: restarts-other}
spec:
  replicas: 1
  selector: {matchLabels: {app: crash}}
  template:
    metadata:
      labels: {app: crash}
      annotations: {sim.testbed.dev/fail: CrashLoopBackOff}
    spec: {containers: [{name: main, image: "example.invalid/crash:1"}]}
`
	s := writeStack(t, map[string]string{
		"testbed.yaml": `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata: {name: restarts}
spec:
  cluster:
    provider: kubeconfig
    kubeconfig: {path: ` + c.Kubeconfig + `}
  namespace: restarts
  components:
    - {name: app, manifests: [app.yaml]}
    - {name: crash, manifests: [ns.yaml, crash.yaml], dependsOn: [app]}
`,
		"app.yaml":   dep("app"),
		"ns.yaml":    "apiVersion: v1\nkind: Namespace\nmetadata: {name: restarts-other}\n",
		"crash.yaml": crash,
	})
	env, err := up(t, s, options(t))
	if err == nil {
		t.Fatal("up succeeded with a crash-looping component")
	}
	if rs := component(t, env.Report, "app").Restarts; len(rs) != 0 {
		t.Errorf("app restarts %+v, want none", rs)
	}
	rs := component(t, env.Report, "crash").Restarts
	if len(rs) != 1 || rs[0].Container != "main" || rs[0].Count < 1 || rs[0].ExitCode != 1 || !strings.Contains(rs[0].Message, "simulated crash") {
		t.Errorf("crash restarts %+v, want its container's, with exit 1 and the message", rs)
	}
}
