package stack

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ManifestFile is a file, or a kustomize directory, that a component's
// manifests entry resolved to.
type ManifestFile struct {
	// Path is the absolute path.
	Path string
	// Name is the path as messages show it, relative to the stack file's
	// directory as the user named it.
	Name string
	// Kustomize is set when Path is a directory holding a kustomization
	// file (kustomization.yaml, kustomization.yml or Kustomization). It is
	// built with kustomize, in process, once per Stack, and the objects it
	// yields are read as those of a file (see Manifests).
	Kustomize bool
}

// Document is one Kubernetes object read from a manifest file.
type Document struct {
	// File is the manifest file as messages show it (ManifestFile.Name);
	// for an object kustomize built, the kustomization file (such as
	// "config/default/kustomization.yaml").
	File string
	// Line is the line the object starts on; 0 for an object kustomize
	// built, whose lines are in no file the user wrote.
	Line int
	// Object is the object, with JSON-compatible values only:
	// map[string]any, []any, string, int64, float64, bool and nil. It has
	// apiVersion, kind and metadata.name.
	Object map[string]any
	// shaped: read with placeholders for its references (Manifests without
	// Vars, a file whose references break its YAML as written), so its
	// values are not the ones that will be applied.
	shaped bool
}

// ComponentManifests is what one component's manifests resolve to.
type ComponentManifests struct {
	// Component is the component's name.
	Component string
	// Files are the component's manifest files and kustomize directories,
	// in the order of its manifests entries, each once. A directory entry
	// gives its *.yaml, *.yml and *.json files in name order; a glob gives
	// its matches in name order.
	Files []ManifestFile
	// Documents are the objects in Files, in order; a kustomize
	// directory's in the order kustomize emits them. Empty documents are
	// skipped and a kind List is replaced by its items.
	Documents []Document
}

