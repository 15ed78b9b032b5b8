package report_test

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/pkg/report"
)

// renderSample is a realistic failed sim run: the cluster takes 2.1 s,
// postgresql, redis, migrations and api come up along the critical path,
// and webhook crash-loops until the run gives up.
func renderSample() *report.Report {
	lower := 7.0
	return &report.Report{
		Stack: "gateway-e2e", Run: "k3x9q", Provider: "sim", Result: report.ResultFailed,
		StartedAt: start, Seconds: 11.6,
		Phases: []report.Phase{
			{Name: "build", Start: 0, End: 0},
			{Name: "cluster", Start: 0, End: 2.1},
			{Name: "load", Start: 2.1, End: 2.1},
			{Name: "deploy", Start: 2.1, End: 11.6},
		},
		Components: []report.Component{
			{Name: "postgresql", Status: report.StatusReady, AppliedAt: f(2.1), ReadyAt: f(5.8)},
			{Name: "redis", Status: report.StatusReady, AppliedAt: f(2.1), ReadyAt: f(3.6)},
			{Name: "migrations", Status: report.StatusReady, AppliedAt: f(5.8), ReadyAt: f(8.9)},
			{Name: "api", Status: report.StatusReady, AppliedAt: f(8.9), ReadyAt: f(11.2)},
			{Name: "webhook", Status: report.StatusFailed, AppliedAt: f(3.6),
				Reason:      "Pod webhook-6f9c4 container server: CrashLoopBackOff: back-off 10s restarting failed container",
				Diagnostics: "/tmp/testbed/k3x9q/webhook"},
			{Name: "gateway", Status: report.StatusSkipped},
		},
		CriticalPath:      []string{"postgresql", "migrations", "api"},
		LowerBoundSeconds: &lower,
	}
}

// imageSample is a kind run that builds and loads images: api is built
// while the cluster comes up, worker was not rebuilt, postgres is a
// pre-built reference that is only loaded, and frontend's build fails
// just as api gets ready.
func imageSample() *report.Report {
	return &report.Report{
		Stack: "shop-e2e", Run: "p2r7m", Provider: "kind", Result: report.ResultFailed,
		StartedAt: start, Seconds: 25.1,
		Phases: []report.Phase{
			{Name: "build", Start: 0, End: 25},
			{Name: "cluster", Start: 0, End: 20},
			{Name: "load", Start: 20, End: 22.5},
			{Name: "deploy", Start: 21.8, End: 25.1},
		},
		Images: []report.Image{
			{Name: "api", Ref: "testbed.local/shop-e2e/api:3f9a1c2b", Build: &report.Span{Start: 0, End: 12.3},
				Load: &report.Span{Start: 20, End: 22.5}, Status: report.StatusReady},
			{Name: "worker", Ref: "testbed.local/shop-e2e/worker:77e0d4aa", Build: &report.Span{Start: 0, End: 0.4}, Unchanged: true,
				Load: &report.Span{Start: 20, End: 20.3}, Status: report.StatusReady},
			{Name: "postgres", Ref: "docker.io/library/postgres:16", Load: &report.Span{Start: 20, End: 21.8}, Status: report.StatusReady},
			{Name: "frontend", Ref: "testbed.local/shop-e2e/frontend:0c1d2e3f", Build: &report.Span{Start: 0, End: 25},
				Status: report.StatusFailed, Reason: "image frontend: docker build: exit status 1 (log /tmp/testbed/p2r7m/images/frontend.log)"},
		},
		Components: []report.Component{
			{Name: "db", Status: report.StatusReady, AppliedAt: f(21.8), ReadyAt: f(23.9)},
			{Name: "api", Status: report.StatusReady, AppliedAt: f(23.9), ReadyAt: f(24.8)},
			{Name: "frontend", Status: report.StatusSkipped},
		},
		CriticalPath: []string{"db", "api"},
	}
}

