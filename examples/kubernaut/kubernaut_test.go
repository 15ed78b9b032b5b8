package kubernaut_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/testenv"
	"github.com/kubetestbed/testbed/pkg/report"
	"github.com/kubetestbed/testbed/pkg/stack"
	"github.com/kubetestbed/testbed/pkg/testbed"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// port is a spec.ports entry: NodePort from the seed's port table (API
// 3008X, metrics 3018X), host port where the suites fixed one (0: auto).
type port struct {
	nodePort int
	hostPort stack.HostPort
}

// want is what each of the seven stacks must hold.
type want struct {
	file       string
	components []string
	ports      map[string]port
	lowerBound float64
	// service is the stack's own service: the last component of its
	// critical path.
	service string
}

// shared are the components and images of the shared DataStorage stack,
// identical in all seven stack files.
var (
	sharedComponents = []string{"postgresql", "redis", "migrations", "datastorage"}
	sharedImages     = []string{"postgres", "redis", "migrations", "datastorage"}
	sharedPath       = []string{"postgresql", "migrations", "datastorage"}
)

func withShared(extra ...string) []string { return append(slices.Clone(sharedComponents), extra...) }

var stacks = []want{
	{
		file:       "datastorage.yaml",
		components: withShared(),
		ports: map[string]port{
			"datastorage-api": {30081, 28090},
			"postgresql":      {30432, 25433},
		},
		lowerBound: 55, // 10 + 35 + 10
		service:    "datastorage",
	},
	{
		file:       "gateway.yaml",
		components: withShared("crds", "gateway"),
		ports: map[string]port{
			"gateway-api":     {30080, 8080},
			"gateway-metrics": {30090, 9090},
			"datastorage-api": {30081, stack.AutoHostPort},
		},
		lowerBound: 90, // 55 + 35 (requires datastorage)
		service:    "gateway",
	},
	{
		file:       "remediationorchestrator.yaml",
		components: withShared("crds", "remediationorchestrator"),
		ports: map[string]port{
			"remediationorchestrator-metrics": {30183, stack.AutoHostPort},
			"datastorage-api":                 {30081, stack.AutoHostPort},
		},
		lowerBound: 70,
		service:    "remediationorchestrator",
	},
	{
		file:       "signalprocessing.yaml",
		components: withShared("crds", "signalprocessing"),
		ports: map[string]port{
			"signalprocessing-metrics": {30182, stack.AutoHostPort},
			"datastorage-api":          {30081, stack.AutoHostPort},
		},
		lowerBound: 70,
		service:    "signalprocessing",
	},
	{
		file:       "holmesgpt-api.yaml",
		components: withShared("holmesgpt-api"),
		ports: map[string]port{
			"holmesgpt-api":   {30088, stack.AutoHostPort},
			"datastorage-api": {30098, stack.AutoHostPort},
		},
		lowerBound: 70,
		service:    "holmesgpt-api",
	},
	{
		file:       "workflowexecution.yaml",
		components: withShared("tekton", "workflow-namespaces", "crds", "workflowexecution", "register-workflows"),
		ports: map[string]port{
			"workflowexecution-metrics": {30185, stack.AutoHostPort},
			"datastorage-api":           {30081, stack.AutoHostPort},
		},
		lowerBound: 70,
		service:    "workflowexecution",
	},
	{
		file:       "notification.yaml",
		components: withShared("crds", "notification"),
		ports: map[string]port{
			"notification-metrics": {30186, stack.AutoHostPort},
			"datastorage-api":      {30081, stack.AutoHostPort},
		},
		lowerBound: 95, // 55 + 40
		service:    "notification",
	},
}

func load(t *testing.T, file string) *stack.Stack {
	t.Helper()
	s, err := stack.Load(file)
	if err != nil {
		t.Fatalf("%s does not validate:\n%v", file, err)
	}
	return s
}

// TestStacks loads the seven stacks and checks their components, ports,
// lower bound and critical path, and that the shared DataStorage part is
// the same in all of them.
func TestStacks(t *testing.T) {
	var ref *stack.Stack
	for _, w := range stacks {
		t.Run(w.file, func(t *testing.T) {
			s := load(t, w.file)
			if s.Spec.Namespace != "kubernaut-system" {
				t.Errorf("namespace %q, want kubernaut-system", s.Spec.Namespace)
			}

			var names []string
			for _, c := range s.Spec.Components {
				names = append(names, c.Name)
			}
			if !slices.Equal(names, w.components) {
				t.Errorf("components %v, want %v", names, w.components)
			}

			got := map[string]port{}
			for _, p := range s.Spec.Ports {
				got[p.Name] = port{p.NodePort, p.HostPort}
			}
			if !reflect.DeepEqual(got, w.ports) {
				t.Errorf("ports %v, want %v", got, w.ports)
			}

			bound, path := s.LowerBound()
			if bound != w.lowerBound {
				t.Errorf("lower bound %.1f s, want %.1f s (update README.md too)", bound, w.lowerBound)
			}
			if len(path) == 0 || path[len(path)-1] != w.service {
				t.Errorf("critical path %v does not end at the stack's own service %s", path, w.service)
			}
			if !slices.Equal(path[:min(len(path), 3)], sharedPath) {
				t.Errorf("critical path %v does not start with %v", path, sharedPath)
			}
			// The deploy start applies PostgreSQL, the head of the longest
			// dependsOn chain, before Redis, CRDs, Tekton and the rest.
			var first []string
			plan, err := testbed.NewPlan(s, testbed.Options{StateDir: t.TempDir()})
			if plan != nil {
				first = plan.ApplyFirst
			}
			if err != nil || !slices.Equal(first, sharedPath[:1]) {
				t.Errorf("applied first %v (%v), want %v", first, err, sharedPath[:1])
			}

			// The shared DataStorage part, word for word as in datastorage.yaml.
			if ref == nil {
				ref = s
				return
			}
			for _, name := range sharedComponents {
				if a, b := s.Component(name), ref.Component(name); !reflect.DeepEqual(a, b) {
					t.Errorf("component %s differs from datastorage.yaml's:\n got %s\nwant %s", name, dump(a), dump(b))
				}
			}
			for _, name := range sharedImages {
				if a, b := image(s, name), image(ref, name); !reflect.DeepEqual(a, b) {
					t.Errorf("image %s differs from datastorage.yaml's:\n got %s\nwant %s", name, dump(a), dump(b))
				}
			}
		})
	}
}

