package stack

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Validate checks a stack that Default has filled in, such as one built in
// Go: required fields, names, values, references between objects, cycles,
// and the files it refers to. It returns nil or an ErrorList; Load and
// Parse run the same checks.
func (s *Stack) Validate() error {
	if errs := s.validate(nil); len(errs) > 0 {
		return sortErrors(s.File, errs)
	}
	s.validated = true
	return nil
}

// validate checks the stack and returns its problems. bad holds the paths
// of fields the decoder could not read, which are not checked again.
func (s *Stack) validate(bad map[string]bool) ErrorList {
	v := &validator{s: s, bad: bad}
	v.validate()
	return v.errs
}

// validator checks a defaulted stack as a whole. For a stack read from a
// file, the decoder has already checked each value's type and range.
type validator struct {
	s    *Stack
	bad  map[string]bool // fields the decoder could not read
	errs ErrorList
	// checkRef checks a reference against the stack's images and ports.
	checkRef func(kind, name string) (string, error)
}

// line returns the line in File of the field at path, such as
// "spec.components[2].dependsOn[0]", or of its closest parent that is
// written in the file; 1 if none is, and 0 for a stack not read from a
// file.
func (s *Stack) line(path string) int {
	if s.lines == nil {
		return 0
	}
	for path != "" {
		if line, ok := s.lines[path]; ok {
			return line
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1
}

func (v *validator) errorf(path, object, format string, args ...any) {
	v.errs.add(v.s.File, v.s.line(path), object, format, args...)
}

// componentPath and componentLabel locate and name the i-th component.
func componentPath(i int) string { return fmt.Sprintf("spec.components[%d]", i) }

func (s *Stack) componentLabel(i int) string {
	return label("components", i, s.Spec.Components[i].Name)
}

func label(list string, i int, name string) string {
	if name == "" {
		return fmt.Sprintf("%s[%d]", list, i)
	}
	return fmt.Sprintf("%s[%d] %q", list, i, name)
}

func (v *validator) validate() {
	s := v.s
	v.checkRef = s.refChecker()
	v.fixed("apiVersion", s.APIVersion, APIVersion)
	v.fixed("kind", s.Kind, KindStack)
	v.name("metadata.name", "", "metadata.name", s.Metadata.Name)
	v.cluster()
	v.name("spec.namespace", "", "spec.namespace", s.Spec.Namespace)
	v.duration("spec.timeout", "", "spec.timeout", s.Spec.Timeout)
	v.images()
	v.ports()
	v.components()
	v.cycles()
	if len(s.Spec.Components) == 0 && !v.bad["spec.components"] {
		v.errorf("spec.components", "", "spec.components: a stack needs at least one component")
	}
	_, errs := s.readManifests(nil)
	v.errs = append(v.errs, errs...)
}

// fixed checks a field that must have one value.
func (v *validator) fixed(path, got, want string) {
	switch {
	case v.bad[path] || got == want:
	case got == "":
		v.errorf(path, "", "%s is required: want %q", path, want)
	default:
		v.errorf(path, "", "%s %q is not supported: want %q", path, got, want)
	}
}

// value reports problem (if not "") for the value at path, unless the
// decoder has reported it: only values set in Go get here out of range.
func (v *validator) value(path, object, what, problem string) {
	if problem != "" && !v.bad[path] {
		v.errorf(path, object, "%s: %s", what, problem)
	}
}

func (v *validator) duration(path, object, what string, d time.Duration) {
	v.value(path, object, what, durationProblem(d, d.String()))
}

// name checks a required name that must be a DNS-1123 label.
func (v *validator) name(path, object, what, name string) {
	if v.bad[path] {
		return
	}
	if name == "" {
		v.errorf(path, object, "%s is required", what)
		return
	}
	if len(validation.IsDNS1123Label(name)) > 0 {
		v.errorf(path, object, "%s %q is not a DNS-1123 label: use at most 63 lower case letters, digits and '-', starting and ending with a letter or digit", what, name)
	}
}

func (v *validator) cluster() {
	c := v.s.Spec.Cluster
	switch c.Provider {
	case ProviderSim, ProviderKind, ProviderKubeconfig:
	default:
		if !v.bad["spec.cluster.provider"] {
			v.errorf("spec.cluster.provider", "", "spec.cluster.provider %q is not one of sim, kind, kubeconfig", c.Provider)
		}
	}
	for i, m := range c.Kind.Mounts {
		p := fmt.Sprintf("spec.cluster.kind.mounts[%d]", i)
		obj := fmt.Sprintf("cluster.kind.mounts[%d]", i)
		if m.HostPath == "" && !v.bad[p+".hostPath"] {
			v.errorf(p, obj, "hostPath is required")
		}
		switch {
		case v.bad[p+".containerPath"]:
		case m.ContainerPath == "":
			v.errorf(p, obj, "containerPath is required")
		case !strings.HasPrefix(m.ContainerPath, "/"):
			v.errorf(p+".containerPath", obj, "containerPath %q must be an absolute path", m.ContainerPath)
		}
	}
}

func (v *validator) images() {
	s := v.s
	first := map[string]int{}
	for i, img := range s.Spec.Images {
		p := fmt.Sprintf("spec.images[%d]", i)
		obj := label("images", i, img.Name)
		v.name(p+".name", obj, "name", img.Name)
		if j, dup := first[img.Name]; dup && img.Name != "" {
			v.errorf(p+".name", obj, "image name %q is already used by images[%d]", img.Name, j)
		} else {
			first[img.Name] = i
		}

		build := img.Context != "" || img.Dockerfile != ""
		switch {
		case img.Ref != "" && img.Go != nil:
			v.errorf(p+".go", obj, "set either ref (a pre-built image) or go (a build from a Go package), not both")
			continue
		case img.Go != nil && build:
			v.errorf(p+".go", obj, "set either go (a build from a Go package) or context and dockerfile (a Docker build), not both")
			continue
		case img.Ref != "" && build:
			v.errorf(p+".ref", obj, "set either ref (a pre-built image) or context and dockerfile (a build), not both")
			continue
		case img.Ref == "" && img.Go == nil && !build:
			if !v.bad[p+".ref"] && !v.bad[p+".context"] && !v.bad[p+".dockerfile"] && !v.bad[p+".go"] {
				v.errorf(p, obj, "set ref (a pre-built image), go (a build from a Go package) or context and dockerfile (a Docker build)")
			}
			continue
		case img.Ref != "" || img.Go != nil:
			kind := "ref"
			if img.Go != nil {
				kind = "go"
			}
			if len(img.BuildArgs) > 0 {
				v.errorf(p+".buildArgs", obj, "buildArgs apply only to Dockerfile builds, not to %s", kind)
			}
			if img.Target != "" {
				v.errorf(p+".target", obj, "target applies only to Dockerfile builds, not to %s", kind)
			}
			if strings.ContainsAny(img.Ref, " \t") {
				v.errorf(p+".ref", obj, "ref %q contains whitespace", img.Ref)
			}
			if img.Go != nil {
				v.goBuild(p+".go", obj, img.Go)
			}
			continue
		}
		if info, err := os.Stat(img.Context); err != nil || !info.IsDir() {
			v.errorf(p+".context", obj, "build context %q is not a directory", s.display(img.Context))
		}
		if info, err := os.Stat(img.Dockerfile); err != nil || !info.Mode().IsRegular() {
			v.errorf(p+".dockerfile", obj, "dockerfile %q is not a file", s.display(img.Dockerfile))
		}
	}
}

// goBuild checks an image's go block: a package go build can take as one
// argument, an existing directory to build in, and build tags that are
// words.
func (v *validator) goBuild(path, object string, g *GoBuild) {
	switch {
	case v.bad[path] || v.bad[path+".package"]:
	case strings.TrimSpace(g.Package) == "":
		v.errorf(path+".package", object, "go.package is required: the main package, as go build takes it (./cmd/api)")
	case strings.HasPrefix(g.Package, "-"):
		v.errorf(path+".package", object, "go.package %q starts with '-': go build would take it for a flag", g.Package)
	case strings.ContainsAny(g.Package, " \t\n"):
		v.errorf(path+".package", object, "go.package %q contains whitespace: give one package", g.Package)
	}
	if !v.bad[path+".dir"] {
		if info, err := os.Stat(g.Dir); err != nil || !info.IsDir() {
			v.errorf(path+".dir", object, "go.dir %q is not a directory", v.s.display(g.Dir))
		}
	}
	for j, tag := range g.Tags {
		if p := fmt.Sprintf("%s.tags[%d]", path, j); !v.bad[p] && (tag == "" || strings.ContainsAny(tag, ", \t\n")) {
			v.errorf(p, object, "go.tags[%d] %q is not a build tag: want one word, no commas or spaces", j, tag)
		}
	}
}

func (v *validator) ports() {
	names, nodePorts, hostPorts := map[string]int{}, map[int]int{}, map[HostPort]int{}
	for i, port := range v.s.Spec.Ports {
		p := fmt.Sprintf("spec.ports[%d]", i)
		obj := label("ports", i, port.Name)
		v.name(p+".name", obj, "name", port.Name)
		if j, dup := names[port.Name]; dup && port.Name != "" {
			v.errorf(p+".name", obj, "port name %q is already used by ports[%d]", port.Name, j)
		} else {
			names[port.Name] = i
		}

		switch j, dup := nodePorts[port.NodePort]; {
		case v.bad[p+".nodePort"]:
		case port.NodePort == 0:
			v.errorf(p, obj, "nodePort is required (30000-32767)")
		case nodePortProblem(port.NodePort) != "":
			v.value(p+".nodePort", obj, "nodePort", nodePortProblem(port.NodePort))
		case dup:
			v.errorf(p+".nodePort", obj, "nodePort %d is already used by ports[%d]", port.NodePort, j)
		default:
			nodePorts[port.NodePort] = i
		}

		if !port.HostPort.Auto() {
			v.value(p+".hostPort", obj, "hostPort", hostPortProblem(int(port.HostPort)))
		}
		if j, dup := hostPorts[port.HostPort]; dup && !port.HostPort.Auto() {
			v.errorf(p+".hostPort", obj, "hostPort %d is already used by ports[%d]", port.HostPort, j)
		} else {
			hostPorts[port.HostPort] = i
		}
	}
}

func (v *validator) components() {
	s := v.s
	first := map[string]int{}
	for i, c := range s.Spec.Components {
		p := componentPath(i)
		if v.bad[p] {
			continue // not a mapping: said so already
		}
		v.name(p+".name", s.componentLabel(i), "name", c.Name)
		if j, dup := first[c.Name]; dup && c.Name != "" {
			v.errorf(p+".name", s.componentLabel(i), "component name %q is already used by components[%d]", c.Name, j)
		} else {
			first[c.Name] = i
		}
	}
	images := map[string]bool{}
	for _, img := range s.Spec.Images {
		images[img.Name] = true
	}
	for i := range s.Spec.Components {
		if !v.bad[componentPath(i)] {
			v.component(i, first, images)
		}
	}
}

func (v *validator) component(i int, components map[string]int, images map[string]bool) {
	s := v.s
	c := s.Spec.Components[i]
	p := componentPath(i)
	obj := s.componentLabel(i)

	v.refs(p+".images", obj, "images", c.Images, func(name string) string {
		if !images[name] {
			return "is not an image in spec.images"
		}
		return ""
	})
	isComponent := func(name string) string {
		if _, ok := components[name]; !ok {
			return "is not a component"
		}
		if name == c.Name {
			return "is the component itself: a component cannot wait for itself"
		}
		return ""
	}
	v.refs(p+".dependsOn", obj, "dependsOn", c.DependsOn, isComponent)
	v.duration(p+".timeout", obj, "timeout", c.Timeout)
	if c.Sim != nil {
		v.duration(p+".sim.readyAfter", obj, "sim.readyAfter", c.Sim.ReadyAfter)
		v.refs(p+".sim.requires", obj, "sim.requires", c.Sim.Requires, isComponent)
		if c.Sim.Fail != "" && !slices.Contains(FailModes, c.Sim.Fail) && !v.bad[p+".sim.fail"] {
			v.errorf(p+".sim.fail", obj, "sim.fail %q is not one of CrashLoopBackOff, ImagePullBackOff, NeverReady, JobFailed", c.Sim.Fail)
		}
	}

	for j, m := range c.Manifests {
		if m == "" && !v.bad[fmt.Sprintf("%s.manifests[%d]", p, j)] {
			v.errorf(fmt.Sprintf("%s.manifests[%d]", p, j), obj, "manifests[%d] is empty", j)
		}
	}
	switch {
	case len(c.Manifests) == 0 && c.Run == nil:
		if !v.bad[p+".manifests"] {
			v.errorf(p, obj, "nothing to do: give the component manifests or a run step")
		}
	case len(c.Manifests) > 0 && c.Run != nil:
		v.errorf(p+".run", obj, "a component has manifests or a run step, not both")
	}
	if c.Run != nil && c.Sim != nil {
		v.errorf(p+".sim", obj, "sim models a component's pods; a run step has none")
	}
	if c.Run != nil {
		v.run(p+".run", obj, c.Run)
	}
	for j, ch := range c.Checks {
		v.check(fmt.Sprintf("%s.checks[%d]", p, j), obj, j, ch)
	}
}

// refs checks a list of names: each must be listed once and be known;
// problem returns what is wrong with a name, or "".
func (v *validator) refs(path, object, what string, names []string, problem func(name string) string) {
	seen := map[string]bool{}
	for j, name := range names {
		p := fmt.Sprintf("%s[%d]", path, j)
		if v.bad[p] {
			continue
		}
		if seen[name] {
			v.errorf(p, object, "%s lists %q twice", what, name)
			continue
		}
		seen[name] = true
		if msg := problem(name); msg != "" {
			v.errorf(p, object, "%s %q %s", what, name, msg)
		}
	}
}

func (v *validator) run(path, object string, r *Run) {
	v.duration(path+".timeout", object, "run.timeout", r.Timeout)
	switch {
	case v.bad[path] || v.bad[path+".command"]:
	case len(r.Command) == 0:
		v.errorf(path, object, "run.command is required: the program and its arguments")
	case r.Command[0] == "":
		v.errorf(path+".command[0]", object, "run.command[0] is empty: want the program")
	}
	for j, arg := range r.Command {
		v.substitutions(fmt.Sprintf("%s.command[%d]", path, j), object, fmt.Sprintf("run.command[%d]", j), arg)
	}
	for _, key := range sortedKeys(r.Env) {
		if key == "" || strings.ContainsAny(key, "=\x00") {
			v.errorf(path+".env."+key, object, "run.env: %q is not a valid environment variable name", key)
		}
		v.substitutions(path+".env."+key, object, "run.env."+key, r.Env[key])
	}
}

func (v *validator) check(path, object string, j int, ch Check) {
	what := fmt.Sprintf("checks[%d]", j)
	switch {
	case v.bad[path]:
	case ch.HTTP == nil && ch.TCP == nil:
		v.errorf(path, object, "%s: set http or tcp", what)
	case ch.HTTP != nil && ch.TCP != nil:
		v.errorf(path, object, "%s: set http or tcp, not both", what)
	case ch.HTTP != nil:
		p := path + ".http"
		if ch.HTTP.Status != 0 {
			v.value(p+".status", object, what+".http.status", statusProblem(ch.HTTP.Status))
		}
		if v.bad[p] || v.bad[p+".url"] {
			return
		}
		if ch.HTTP.URL == "" {
			v.errorf(p, object, "%s.http.url is required", what)
			return
		}
		if !v.substitutions(p+".url", object, what+".http.url", ch.HTTP.URL) {
			return
		}
		u, err := url.Parse(placeholders(ch.HTTP.URL))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf(p+".url", object, "%s.http.url %q is not an http or https URL", what, ch.HTTP.URL)
		}
	case ch.TCP != nil:
		p := path + ".tcp"
		if v.bad[p] || v.bad[p+".address"] {
			return
		}
		if ch.TCP.Address == "" {
			v.errorf(p, object, "%s.tcp.address is required", what)
			return
		}
		if !v.substitutions(p+".address", object, what+".tcp.address", ch.TCP.Address) {
			return
		}
		if _, _, err := net.SplitHostPort(placeholders(ch.TCP.Address)); err != nil {
			v.errorf(p+".address", object, "%s.tcp.address %q is not host:port", what, ch.TCP.Address)
		}
	}
}

// substitutions checks the references in a string of the stack file and
// reports whether they are all valid.
func (v *validator) substitutions(path, object, what, text string) bool {
	_, problems := expand(text, v.checkRef)
	for _, p := range problems {
		v.errorf(path, object, "%s: %s", what, p.msg)
	}
	return len(problems) == 0
}

// placeholders replaces every reference in text by a value of the right
// shape, so that the result can be parsed as a URL or address.
func placeholders(text string) string {
	out, _ := expand(text, func(kind, _ string) (string, error) {
		if kind == "port" {
			return "1", nil
		}
		return "x", nil
	})
	return out
}

// cycles reports dependency cycles: first through dependsOn alone, then,
// if there are none, through dependsOn and sim.requires together, since
// both make a component wait for another to be ready.
func (v *validator) cycles() {
	s := v.s
	if !v.findCycles(s.edges(false), "dependency cycle") {
		v.findCycles(s.edges(true), "dependency cycle through dependsOn and sim.requires")
	}
}

// findCycles reports each cycle found by a depth-first search: one per
// edge that closes a cycle. It reports whether it found any.
func (v *validator) findCycles(edges [][]edge, what string) bool {
	s := v.s
	const (
		unvisited = iota
		onStack
		done
	)
	state := make([]int, len(edges))
	at := make([]int, len(edges)) // where a component is on the stack
	var stack []int
	found := false
	var visit func(i int)
	visit = func(i int) {
		state[i] = onStack
		at[i] = len(stack)
		stack = append(stack, i)
		for _, e := range edges[i] {
			switch state[e.to] {
			case unvisited:
				visit(e.to)
			case onStack:
				var names []string
				for _, j := range stack[at[e.to]:] {
					names = append(names, s.Spec.Components[j].Name)
				}
				names = append(names, s.Spec.Components[e.to].Name)
				v.errorf(e.path, s.componentLabel(i), "%s: %s", what, strings.Join(names, " -> "))
				found = true
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range edges {
		if state[i] == unvisited {
			visit(i)
		}
	}
	return found
}

// display returns how messages name an absolute path from the stack file:
// relative to the stack's directory, joined to the directory of File.
func (s *Stack) display(abs string) string {
	if s.Dir == "" {
		return abs
	}
	rel, err := filepath.Rel(s.Dir, abs)
	if err != nil {
		return abs
	}
	return filepath.Join(s.displayDir, rel)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
