package testbed

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kubetestbed/testbed/internal/cluster"
	"github.com/kubetestbed/testbed/internal/cluster/sim"
	"github.com/kubetestbed/testbed/pkg/stack"
)

// Plan is a stack resolved for one run: the provider it runs on, its
// substitutions, and its manifests read once with them. Up, Status and
// `testbed plan` share it.
type Plan struct {
	Stack *stack.Stack
	// Provider names the provider the stack runs on.
	Provider string
	// Run is the run ID ${run} resolves to.
	Run string
	// Ports maps the stack's port names to the host ports of this run.
	Ports map[string]int
	// ApplyFirst names the components Up applies first at the deploy
	// start; the other components that wait for nothing follow once these
	// components' pods are scheduled, at most ScheduleGate later.
	ApplyFirst   []string
	ScheduleGate time.Duration
	// Images says, per stack image, what a run does with it and the
	// reference ${image:NAME} resolves to.
	Images []PlannedImage
	// LowerBound is, on a provider that simulates pods, the least time the
	// bring-up can take (seconds) and the chain of components that sets
	// it; nil elsewhere.
	LowerBound   *float64
	CriticalPath []string

	provider cluster.Provider
	vars     stack.Vars
	docs     map[string][]stack.Document
	// imagesOf: the images each component waits for; used: the images
	// some component uses (see resolveImageUse).
	imagesOf   map[string][]string
	used       []stack.Image
	kustomized map[string]bool
}

// Objects is the number of objects a run applies for component, and
// whether kustomize builds some of them (a manifests entry that is a
// kustomize directory).
func (p *Plan) Objects(component string) (n int, kustomized bool) {
	return len(p.docs[component]), p.kustomized[component]
}

// NewPlan resolves s for a run under opts, rejecting (as an *Error of
// KindInvalid) everything Up would reject before starting anything. It
// starts and claims nothing: an auto host port is one free now, which a
// run may not get.
func NewPlan(s *stack.Stack, opts Options) (*Plan, error) {
	return newPlan(context.Background(), s, opts, func(Event) {}, false)
}

// newPlan is NewPlan; with claim, a provider that maps host ports itself
// (cluster.PortClaimer) claims them for the run, until the provider is
// closed (closeProvider), which newPlan does itself when it fails.
func newPlan(ctx context.Context, s *stack.Stack, opts Options, emit func(Event), claim bool) (_ *Plan, err error) {
	if !s.Validated() {
		// A stack built in Go, not through Load.
		s.Default()
		if err := s.Validate(); err != nil {
			return nil, &Error{Kind: KindInvalid, Err: err}
		}
	}
	if opts.Phases != "" && opts.Phases != PhasesOverlap && opts.Phases != PhasesStrict {
		return nil, invalidf("phases %q: want %s or %s", opts.Phases, PhasesOverlap, PhasesStrict)
	}
	prov, err := providerFor(s, opts, emit)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && opts.provider == nil {
			closeProvider(prov)
		}
	}()
	_, simulates := prov.(cluster.PodSimulator)
	_, loads := prov.(cluster.ImageLoader)
	for _, img := range s.Spec.Images {
		if _, over := opts.Images[img.Name]; img.Ref == "" && !over && !simulates && !loads {
			return nil, invalidf("image %q is built from source, and image builds are not implemented yet for provider %s: it cannot load images into its cluster; give the image a ref (one the cluster can pull), or use the sim provider (which never builds)", img.Name, prov.Name())
		}
	}
	p := &Plan{Stack: s, Provider: prov.Name(), Run: opts.Run, provider: prov, ScheduleGate: scheduleGate}
	if p.Run == "" {
		p.Run = stack.NewRunID()
	}
	p.vars = stack.Vars{Stack: s.Metadata.Name, Namespace: s.Spec.Namespace, Run: p.Run,
		Images: map[string]string{}, Ports: map[string]int{}}
	if p.vars.Images, err = imageRefs(s, opts); err != nil {
		return nil, err
	}
	var claimed map[string]int
	if pc, ok := prov.(cluster.PortClaimer); ok && claim {
		if claimed, err = pc.ClaimPorts(ctx, s.Metadata.Name); err != nil {
			return nil, &Error{Kind: KindInfra, Err: fmt.Errorf("stack %s: %w", s.Metadata.Name, err)}
		}
	}
	for _, port := range s.Spec.Ports {
		if n, ok := claimed[port.Name]; ok {
			p.vars.Ports[port.Name] = n
		} else if port.HostPort.Auto() {
			n, err := sim.FreePort()
			if err != nil {
				return nil, &Error{Kind: KindInfra, Err: fmt.Errorf("port %s: %w", port.Name, err)}
			}
			p.vars.Ports[port.Name] = n
		} else {
			p.vars.Ports[port.Name] = int(port.HostPort)
		}
	}
	p.Ports = p.vars.Ports
	cms, err := s.Manifests(&p.vars)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Err: err}
	}
	p.docs, p.kustomized = map[string][]stack.Document{}, map[string]bool{}
	for _, cm := range cms {
		p.docs[cm.Component] = cm.Documents
		for _, f := range cm.Files {
			p.kustomized[cm.Component] = p.kustomized[cm.Component] || f.Kustomize
		}
	}
	if _, ok := prov.(cluster.FreshKinds); ok {
		// A running cluster of the stack's (up reuses it) may hold CRDs
		// installed by hand: only a fresh one holds nothing but the stack's.
		_, err := prov.Find(context.Background(), s.Metadata.Name)
		if err := simKinds(s, cms, err != nil); err != nil {
			return nil, &Error{Kind: KindInvalid, Err: err}
		}
	}
	if simulates {
		if err := s.SimTimeouts(opts.Timeout); err != nil {
			return nil, &Error{Kind: KindInvalid, Err: err}
		}
		lb, path := s.LowerBound()
		p.LowerBound, p.CriticalPath = &lb, path
	}
	p.ApplyFirst = applyFirst(s, p.docs)
	p.resolveImageUse()
	used := map[string]bool{}
	for _, img := range p.used {
		used[img.Name] = true
	}
	for _, img := range s.Spec.Images {
		pi := PlannedImage{Name: img.Name, Ref: p.vars.Images[img.Name]}
		_, over := opts.Images[img.Name]
		switch {
		case !used[img.Name]:
			pi.Does = "not used: no component lists it or refers to it"
		case simulates && !loads:
			pi.Does = "not built or loaded: pods do not run on " + prov.Name()
		case !loads:
			pi.Does = "not loaded: " + prov.Name() + " pulls it"
		case img.Go != nil && !over:
			pi.Does = "built with go build " + img.Go.Package + " into an image FROM scratch (its tag: the binary's hash, known once built), then loaded into the cluster"
		case img.Built() && !over:
			pi.Does = "built, then loaded into the cluster"
		default:
			pi.Does = "loaded into the cluster if the local engine has it, else pulled"
		}
		p.Images = append(p.Images, pi)
	}
	return p, nil
}

// closeProvider lets go of what prov holds for a run (a kind provider's
// port locks), when it holds anything.
func closeProvider(prov cluster.Provider) {
	if c, ok := prov.(io.Closer); ok {
		_ = c.Close()
	}
}

// PlannedImage is what a run does with one stack image.
type PlannedImage struct {
	// Ref is what ${image:NAME} resolves to in the plan. A go image's tag
	// hashes its binary, which the plan does not have: its Ref ends in
	// :pending-go-build, replaced by the built reference in what a run
	// that builds it applies.
	Name, Ref string
	// Does says it in words: built and loaded, loaded, or neither and why.
	Does string
}