func dump(v any) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(out)
}

func image(s *stack.Stack, name string) *stack.Image {
	for i := range s.Spec.Images {
		if s.Spec.Images[i].Name == name {
			return &s.Spec.Images[i]
		}
	}
	return nil
}

// TestUpOnSim brings up two of the stacks on the sim provider through the
// library: datastorage (the shared part alone) and workflowexecution (the
// largest, with a run step), at once, each in its own sim cluster.
func TestUpOnSim(t *testing.T) {
	testenv.Assets(t) // builds the control plane on first use, else reuses the cache
	// The workflow registration step finds kubectl through $KUBECTL first.
	t.Setenv("KUBECTL", testenv.Assets(t).Path(assets.Kubectl))

	for _, file := range []string{"datastorage.yaml", "workflowexecution.yaml"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			s := load(t, file)
			opts := testbed.Options{
				AssetsDir: testenv.AssetsCacheDir(),
				StateDir:  t.TempDir(),
				DiagDir:   t.TempDir(),
			}
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			start := time.Now()
			env, err := testbed.Up(ctx, s, opts)
			t.Cleanup(func() {
				if err := testbed.Down(context.Background(), s, opts); err != nil {
					t.Errorf("down: %v", err)
				}
			})
			if err != nil {
				t.Fatalf("up: %v", err)
			}
			r := env.Report
			if r.Result != report.ResultReady {
				t.Fatalf("result %s, want ready", r.Result)
			}
			bound, path := s.LowerBound()
			t.Logf("%s ready in %.1f s (lower bound %.1f s, critical path %v)", s.Metadata.Name, time.Since(start).Seconds(), bound, path)
			if r.LowerBoundSeconds == nil || *r.LowerBoundSeconds != bound {
				t.Errorf("report lower bound %v, want %.1f", r.LowerBoundSeconds, bound)
			}

			comps := map[string]report.Component{}
			for _, c := range r.Components {
				comps[c.Name] = c
				if c.Status != report.StatusReady || c.AppliedAt == nil || c.ReadyAt == nil {
					t.Errorf("component %s: status %s, applied %v, ready %v", c.Name, c.Status, c.AppliedAt, c.ReadyAt)
				}
			}
			if len(comps) != len(s.Spec.Components) {
				t.Fatalf("report has %d components, the stack %d", len(comps), len(s.Spec.Components))
			}
			if t.Failed() {
				return
			}
			// dependsOn: a component is applied (a run step started) only
			// once everything it depends on is ready.
			for _, c := range s.Spec.Components {
				for _, d := range c.DependsOn {
					if applied, ready := *comps[c.Name].AppliedAt, *comps[d].ReadyAt; applied < ready {
						t.Errorf("%s applied at %.2f s, before %s was ready at %.2f s", c.Name, applied, d, ready)
					}
				}
			}
			// The readiness the sim models: no component is ready sooner
			// after its start than its readyAfter.
			for _, c := range s.Spec.Components {
				if c.Sim == nil || len(c.Sim.Requires) > 0 {
					continue
				}
				rc := comps[c.Name]
				if took := *rc.ReadyAt - *rc.AppliedAt; took < c.Sim.ReadyAfter.Seconds()-0.5 {
					t.Errorf("%s ready %.1f s after apply, sooner than its readyAfter %s", c.Name, took, c.Sim.ReadyAfter)
				}
			}
			// The workflow registration step really ran against the cluster.
			if s.Component("register-workflows") != nil {
				checkRegistered(t, env)
			}
			order := make([]string, 0, len(comps))
			for name := range comps {
				order = append(order, name)
			}
			sort.Slice(order, func(i, j int) bool { return *comps[order[i]].ReadyAt < *comps[order[j]].ReadyAt })
			t.Logf("ready order: %v", order)
		})
	}
}

// checkRegistered reads back what hack/register-workflows.sh created.
func checkRegistered(t *testing.T, env *testbed.Env) {
	t.Helper()
	kubectl := os.Getenv("KUBECTL")
	for _, args := range [][]string{
		{"-n", "kubernaut-system", "get", "configmap", "workflow-hello-world", "workflow-intentional-failure", "-o", "name"},
		{"-n", "kubernaut-workflows", "get", "pipelines.tekton.dev", "test-hello-world", "test-intentional-failure", "-o", "name"},
	} {
		out, err := command(kubectl, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
		if err != nil {
			t.Errorf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	// Run by hand (no TESTBED_RUN: it checks DataStorage and Tekton
	// itself), again: the same two workflows, nothing new.
	cmd := exec.Command("./hack/register-workflows.sh")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TESTBED_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "KUBECONFIG="+env.Kubeconfig, "TESTBED_STACK="+env.Stack.Metadata.Name, "TESTBED_NAMESPACE="+env.Stack.Spec.Namespace)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "waiting for DataStorage and Tekton") || !strings.Contains(string(out), "2 workflows registered") {
		t.Errorf("register-workflows.sh by hand: %v\n%s", err, out)
	}
}

func command(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