// TestTimelineRendersInChromium renders timelines as a user sees them:
// headless Chromium screenshots the SVG, and the PNG must show the chart.
// CI must have chromium (`make deps` installs it); elsewhere the test is
// skipped without it.
func TestTimelineRendersInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		msg := "chromium not found: run `make deps` (installs Debian's chromium) to render the timeline"
		if ci := os.Getenv("CI"); ci != "" && ci != "false" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Run("failed sim run", func(t *testing.T) {
		img, _ := screenshot(t, chromium, renderSample(), "")
		colours := make(map[[3]uint8]int)
		bounds := img.Bounds()
		for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
			for x := bounds.Min.X; x < bounds.Max.X; x++ {
				colours[rgb(img, x, y)]++
			}
		}
		if len(colours) <= 4 {
			t.Errorf("screenshot has %d colours; the chart did not render", len(colours))
		}
		// The bars, in their status colours: enough pixels of each for a bar.
		for name, want := range map[string][3]uint8{"ready (green)": {0x2e, 0x9d, 0x58}, "failed (red)": {0xd6, 0x45, 0x3d}} {
			n := 0
			for c, count := range colours {
				if nearColour(c, want) {
					n += count
				}
			}
			if n < 500 {
				t.Errorf("%s bars: %d pixels of %02x, want a bar's worth (≥ 500)", name, n, want)
			}
		}
	})
	t.Run("images", func(t *testing.T) {
		// Each bar shows in its fill where the SVG puts it, the thin mark
		// of an unchanged build included.
		img, root := screenshot(t, chromium, imageSample(), ".images")
		bars := append(root.byClass("rect", "image-bar"), root.byClass("rect", "bar")...)
		bars = slices.DeleteFunc(bars, func(n *node) bool { return n.attr("data-image") == "" && n.attr("data-component") == "" })
		if len(bars) != 8 {
			t.Fatalf("%d bars, want 6 for images and 2 for components", len(bars))
		}
		for _, bar := range bars {
			x := bar.num(t, "x") + bar.num(t, "width")/2
			y := bar.num(t, "y") + bar.num(t, "height")/2
			got, want := rgb(img, int(x), int(y)), hexColour(t, bar.attr("fill"))
			if !nearColour(got, want) {
				t.Errorf("%s%s %q: pixel (%d,%d) is %02x, want its fill %02x", bar.attr("data-image"), bar.attr("data-component"), bar.attr("class"), int(x), int(y), got, want)
			}
		}
	})
}

// screenshot renders r's timeline with chromium, returning the PNG and
// the parsed SVG. With TESTBED_TIMELINE_PNG=/tmp/t.png (and suffix for a
// second render) it keeps both, for looking at the render:
// TESTBED_TIMELINE_PNG=/tmp/t.png go test -run Chromium
func screenshot(t *testing.T, chromium string, r *report.Report, suffix string) (image.Image, *node) {
	t.Helper()
	root, svgText := timeline(t, r)
	dir := t.TempDir()
	svg := filepath.Join(dir, "timeline.svg")
	if err := os.WriteFile(svg, []byte(svgText), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "timeline.png")
	const width, height = 1200, 600
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1200,600",
		"--screenshot="+out, "file://"+svg)
	cmd.Env = append(os.Environ(), "HOME="+dir) // keep chromium's caches out of the real home
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, output)
	}
	if keep := os.Getenv("TESTBED_TIMELINE_PNG"); keep != "" {
		keep = strings.TrimSuffix(keep, ".png") + suffix + ".png"
		data, _ := os.ReadFile(out)
		_ = os.WriteFile(keep, data, 0o644)
		_ = os.WriteFile(keep+".svg", []byte(svgText), 0o644)
	}
	fh, err := os.Open(out)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != width || sz.Y != height {
		t.Errorf("screenshot is %dx%d, want %dx%d", sz.X, sz.Y, width, height)
	}
	return img, root
}

// hexColour reads a fill written as #rrggbb.
func hexColour(t *testing.T, s string) [3]uint8 {
	t.Helper()
	var c [3]uint8
	if _, err := fmt.Sscanf(s, "#%02x%02x%02x", &c[0], &c[1], &c[2]); err != nil {
		t.Fatalf("fill %q: %v", s, err)
	}
	return c
}

func rgb(img image.Image, x, y int) [3]uint8 {
	r, g, b, _ := img.At(x, y).RGBA()
	return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
}

// nearColour allows for colour management and anti-aliasing in the browser.
func nearColour(a, b [3]uint8) bool {
	for i := range a {
		if d := int(a[i]) - int(b[i]); d < -8 || d > 8 {
			return false
		}
	}
	return true
}