// Manifests resolves the manifests of every component, in the order of
// Spec.Components, and reads their objects.
//
// With vars, references in the manifests (${image:NAME} and the rest, see
// Substitute) are replaced before the YAML is parsed; without, they are
// checked against the stack and left as written (a file whose references
// break its YAML as written, like ${namespace} inside a flow mapping, is
// parsed with values of the right shape in their place). Problems are returned as
// an ErrorList naming each manifest file and line.
//
// A kustomize directory is built with kustomize's Go API (no kustomize
// binary), once per Stack, and its output is then read as a manifest file
// is: references are substituted, or checked, in the YAML kustomize emits,
// by the same substitution, so `image: ${image:api}` in a base's
// Deployment resolves as in a plain file (kustomize's images: transformer
// is not involved). Its objects and problems name the kustomization file,
// without a line; a kustomization that does not build (a missing resource,
// a field kustomize does not know) is a problem with kustomize's message.
func (s *Stack) Manifests(vars *Vars) ([]ComponentManifests, error) {
	out, errs := s.readManifests(vars)
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func (s *Stack) readManifests(vars *Vars) ([]ComponentManifests, ErrorList) {
	var errs ErrorList
	value := s.refChecker()
	if vars != nil {
		value = vars.value
	}
	out := make([]ComponentManifests, len(s.Spec.Components))
	for i, c := range s.Spec.Components {
		obj := s.componentLabel(i)
		cm := ComponentManifests{Component: c.Name}
		seen := map[string]bool{}
		for j, entry := range c.Manifests {
			if entry == "" {
				continue
			}
			files, msg := s.resolveManifest(entry)
			if msg != "" {
				path := fmt.Sprintf("%s.manifests[%d]", componentPath(i), j)
				errs.add(s.File, s.line(path), obj, "manifests[%d] %q: %s", j, s.display(entry), msg)
				continue
			}
			for _, f := range files {
				if !seen[f.Path] {
					seen[f.Path] = true
					cm.Files = append(cm.Files, f)
				}
			}
		}
		failed := false
		for _, f := range cm.Files {
			docs, ferrs := s.readDocuments(f, obj, value, vars != nil)
			cm.Documents = append(cm.Documents, docs...)
			errs = append(errs, ferrs...)
			failed = failed || len(ferrs) > 0
		}
		if len(cm.Files) > 0 && len(cm.Documents) == 0 && !failed {
			names := make([]string, len(cm.Files))
			for k, f := range cm.Files {
				names[k] = f.Name
			}
			errs.add(s.File, s.line(componentPath(i)+".manifests"), obj, "nothing to do: its manifests (%s) hold no objects", strings.Join(names, ", "))
		}
		out[i] = cm
	}
	errs = append(errs, s.duplicateObjects(out, vars == nil)...)
	return out, errs
}

// duplicateObjects reports every object that more than one document
// declares (the same API group, kind, namespace and name; no namespace
// means the stack's), in one component or two: each object belongs to one
// component, whose readiness it is part of, and two applies of it would
// fight over its fields. unsubstituted: the documents still hold their
// references; ${namespace} and ${stack} are compared as their values,
// other references as written, and documents read with placeholders are
// left out (their names are not the applied ones).
func (s *Stack) duplicateObjects(cms []ComponentManifests, unsubstituted bool) ErrorList {
	type where struct {
		component string
		doc       *Document
	}
	var errs ErrorList
	first := map[string]where{}
	known := strings.NewReplacer("${namespace}", s.Spec.Namespace, "${stack}", s.Metadata.Name)
	for i, cm := range cms {
		for j := range cm.Documents {
			d := &cm.Documents[j]
			if unsubstituted && d.shaped {
				continue
			}
			apiVersion, _ := d.Object["apiVersion"].(string)
			kind, _ := d.Object["kind"].(string)
			meta, _ := d.Object["metadata"].(map[string]any)
			name, _ := meta["name"].(string)
			written, _ := meta["namespace"].(string)
			if unsubstituted {
				name, written = known.Replace(name), known.Replace(written)
			}
			ns := written
			if ns == "" {
				ns = s.Spec.Namespace
			}
			gv, _ := schema.ParseGroupVersion(apiVersion)
			key := strings.Join([]string{gv.Group, kind, ns, name}, "\x00")
			w, dup := first[key]
			if !dup {
				first[key] = where{cm.Component, d}
				continue
			}
			also := w.doc.Source()
			if w.component != cm.Component {
				also += fmt.Sprintf(" (component %s)", w.component)
			}
			errs.add(d.File, d.Line, s.componentLabel(i), "%s %s is also declared at %s: an object belongs to one component, declared once", kind, describeName(written, name), also)
		}
	}
	return errs
}

// describeName is "namespace/name", or the name alone when the manifest
// gives no namespace.
func describeName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// resolveManifest expands one manifests entry (an absolute path: a file,
// a directory or a glob) into files. On failure it returns a message.
func (s *Stack) resolveManifest(entry string) ([]ManifestFile, string) {
	if !strings.ContainsAny(entry, "*?[") {
		return s.manifestPath(entry)
	}
	matches, err := filepath.Glob(entry)
	if err != nil {
		return nil, "invalid glob pattern"
	}
	if len(matches) == 0 {
		return nil, "matches no files"
	}
	var files []ManifestFile
	for _, m := range matches {
		f, msg := s.manifestPath(m)
		if msg != "" {
			return nil, fmt.Sprintf("%s: %s", s.display(m), msg)
		}
		files = append(files, f...)
	}
	return files, ""
}

// kustomizationFiles are the names kustomize looks for in a directory.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// manifestPath expands a file or a directory into files.
func (s *Stack) manifestPath(path string) ([]ManifestFile, string) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "does not exist"
	case err != nil:
		return nil, err.Error()
	case info.Mode().IsRegular():
		return []ManifestFile{{Path: path, Name: s.display(path)}}, ""
	case !info.IsDir():
		return nil, "is not a file or a directory"
	}
	for _, k := range kustomizationFiles {
		if _, err := os.Stat(filepath.Join(path, k)); err == nil {
			return []ManifestFile{{Path: path, Name: s.display(path), Kustomize: true}}, ""
		}
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err.Error()
	}
	var files []ManifestFile
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		p := filepath.Join(path, e.Name())
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() {
			files = append(files, ManifestFile{Path: p, Name: s.display(p)})
		}
	}
	if len(files) == 0 {
		return nil, "directory holds no *.yaml, *.yml or *.json files"
	}
	return files, ""
}

// Source is where d comes from, as messages show it: "file:line", or the
// file alone for an object kustomize built.
func (d Document) Source() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d", d.File, d.Line)
	}
	return d.File
}

