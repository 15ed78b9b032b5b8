package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kubetestbed/testbed/internal/cluster"
	"github.com/kubetestbed/testbed/internal/engine"
	"github.com/kubetestbed/testbed/internal/image"
	"github.com/kubetestbed/testbed/pkg/stack"
)

func buildID(img string) engine.NodeID { return engine.ID(engine.KindBuild, img) }
func loadID(img string) engine.NodeID  { return engine.ID(engine.KindLoad, img) }

// imageSpec is the build of a stack image; a go image's is compiled with
// opts.GoCommand.
func imageSpec(s *stack.Stack, img stack.Image, opts Options) image.Spec {
	if g := img.Go; g != nil {
		return image.Spec{Stack: s.Metadata.Name, Name: img.Name, Go: &image.GoBuild{
			Package: g.Package, Dir: g.Dir, LDFlags: g.LDFlags, Tags: g.Tags, Command: opts.GoCommand}}
	}
	return image.Spec{Stack: s.Metadata.Name, Name: img.Name, Context: img.Context,
		Dockerfile: img.Dockerfile, Target: img.Target, BuildArgs: img.BuildArgs}
}

// pendingTag is the tag of a go image's reference until its build says
// it: its tag hashes the binary, which no plan has before go build runs.
// A run that builds the image puts the built reference in the objects it
// applies (see resolvePending); where nothing is built (sim) it stays.
const pendingTag = "pending-go-build"

// imageRefs resolves ${image:NAME}: a pre-built image's ref, an override
// from opts.Images, or the content-derived reference a build of it is
// tagged with (on every provider, so that sim shows what kind would run);
// for a go image, testbed.local/STACK/NAME:pending-go-build (pendingTag).
func imageRefs(s *stack.Stack, opts Options) (map[string]string, error) {
	refs := map[string]string{}
	for _, img := range s.Spec.Images {
		switch ref, over := opts.Images[img.Name]; {
		case over:
			refs[img.Name] = ref
		case img.Ref != "":
			refs[img.Name] = img.Ref
		case img.Go != nil:
			if err := image.Check(imageSpec(s, img, opts)); err != nil {
				return nil, &Error{Kind: KindInvalid, Err: err}
			}
			refs[img.Name] = fmt.Sprintf("%s/%s/%s:%s", image.Domain, s.Metadata.Name, img.Name, pendingTag)
		default:
			ref, err := image.Reference(imageSpec(s, img, opts))
			if err != nil {
				return nil, &Error{Kind: KindInvalid, Err: err}
			}
			refs[img.Name] = ref
		}
	}
	for name := range opts.Images {
		if _, ok := refs[name]; !ok {
			return nil, invalidf("image override %s: the stack has no image %q", name, name)
		}
	}
	return refs, nil
}

// builds reports whether the run builds img: a provider that loads images
// needs it built, unless it is pre-built or overridden.
func (r *run) builds(img stack.Image) bool {
	_, loads := r.provider.(cluster.ImageLoader)
	_, over := r.opts.Images[img.Name]
	return loads && img.Built() && !over
}

// usedImages are the images some component uses, in the stack's order.
func (r *run) usedImages() []stack.Image { return r.plan.used }

// resolveImageUse records, once per plan, the images each component's
// apply waits for: those it lists in images, those its manifests refer to
// (${image:NAME}, found by the reference it resolved to), so that no pod
// asks for an image before it is on the node, and those a run step's
// command or env names (so that it gets a go image's built reference);
// and the images some component uses, in the stack's order.
func (p *Plan) resolveImageUse() {
	p.imagesOf = map[string][]string{}
	used := map[string]bool{}
	for _, c := range p.Stack.Spec.Components {
		names := append([]string(nil), c.Images...)
		var text, step strings.Builder
		for _, d := range p.docs[c.Name] {
			if data, err := json.Marshal(d.Object); err == nil {
				text.Write(data)
			}
		}
		if c.Run != nil {
			step.WriteString(strings.Join(c.Run.Command, "\x00"))
			for _, v := range c.Run.Env {
				step.WriteString("\x00" + v)
			}
		}
		for _, img := range p.Stack.Spec.Images {
			ref := p.vars.Images[img.Name]
			inManifests := ref != "" && strings.Contains(text.String(), `"`+ref+`"`)
			inStep := strings.Contains(step.String(), "${image:"+img.Name+"}")
			if !slices.Contains(names, img.Name) && (inManifests || inStep) {
				names = append(names, img.Name)
			}
		}
		p.imagesOf[c.Name] = names
		for _, n := range names {
			used[n] = true
		}
	}
	for _, img := range p.Stack.Spec.Images {
		if used[img.Name] {
			p.used = append(p.used, img)
		}
	}
}

// needsTool reports whether the run builds or loads any image.
func (r *run) needsTool() bool {
	_, loads := r.provider.(cluster.ImageLoader)
	return loads && len(r.usedImages()) > 0
}

