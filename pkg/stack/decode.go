package stack

import (
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder reads the YAML node tree of a stack file into the types of
// types.go, walking them by their yaml tags. It reports unknown fields and
// values of the wrong type with their lines, and records the line of every
// field for the validator.
type decoder struct {
	file string
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

// objects are the types whose list elements messages name on their own,
// as `components[2] "migrations"`; their fields are named relative to them.
var objects = map[reflect.Type]bool{
	reflect.TypeFor[Image]():     true,
	reflect.TypeFor[Port]():      true,
	reflect.TypeFor[Component](): true,
	reflect.TypeFor[Mount]():     true,
}

// limit checks a field's decoded value; it returns what is wrong, or "".
type limit func(v reflect.Value) string

// limits are the bounds of particular fields, by struct type and key,
// beyond those of their Go types.
var limits = map[limitKey]limit{
	{reflect.TypeFor[Spec](), "timeout"}:      positive,
	{reflect.TypeFor[Component](), "timeout"}: positive,
	{reflect.TypeFor[Run](), "timeout"}:       positive,
	{reflect.TypeFor[Port](), "nodePort"}:     func(v reflect.Value) string { return nodePortProblem(int(v.Int())) },
	{reflect.TypeFor[HTTPCheck](), "status"}:  func(v reflect.Value) string { return statusProblem(int(v.Int())) },
}

type limitKey struct {
	t   reflect.Type
	key string
}

// positive rejects a timeout of 0, which would fail at once.
func positive(v reflect.Value) string {
	if v.Int() == 0 {
		return "a timeout must be greater than 0"
	}
	return ""
}

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) stack(root *yaml.Node) *Stack {
	s := &Stack{}
	d.decode(reflect.ValueOf(s).Elem(), field{line: root.Line, node: root}, scope{})
	return s
}

// decode sets v from the node at f, by v's type.
func (d *decoder) decode(v reflect.Value, f field, sc scope) {
	if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
		if err := u.UnmarshalYAML(resolve(f.node)); err != nil {
			d.fail(f, sc, "%s", err)
		}
		return
	}
	switch {
	case v.Type() == durationType:
		v.SetInt(int64(d.duration(f, sc)))
	case v.Kind() == reflect.String:
		v.SetString(d.str(f, sc))
	case v.Kind() == reflect.Int:
		v.SetInt(int64(d.integer(f, sc)))
	case v.Kind() == reflect.Bool:
		v.SetBool(d.boolean(f, sc))
	case v.Kind() == reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		d.decode(v.Elem(), f, sc)
	case v.Kind() == reflect.Slice:
		d.list(v, f, sc)
	case v.Kind() == reflect.Map:
		d.dict(v, f, sc)
	case v.Kind() == reflect.Struct:
		d.object(v, f, sc)
	default:
		d.fail(f, sc, "cannot decode into %s", v.Type())
	}
}

// object decodes a mapping into struct v, field by field.
func (d *decoder) object(v reflect.Value, f field, sc scope) {
	t := v.Type()
	keys, index := yamlFields(t)
	for _, g := range d.mapping(f, sc) {
		i := indexOf(keys, g.key)
		if i < 0 {
			d.unknown(g, sc, keys...)
			continue
		}
		fv := v.Field(index[i])
		d.decode(fv, g, sc)
		if lim := limits[limitKey{t, g.key}]; lim != nil && !d.bad[g.path] && !isNull(resolve(g.node)) {
			if msg := lim(fv); msg != "" {
				d.fail(g, sc, "%s", msg)
			}
		}
	}
}

// list decodes a sequence into slice v; it stays nil if the list is empty.
func (d *decoder) list(v reflect.Value, f field, sc scope) {
	t := v.Type().Elem()
	for i, item := range d.items(f, sc) {
		e := reflect.New(t).Elem()
		isc := sc
		if objects[t] {
			isc = objectScope(t, f.path, i, item)
		}
		d.decode(e, item, isc)
		v.Set(reflect.Append(v, e))
	}
}

