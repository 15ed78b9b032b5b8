package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Options configures BuildAll.
type Options struct {
	// Concurrency bounds the builds that run at once (0: runtime.NumCPU()).
	// Lower it when the tool or the machine gives way under parallel
	// builds (podman has been seen to crash with exit 125).
	Concurrency int
	// LogDir receives each build's whole output as <name>.log; it is
	// created if need be ("": no log files).
	LogDir string
	// OnEvent, if set, is called as each build starts and ends, one call at
	// a time.
	OnEvent func(Event)
}

// EventKind says what happened to a build.
type EventKind string

// The kinds of Event, in the order a build sees them: Started, then one of
// the others.
const (
	Started   EventKind = "start"
	Unchanged EventKind = "unchanged" // present already: not rebuilt
	Built     EventKind = "done"
	Failed    EventKind = "failed"
	Canceled  EventKind = "canceled" // another build failed, or ctx ended
)

// Event reports the progress of one build of BuildAll.
type Event struct {
	Kind EventKind
	// Image is the image's name.
	Image string
	// Ref is its reference (Unchanged and Built).
	Ref string
	// Duration is how long the build took (all kinds but Started).
	Duration time.Duration
	// Log is its log file ("" without Options.LogDir).
	Log string
	// Err is why it failed or was canceled.
	Err error
}

// BuildAll builds specs with b, up to opts.Concurrency at once, all
// starting at once, and returns their results in the order of specs. It
// checks every spec before it starts any build (an error lists each bad
// one). The first failure cancels the builds still running and is the
// error returned, a *BuildError (with its Log set) when the tool failed;
// when ctx ends, the error wraps ctx.Err().
func BuildAll(ctx context.Context, b Builder, specs []Spec, opts Options) ([]Result, error) {
	if err := checkAll(specs); err != nil {
		return nil, err
	}
	if opts.LogDir != "" {
		if err := os.MkdirAll(opts.LogDir, 0o755); err != nil {
			return nil, fmt.Errorf("image build logs: %w", err)
		}
	}
	limit := opts.Concurrency
	if limit <= 0 {
		limit = runtime.NumCPU()
	}
	var mu sync.Mutex
	emit := func(ev Event) {
		if opts.OnEvent != nil {
			mu.Lock()
			defer mu.Unlock()
			opts.OnEvent(ev)
		}
	}

	parallel := min(limit, len(specs))
	results := make([]Result, len(specs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, s := range specs {
		g.Go(func() error {
			res, err := buildOne(gctx, b, s, opts.LogDir, parallel, emit)
			results[i] = res
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return results, err
	}
	return results, nil
}

// buildOne runs one build of BuildAll, with its log file and events.
func buildOne(ctx context.Context, b Builder, s Spec, logDir string, parallel int, emit func(Event)) (Result, error) {
	var log string
	if logDir != "" {
		log = filepath.Join(logDir, s.Name+".log")
	}
	if err := ctx.Err(); err != nil {
		err = fmt.Errorf("image %q: build not started: %w", s.Name, err)
		emit(Event{Kind: Canceled, Image: s.Name, Err: err})
		return Result{}, err
	}
	emit(Event{Kind: Started, Image: s.Name, Log: log})
	start := time.Now()
	res, err := buildLogged(ctx, b, s, log)
	if be := (*BuildError)(nil); errors.As(err, &be) {
		be.SuggestLowerConcurrency(parallel)
	}
	ev := Event{Image: s.Name, Ref: res.Ref, Duration: time.Since(start), Log: log, Err: err}
	switch {
	case err != nil && ctx.Err() != nil:
		ev.Kind = Canceled
	case err != nil:
		ev.Kind = Failed
	case res.Unchanged:
		ev.Kind = Unchanged
	default:
		ev.Kind = Built
	}
	emit(ev)
	return res, err
}

// buildLogged runs b.Build with s.Log writing to the file log (if any), and
// names that file in a *BuildError.
func buildLogged(ctx context.Context, b Builder, s Spec, log string) (Result, error) {
	if log == "" {
		return b.Build(ctx, s)
	}
	f, err := os.Create(log)
	if err != nil {
		return Result{}, fmt.Errorf("image %q: build log: %w", s.Name, err)
	}
	s.Log = f
	res, err := b.Build(ctx, s)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("image %q: build log: %w", s.Name, cerr)
	}
	var be *BuildError
	if errors.As(err, &be) {
		be.Log = log
	}
	return res, err
}

// checkAll checks every spec and that no two share a name (their log
// files would collide).
func checkAll(specs []Spec) error {
	var errs []error
	seen := map[string]int{}
	for i, s := range specs {
		if err := Check(s); err != nil {
			errs = append(errs, err)
		}
		if j, ok := seen[s.Name]; ok {
			errs = append(errs, fmt.Errorf("image %q: images[%d] has the same name", s.Name, j))
		}
		seen[s.Name] = i
	}
	return errors.Join(errs...)
}
