package main_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kubetestbed/testbed/internal/cluster/kind"
	"github.com/kubetestbed/testbed/internal/testenv"
)

// The kind provider through the CLI, as far as this machine goes: it has
// a container engine but no kind node image and cannot pull one, so no
// kind cluster can start here.

// kindStack is a stack on kind; NODEIMAGE, HOSTPORT and IMAGE are
// replaced.
const kindStack = `apiVersion: testbed.dev/v1alpha1
kind: Stack
metadata:
  name: NAME
spec:
  cluster:
    provider: kind
    kind: {nodeImage: "kindest/node:v0.0.0-testbed-missing"}
  images:
    - IMAGE
  ports:
    - {name: web, nodePort: 30080, hostPort: HOSTPORT}
  components:
    - {name: a, manifests: [cm.yaml]}
`

// writeKindStack writes a kind stack called name with image (a stack
// image entry) and hostPort, and returns its file.
func writeKindStack(t *testing.T, name, image, hostPort string) string {
	t.Helper()
	dir := t.TempDir()
	stack := strings.NewReplacer("NAME", name, "IMAGE", image, "HOSTPORT", hostPort).Replace(kindStack)
	files := map[string]string{"testbed.yaml": stack, "cm.yaml": cmYAML, "Dockerfile": "FROM scratch\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "testbed.yaml")
}

// needDocker skips the test when the Docker daemon does not answer.
func needDocker(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "version").Run(); err != nil {
		t.Skipf("needs a Docker daemon: %v", err)
	}
}

// kindContainers lists the containers kind made for clusters of stack,
// running or not.
func kindContainers(t *testing.T, stack string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--format", `{{.ID}} {{.Label "io.x-k8s.kind.cluster"}}`, "--filter", "label=io.x-k8s.kind.cluster").CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v: %s", err, out)
	}
	// Other tests (and other processes) run kind clusters meanwhile: only
	// this stack's count.
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		id, cluster, _ := strings.Cut(line, " ")
		if strings.HasPrefix(cluster, "testbed-"+stack) {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, " ")
}

// kindLeftovers lists what a kind run left in state: cluster directories
// and port lock files.
func kindLeftovers(t *testing.T, state string) []string {
	t.Helper()
	var left []string
	for _, dir := range []string{"clusters", "ports"} {
		entries, _ := os.ReadDir(filepath.Join(state, "kind", dir))
		for _, e := range entries {
			left = append(left, filepath.Join(dir, e.Name()))
		}
	}
	return left
}

func freeHostPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestKindPlan(t *testing.T) {
	needDocker(t)
	for _, tc := range []struct {
		name, image string
		want        []string
	}{
		{"dockerfile image", "{name: app, context: .}", []string{"built, then loaded into the cluster"}},
		// A go image's tag hashes its binary: the plan says it is pending.
		{"go image", "{name: app, go: {package: ./cmd/app}}", []string{"testbed.local/kindplan/app:pending-go-build",
			"built with go build ./cmd/app into an image FROM scratch (its tag: the binary's hash, known once built), then loaded into the cluster"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeKindStack(t, "kindplan", tc.image, "auto")
			state := t.TempDir()
			r := run(t, state, "plan", "-f", file)
			if r.code != 0 {
				t.Fatalf("plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range append([]string{"provider kind"}, tc.want...) {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("plan's output lacks %q:\n%s", want, r.stdout)
				}
			}
			if left := kindLeftovers(t, state); len(left) > 0 {
				t.Errorf("plan left %q in the state directory", left)
			}
		})
	}
}

func TestKindUpMissingNodeImage(t *testing.T) {
	needDocker(t)
	if c := kindContainers(t, "kindmiss"); c != "" {
		t.Skipf("kind containers exist already: %s", c)
	}
	file := writeKindStack(t, "kindmiss", "{name: app, ref: example/app:1}", "auto")
	state := t.TempDir()
	r := run(t, state, "up", "-f", file)
	if r.code != 3 {
		t.Errorf("up: exit %d, want 3", r.code)
	}
	// A run with its own state directory gets a cluster of its own:
	// testbed-kindmiss-<6 hex of the directory>.
	if !regexp.MustCompile(`kind cluster testbed-kindmiss-[0-9a-f]{6}: create on docker: failed to pull image "kindest/node:v0.0.0-testbed-missing"`).MatchString(r.stderr) {
		t.Errorf("stderr does not say the node image could not be had:\n%s", r.stderr)
	}
	if c := kindContainers(t, "kindmiss"); c != "" {
		t.Errorf("a failed up left kind containers: %s", c)
	}
	if left := kindLeftovers(t, state); len(left) > 0 {
		t.Errorf("a failed up left %q in the state directory", left)
	}
}

// A fixed host port that a run of another stack holds is refused, naming
// the port and the stack, before any cluster is created.
func TestKindPortConflict(t *testing.T) {
	needDocker(t)
	state := t.TempDir()
	port := freeHostPort(t)
	first, err := kind.New(kind.Options{Runtime: kind.RuntimeDocker, StateDir: filepath.Join(state, "kind"),
		Ports: []kind.Port{{Name: "http", NodePort: 30080, HostPort: port}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.ClaimPorts(t.Context(), "first"); err != nil {
		t.Fatal(err)
	}
	file := writeKindStack(t, "second", "{name: app, ref: example/app:1}", strconv.Itoa(port))
	r := run(t, state, "up", "-f", file)
	if r.code != 3 {
		t.Errorf("up: exit %d, want 3", r.code)
	}
	want := `host port ` + strconv.Itoa(port) + ` (port "web") is held by a run of stack "first"`
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if strings.Contains(r.stderr, "creating kind cluster") {
		t.Errorf("a cluster was created despite the conflict:\n%s", r.stderr)
	}
	if left := kindLeftovers(t, state); len(left) != 1 || left[0] != filepath.Join("ports", strconv.Itoa(port)+".lock") {
		t.Errorf("state holds %q, want only the first stack's lock", left)
	}
	first.Close()
	if left := kindLeftovers(t, state); len(left) > 0 {
		t.Errorf("Close left %q: ports claimed for a cluster never made are claimed no more", left)
	}
}

// Without docker or podman, kind is refused before anything starts.
func TestKindNoContainerTool(t *testing.T) {
	testenv.Binary(t) // built before PATH loses go
	t.Setenv("PATH", t.TempDir())
	file := writeKindStack(t, "notool", "{name: app, ref: example/app:1}", "auto")
	for _, args := range [][]string{{"plan", "-f", file}, {"up", "-f", file}, {"up", "-f", file, "--container-tool", "podman"}} {
		state := t.TempDir()
		r := run(t, state, args...)
		if r.code != 3 {
			t.Errorf("%q: exit %d, want 3", args, r.code)
		}
		if !strings.Contains(r.stderr, "testbed: provider kind runs its nodes in containers: ") || !strings.Contains(r.stderr, "podman: not found") {
			t.Errorf("%q: stderr does not say no container tool works:\n%s", args, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(state, "kind")); err == nil {
			t.Errorf("%q: made %s", args, filepath.Join(state, "kind"))
		}
	}
}
