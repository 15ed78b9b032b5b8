package sim_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubetestbed/testbed/internal/assets"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// waitFor waits for cond, re-checking on every watch event of the pods,
// workloads or objects involved (here: a short interval, bounded by timeout).
// Test-side only; the library never polls the API.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not reached within %s (last error: %v)", what, timeout, last)
	}
}

func labels(app string) map[string]string { return map[string]string{"app": app} }

func podTemplate(app string, ann map[string]string, extra map[string]string) corev1.PodTemplateSpec {
	l := labels(app)
	for k, v := range extra {
		l[k] = v
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: l, Annotations: ann},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example.invalid/" + app + ":1"}}},
	}
}

func deployment(ns, name string, replicas int32, ann map[string]string, extra map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels(name)},
			Template: podTemplate(name, ann, extra),
		},
	}
}

func job(ns, name string, ann map[string]string, extra map[string]string) *batchv1.Job {
	zero := int32(0)
	tmpl := podTemplate(name, ann, extra)
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       batchv1.JobSpec{BackoffLimit: &zero, Template: tmpl},
	}
}

func deploymentAvailable(cs kubernetes.Interface, ns, name string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		return d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == want && d.Status.UpdatedReplicas == want, nil
	}
}

func jobCondition(cs kubernetes.Interface, ns, name string, ct batchv1.JobConditionType) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == ct && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	}
}

func createNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The API rejects pods until the namespace's default ServiceAccount exists.
	waitFor(t, 30*time.Second, "default ServiceAccount in "+name, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

// podsOf returns the pods labelled app=name.
func podsOf(ctx context.Context, cs kubernetes.Interface, ns, name string) ([]corev1.Pod, error) {
	l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func condTime(p *corev1.Pod, ct corev1.PodConditionType) (time.Time, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == ct && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

func TestCluster(t *testing.T) {
	c := testenv.Cluster(t)
	cs := testenv.Clientset(t, c)
	ctx := context.Background()

	t.Run("nodes are Ready", func(t *testing.T) {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes.Items) != 3 {
			t.Fatalf("%d nodes, want 3", len(nodes.Items))
		}
		for _, n := range nodes.Items {
			ready := false
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready = true
				}
			}
			if !ready {
				t.Errorf("node %s not Ready", n.Name)
			}
		}
	})

	t.Run("server reports the pinned version", func(t *testing.T) {
		v, err := cs.Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if v.GitVersion != assets.KubernetesVersion {
			t.Fatalf("server version %s, want %s", v.GitVersion, assets.KubernetesVersion)
		}
	})

	t.Run("kubeconfig is private", func(t *testing.T) {
		fi, err := os.Stat(c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("kubeconfig mode %v, want 0600", fi.Mode().Perm())
		}
	})

	t.Run("anonymous requests are refused", func(t *testing.T) {
		cfg, err := c.RESTConfig()
		if err != nil {
			t.Fatal(err)
		}
		anon := rest.AnonymousClientConfig(cfg)
		acs, err := kubernetes.NewForConfig(anon)
		if err != nil {
			t.Fatal(err)
		}
		_, err = acs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			t.Fatalf("anonymous list: %v, want 401 Unauthorized", err)
		}
	})

	t.Run("every process listens on 127.0.0.1 only", func(t *testing.T) {
		for name, pid := range sim.PIDs(c) {
			addrs, err := listenAddrs(pid)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, a := range addrs {
				if !strings.HasPrefix(a, "127.0.0.1:") {
					t.Errorf("%s (pid %d) listens on %s", name, pid, a)
				}
			}
		}
	})

	t.Run("control plane runs with the GOGC it was given", func(t *testing.T) {
		want := "GOGC=" + sim.ControlPlaneGOGC
		if v, ok := os.LookupEnv("GOGC"); ok {
			want = "GOGC=" + v
		}
		for name, pid := range sim.PIDs(c) {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if env := strings.Split(string(data), "\x00"); !slices.Contains(env, want) {
				t.Errorf("%s (pid %d): environment has no %s", name, pid, want)
			}
		}
	})

	t.Run("workloads", func(t *testing.T) {
		ns := "workloads"
		createNamespace(t, cs, ns)
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "web", 2, nil, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		replicas := int32(2)
		sts := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
			Spec: appsv1.StatefulSetSpec{
				Replicas: &replicas, ServiceName: "db",
				Selector: &metav1.LabelSelector{MatchLabels: labels("db")},
				Template: podTemplate("db", nil, nil),
			},
		}
		if _, err := cs.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job(ns, "migrate", nil, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: labels("web"), Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, "Deployment web Available", deploymentAvailable(cs, ns, "web"))
		waitFor(t, 60*time.Second, "StatefulSet db ready", func(ctx context.Context) (bool, error) {
			s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return s.Status.ObservedGeneration == s.Generation && s.Status.ReadyReplicas == 2 && s.Status.CurrentRevision == s.Status.UpdateRevision, nil
		})
		waitFor(t, 60*time.Second, "Job migrate Complete", jobCondition(cs, ns, "migrate", batchv1.JobComplete))
		waitFor(t, 60*time.Second, "EndpointSlice of Service web with 2 ready endpoints", func(ctx context.Context) (bool, error) {
			l, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
			if err != nil {
				return false, err
			}
			ready := 0
			for _, s := range l.Items {
				for _, e := range s.Endpoints {
					if e.Conditions.Ready != nil && *e.Conditions.Ready {
						ready++
					}
				}
			}
			return ready == 2, nil
		})

		// Garbage collection: deleting the Deployment removes its ReplicaSets and pods.
		bg := metav1.DeletePropagationBackground
		if err := cs.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, "garbage collection of web's ReplicaSets and pods", func(ctx context.Context) (bool, error) {
			rs, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				return false, err
			}
			pods, err := podsOf(ctx, cs, ns, "web")
			return len(rs.Items) == 0 && len(pods) == 0, err
		})

		// Namespace deletion: the namespace controller empties and removes it.
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 90*time.Second, "namespace deletion", func(ctx context.Context) (bool, error) {
			_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
	})

	t.Run("simulated behaviour", func(t *testing.T) {
		ns := "behaviour"
		createNamespace(t, cs, ns)
		comp := func(c string) map[string]string { return map[string]string{sim.LabelComponent: c} }
		objs := []func() error{
			func() error {
				_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "slow", 1, map[string]string{sim.AnnotationReadyAfter: "3s"}, comp("slow")), metav1.CreateOptions{})
				return err
			},
			func() error {
				_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "after", 1, map[string]string{sim.AnnotationReadyAfter: "1s", sim.AnnotationRequires: "slow"}, comp("after")), metav1.CreateOptions{})
				return err
			},
			func() error {
				_, err := cs.BatchV1().Jobs(ns).Create(ctx, job(ns, "timedjob", map[string]string{sim.AnnotationReadyAfter: "2s", sim.AnnotationRequires: "after"}, comp("timedjob")), metav1.CreateOptions{})
				return err
			},
			func() error {
				_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "crash", 1, map[string]string{sim.AnnotationFail: sim.FailCrashLoopBackOff}, nil), metav1.CreateOptions{})
				return err
			},
			func() error {
				_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "pull", 1, map[string]string{sim.AnnotationFail: sim.FailImagePullBackOff}, nil), metav1.CreateOptions{})
				return err
			},
			func() error {
				_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "never", 1, map[string]string{sim.AnnotationFail: sim.FailNeverReady, sim.AnnotationReadyAfter: "1s"}, nil), metav1.CreateOptions{})
				return err
			},
			func() error {
				_, err := cs.BatchV1().Jobs(ns).Create(ctx, job(ns, "failjob", map[string]string{sim.AnnotationFail: sim.FailJobFailed}, nil), metav1.CreateOptions{})
				return err
			},
		}
		for _, create := range objs {
			if err := create(); err != nil {
				t.Fatal(err)
			}
		}

		readyAt := func(name string, ct corev1.PodConditionType) func(context.Context) (bool, error) {
			return func(ctx context.Context) (bool, error) {
				pods, err := podsOf(ctx, cs, ns, name)
				if err != nil || len(pods) == 0 {
					return false, err
				}
				_, ok := condTime(&pods[0], ct)
				return ok, nil
			}
		}
		waitFor(t, 60*time.Second, "slow Ready", readyAt("slow", corev1.PodReady))
		waitFor(t, 60*time.Second, "after Ready", readyAt("after", corev1.PodReady))
		waitFor(t, 60*time.Second, "timedjob Complete", jobCondition(cs, ns, "timedjob", batchv1.JobComplete))

		get := func(name string) corev1.Pod {
			pods, err := podsOf(ctx, cs, ns, name)
			if err != nil || len(pods) != 1 {
				t.Fatalf("pods of %s: %v (%d)", name, err, len(pods))
			}
			return pods[0]
		}
		slow, after := get("slow"), get("after")
		// readyAfter: Ready at least 3 s after the pod started. Condition
		// times have one-second resolution, hence the 1 s allowance.
		slowReady, _ := condTime(&slow, corev1.PodReady)
		if d := slowReady.Sub(slow.Status.StartTime.Time); d < 2*time.Second {
			t.Errorf("slow: Ready %s after start, want about 3s", d)
		}
		// requires: after's clock starts once slow is Ready.
		afterReady, _ := condTime(&after, corev1.PodReady)
		if !afterReady.After(slowReady) && !afterReady.Equal(slowReady) {
			t.Errorf("after Ready at %s, before slow (%s)", afterReady, slowReady)
		}
		releasedAt, err := time.Parse(time.RFC3339Nano, after.Annotations[sim.AnnotationReadyAt])
		if err != nil {
			t.Fatalf("after: no %s annotation from the gate: %v", sim.AnnotationReadyAt, err)
		}
		if releasedAt.Before(slowReady) {
			t.Errorf("after released to be ready at %s, before slow was Ready (%s)", releasedAt, slowReady)
		}
		if afterReady.Sub(slowReady) < 0 {
			t.Errorf("after Ready %s before slow", slowReady.Sub(afterReady))
		}
		// A Job's pod with requires: completes 2 s after after is Ready.
		tj, err := cs.BatchV1().Jobs(ns).Get(ctx, "timedjob", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tj.Status.CompletionTime == nil || tj.Status.CompletionTime.Time.Sub(afterReady) < time.Second {
			t.Errorf("timedjob completed at %v, want ≥ 2s after 'after' was Ready (%s)", tj.Status.CompletionTime, afterReady)
		}

		waitFor(t, 30*time.Second, "crash in CrashLoopBackOff with climbing restarts", func(ctx context.Context) (bool, error) {
			pods, err := podsOf(ctx, cs, ns, "crash")
			if err != nil || len(pods) == 0 || len(pods[0].Status.ContainerStatuses) == 0 {
				return false, err
			}
			st := pods[0].Status.ContainerStatuses[0]
			return st.State.Waiting != nil && st.State.Waiting.Reason == "CrashLoopBackOff" && st.RestartCount >= 2, nil
		})
		waitFor(t, 30*time.Second, "pull in ImagePullBackOff", func(ctx context.Context) (bool, error) {
			pods, err := podsOf(ctx, cs, ns, "pull")
			if err != nil || len(pods) == 0 || len(pods[0].Status.ContainerStatuses) == 0 {
				return false, err
			}
			st := pods[0].Status.ContainerStatuses[0]
			return pods[0].Status.Phase == corev1.PodPending && st.State.Waiting != nil && st.State.Waiting.Reason == "ImagePullBackOff", nil
		})
		waitFor(t, 60*time.Second, "failjob Failed", jobCondition(cs, ns, "failjob", batchv1.JobFailed))

		// NeverReady: Running, and still not Ready well past its ready-after.
		time.Sleep(2 * time.Second) // a negative check: give it the chance to turn Ready
		never := get("never")
		if never.Status.Phase != corev1.PodRunning {
			t.Errorf("never: phase %s, want Running", never.Status.Phase)
		}
		if _, ok := condTime(&never, corev1.PodReady); ok {
			t.Errorf("never: pod turned Ready")
		}
	})
}

