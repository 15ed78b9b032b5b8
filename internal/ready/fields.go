package ready

import (
	"fmt"
	"math"
	"strings"
)

// fields reads an object's fields without ever panicking. A field that is
// absent (or null) reads as its default. A field that is present with the
// wrong type also reads as its default, and the first such field is
// remembered (see bad), so that a rule can be written as if the object were well
// formed and evaluate can turn a malformed object into InProgress afterwards.
//
// Readers for nested objects (list elements, other objects) share the record,
// with their place in it.
type fields struct {
	obj  map[string]any
	at   []string // where obj sits, for the record: "status", "conditions", "0"
	root *string  // the first malformed field: "status.replicas: got string, want integer"
}

func newFields(obj map[string]any) *fields { return &fields{obj: obj, root: new(string)} }

// sub returns a reader for obj, which sits at path below f, sharing f's record.
func (f *fields) sub(obj map[string]any, path ...string) *fields {
	at := append(append([]string(nil), f.at...), path...)
	return &fields{obj: obj, at: at, root: f.root}
}

// bad returns the first malformed field read through f or a reader sharing
// its record, or "".
func (f *fields) bad() string { return *f.root }

// malformed records the first malformed field.
func (f *fields) malformed(path []string, got any, want string) {
	if *f.root == "" {
		full := append(append([]string(nil), f.at...), path...)
		*f.root = fmt.Sprintf("%s: got %s, want %s", strings.Join(full, "."), typeName(got), want)
	}
}

// get returns the value at path; found is false when the value is absent or
// null, or when a step on the way is not an object (which is recorded).
func (f *fields) get(path ...string) (any, bool) {
	var val any = f.obj
	for i, field := range path {
		if val == nil {
			return nil, false
		}
		m, ok := val.(map[string]any)
		if !ok {
			f.malformed(path[:i], val, "object")
			return nil, false
		}
		if val, ok = m[field]; !ok {
			return nil, false
		}
	}
	return val, val != nil
}

// str returns the string at path, or "".
func (f *fields) str(path ...string) string {
	v, ok := f.get(path...)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		f.malformed(path, v, "string")
	}
	return s
}

// integer returns the integer at path and whether it is present.
func (f *fields) integer(path ...string) (int64, bool) {
	v, ok := f.get(path...)
	if !ok {
		return 0, false
	}
	if n, ok := toInt64(v); ok {
		return n, true
	}
	f.malformed(path, v, "integer")
	return 0, false
}

// intOr returns the integer at path, or def when it is absent.
func (f *fields) intOr(def int64, path ...string) int64 {
	if n, ok := f.integer(path...); ok {
		return n
	}
	return def
}

// boolean returns the bool at path and whether it is present.
func (f *fields) boolean(path ...string) (bool, bool) {
	v, ok := f.get(path...)
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		f.malformed(path, v, "boolean")
	}
	return b, ok
}

// object returns the object at path, or nil.
func (f *fields) object(path ...string) map[string]any {
	v, ok := f.get(path...)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		f.malformed(path, v, "object")
	}
	return m
}

// list returns the list at path, or nil.
func (f *fields) list(path ...string) []any {
	v, ok := f.get(path...)
	if !ok {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		f.malformed(path, v, "list")
	}
	return l
}

// objects returns the list of objects at path; elements that are not
// objects are recorded and skipped.
func (f *fields) objects(path ...string) []*fields {
	var out []*fields
	for i, v := range f.list(path...) {
		m, ok := v.(map[string]any)
		if !ok {
			f.malformed(append(path[:len(path):len(path)], fmt.Sprint(i)), v, "object")
			continue
		}
		out = append(out, f.sub(m, append(path[:len(path):len(path)], fmt.Sprint(i))...))
	}
	return out
}

// stringMap returns the map of strings at path (labels, selectors), or nil.
func (f *fields) stringMap(path ...string) map[string]string {
	m := f.object(path...)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			f.malformed(append(path[:len(path):len(path)], k), v, "string")
			continue
		}
		out[k] = s
	}
	return out
}

// condition is the common shape of status.conditions entries.
type condition struct {
	Type, Status, Reason, Message, LastTransitionTime string
}

// conditions returns status.conditions.
func (f *fields) conditions() []condition {
	var out []condition
	for _, c := range f.objects("status", "conditions") {
		out = append(out, condition{
			Type:               c.str("type"),
			Status:             c.str("status"),
			Reason:             c.str("reason"),
			Message:            c.str("message"),
			LastTransitionTime: c.str("lastTransitionTime"),
		})
	}
	return out
}

// cond returns the status condition of the given type.
func (f *fields) cond(typ string) (condition, bool) {
	for _, c := range f.conditions() {
		if c.Type == typ {
			return c, true
		}
	}
	return condition{}, false
}

// is reports whether the condition of the given type has the given status.
func (f *fields) is(typ, status string) bool {
	c, ok := f.cond(typ)
	return ok && c.Status == status
}

// toInt64 accepts the integer types found in unstructured objects: int64
// from the API machinery's JSON decoder, float64 from encoding/json.
func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	}
	return 0, false
}

// typeName names a JSON type without printing the value (which could be
// anything, including data that must not appear in output).
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case int, int32, int64, float64:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
