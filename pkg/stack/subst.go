package stack

import (
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Vars are the values substituted for references in manifests, checks and
// run steps.
type Vars struct {
	// Stack replaces ${stack}: the stack's name.
	Stack string
	// Namespace replaces ${namespace}: the stack's default namespace.
	Namespace string
	// Run replaces ${run}: the run ID.
	Run string
	// Images maps image names to the references that replace ${image:NAME}.
	Images map[string]string
	// Ports maps port names to the host ports that replace ${port:NAME}.
	Ports map[string]int
}

// refRE matches ${KIND} and ${KIND:REST}, on one line.
var refRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:[^}\n]*)?\}`)

// Substitute replaces the references in text with their values from vars:
// ${image:NAME}, ${port:NAME}, ${namespace}, ${stack} and ${run}.
//
// What is not a reference is left alone: $VAR, ${VAR}, and shell forms
// whose part after the colon does not start with a letter or digit, such
// as ${VAR:-default}. Any other ${KIND:NAME} is an error, as is a name
// that vars has no value for; the error lists every such reference.
func Substitute(text string, vars Vars) (string, error) {
	out, problems := expand(text, vars.value)
	if len(problems) == 0 {
		return out, nil
	}
	multiline := strings.Contains(text, "\n")
	errs := make([]error, len(problems))
	for i, p := range problems {
		if multiline {
			errs[i] = fmt.Errorf("line %d: %s", p.line, p.msg)
		} else {
			errs[i] = errors.New(p.msg)
		}
	}
	return "", errors.Join(errs...)
}

// value returns what replaces the reference of the given kind and name.
func (v Vars) value(kind, name string) (string, error) {
	switch kind {
	case "image":
		if ref, ok := v.Images[name]; ok {
			return ref, nil
		}
		return "", fmt.Errorf("no value for image %q", name)
	case "port":
		if port, ok := v.Ports[name]; ok {
			return strconv.Itoa(port), nil
		}
		return "", fmt.Errorf("no value for port %q", name)
	case "namespace":
		return nonEmpty(kind, v.Namespace)
	case "stack":
		return nonEmpty(kind, v.Stack)
	case "run":
		return nonEmpty(kind, v.Run)
	}
	return "", fmt.Errorf("unknown kind %q", kind)
}

func nonEmpty(kind, value string) (string, error) {
	if value == "" {
		return "", fmt.Errorf("no value for ${%s}", kind)
	}
	return value, nil
}

// refProblem is a reference that cannot be replaced.
type refProblem struct {
	line int // 1-based line in the text
	msg  string
}

// expand replaces each reference in text by what value returns for it, and
// lists the references that are malformed or that value rejects.
func expand(text string, value func(kind, name string) (string, error)) (string, []refProblem) {
	var out strings.Builder
	var problems []refProblem
	last, line := 0, 1
	for _, m := range refRE.FindAllStringSubmatchIndex(text, -1) {
		start, end := m[0], m[1]
		ref := text[start:end]
		line += strings.Count(text[last:start], "\n")
		out.WriteString(text[last:start])
		last = end

		kind := text[m[2]:m[3]]
		name, hasName := "", m[4] >= 0
		if hasName {
			name = text[m[4]+1 : m[5]]
		}
		switch {
		case !hasName && kind != "namespace" && kind != "stack" && kind != "run":
			out.WriteString(ref) // ${VAR}: not ours
			continue
		case hasName && (name == "" || !isAlphanumeric(name[0])):
			out.WriteString(ref) // ${VAR:-default} and other shell forms
			continue
		case hasName && kind != "image" && kind != "port":
			problems = append(problems, refProblem{line, fmt.Sprintf(
				"unknown substitution %s: want ${image:NAME}, ${port:NAME}, ${namespace}, ${stack} or ${run}", ref)})
			out.WriteString(ref)
			continue
		}
		v, err := value(kind, name)
		if err != nil {
			problems = append(problems, refProblem{line, fmt.Sprintf("%s: %v", ref, err)})
			out.WriteString(ref)
			continue
		}
		out.WriteString(v)
	}
	out.WriteString(text[last:])
	return out.String(), problems
}

func isAlphanumeric(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// refChecker returns the value function used to validate a stack: it
// accepts the references the stack can resolve and leaves them as written.
func (s *Stack) refChecker() func(kind, name string) (string, error) {
	images, ports := map[string]bool{}, map[string]bool{}
	for _, img := range s.Spec.Images {
		images[img.Name] = true
	}
	for _, p := range s.Spec.Ports {
		ports[p.Name] = true
	}
	return func(kind, name string) (string, error) {
		switch {
		case kind == "image" && !images[name]:
			return "", fmt.Errorf("%q is not an image in spec.images", name)
		case kind == "port" && !ports[name]:
			return "", fmt.Errorf("%q is not a port in spec.ports", name)
		case name == "":
			return "${" + kind + "}", nil
		}
		return "${" + kind + ":" + name + "}", nil
	}
}

// NewRunID returns a fresh run ID for Vars.Run (${run}): five random
// lowercase letters and digits, without the easily confused l, o, 0 and 1.
func NewRunID() string {
	const letters = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
