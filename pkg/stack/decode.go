package stack

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder turns the YAML node tree of a stack file into a Stack. It reports
// unknown fields and values of the wrong type with their lines, records the
// line of every field for the validator, and resolves relative paths.
type decoder struct {
	file string
	dir  string
	// lines maps field paths ("spec.components[2].dependsOn[0]") to lines.
	lines map[string]int
	// bad holds the paths of fields that could not be decoded, so that the
	// validator does not report them again as missing.
	bad  map[string]bool
	errs ErrorList
}

// scope is the object a field belongs to, for messages.
type scope struct {
	prefix string // the object's path, such as "spec.components[2]"; "" for the stack
	label  string // the object's name in messages, such as `components[2] "migrations"`
}

// rel returns path relative to the object, as messages name it.
func (sc scope) rel(path string) string {
	if sc.prefix == "" {
		return path
	}
	return strings.TrimPrefix(path, sc.prefix+".")
}

// field is one key of a mapping and its value.
type field struct {
	key  string
	path string
	line int
	node *yaml.Node
}

func (d *decoder) errorf(line int, sc scope, format string, args ...any) {
	d.errs.add(d.file, line, sc.label, format, args...)
}

// fail reports a field whose value cannot be decoded.
func (d *decoder) fail(f field, sc scope, format string, args ...any) {
	d.bad[f.path] = true
	msg := fmt.Sprintf(format, args...)
	if f.path != sc.prefix || sc.label == "" {
		// Not the scope's own node, which its label already names.
		msg = sc.rel(f.path) + ": " + msg
	}
	d.errorf(f.line, sc, "%s", msg)
}

// unknown reports a field the object does not have.
func (d *decoder) unknown(f field, sc scope, known ...string) {
	hint := ""
	for _, k := range known {
		if strings.EqualFold(k, f.key) {
			hint = fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	d.errorf(f.line, sc, "unknown field %q%s; known fields: %s", sc.rel(f.path), hint, strings.Join(known, ", "))
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// describe names the kind of a node for messages.
func describe(n *yaml.Node) string {
	if isNull(n) {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// mapping returns the fields of the mapping at f, with merge keys (<<)
// expanded: keys written in the mapping win over merged ones. A null value
// is an empty mapping.
func (d *decoder) mapping(f field, sc scope) []field {
	n := resolve(f.node)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(f, sc, "want a mapping, got %s", describe(n))
		return nil
	}
	pairs := d.pairs(n, f, sc)
	fields := make([]field, 0, len(pairs))
	seen := map[string]bool{}
	for _, p := range pairs {
		if seen[p.key] {
			continue
		}
		seen[p.key] = true
		p.path = joinPath(f.path, p.key)
		d.lines[p.path] = p.line
		fields = append(fields, p)
	}
	return fields
}

// pairs lists the key/value pairs of mapping node n: first the keys written
// in it, then those of its merge keys in order.
func (d *decoder) pairs(n *yaml.Node, f field, sc scope) []field {
	var written, merged []field
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, sc, "keys must be strings, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(v, f, sc)...)
			continue
		}
		if line, dup := first[k.Value]; dup {
			d.errorf(k.Line, sc, "%q is set twice (first at line %d)", sc.rel(joinPath(f.path, k.Value)), line)
			continue
		}
		first[k.Value] = k.Line
		written = append(written, field{key: k.Value, line: k.Line, node: v})
	}
	return append(written, merged...)
}

// merge returns the pairs a merge key (<<) brings in: those of a mapping or
// of a list of mappings.
func (d *decoder) merge(v *yaml.Node, f field, sc scope) []field {
	v = resolve(v)
	maps := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		maps = maps[:0]
		for _, item := range v.Content {
			maps = append(maps, resolve(item))
		}
	}
	var out []field
	for _, m := range maps {
		if m.Kind != yaml.MappingNode {
			d.errorf(v.Line, sc, "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(m))
			return nil
		}
		out = append(out, d.pairs(m, f, sc)...)
	}
	return out
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// items returns the elements of the list at f, recording their lines. A
// null value is an empty list.
func (d *decoder) items(f field, sc scope) []field {
	n := resolve(f.node)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(f, sc, "want a list, got %s", describe(n))
		return nil
	}
	out := make([]field, len(n.Content))
	for i, item := range n.Content {
		path := fmt.Sprintf("%s[%d]", f.path, i)
		d.lines[path] = item.Line
		out[i] = field{key: f.key, path: path, line: item.Line, node: item}
	}
	return out
}

// str returns the scalar at f as a string; null is "".
func (d *decoder) str(f field, sc scope) string {
	n := resolve(f.node)
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(f, sc, "want a string, got %s", describe(n))
		return ""
	}
	return n.Value
}

// strs returns the list of strings at f.
func (d *decoder) strs(f field, sc scope) []string {
	var out []string
	for _, item := range d.items(f, sc) {
		out = append(out, d.str(item, sc))
	}
	return out
}

// strMap returns the mapping of strings to strings at f.
func (d *decoder) strMap(f field, sc scope) map[string]string {
	fields := d.mapping(f, sc)
	if fields == nil {
		return nil
	}
	out := make(map[string]string, len(fields))
	for _, kv := range fields {
		out[kv.key] = d.str(kv, sc)
	}
	return out
}

// integer returns the integer at f.
func (d *decoder) integer(f field, sc scope) int {
	n := resolve(f.node)
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		d.fail(f, sc, "want an integer, got %s", describe(n))
		return 0
	}
	return i
}