// listenAddrs returns the TCP addresses pid listens on, from /proc.
func listenAddrs(pid int) ([]string, error) {
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, file := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			out = append(out, decodeAddr(f[1]))
		}
	}
	return out, nil
}

func decodeAddr(hex string) string {
	parts := strings.SplitN(hex, ":", 2)
	port, _ := strconv.ParseUint(parts[1], 16, 16)
	h := parts[0]
	var ip net.IP
	if len(h) == 8 {
		b := make([]byte, 4)
		for i := 0; i < 4; i++ {
			v, _ := strconv.ParseUint(h[i*2:i*2+2], 16, 8)
			b[3-i] = byte(v)
		}
		ip = net.IP(b)
	} else {
		b := make([]byte, 16)
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				v, _ := strconv.ParseUint(h[i*8+j*2:i*8+j*2+2], 16, 8)
				b[i*4+3-j] = byte(v)
			}
		}
		ip = net.IP(b)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
}

func TestTwoClustersAtOnceAndDeleteLeavesNothing(t *testing.T) {
	p := testenv.Provider(t, 1)
	names := []string{testenv.UniqueName("twin"), testenv.UniqueName("twin")}
	clusters := make([]*sim.Cluster, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clusters[i], errs[i] = p.Create(context.Background(), n)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create %s: %v", names[i], err)
		}
	}
	if clusters[0].Server == clusters[1].Server {
		t.Fatalf("both clusters serve on %s", clusters[0].Server)
	}
	for _, c := range clusters {
		cs := testenv.Clientset(t, c)
		if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}
	listed, err := p.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, c := range listed {
		if c.Name == names[0] || c.Name == names[1] {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("List found %d of the 2 clusters", found)
	}
	for _, c := range clusters {
		pids := sim.PIDs(c)
		if err := p.Delete(context.Background(), c.Name); err != nil {
			t.Fatal(err)
		}
		for name, pid := range pids {
			if running(pid) {
				t.Errorf("%s: %s (pid %d) still running after delete", c.Name, name, pid)
			}
		}
		if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: state directory %s still there (%v)", c.Name, c.Dir, err)
		}
	}
}

