package testbed

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/internal/cluster"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/internal/image"
	"github.com/kubetestbed/testbed/internal/testenv"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// savingSim is the sim provider with a loader that does what a kind load
// costs on the host side: `docker save` of the image into a file of the
// call's own (sim pods never pull, so the archive goes no further).
type savingSim struct {
	*sim.Provider
	tool string
}

func (p *savingSim) LoadImage(ctx context.Context, name, ref string) (cluster.Load, error) {
	dir, err := os.MkdirTemp("", "testbed-bench-load-")
	if err != nil {
		return cluster.Load{}, err
	}
	defer os.RemoveAll(dir)
	out, err := exec.CommandContext(ctx, p.tool, "save", "-o", filepath.Join(dir, "image.tar"), ref).CombinedOutput()
	if err != nil {
		return cluster.Load{}, fmt.Errorf("%s save %s: %w: %s", p.tool, ref, err, out)
	}
	return cluster.Load{Ref: ref, Loaded: []string{"node"}}, nil
}

// pipelineStack writes a stack of n images, each FROM scratch with a
// payload of size bytes (a build that takes measured seconds: the context
// is sent and copied into a layer), and n components, one per image, each
// after a database; every file changes with salt, so nothing is cached.
func pipelineStack(b *testing.B, dir string, n, size int, salt string) *stack.Stack {
	b.Helper()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var st strings.Builder
	st.WriteString("apiVersion: testbed.dev/v1alpha1\nkind: Stack\nmetadata: {name: pipeline}\nspec:\n  images:\n")
	for i := range n {
		payload := make([]byte, size)
		_, _ = rand.Read(payload)
		write(fmt.Sprintf("svc%d/payload.bin", i), payload)
		write(fmt.Sprintf("svc%d/salt.txt", i), []byte(salt))
		write(fmt.Sprintf("svc%d/Dockerfile", i), []byte("FROM scratch\nCOPY payload.bin /payload.bin\nCOPY salt.txt /salt.txt\n"))
		fmt.Fprintf(&st, "    - {name: svc%d, context: svc%d}\n", i, i)
	}
	st.WriteString("  components:\n    - {name: db, manifests: [db.yaml], sim: {readyAfter: 2s}}\n")
	write("db.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: db}\nspec:\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: db, image: db:1}]}\n"))
	for i := range n {
		fmt.Fprintf(&st, "    - {name: svc%d, images: [svc%d], manifests: [svc%d.yaml], dependsOn: [db], sim: {readyAfter: 1s}}\n", i, i, i)
		write(fmt.Sprintf("svc%d.yaml", i), []byte(fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: svc%d}\nspec:\n  selector: {matchLabels: {app: svc%d}}\n  template:\n    metadata: {labels: {app: svc%d}}\n    spec: {containers: [{name: svc, image: \"${image:svc%d}\"}]}\n", i, i, i, i)))
	}
	write("testbed.yaml", []byte(st.String()))
	s, err := stack.Load(filepath.Join(dir, "testbed.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkPipeline brings a stack of 4 images up on a real docker and a
// real sim cluster, overlapped and strict side by side in each round, and
// checks overlapped against the bound: max(builds, cluster) + the last
// load + the deploy's lower bound + 1 s.
//
//	go test -run '^$' -bench Pipeline -benchtime 3x ./pkg/testbed/
func BenchmarkPipeline(b *testing.B) {
	tool, err := image.NewTool(context.Background(), "docker")
	if err != nil {
		b.Skipf("no docker engine answers here: %v", err)
	}
	assets := testenv.Assets(b)
	const images, size = 4, 96 << 20
	var over, strict []float64
	round := 0
	for b.Loop() {
		round++
		for _, mode := range inTurn(round, PhasesOverlap, PhasesStrict) {
			dir := b.TempDir()
			s := pipelineStack(b, dir, images, size, fmt.Sprintf("%s-%d-%d", mode, round, time.Now().UnixNano()))
			p := &savingSim{Provider: sim.New(sim.Options{StateDir: filepath.Join(dir, "state"), Assets: assets}), tool: tool.Program()}
			var mu sync.Mutex
			at := map[string][2]time.Time{} // node → start, end
			mark := func(key string, i int, t time.Time) {
				mu.Lock()
				v := at[key]
				v[i] = t
				at[key] = v
				mu.Unlock()
			}
			opts := Options{provider: p, Phases: mode, DiagDir: filepath.Join(dir, "diag"), OnEvent: func(ev Event) {
				switch ev.State {
				case StateBuilding:
					mark("build:"+ev.Image, 0, ev.At)
				case StateBuilt, StateUnchanged:
					mark("build:"+ev.Image, 1, ev.At)
				case StateLoading:
					mark("load:"+ev.Image, 0, ev.At)
				case StateLoaded:
					mark("load:"+ev.Image, 1, ev.At)
				}
			}}
			env, err := Up(context.Background(), s, opts)
			if err != nil {
				b.Fatal(err)
			}
			var refs []string
			for _, ri := range env.Report.Images {
				refs = append(refs, ri.Ref)
			}
			_ = env.Teardown(context.Background())
			_ = tool.Remove(context.Background(), refs...)

			var cluster float64
			for _, ph := range env.Report.Phases {
				if ph.Name == "cluster" {
					cluster = ph.End - ph.Start
				}
			}
			var buildMax, loadMax float64
			for k, v := range at {
				d := v[1].Sub(v[0]).Seconds()
				if strings.HasPrefix(k, "build:") {
					buildMax = max(buildMax, d)
				} else {
					loadMax = max(loadMax, d)
				}
			}
			deployBound := 3.0 // db 2 s, then a service 1 s
			bound := max(buildMax, cluster) + loadMax + deployBound + 1
			b.Logf("round %d %-7s: %6.2f s (builds ≤ %.2f s each, cluster %.2f s, loads ≤ %.2f s, bound for overlap %.2f s)",
				round, mode, env.Report.Seconds, buildMax, cluster, loadMax, bound)
			if mode == PhasesOverlap {
				over = append(over, env.Report.Seconds)
				if env.Report.Seconds > bound {
					b.Errorf("round %d: overlapped %.2f s, over the bound %.2f s", round, env.Report.Seconds, bound)
				}
			} else {
				strict = append(strict, env.Report.Seconds)
			}
		}
	}
	mo, ms := median(over), median(strict)
	b.ReportMetric(mo, "s-overlap")
	b.ReportMetric(ms, "s-strict")
	b.ReportMetric(mo/ms, "overlap/strict")
	if mo >= ms {
		b.Errorf("overlapped (median %.2f s) is not faster than strict (median %.2f s)", mo, ms)
	}
}

// inTurn returns a and b in round's order: a first in odd rounds, b first
// in even ones, so that neither always runs on what the other left behind
// (a warm page cache, a busy disk).
func inTurn(round int, a, b string) []string {
	if round%2 == 0 {
		return []string{b, a}
	}
	return []string{a, b}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
