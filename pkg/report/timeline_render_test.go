package report_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
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

// TestTimelineRendersInChromium renders a timeline as a user sees it:
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
	dir := t.TempDir()
	svg := filepath.Join(dir, "timeline.svg")
	var b bytes.Buffer
	if err := report.WriteTimeline(&b, renderSample()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(svg, b.Bytes(), 0o644); err != nil {
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
		// For looking at the render: TESTBED_TIMELINE_PNG=/tmp/t.png go test -run Chromium
		data, _ := os.ReadFile(out)
		_ = os.WriteFile(keep, data, 0o644)
		_ = os.WriteFile(keep+".svg", b.Bytes(), 0o644)
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