// readDocuments reads the objects of one manifest file, or of what
// kustomize builds from a kustomize directory. value replaces or checks
// references; if substitute is false the text is parsed as written.
func (s *Stack) readDocuments(f ManifestFile, object string, value func(kind, name string) (string, error), substitute bool) ([]Document, ErrorList) {
	data, e := s.readManifestFile(f)
	if e != nil {
		e.Object = object
		return nil, ErrorList{e}
	}
	if f.Kustomize {
		return readBuilt(kustomizationName(f), data, object, value, substitute)
	}
	var errs ErrorList
	text, problems := expand(string(data), value)
	for _, p := range problems {
		errs.add(f.Name, p.line, object, "%s", p.msg)
	}
	if substitute {
		if len(problems) > 0 {
			return nil, errs
		}
		docs, perrs := parseDocuments(f.Name, []byte(text), object)
		return docs, append(errs, perrs...)
	}
	docs, perrs := parseDocuments(f.Name, data, object)
	if len(perrs) > 0 {
		// A reference can break YAML that its value would not: the braces
		// of ${namespace} inside a flow mapping ({host: db.${namespace}}).
		// Judge the file as it will be applied: with values of the right
		// shape in place of the references (on the same lines).
		// Kept only if it reads better: placeholders are not the values,
		// and a check of a value (a Secret's base64) would fail on them.
		if shaped := placeholders(string(data)); shaped != string(data) {
			if sdocs, serrs := parseDocuments(f.Name, []byte(shaped), object); len(serrs) < len(perrs) {
				docs, perrs = sdocs, serrs
				for i := range docs {
					docs[i].shaped = true
				}
			}
		}
	}
	return docs, append(errs, perrs...)
}

// readBuilt reads the objects of YAML that kustomize emitted for the
// kustomization file name: references are replaced (substitute) or checked
// as in a manifest file, and objects and problems name the kustomization
// file with no line, a problem in a reference naming the object it is in.
// kustomize emits references in block style, so the YAML as written parses.
func readBuilt(name string, data []byte, object string, value func(kind, name string) (string, error), substitute bool) ([]Document, ErrorList) {
	var errs ErrorList
	built, perrs := parseDocuments(name, data, object)
	text, problems := expand(string(data), value)
	for _, p := range problems {
		msg := p.msg
		// The object the reference is in: the last to start at or before it.
		for i := len(built) - 1; i >= 0; i-- {
			if built[i].Line <= p.line {
				meta, _ := built[i].Object["metadata"].(map[string]any)
				msg = fmt.Sprintf("%s %v: %s", built[i].Object["kind"], meta["name"], msg)
				break
			}
		}
		errs.add(name, 0, object, "%s", msg)
	}
	if substitute {
		if len(problems) > 0 {
			return nil, errs
		}
		built, perrs = parseDocuments(name, []byte(text), object)
	}
	for i := range built {
		built[i].Line = 0
	}
	for _, e := range perrs {
		e.Line = 0
	}
	return built, append(errs, perrs...)
}

// parseDocuments parses the YAML (or JSON) documents of a manifest file
// into objects.
func parseDocuments(name string, data []byte, object string) ([]Document, ErrorList) {
	var docs []Document
	var errs ErrorList
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for n := 1; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			// The parser cannot go on after a syntax error.
			for _, e := range yamlErrors(name, err) {
				e.Object = object
				errs = append(errs, e)
			}
			break
		}
		if isEmptyDocument(&doc) {
			continue
		}
		root := doc.Content[0]
		what := fmt.Sprintf("document %d", n)
		if line, msg := checkAliases(root); msg != "" {
			errs.add(name, line, object, "%s: %s", what, msg)
			continue
		}
		if root.Kind != yaml.MappingNode {
			errs.add(name, root.Line, object, "%s: want a Kubernetes object (a mapping), got %s", what, describe(root))
			continue
		}
		obj, ok := decodeObject(name, root, object, what, &errs)
		if !ok {
			continue
		}
		if obj["kind"] != "List" {
			if checkObject(name, root.Line, object, what, obj, &errs) {
				docs = append(docs, Document{File: name, Line: root.Line, Object: obj})
			}
			continue
		}
		items := listItems(root)
		if items == nil {
			errs.add(name, root.Line, object, "%s: kind List needs a list of items", what)
			continue
		}
		for i, item := range items.Content {
			itemWhat := fmt.Sprintf("%s items[%d]", what, i)
			obj, ok := decodeObject(name, item, object, itemWhat, &errs)
			if ok && checkObject(name, item.Line, object, itemWhat, obj, &errs) {
				docs = append(docs, Document{File: name, Line: item.Line, Object: obj})
			}
		}
	}
	return docs, errs
}

