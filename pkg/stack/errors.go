package stack

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is one problem found in a stack file or in a manifest it references.
type Error struct {
	// File is the file the problem is in, as the user would name it: the
	// stack file as passed to Load or Parse, or a manifest path joined to the
	// stack file's directory. It is empty for a stack built in Go.
	File string
	// Line is the 1-based line of the problem, or 0 if it is not known.
	Line int
	// Object names what the problem belongs to, such as
	// `components[2] "migrations"`; empty for stack-level fields.
	Object string
	// Message says what is wrong.
	Message string
	// Err is the underlying cause, such as an *fs.PathError, or nil.
	Err error
}

// Error formats the problem as "file:line: object: message", without
// "file:line: " for a stack not read from a file.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Object != "" {
		b.WriteString(e.Object)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every problem found in a stack: those in the stack file
// first, by line, then those in manifests, by component. Load, Parse and
// Manifests return an ErrorList when the input is invalid; use errors.As
// to get it.
type ErrorList []*Error

// Error prints one problem per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.Is and errors.As look at each.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// add appends a problem.
func (l *ErrorList) add(file string, line int, object, format string, args ...any) {
	*l = append(*l, &Error{File: file, Line: line, Object: object, Message: fmt.Sprintf(format, args...)})
}
