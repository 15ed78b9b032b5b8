package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Load reads, defaults and validates the stack file at path. Relative paths
// in the file are resolved against the file's directory. If the file is
// invalid, the error is an ErrorList holding every problem found, each
// naming the file and line.
func Load(path string) (*Stack, error) {
	data, e := readFile(path, path)
	if e != nil {
		return nil, ErrorList{e}
	}
	return Parse(path, data, filepath.Dir(path))
}

// Parse is Load for a stack file already in memory. filename is used in
// messages; relative paths in the file are resolved against baseDir (the
// directory of filename if baseDir is empty). Manifests are read from disk,
// so that missing or invalid ones are reported too.
func Parse(filename string, data []byte, baseDir string) (*Stack, error) {
	if baseDir == "" {
		baseDir = filepath.Dir(filename)
	}
	dir, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, ErrorList{{File: filename, Message: fmt.Sprintf("cannot resolve directory %q", baseDir), Err: err}}
	}
	if e := checkText(filename, data); e != nil {
		return nil, ErrorList{e}
	}
	root, errs := parseStackYAML(filename, data)
	if errs != nil {
		return nil, errs
	}

	d := &decoder{file: filename, lines: map[string]int{}, bad: map[string]bool{}}
	s := d.stack(root)
	s.File = filename
	s.Dir = dir
	s.lines = d.lines
	s.displayDir = filepath.Dir(filename)
	s.resolvePaths()
	s.Default()

	all := append(d.errs, s.validate(d.bad)...)
	if len(all) > 0 {
		return nil, sortErrors(filename, all)
	}
	s.validated = true
	return s, nil
}

// Default fills in what the stack leaves out (see the package
// documentation); calling it again changes nothing. Load and Parse call it.
func (s *Stack) Default() {
	if s.Spec.Cluster.Provider == "" {
		s.Spec.Cluster.Provider = DefaultProvider
	}
	if s.Spec.Namespace == "" {
		s.Spec.Namespace = DefaultNamespace
	}
	if s.Spec.Timeout == 0 {
		s.Spec.Timeout = DefaultTimeout
	}
	for i := range s.Spec.Images {
		img := &s.Spec.Images[i]
		if img.Go != nil && img.Go.Dir == "" {
			img.Go.Dir = s.Dir
			if img.Go.Dir == "" {
				img.Go.Dir = "." // a stack built in Go: the working directory
			}
		}
		if img.Ref != "" || (img.Context == "" && img.Dockerfile == "") {
			continue
		}
		if img.Context == "" {
			img.Context = s.Dir
		}
		if img.Dockerfile == "" {
			img.Dockerfile = filepath.Join(img.Context, "Dockerfile")
		}
	}
	for i := range s.Spec.Components {
		c := &s.Spec.Components[i]
		if c.Timeout == 0 {
			c.Timeout = s.Spec.Timeout
		}
		if c.Run != nil && c.Run.Timeout == 0 {
			c.Run.Timeout = c.Timeout
		}
		for _, ch := range c.Checks {
			if ch.HTTP != nil && ch.HTTP.Status == 0 {
				ch.HTTP.Status = DefaultHTTPStatus
			}
		}
	}
}

// sortErrors puts the stack file's own problems first, by line, and keeps
// the order of the others (manifest problems, by component).
func sortErrors(stackFile string, errs ErrorList) ErrorList {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if (a.File == stackFile) != (b.File == stackFile) {
			return a.File == stackFile
		}
		return a.File == stackFile && a.Line < b.Line
	})
	return errs
}

// readFile reads a regular file of at most MaxFileSize bytes that holds
// text. name is the path to use in messages.
func readFile(path, name string) ([]byte, *Error) {
	info, err := os.Stat(path)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "file does not exist"
		}
		return nil, &Error{File: name, Message: msg, Err: err}
	}
	if !info.Mode().IsRegular() {
		return nil, &Error{File: name, Message: "not a regular file"}
	}
	if info.Size() > MaxFileSize {
		return nil, &Error{File: name, Message: fmt.Sprintf("file is larger than %d MiB", MaxFileSize>>20)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: name, Message: err.Error(), Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: name, Message: err.Error(), Err: err}
	}
	if e := checkText(name, data); e != nil {
		return nil, e
	}
	return data, nil
}