// build builds img with the run's container tool, its whole output in the
// diagnostics directory; an image whose inputs have not changed since it
// was last built is not built again.
func (r *run) build(ctx context.Context, img stack.Image) error {
	spec := imageSpec(r.s, img, r.opts)
	building := r.tool.String()
	if img.Go == nil {
		spec.Ref = r.vars.Images[img.Name] // the reference the manifests and the load use
	} else {
		building = "go build " + img.Go.Package + ", then " + building
	}
	// The log goes to the diagnostics directory only when the build fails.
	f, err := os.CreateTemp("", "testbed-build-"+img.Name+"-*.log")
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Name, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	spec.Log = f
	r.emit(Event{Image: img.Name, State: StateBuilding, Detail: building, At: time.Now()})
	res, err := r.tool.Build(ctx, spec)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // stopped: the run says why
		}
		var be *image.BuildError
		if errors.As(err, &be) {
			be.SuggestLowerConcurrency(r.buildConcurrency())
			logPath := filepath.Join(diagDir(r.opts, r.s, r.id), "images", img.Name+".log")
			if os.MkdirAll(filepath.Dir(logPath), 0o755) == nil && copyFile(f.Name(), logPath) == nil {
				be.Log = logPath
			}
		}
		r.emit(Event{Image: img.Name, State: StateFailed, Detail: firstLine(err.Error()), At: time.Now()})
		return &Error{Kind: KindInfra, Err: err}
	}
	r.setImage(img.Name, func(st *imageState) { st.ref, st.unchanged = res.Ref, res.Unchanged })
	state, detail := StateBuilt, fmt.Sprintf("%s in %s", res.Ref, res.Duration.Round(10*time.Millisecond))
	switch {
	case res.Unchanged && img.Go != nil:
		state, detail = StateUnchanged, res.Ref+": binary unchanged, image not rebuilt"
	case res.Unchanged:
		state, detail = StateUnchanged, res.Ref+": inputs unchanged, not rebuilt"
	}
	r.emit(Event{Image: img.Name, State: state, Detail: detail, At: time.Now()})
	return nil
}

// load puts img on the cluster's nodes once it is built and the cluster
// exists; nodes that have it with the same ID are skipped, and an image
// the local engine does not have is left for the cluster to pull.
func (r *run) load(ctx context.Context, img stack.Image) error {
	ref := r.imageRef(img.Name)
	l := r.provider.(cluster.ImageLoader)
	r.emit(Event{Image: img.Name, State: StateLoading, Detail: ref, At: time.Now()})
	ld, err := l.LoadImage(ctx, r.s.Metadata.Name, ref)
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err() // stopped: the run says why
	case errors.Is(err, cluster.ErrNoLocalImage) && r.builds(img):
		err = fmt.Errorf("image %s: built as %s, but the local engine no longer has it: %w", img.Name, ref, err)
		r.emit(Event{Image: img.Name, State: StateFailed, Detail: err.Error(), At: time.Now()})
		return &Error{Kind: KindInfra, Err: err}
	case errors.Is(err, cluster.ErrNoLocalImage):
		r.emit(Event{Image: img.Name, State: StateLoaded, Detail: ref + ": not in the local engine; the cluster pulls it", At: time.Now()})
		return nil
	case err != nil:
		r.emit(Event{Image: img.Name, State: StateFailed, Detail: err.Error(), At: time.Now()})
		return &Error{Kind: KindInfra, Err: fmt.Errorf("image %s: %w", img.Name, err)}
	}
	detail := fmt.Sprintf("%s on %s", ref, plural(len(ld.Loaded), "node"))
	if ld.Unchanged() {
		detail = ref + ": on every node already"
	}
	r.emit(Event{Image: img.Name, State: StateLoaded, Detail: detail, At: time.Now()})
	return nil
}

// imageState is what the run did with one image.
type imageState struct {
	ref       string
	unchanged bool
}

// findGo checks, before the bring-up's clock starts, that a run that
// builds a go image has the go command to build it with.
func (r *run) findGo() error {
	used := r.usedImages()
	i := slices.IndexFunc(used, func(img stack.Image) bool { return img.Go != nil && r.builds(img) })
	if i < 0 {
		return nil
	}
	goCmd := r.opts.GoCommand
	if goCmd == "" {
		goCmd = "go"
	}
	if _, err := exec.LookPath(goCmd); err != nil {
		return &Error{Kind: KindInfra, Err: fmt.Errorf("image %s is built from Go package %s, and there is no go command to build it: %w", used[i].Name, used[i].Go.Package, err)}
	}
	return nil
}

// imageRef is the reference of image name in this run: the one its build
// tagged (only a build knows a go image's), else the plan's.
func (r *run) imageRef(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.images[name]; st != nil && st.ref != "" {
		return st.ref
	}
	return r.vars.Images[name]
}

// runVars are the substitutions as they stand now: the plan's, with the
// references of the go images built so far.
func (r *run) runVars() stack.Vars {
	v := r.vars
	v.Images = maps.Clone(v.Images)
	for name := range v.Images {
		v.Images[name] = r.imageRef(name)
	}
	return v
}

// resolvePending returns what puts the built reference of each go image
// built so far where the plan put its pending one (pendingTag), or nil
// when there is none.
func (r *run) resolvePending() *strings.Replacer {
	var pairs []string
	for _, img := range r.s.Spec.Images {
		if pending, built := r.vars.Images[img.Name], r.imageRef(img.Name); img.Go != nil && built != pending {
			pairs = append(pairs, pending, built)
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	return strings.NewReplacer(pairs...)
}

// replaceStrings applies rep to every string in the decoded JSON value v,
// in place, and returns v (a string cannot change in place).
func replaceStrings(v any, rep *strings.Replacer) any {
	switch t := v.(type) {
	case string:
		return rep.Replace(t)
	case map[string]any:
		for k, e := range t {
			t[k] = replaceStrings(e, rep)
		}
	case []any:
		for i, e := range t {
			t[i] = replaceStrings(e, rep)
		}
	}
	return v
}

func (r *run) setImage(name string, f func(*imageState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.images == nil {
		r.images = map[string]*imageState{}
	}
	st := r.images[name]
	if st == nil {
		st = &imageState{}
		r.images[name] = st
	}
	f(st)
}

// buildConcurrency is how many builds run at once.
func (r *run) buildConcurrency() int {
	if r.opts.BuildConcurrency > 0 {
		return r.opts.BuildConcurrency
	}
	return runtime.NumCPU()
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