// listItems returns the sequence under "items" of a List, or nil.
func listItems(root *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "items" {
			if items := resolve(root.Content[i+1]); items.Kind == yaml.SequenceNode {
				return items
			}
			return nil
		}
	}
	return nil
}

// decodeObject decodes a node into a JSON-compatible object.
func decodeObject(name string, n *yaml.Node, object, what string, errs *ErrorList) (map[string]any, bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		for _, e := range yamlErrors(name, err) {
			e.Object = object
			e.Message = what + ": " + e.Message
			*errs = append(*errs, e)
		}
		return nil, false
	}
	v = jsonValue(v)
	obj, ok := v.(map[string]any)
	if !ok {
		errs.add(name, n.Line, object, "%s: want a Kubernetes object (a mapping)", what)
		return nil, false
	}
	return obj, true
}

// checkObject checks that an object has apiVersion, kind and metadata.name.
func checkObject(name string, line int, object, what string, obj map[string]any, errs *ErrorList) bool {
	var missing []string
	for _, key := range []string{"apiVersion", "kind"} {
		if v, ok := obj[key]; ok && v != nil {
			if _, isString := v.(string); !isString {
				errs.add(name, line, object, "%s: %s: want a string, got %v", what, key, v)
				return false
			}
		}
	}
	if s, _ := obj["apiVersion"].(string); s == "" {
		missing = append(missing, "apiVersion")
	}
	kind, _ := obj["kind"].(string)
	if kind == "" {
		missing = append(missing, "kind")
	} else {
		what += " (" + kind + ")"
	}
	meta, _ := obj["metadata"].(map[string]any)
	if s, _ := meta["name"].(string); s == "" {
		missing = append(missing, "metadata.name")
	}
	if len(missing) > 0 {
		errs.add(name, line, object, "%s: missing %s", what, strings.Join(missing, ", "))
		return false
	}
	return checkSecretData(name, line, object, what, obj, errs)
}

// checkSecretData checks that a Secret's data values are base64, as the API
// server will, without ever showing a value.
func checkSecretData(name string, line int, object, what string, obj map[string]any, errs *ErrorList) bool {
	if obj["apiVersion"] != "v1" || obj["kind"] != "Secret" {
		return true
	}
	data, _ := obj["data"].(map[string]any)
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ok := true
	for _, k := range keys {
		v, isString := data[k].(string)
		if !isString {
			if data[k] != nil {
				errs.add(name, line, object, "%s: data.%s: want a base64 string", what, k)
				ok = false
			}
			continue
		}
		if strings.Contains(v, "${") {
			continue // a reference, substituted later
		}
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			errs.add(name, line, object, "%s: data.%s is not base64 (the API server would reject it); put plain text under stringData", what, k)
			ok = false
		}
	}
	return ok
}

// jsonValue converts a value decoded by yaml.v3 into one that encoding/json
// and Kubernetes' unstructured objects accept: string map keys, int64
// integers and RFC 3339 timestamps.
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonValue(x)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = jsonValue(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = jsonValue(x)
		}
		return v
	case int:
		return int64(v)
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v)
		}
		return float64(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return v
}

// fileCache holds manifest files as read, by path.
type fileCache struct {
	mu    sync.Mutex
	files map[string][]byte
}

// readManifestFile reads f once per Stack; later calls get the same bytes.
// A kustomize directory is built once per Stack: its bytes are the YAML
// kustomize emits.
func (s *Stack) readManifestFile(f ManifestFile) ([]byte, *Error) {
	if s.files == nil {
		s.files = &fileCache{files: map[string][]byte{}}
	}
	s.files.mu.Lock()
	defer s.files.mu.Unlock()
	if data, ok := s.files.files[f.Path]; ok {
		return data, nil
	}
	var data []byte
	var e *Error
	if f.Kustomize {
		data, e = s.buildKustomization(f)
	} else {
		data, e = readFile(f.Path, f.Name)
	}
	if e == nil {
		s.files.files[f.Path] = data
	}
	return data, e
}

// Validated reports whether Load, Parse or Validate accepted s: a stack
// built in Go needs Default and Validate first.
func (s *Stack) Validated() bool { return s.validated }