// dict decodes a mapping into map v; a mapping with no keys makes an empty
// map, null leaves v nil.
func (d *decoder) dict(v reflect.Value, f field, sc scope) {
	fields := d.mapping(f, sc)
	if fields == nil {
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(fields))
	for _, kv := range fields {
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(e, kv, sc)
		m.SetMapIndex(reflect.ValueOf(kv.key), e)
	}
	v.Set(m)
}

// yamlFields returns the keys of struct type t, in order, and the indexes
// of the fields they set.
func yamlFields(t reflect.Type) (keys []string, index []int) {
	for i := range t.NumField() {
		sf := t.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if sf.IsExported() && key != "" && key != "-" {
			keys = append(keys, key)
			index = append(index, i)
		}
	}
	return keys, index
}

func indexOf(keys []string, key string) int {
	for i, k := range keys {
		if k == key {
			return i
		}
	}
	return -1
}

// objectScope names the i-th element of the list at path, of object type
// t: by its path under spec and, if t has a name, the name written.
func objectScope(t reflect.Type, path string, i int, item field) scope {
	name := ""
	if keys, _ := yamlFields(t); indexOf(keys, "name") >= 0 {
		name = nameOf(item.node)
	}
	return scope{prefix: item.path, label: label(strings.TrimPrefix(path, "spec."), i, name)}
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
// is no mapping (nil), an empty one is not nil.
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

// integer returns the integer at f.
func (d *decoder) integer(f field, sc scope) int {
	n := resolve(f.node)
	i, ok := intOf(n)
	if !ok {
		d.fail(f, sc, "want an integer, got %s", describe(n))
	}
	return i
}

// boolean is the true or false at f.
func (d *decoder) boolean(f field, sc scope) bool {
	n := resolve(f.node)
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.fail(f, sc, "want true or false, got %s", describe(n))
	}
	return b
}

// intOf returns the integer that scalar n holds, if it holds one.
func intOf(n *yaml.Node) (int, bool) {
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		return 0, false
	}
	return i, true
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
	if msg := durationProblem(v, s); msg != "" {
		d.fail(f, sc, "%s", msg)
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

// durationProblem says what is wrong with duration v, written text, or "".
func durationProblem(v time.Duration, text string) string {
	switch {
	case v < 0:
		return fmt.Sprintf("duration %q is negative", text)
	case v > MaxDuration:
		return fmt.Sprintf("duration %q is out of range: at most %s", text, MaxDuration)
	}
	return ""
}

// hostPortProblem says what is wrong with a host port number, or "".
func hostPortProblem(p int) string {
	if p < 1 || p > 65535 {
		return fmt.Sprintf("%d is out of range 1-65535 (or auto)", p)
	}
	return ""
}

// nodePortProblem says what is wrong with a NodePort, or "".
func nodePortProblem(p int) string {
	if p < 30000 || p > 32767 {
		return fmt.Sprintf("%d is outside the NodePort range 30000-32767", p)
	}
	return ""
}

// statusProblem says what is wrong with an expected HTTP status, or "".
func statusProblem(s int) string {
	if s < 100 || s > 599 {
		return fmt.Sprintf("%d is out of range 100-599", s)
	}
	return ""
}

// resolvePaths makes the relative paths of a decoded stack absolute,
// against its directory. A program (run.command[0]) counts as a path only
// with a slash in it; a bare name is looked up in PATH.
func (s *Stack) resolvePaths() {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(s.Dir, *p)
		}
	}
	abs(&s.Spec.Cluster.Kubeconfig.Path)
	for i := range s.Spec.Cluster.Kind.Mounts {
		abs(&s.Spec.Cluster.Kind.Mounts[i].HostPath)
	}
	for i := range s.Spec.Images {
		img := &s.Spec.Images[i]
		abs(&img.Context)
		abs(&img.Dockerfile)
		if img.Go != nil {
			abs(&img.Go.Dir)
		}
	}
	for i := range s.Spec.Components {
		c := &s.Spec.Components[i]
		for j := range c.Manifests {
			abs(&c.Manifests[j])
		}
		if c.Run != nil && len(c.Run.Command) > 0 && strings.ContainsRune(c.Run.Command[0], '/') {
			abs(&c.Run.Command[0])
		}
	}
}