// running reports whether pid is a live (non-zombie) process.
func running(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z' && s[i+2] != 'X'
}

func TestBadInput(t *testing.T) {
	p := testenv.Provider(t, 1)

	t.Run("delete an unknown cluster", func(t *testing.T) {
		err := p.Delete(context.Background(), "no-such-cluster")
		var nf *sim.NotFoundError
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), `"no-such-cluster" not found`) {
			t.Fatalf("err = %v, want a not-found error naming the cluster", err)
		}
	})

	t.Run("invalid cluster name", func(t *testing.T) {
		_, err := p.Create(context.Background(), "Bad_Name")
		if err == nil || !strings.Contains(err.Error(), `invalid cluster name "Bad_Name"`) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("a port taken between choice and bind is retried", func(t *testing.T) {
		// Hold a port, and make the first attempt choose it for kube-apiserver.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		taken := l.Addr().(*net.TCPAddr).Port
		calls := 0
		sim.SetPortPicker(p, func(n int) ([]int, error) {
			calls++
			ports, err := sim.FreePorts(n)
			if err == nil && calls == 1 {
				ports[2] = taken // the apiserver's port
			}
			return ports, err
		})
		defer sim.SetPortPicker(p, sim.FreePorts)
		name := testenv.UniqueName("port")
		c, err := p.Create(context.Background(), name)
		if err != nil {
			t.Fatalf("create with a conflicting port: %v", err)
		}
		defer p.Delete(context.Background(), name)
		if calls < 2 {
			t.Fatalf("ports chosen %d times, want a retry", calls)
		}
		if strings.HasSuffix(c.Server, ":"+strconv.Itoa(taken)) {
			t.Fatalf("cluster serves on the taken port %d", taken)
		}
	})

	t.Run("a process that dies at start is reported with its log", func(t *testing.T) {
		real := testenv.Assets(t)
		dir := t.TempDir()
		for _, b := range assets.All {
			if err := os.Symlink(real.Path(b), filepath.Join(dir, string(b))); err != nil {
				t.Fatal(err)
			}
		}
		os.Remove(filepath.Join(dir, "etcd"))
		script := "#!/bin/sh\necho 'etcd: cannot open the data directory: disk on fire' >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		set, err := assets.UseBinaries(dir)
		if err != nil {
			t.Fatal(err)
		}
		bp := sim.New(sim.Options{StateDir: testenv.StateDir(), Assets: set})
		name := testenv.UniqueName("dies")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err = bp.Create(ctx, name)
		if err == nil {
			bp.Delete(context.Background(), name)
			t.Fatal("create succeeded with a broken etcd")
		}
		if ctx.Err() != nil {
			t.Fatalf("create hung until the deadline: %v", err)
		}
		if !strings.Contains(err.Error(), "etcd exited during start") || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("err = %v, want it to name etcd and quote its log", err)
		}
		if _, err := os.Stat(filepath.Join(testenv.StateDir(), name)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("state left behind after a failed create: %v", err)
		}
	})

	t.Run("a process that dies later is reported by Healthy", func(t *testing.T) {
		name := testenv.UniqueName("health")
		c, err := p.Create(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Delete(context.Background(), name)
		if err := c.Healthy(); err != nil {
			t.Fatalf("fresh cluster unhealthy: %v", err)
		}
		pid := sim.PIDs(c)["kwok"]
		proc, _ := os.FindProcess(pid)
		proc.Kill()
		waitFor(t, 10*time.Second, "kwok gone", func(context.Context) (bool, error) { return !running(pid), nil })
		got, err := p.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		err = got.Healthy()
		if err == nil || !strings.Contains(err.Error(), "kwok (pid") || !strings.Contains(err.Error(), "last log lines") {
			t.Fatalf("Healthy() = %v, want kwok named with its log", err)
		}
	})

	t.Run("create of an existing cluster", func(t *testing.T) {
		name := testenv.UniqueName("dup")
		if _, err := p.Create(context.Background(), name); err != nil {
			t.Fatal(err)
		}
		defer p.Delete(context.Background(), name)
		_, err := p.Create(context.Background(), name)
		var ex *sim.ExistsError
		if !errors.As(err, &ex) {
			t.Fatalf("err = %v, want ExistsError", err)
		}
	})
}
