package sim

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func pod(name, ns string, labels, ann map[string]string, node string, ready bool, phase corev1.PodPhase) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: ann},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase},
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	return p
}

func TestReleasable(t *testing.T) {
	comp := func(stack, c string) map[string]string {
		l := map[string]string{LabelComponent: c}
		if stack != "" {
			l[LabelStack] = stack
		}
		return l
	}
	held := func(stack, req string) *corev1.Pod {
		return pod("held", "ns", comp(stack, "app"), map[string]string{AnnotationRequires: req, AnnotationReadyAfter: "1s"}, "n1", false, corev1.PodRunning)
	}
	cases := []struct {
		name string
		pods []*corev1.Pod
		want bool
	}{
		{"required component ready", []*corev1.Pod{held("s", "db"), pod("db", "ns", comp("s", "db"), nil, "n1", true, corev1.PodRunning)}, true},
		{"required component not ready", []*corev1.Pod{held("s", "db"), pod("db", "ns", comp("s", "db"), nil, "n1", false, corev1.PodRunning)}, false},
		{"one of two pods ready", []*corev1.Pod{held("s", "db"), pod("db1", "ns", comp("s", "db"), nil, "n1", true, corev1.PodRunning), pod("db2", "ns", comp("s", "db"), nil, "n1", false, corev1.PodRunning)}, false},
		{"required component has no pods yet", []*corev1.Pod{held("s", "db")}, false},
		{"job succeeded counts", []*corev1.Pod{held("s", "migrate"), pod("m", "ns", comp("s", "migrate"), nil, "n1", false, corev1.PodSucceeded)}, true},
		{"two requirements, one missing", []*corev1.Pod{held("s", "db, cache"), pod("db", "ns", comp("s", "db"), nil, "n1", true, corev1.PodRunning)}, false},
		{"two requirements met", []*corev1.Pod{held("s", "db,cache"), pod("db", "ns", comp("s", "db"), nil, "n1", true, corev1.PodRunning), pod("c", "other", comp("s", "cache"), nil, "n1", true, corev1.PodRunning)}, true},
		{"other stack's component does not count", []*corev1.Pod{held("s", "db"), pod("db", "ns", comp("t", "db"), nil, "n1", true, corev1.PodRunning)}, false},
		{"no stack: same namespace", []*corev1.Pod{held("", "db"), pod("db", "ns", comp("", "db"), nil, "n1", true, corev1.PodRunning)}, true},
		{"no stack: other namespace does not count", []*corev1.Pod{held("", "db"), pod("db", "elsewhere", comp("", "db"), nil, "n1", true, corev1.PodRunning)}, false},
		{"unscheduled pod is not released", []*corev1.Pod{pod("held", "ns", comp("s", "app"), map[string]string{AnnotationRequires: "db"}, "", false, corev1.PodPending), pod("db", "ns", comp("s", "db"), nil, "n1", true, corev1.PodRunning)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Releasable(tc.pods)
			released := false
			for _, p := range got {
				if p.Name == "held" {
					released = true
				}
			}
			if released != tc.want {
				t.Fatalf("released = %v, want %v", released, tc.want)
			}
		})
	}
	t.Run("already released pod is left alone", func(t *testing.T) {
		p := held("s", "db")
		p.Annotations[AnnotationReadyAt] = "2026-01-01T00:00:00Z"
		if got := Releasable([]*corev1.Pod{p, pod("db", "ns", comp("s", "db"), nil, "n1", true, corev1.PodRunning)}); len(got) != 0 {
			t.Fatalf("released %d pods, want 0", len(got))
		}
	})
}

func TestStagesAreValidYAML(t *testing.T) {
	docs := strings.Split(Stages(), "\n---\n")
	names := map[string]bool{}
	for i, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if m == nil {
			continue // the leading comment
		}
		if m["kind"] != "Stage" {
			t.Fatalf("document %d: kind %v", i, m["kind"])
		}
		name := m["metadata"].(map[string]any)["name"].(string)
		names[name] = true
		if strings.Contains(d, "$(") {
			t.Fatalf("stage %s has an unreplaced placeholder", name)
		}
	}
	for _, want := range []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete",
		"testbed-pod-start", "testbed-pod-ready", "testbed-job-complete", "testbed-job-failed", "testbed-crashloop", "testbed-image-pull-backoff"} {
		if !names[want] {
			t.Errorf("stage %s missing", want)
		}
	}
}

func TestPKI(t *testing.T) {
	p, err := generatePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string) *x509.Certificate {
		data, err := os.ReadFile(p.path(name))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	roots := x509.NewCertPool()
	roots.AddCert(load(caCert))
	if _, err := load(apiserverCert).Verify(x509.VerifyOptions{Roots: roots, DNSName: "kubernetes.default.svc"}); err != nil {
		t.Errorf("apiserver cert: %v", err)
	}
	if _, err := load(apiserverCert).Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("apiserver cert for 127.0.0.1: %v", err)
	}
	admin := load(adminCert)
	if _, err := admin.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin cert: %v", err)
	}
	if len(admin.Subject.Organization) != 1 || admin.Subject.Organization[0] != "system:masters" {
		t.Errorf("admin cert organization = %v, want system:masters", admin.Subject.Organization)
	}
	for _, f := range []string{caKey, apiserverKey, adminKey, saKey} {
		fi, err := os.Stat(p.path(f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, bad := range []string{"", "Upper", "has_underscore", "-lead", strings.Repeat("a", 64), "../escape"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) = nil, want an error", bad)
		}
	}
	if err := ValidateName("ok-1"); err != nil {
		t.Errorf("ValidateName(ok-1) = %v", err)
	}
}

func TestReadStatOfSelf(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.startTime == 0 {
		t.Fatal("start time 0")
	}
	p := &proc{PID: os.Getpid(), StartTime: st.startTime}
	if !p.alive() {
		t.Fatal("this process reported dead")
	}
	p.StartTime++ // a reused PID: another process's start time
	if p.alive() {
		t.Fatal("a PID with another start time reported as ours")
	}
}

func TestChildEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		want    []string
	}{
		{"GOGC added, HOME replaced, KUBECONFIG dropped",
			[]string{"PATH=/bin", "HOME=/root", "KUBECONFIG=/x"},
			[]string{"PATH=/bin", "GOGC=" + controlPlaneGOGC, "HOME=/state/home"}},
		{"the caller's GOGC kept",
			[]string{"GOGC=50", "PATH=/bin"},
			[]string{"GOGC=50", "PATH=/bin", "HOME=/state/home"}},
		{"the caller's GOGC=off kept",
			[]string{"GOGC=off"},
			[]string{"GOGC=off", "HOME=/state/home"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := childEnvFrom(tc.environ, "/state"); !slices.Equal(got, tc.want) {
				t.Errorf("childEnvFrom(%q) = %q, want %q", tc.environ, got, tc.want)
			}
		})
	}
}