// duration returns the duration at f, written like "8s" or "10m".
func (d *decoder) duration(f field, sc scope) time.Duration {
	s := d.str(f, sc)
	if d.bad[f.path] || s == "" {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil && durationShape.MatchString(s) && !strings.Contains(err.Error(), "unit") {
		// Well formed, but past what a time.Duration holds (about 292 years).
		d.fail(f, sc, "duration %q is out of range: at most %s", s, MaxDuration)
		return 0
	}
	if err != nil {
		d.fail(f, sc, "invalid duration %q: want a number with a unit, like 30s or 10m", s)
		return 0
	}
	if v < 0 {
		d.fail(f, sc, "duration %q is negative", s)
		return 0
	}
	if v > MaxDuration {
		d.fail(f, sc, "duration %q is out of range: at most %s", s, MaxDuration)
		return 0
	}
	return v
}

// MaxDuration bounds every duration in a stack file: a day is already far
// more than any bring-up or timeout, and sums of durations (the lower
// bound of a long chain) stay far from overflowing.
const MaxDuration = 24 * time.Hour

// durationShape is what a Go duration looks like: numbers with units.
var durationShape = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)[a-zµμ]+)+$`)

// timeout returns the duration at f, which must be greater than zero if
// it is set.
func (d *decoder) timeout(f field, sc scope) time.Duration {
	v := d.duration(f, sc)
	if v == 0 && !d.bad[f.path] && !isNull(resolve(f.node)) {
		d.fail(f, sc, "a timeout must be greater than 0")
	}
	return v
}

// hostPort returns the host port at f: a number from 1 to 65535, or "auto"
// (also when null).
func (d *decoder) hostPort(f field, sc scope) HostPort {
	n := resolve(f.node)
	if isNull(n) || (n.Kind == yaml.ScalarNode && n.Value == "auto") {
		return AutoHostPort
	}
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		d.fail(f, sc, "want a port number or auto, got %s", describe(n))
		return AutoHostPort
	}
	if i < 1 || i > 65535 {
		d.fail(f, sc, "%d is out of range 1-65535 (or auto)", i)
		return AutoHostPort
	}
	return HostPort(i)
}

// path resolves a path from the stack file against the stack's directory.
func (d *decoder) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}

// itemScope names the i-th element of a list of named objects.
func itemScope(list string, i int, f field) scope {
	label := fmt.Sprintf("%s[%d]", list, i)
	if name := nameOf(f.node); name != "" {
		label += fmt.Sprintf(" %q", name)
	}
	return scope{prefix: f.path, label: label}
}

// nameOf returns the scalar under the key "name" of a mapping node, if any.
func nameOf(n *yaml.Node) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" {
			if v := resolve(n.Content[i+1]); v.Kind == yaml.ScalarNode {
				return v.Value
			}
		}
	}
	return ""
}

func (d *decoder) stack(root *yaml.Node) *Stack {
	s := &Stack{}
	top := scope{}
	for _, f := range d.mapping(field{line: root.Line, node: root}, top) {
		switch f.key {
		case "apiVersion":
			s.APIVersion = d.str(f, top)
		case "kind":
			s.Kind = d.str(f, top)
		case "metadata":
			for _, g := range d.mapping(f, top) {
				switch g.key {
				case "name":
					s.Metadata.Name = d.str(g, top)
				default:
					d.unknown(g, top, "name")
				}
			}
		case "spec":
			s.Spec = d.spec(f)
		default:
			d.unknown(f, top, "apiVersion", "kind", "metadata", "spec")
		}
	}
	return s
}

func (d *decoder) spec(f field) Spec {
	var spec Spec
	top := scope{}
	for _, g := range d.mapping(f, top) {
		switch g.key {
		case "cluster":
			spec.Cluster = d.cluster(g)
		case "namespace":
			spec.Namespace = d.str(g, top)
		case "timeout":
			spec.Timeout = d.timeout(g, top)
		case "images":
			for i, item := range d.items(g, top) {
				spec.Images = append(spec.Images, d.image(item, itemScope("images", i, item)))
			}
		case "ports":
			for i, item := range d.items(g, top) {
				spec.Ports = append(spec.Ports, d.port(item, itemScope("ports", i, item)))
			}
		case "components":
			for i, item := range d.items(g, top) {
				spec.Components = append(spec.Components, d.component(item, itemScope("components", i, item)))
			}
		default:
			d.unknown(g, top, "cluster", "namespace", "timeout", "images", "ports", "components")
		}
	}
	return spec
}

func (d *decoder) cluster(f field) Cluster {
	var c Cluster
	top := scope{}
	for _, g := range d.mapping(f, top) {
		switch g.key {
		case "provider":
			c.Provider = Provider(d.str(g, top))
		case "kind":
			for _, h := range d.mapping(g, top) {
				switch h.key {
				case "nodeImage":
					c.Kind.NodeImage = d.str(h, top)
				case "mounts":
					for i, item := range d.items(h, top) {
						c.Kind.Mounts = append(c.Kind.Mounts, d.mount(item, scope{prefix: item.path, label: fmt.Sprintf("cluster.kind.mounts[%d]", i)}))
					}
				default:
					d.unknown(h, top, "nodeImage", "mounts")
				}
			}
		case "kubeconfig":
			for _, h := range d.mapping(g, top) {
				switch h.key {
				case "path":
					c.Kubeconfig.Path = d.path(d.str(h, top))
				case "context":
					c.Kubeconfig.Context = d.str(h, top)
				default:
					d.unknown(h, top, "path", "context")
				}
			}
		default:
			d.unknown(g, top, "provider", "kind", "kubeconfig")
		}
	}
	return c
}

func (d *decoder) mount(f field, sc scope) Mount {
	var m Mount
	for _, g := range d.mapping(f, sc) {
		switch g.key {
		case "hostPath":
			m.HostPath = d.path(d.str(g, sc))
		case "containerPath":
			m.ContainerPath = d.str(g, sc)
		default:
			d.unknown(g, sc, "hostPath", "containerPath")
		}
	}
	return m
}

func (d *decoder) image(f field, sc scope) Image {
	var img Image
	for _, g := range d.mapping(f, sc) {
		switch g.key {
		case "name":
			img.Name = d.str(g, sc)
		case "context":
			img.Context = d.path(d.str(g, sc))
		case "dockerfile":
			img.Dockerfile = d.path(d.str(g, sc))
		case "buildArgs":
			img.BuildArgs = d.strMap(g, sc)
		case "ref":
			img.Ref = d.str(g, sc)
		default:
			d.unknown(g, sc, "name", "context", "dockerfile", "buildArgs", "ref")
		}
	}
	return img
}

func (d *decoder) port(f field, sc scope) Port {
	var p Port
	for _, g := range d.mapping(f, sc) {
		switch g.key {
		case "name":
			p.Name = d.str(g, sc)
		case "nodePort":
			p.NodePort = d.integer(g, sc)
			if !d.bad[g.path] && (p.NodePort < 30000 || p.NodePort > 32767) {
				d.fail(g, sc, "%d is outside the NodePort range 30000-32767", p.NodePort)
			}
		case "hostPort":
			p.HostPort = d.hostPort(g, sc)
		default:
			d.unknown(g, sc, "name", "nodePort", "hostPort")
		}
	}
	return p
}

func (d *decoder) component(f field, sc scope) Component {
	var c Component
	for _, g := range d.mapping(f, sc) {
		switch g.key {
		case "name":
			c.Name = d.str(g, sc)
		case "images":
			c.Images = d.strs(g, sc)
		case "manifests":
			for _, m := range d.strs(g, sc) {
				c.Manifests = append(c.Manifests, d.path(m))
			}
		case "dependsOn":
			c.DependsOn = d.strs(g, sc)
		case "sim":
			c.Sim = d.sim(g, sc)
		case "checks":
			for _, item := range d.items(g, sc) {
				c.Checks = append(c.Checks, d.check(item, sc))
			}
		case "timeout":
			c.Timeout = d.timeout(g, sc)
		case "run":
			c.Run = d.run(g, sc)
		default:
			d.unknown(g, sc, "name", "images", "manifests", "dependsOn", "sim", "checks", "timeout", "run")
		}
	}
	return c
}

func (d *decoder) sim(f field, sc scope) *Sim {
	sim := &Sim{}
	for _, g := range d.mapping(f, sc) {
		switch g.key {
		case "readyAfter":
			sim.ReadyAfter = d.duration(g, sc)
		case "requires":
			sim.Requires = d.strs(g, sc)
		case "fail":
			sim.Fail = FailMode(d.str(g, sc))
		default:
			d.unknown(g, sc, "readyAfter", "requires", "fail")
		}
	}
	return sim
}

func (d *decoder) check(f field, sc scope) Check {
	var c Check
	for _, g := range d.mapping(f, sc) {
		switch g.key {
		case "http":
			c.HTTP = &HTTPCheck{}
			for _, h := range d.mapping(g, sc) {
				switch h.key {
				case "url":
					c.HTTP.URL = d.str(h, sc)
				case "status":
					c.HTTP.Status = d.integer(h, sc)
					if !d.bad[h.path] && (c.HTTP.Status < 100 || c.HTTP.Status > 599) {
						d.fail(h, sc, "%d is out of range 100-599", c.HTTP.Status)
					}
				default:
					d.unknown(h, sc, "url", "status")
				}
			}
		case "tcp":
			c.TCP = &TCPCheck{}
			for _, h := range d.mapping(g, sc) {
				switch h.key {
				case "address":
					c.TCP.Address = d.str(h, sc)
				default:
					d.unknown(h, sc, "address")
				}
			}
		default:
			d.unknown(g, sc, "http", "tcp")
		}
	}
	return c
}

func (d *decoder) run(f field, sc scope) *Run {
	r := &Run{}
	for _, g := range d.mapping(f, sc) {
		switch g.key {
		case "command":
			r.Command = d.strs(g, sc)
			if len(r.Command) > 0 && strings.ContainsRune(r.Command[0], '/') {
				r.Command[0] = d.path(r.Command[0])
			}
		case "env":
			r.Env = d.strMap(g, sc)
		case "timeout":
			r.Timeout = d.timeout(g, sc)
		default:
			d.unknown(g, sc, "command", "env", "timeout")
		}
	}
	return r
}
