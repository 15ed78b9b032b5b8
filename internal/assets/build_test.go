package assets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary stands in for the go command when TESTBED_FAKE_GO is set:
// see fakeGo.
func TestMain(m *testing.M) {
	if os.Getenv("TESTBED_FAKE_GO") != "" {
		os.Exit(fakeGo(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fake says how the fake go command behaves.
type fake struct {
	modules  int           // "go: downloading" lines of go list
	packages int           // packages go list names (besides unsafe)
	cached   int           // of those, how many go build does not print
	delay    time.Duration // between two lines
	silence  time.Duration // after go build's last package line (the link)
	fail     string        // if set, go build prints it and fails
}

func (f fake) env() []string {
	return append(os.Environ(), "TESTBED_FAKE_GO=1",
		"FAKE_MODULES="+strconv.Itoa(f.modules), "FAKE_PACKAGES="+strconv.Itoa(f.packages),
		"FAKE_CACHED="+strconv.Itoa(f.cached), "FAKE_DELAY="+f.delay.String(),
		"FAKE_SILENCE="+f.silence.String(), "FAKE_FAIL="+f.fail)
}

// fakeGo is the fake go command: `list -deps`, `build -v` (writing its -o
// outputs) and `env GOVERSION`, as the fake in its environment says.
func fakeGo(args []string) int {
	num := func(k string) int { n, _ := strconv.Atoi(os.Getenv(k)); return n }
	dur := func(k string) time.Duration { d, _ := time.ParseDuration(os.Getenv(k)); return d }
	delay := dur("FAKE_DELAY")
	switch args[0] {
	case "env":
		fmt.Println("go1.26.0-fake")
	case "list":
		for i := range num("FAKE_MODULES") {
			fmt.Fprintf(os.Stderr, "go: downloading example.com/m%d v1.0.0\n", i)
			time.Sleep(delay)
		}
		fmt.Println("unsafe")
		for i := range num("FAKE_PACKAGES") {
			fmt.Printf("example.com/p%d\n", i)
		}
	case "build":
		for i := range num("FAKE_PACKAGES") - num("FAKE_CACHED") {
			fmt.Fprintf(os.Stderr, "example.com/p%d\n", i)
			time.Sleep(delay)
		}
		time.Sleep(dur("FAKE_SILENCE"))
		if msg := os.Getenv("FAKE_FAIL"); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
			return 1
		}
		var out string
		var targets []string
		for i := 1; i < len(args); i++ {
			switch {
			case args[i] == "-o":
				out = args[i+1]
				i++
			case args[i] == "-ldflags":
				i++
			case !strings.HasPrefix(args[i], "-"):
				targets = append(targets, args[i])
			}
		}
		files := []string{out}
		if strings.HasSuffix(out, "/") {
			files = nil
			for _, t := range targets {
				files = append(files, filepath.Join(out, filepath.Base(t)))
			}
		}
		for _, f := range files {
			if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "fake go: unknown command %q\n", args[0])
		return 2
	}
	return 0
}

// recorder keeps the events of a build with the time each arrived.
type recorder struct {
	mu     sync.Mutex
	start  time.Time
	events []Event
	at     []time.Duration
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

func (r *recorder) add(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	r.at = append(r.at, time.Since(r.start))
}

func (r *recorder) snapshot() ([]Event, []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...), append([]time.Duration(nil), r.at...)
}

// runner returns a goRunner of the fake f that records into rec, with
// its pace made fast for tests.
func runner(t *testing.T, f fake, rec *recorder) *goRunner {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &goRunner{goPath: exe, env: f.env(), throttle: 20 * time.Millisecond, heartbeat: 100 * time.Millisecond,
		emit: func(ev Event) {
			ev.Elapsed = time.Since(rec.start)
			rec.add(ev)
		}}
}

// module writes a go.mod that requires three modules into a fresh directory.
func module(t *testing.T) string {
	dir := t.TempDir()
	gomod := "module x\n\ngo 1.26.0\n\nrequire a.example v1.0.0\n\nrequire (\n\tb.example v1.0.0 // indirect\n\tc.example v1.0.0 // indirect\n)\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestStepEvents(t *testing.T) {
	rec := newRecorder()
	f := fake{modules: 2, packages: 40, cached: 5, delay: 10 * time.Millisecond, silence: 500 * time.Millisecond}
	r := runner(t, f, rec)
	r.throttle = 50 * time.Millisecond // five package lines a throttle
	if err := r.step(context.Background(), "kwok", module(t), []string{"-o", filepath.Join(t.TempDir(), "kwok")}, []string{"sigs.k8s.io/kwok/cmd/kwok"}); err != nil {
		t.Fatal(err)
	}
	events, at := rec.snapshot()
	byPhase := map[string][]int{}
	for i, ev := range events {
		if ev.Step != "kwok" {
			t.Errorf("event %d: step %q", i, ev.Step)
		}
		if i > 0 && ev.Elapsed < events[i-1].Elapsed {
			t.Errorf("event %d: elapsed went back from %s to %s", i, events[i-1].Elapsed, ev.Elapsed)
		}
		byPhase[ev.Phase] = append(byPhase[ev.Phase], i)
	}

	download := byPhase[PhaseDownload]
	if len(download) < 2 || events[download[0]].Done != 0 || events[download[len(download)-1]].Done != 2 {
		t.Errorf("download events %v: want from 0 to the 2 modules fetched", pick(events, download))
	}
	for _, i := range download {
		if events[i].Total != 3 {
			t.Errorf("download event %+v: want Total 3, the modules go.mod requires", events[i])
		}
	}

	compile := byPhase[PhaseCompile]
	distinct := map[int]bool{}
	for n, i := range compile {
		ev := events[i]
		distinct[ev.Done] = true
		if ev.Total != 40 {
			t.Errorf("compile event %+v: want Total 40 (unsafe not counted)", ev)
		}
		if n > 0 && ev.Done < events[compile[n-1]].Done {
			t.Errorf("compile count went back: %v", pick(events, compile))
		}
	}
	if len(distinct) < 4 {
		t.Errorf("compile counts %v: want the count to move through several values", pick(events, compile))
	}
	// Throttled: the count changed 35 times, 10ms apart, but is reported
	// once a throttle at the most.
	changes, span := 0, time.Duration(0)
	for n := 1; n < len(compile); n++ {
		if events[compile[n]].Done != events[compile[n-1]].Done {
			changes, span = changes+1, at[compile[n]]-at[compile[0]]
		}
	}
	if max := int(span/r.throttle) + 2; changes > max {
		t.Errorf("%d changes reported in %s, want at most %d at one per %s", changes, span, max, r.throttle)
	}
	// Heartbeat: the silent link still reports, with the time moving.
	var silent []Event
	for _, i := range compile {
		if events[i].Done == 35 {
			silent = append(silent, events[i])
		}
	}
	if len(silent) < 3 || silent[len(silent)-1].Elapsed-silent[0].Elapsed < 200*time.Millisecond {
		t.Errorf("during 500ms of silence got %v: want heartbeats every 100ms", silent)
	}

	built := byPhase[PhaseBuilt]
	if len(built) != 1 || built[0] != len(events)-1 {
		t.Fatalf("built events at %v of %d: want one, last", built, len(events))
	}
	last := events[len(events)-1]
	if last.Done != 35 || last.Total != 40 || !strings.Contains(last.Message, "35/40 packages compiled, the rest were in the build cache") {
		t.Errorf("last event %+v: want 35 of 40 compiled, said honestly", last)
	}
}

func pick(events []Event, idx []int) []string {
	var s []string
	for _, i := range idx {
		s = append(s, fmt.Sprintf("%d/%d", events[i].Done, events[i].Total))
	}
	return s
}

func TestStepCancel(t *testing.T) {
	rec := newRecorder()
	r := runner(t, fake{packages: 1000, delay: 50 * time.Millisecond}, rec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if events, _ := rec.snapshot(); len(events) > 0 && events[len(events)-1].Done > 0 && events[len(events)-1].Phase == PhaseCompile {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	start := time.Now()
	err := r.step(ctx, "etcd", module(t), []string{"-o", filepath.Join(t.TempDir(), "etcd")}, []string{"."})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("step took %s to stop after its context was cancelled", d)
	}
	n := len(rec.events)
	time.Sleep(5 * r.throttle)
	if events, _ := rec.snapshot(); len(events) != n || events[n-1].Phase == PhaseBuilt {
		t.Errorf("events after cancellation: %d then %d, last %+v", n, len(events), events[len(events)-1])
	}
}

func TestStepFailure(t *testing.T) {
	r := runner(t, fake{packages: 3, fail: "main.go:3:2: undefined: x"}, newRecorder())
	err := r.step(context.Background(), "etcd", module(t), []string{"-o", filepath.Join(t.TempDir(), "etcd")}, []string{"."})
	if err == nil || !strings.Contains(err.Error(), "go build") || !strings.Contains(err.Error(), "undefined: x") || strings.Contains(err.Error(), "example.com/p0") {
		t.Fatalf("err = %v, want the go build error with its diagnostic and without the package lines", err)
	}
}

func TestBuildWithFakeGo(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A relative cache directory works although go runs elsewhere.
	t.Chdir(t.TempDir())
	rec := newRecorder()
	set, err := Build(context.Background(), BuildOptions{CacheDir: "assets", Go: exe, Env: fake{modules: 1, packages: 4}.env(), Progress: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := filepath.Abs("assets")
	if set.Dir != filepath.Join(Dir(cache), "bin") {
		t.Errorf("set in %s, want it under %s", set.Dir, cache)
	}
	if err := Verify(context.Background(), Dir(cache)); err != nil {
		t.Error(err)
	}
	data, _ := os.ReadFile(filepath.Join(Dir(cache), manifestName))
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil || m.GoVersion != "go1.26.0-fake" {
		t.Errorf("manifest go version %q (%v), want the fake's", m.GoVersion, err)
	}

	// Each step goes download, compile, built; the totals come from go.mod
	// and go list; the build ends with "done".
	events, _ := rec.snapshot()
	var got []string
	for _, ev := range events {
		s := ev.Step + " " + ev.Phase
		if len(got) == 0 || got[len(got)-1] != s {
			got = append(got, s)
		}
		if ev.Phase == PhaseDownload {
			gomod, _ := src.ReadFile("src/" + map[string]string{"kubernetes": "k8s", "etcd": "etcd", "kwok": "kwok"}[ev.Step] + "/go.mod.txt")
			if want := requiredModules(gomod); ev.Total != want || want < 50 {
				t.Errorf("%s download total %d, want %d", ev.Step, ev.Total, want)
			}
		}
		if ev.Phase == PhaseBuilt && (ev.Done != 4 || ev.Total != 4 || ev.Message != ev.Step+": built (4/4 packages compiled)") {
			t.Errorf("built event %+v", ev)
		}
		if ev.Message == "" {
			t.Errorf("event %+v has no message", ev)
		}
	}
	want := "kubernetes download|kubernetes compile|kubernetes built|etcd download|etcd compile|etcd built|kwok download|kwok compile|kwok built|done "
	if strings.Join(got, "|") != want {
		t.Errorf("steps:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	if last := events[len(events)-1]; last.Message != "ready in "+Dir(cache) {
		t.Errorf("last message %q", last.Message)
	}
}

func TestRequiredModules(t *testing.T) {
	for _, tc := range []struct {
		name, gomod string
		want        int
	}{
		{"none", "module x\n\ngo 1.26.0\n", 0},
		{"single lines", "module x\nrequire a v1\nrequire b v1 // indirect\n", 2},
		{"block with comments", "module x\nrequire (\n\t// tools\n\ta v1\n\n\tb v1 // indirect\n)\nreplace a => a v2\n", 2},
		{"both", "module x\nrequire a v1\nrequire (\n\tb v1\n\tc v1\n)\n", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := requiredModules([]byte(tc.gomod)); got != tc.want {
				t.Errorf("requiredModules = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestLineWriter(t *testing.T) {
	var lines []string
	w := &lineWriter{line: func(s string) { lines = append(lines, s) }}
	for _, p := range []string{"a\nb", "c\n\n", "d"} {
		w.Write([]byte(p))
	}
	w.flush()
	if got := strings.Join(lines, "|"); got != "a|bc||d" {
		t.Errorf("lines %q, want a|bc||d", got)
	}
}

func TestBuilder(t *testing.T) {
	dir := filepath.Join(fakeSet(t), "bin")
	var b Builder = NewBuilder(dir, BuildOptions{CacheDir: t.TempDir()})
	set, err := b.Resolve(context.Background())
	if err != nil || set.Dir != dir {
		t.Fatalf("Resolve = %v, %v", set, err)
	}
	b = BuilderFunc(func(context.Context) (*Set, error) { return &Set{Dir: "/fake"}, nil })
	if set, _ := b.Resolve(context.Background()); set.Dir != "/fake" {
		t.Errorf("BuilderFunc set %v", set)
	}
}