// checkText rejects data that is too large, or that is not UTF-8 text made
// of the characters YAML allows, before a YAML parser sees it: so binary
// files fail at once, and with a line.
func checkText(name string, data []byte) *Error {
	if len(data) > MaxFileSize {
		return &Error{File: name, Message: fmt.Sprintf("file is larger than %d MiB", MaxFileSize>>20)}
	}
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return &Error{File: name, Line: line, Message: fmt.Sprintf("not UTF-8 text (byte 0x%02x); is it a binary file?", data[i])}
		case r == 0:
			return &Error{File: name, Line: line, Message: "NUL byte; is it a binary file?"}
		case r == '\n':
			line++
		case !yamlPrintable(r):
			return &Error{File: name, Line: line, Message: fmt.Sprintf("control character %U is not allowed in YAML; is it a binary file?", r)}
		}
		i += size
	}
	return nil
}

// yamlPrintable reports whether YAML 1.2 allows r in a document
// (production c-printable).
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7e:
		return true
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// parseStackYAML parses the one YAML document of a stack file.
func parseStackYAML(name string, data []byte) (*yaml.Node, ErrorList) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if err == io.EOF || (err == nil && isEmptyDocument(&doc)) {
		return nil, ErrorList{{File: name, Line: 1, Message: "empty stack file"}}
	}
	if err != nil {
		return nil, yamlErrors(name, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil:
		return nil, yamlErrors(name, err)
	case !isEmptyDocument(&extra):
		return nil, ErrorList{{File: name, Line: extra.Line, Message: "a stack file holds one YAML document, found another"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, ErrorList{{File: name, Line: root.Line, Message: "a stack file is a mapping (apiVersion, kind, metadata, spec), got " + describe(root)}}
	}
	if line, msg := checkAliases(root); msg != "" {
		return nil, ErrorList{{File: name, Line: line, Message: msg}}
	}
	return root, nil
}

// isEmptyDocument reports whether a decoded document holds nothing but null.
func isEmptyDocument(doc *yaml.Node) bool {
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return true
	}
	return isNull(doc.Content[0])
}

// isNull reports whether n is absent or a null scalar.
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlErrors turns an error from the YAML parser into problems with lines.
// The parser leaves out the line for problems on the first line.
func yamlErrors(name string, err error) ErrorList {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs ErrorList
	for _, msg := range msgs {
		line := 1
		m := yamlLineRE.FindStringSubmatch(msg)
		if m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		// The parser's own errors (not the scanner's) give the 0-based line
		// of the enclosing block: report it 1-based, and say it is the block.
		if strings.HasPrefix(msg, "did not find expected") && m != nil {
			line++
			msg += " (in the block that starts on this line)"
		}
		errs = append(errs, &Error{File: name, Line: line, Message: "invalid YAML: " + msg})
	}
	return errs
}

// maxAliasExpansion is how many nodes YAML aliases may add to a document
// when expanded. Real files use a handful; a "billion laughs" file is
// rejected without expanding it.
const maxAliasExpansion = 1_000_000

// checkAliases measures how large root would be with its aliases expanded,
// without expanding them. It returns the line and a message if the
// expansion is too large or an alias refers to a node containing itself.
func checkAliases(root *yaml.Node) (line int, msg string) {
	c := aliasCounter{size: map[*yaml.Node]int{}, raw: map[*yaml.Node]int{}, busy: map[*yaml.Node]bool{}}
	c.count(root)
	return c.line, c.msg
}

// aliasCounter computes, per node, its size with aliases expanded and its
// size as written, memoised so that shared nodes are counted once.
type aliasCounter struct {
	size, raw map[*yaml.Node]int
	busy      map[*yaml.Node]bool
	line      int
	msg       string
}

func (c *aliasCounter) count(n *yaml.Node) (size, raw int) {
	if c.msg != "" || n == nil {
		return 0, 0
	}
	if s, ok := c.size[n]; ok {
		return s, c.raw[n]
	}
	if c.busy[n] {
		c.line, c.msg = n.Line, "YAML alias refers to a node that contains it"
		return 0, 0
	}
	c.busy[n] = true
	defer delete(c.busy, n)
	if n.Kind == yaml.AliasNode {
		size, _ = c.count(n.Alias)
		raw = 1
	} else {
		size, raw = 1, 1
		for _, child := range n.Content {
			s, r := c.count(child)
			size += s
			raw += r
		}
	}
	if c.msg == "" && size-raw > maxAliasExpansion {
		c.line = n.Line
		c.msg = fmt.Sprintf("YAML aliases expand to more than %d nodes", maxAliasExpansion)
	}
	c.size[n], c.raw[n] = size, raw
	return size, raw
}
