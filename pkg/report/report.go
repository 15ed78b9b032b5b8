package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"time"
)

// Result is the outcome of a run.
type Result string

// The results of a run (docs/design.md, "The report"), matching the exit codes of docs/design.md, "CLI and exit codes".
const (
	ResultReady       Result = "ready"       // exit 0
	ResultFailed      Result = "failed"      // exit 1 (a component) or 3 (infrastructure)
	ResultTimeout     Result = "timeout"     // exit 1
	ResultInterrupted Result = "interrupted" // exit 130
	ResultInvalid     Result = "invalid"     // exit 2
)

// Status is the state a component or object ended the run in.
type Status string

// The statuses of components and objects.
const (
	// StatusReady: ready (docs/design.md, "Readiness rules").
	StatusReady Status = "ready"
	// StatusFailed: failed at once (fail fast), with a reason.
	StatusFailed Status = "failed"
	// StatusTimeout: not ready by its deadline.
	StatusTimeout Status = "timeout"
	// StatusPending: started (applied, or waiting to be) but not ready
	// when the run stopped for another reason: another component failed,
	// or the run was interrupted.
	StatusPending Status = "pending"
	// StatusSkipped: never applied, because the run stopped first.
	StatusSkipped Status = "skipped"
)

// Report is the JSON report `testbed up --report` writes, on success and
// on failure (docs/design.md, "The report"). Times are seconds since StartedAt.
type Report struct {
	// Stack is the stack's metadata.name.
	Stack string `json:"stack"`
	// Run is the run ID.
	Run string `json:"run"`
	// Provider is the cluster provider: sim, kind or kubeconfig.
	Provider string `json:"provider"`
	// Result is the outcome of the run.
	Result Result `json:"result"`
	// StartedAt is when the run started; it is written in UTC.
	StartedAt time.Time `json:"startedAt"`
	// Seconds is how long the run took.
	Seconds float64 `json:"seconds"`
	// Phases are the spans of the phases that ran, in the order build,
	// cluster, load, deploy. They overlap.
	Phases []Phase `json:"phases"`
	// Images are what the run built and loaded, in the stack file's order;
	// left out when it built and loaded nothing.
	Images []Image `json:"images,omitempty"`
	// Components are the stack's components, in the stack file's order.
	Components []Component `json:"components"`
	// CriticalPath names the components, first to last, whose readiness
	// the last one waited for; when the first of them waited last for an
	// image's load, the path starts with "image:NAME" (that image's build
	// and load).
	CriticalPath []string `json:"criticalPath"`
	// LowerBoundSeconds is the stack's lower bound on sim (docs/design.md, "The sim provider");
	// nil, and left out, on other providers.
	LowerBoundSeconds *float64 `json:"lowerBoundSeconds,omitempty"`
	// Reason says why a run that is not ready stopped, when no component
	// says it (invalid input, the cluster, an interruption). An extension
	// of docs/design.md, "The report"; left out when empty.
	Reason string `json:"reason,omitempty"`
}

// Phase is the span of one phase: its first node's start to its last
// node's end.
type Phase struct {
	Name  string  `json:"name"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// Component is what happened to one component.
type Component struct {
	// Name is the component's name in the stack file.
	Name string `json:"name"`
	// Status is how the component ended the run.
	Status Status `json:"status"`
	// AppliedAt is when its objects were applied (or its run step
	// started); nil if that never happened.
	AppliedAt *float64 `json:"appliedAt,omitempty"`
	// ReadyAt is when it was ready; nil if it never was.
	ReadyAt *float64 `json:"readyAt,omitempty"`
	// Reason says why a component is not ready; empty when it is.
	Reason string `json:"reason"`
	// Diagnostics is the path of the diagnostics bundle of a failed
	// component; empty if there is none.
	Diagnostics string `json:"diagnostics,omitempty"`
	// Objects are the objects the component applied.
	Objects []Object `json:"objects"`
	// Restarts are the containers of its pods that restarted during the
	// run: a component can be ready after a crash (it started before what
	// it needs, then was restarted), which its status alone hides.
	Restarts []Restart `json:"restarts,omitempty"`
}

// Restart is a container that restarted, and why it last stopped.
type Restart struct {
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Count     int    `json:"count"`
	// ExitCode and Message are those of its last termination: its exit
	// code and termination message (what it wrote to
	// /dev/termination-log, or its last log lines under
	// FallbackToLogsOnError).
	ExitCode int    `json:"exitCode"`
	Message  string `json:"message,omitempty"`
}

// String says what happened, on one line.
func (r Restart) String() string {
	times := "times"
	if r.Count == 1 {
		times = "time"
	}
	s := fmt.Sprintf("container %q of pod %s restarted %d %s; last exit %d", r.Container, r.Pod, r.Count, times, r.ExitCode)
	if r.Message != "" {
		s += ": " + r.Message
	}
	return s
}

// Image is what happened to one image of the stack: its build and its
// load into the cluster, as spans (nil: not done).
type Image struct {
	Name string `json:"name"`
	// Ref is the reference the cluster runs it as.
	Ref string `json:"ref"`
	// Build is the span of its build; Unchanged says it was not rebuilt
	// (its inputs had not changed).
	Build     *Span `json:"build,omitempty"`
	Unchanged bool  `json:"unchanged,omitempty"`
	// Load is the span of its load onto the cluster's nodes.
	Load *Span `json:"load,omitempty"`
	// Status is ready (built and loaded), failed, pending or skipped.
	Status Status `json:"status"`
	// Reason says why it failed.
	Reason string `json:"reason,omitempty"`
}

// Span is a start and an end, in seconds since the run started.
type Span struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// Object is what happened to one applied object.
type Object struct {
	Kind string `json:"kind"`
	// Namespace is empty, and left out, for cluster-scoped objects.
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    Status `json:"status"`
	// ReadyAt is when the object was ready; nil if it never was.
	ReadyAt *float64 `json:"readyAt,omitempty"`
}

// Round rounds a number of seconds to the report's precision, 0.01 s.
func Round(seconds float64) float64 { return math.Round(seconds*100) / 100 }

// Since returns t as seconds since start, rounded to 0.01 s.
func Since(start, t time.Time) float64 { return Round(t.Sub(start).Seconds()) }

// At is Since for a time that may not have been reached: it returns nil if
// t is zero.
func At(start, t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	s := Since(start, t)
	return &s
}

// WriteJSON writes r as indented JSON followed by a newline. It writes a
// normalised copy: times rounded to 0.01 s, StartedAt in UTC, and empty
// lists as [] rather than null. r itself is not changed.
func WriteJSON(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("report: nil report")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(normalize(r)); err != nil {
		return fmt.Errorf("report: writing JSON: %w", err)
	}
	return nil
}

// normalize returns a deep copy of r ready to be written.
func normalize(r *Report) *Report {
	n := *r
	n.StartedAt = r.StartedAt.UTC()
	n.Seconds = Round(r.Seconds)
	n.LowerBoundSeconds = roundPtr(r.LowerBoundSeconds)
	n.Phases = make([]Phase, len(r.Phases))
	for i, p := range r.Phases {
		n.Phases[i] = Phase{Name: p.Name, Start: Round(p.Start), End: Round(p.End)}
	}
	n.Components = make([]Component, len(r.Components))
	for i, c := range r.Components {
		c.AppliedAt, c.ReadyAt = roundPtr(c.AppliedAt), roundPtr(c.ReadyAt)
		objs := make([]Object, len(c.Objects))
		for j, o := range c.Objects {
			o.ReadyAt = roundPtr(o.ReadyAt)
			objs[j] = o
		}
		c.Objects = objs
		n.Components[i] = c
	}
	n.CriticalPath = append(make([]string, 0, len(r.CriticalPath)), r.CriticalPath...)
	if r.Images != nil {
		n.Images = make([]Image, len(r.Images))
		for i, img := range r.Images {
			img.Build, img.Load = roundSpan(img.Build), roundSpan(img.Load)
			n.Images[i] = img
		}
	}
	return &n
}

func roundSpan(s *Span) *Span {
	if s == nil {
		return nil
	}
	return &Span{Start: Round(s.Start), End: Round(s.End)}
}

func roundPtr(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := Round(*p)
	return &v
}

// MaxJSONSize is the largest report ReadJSON accepts, in bytes.
const MaxJSONSize = 64 << 20

// ReadJSON reads a report written by WriteJSON, for example to draw the
// timeline of an earlier run. It rejects input that is not JSON, holds
// more than one value, has fields of the wrong type, or is not a report
// (no valid result, negative or reversed times, nameless or duplicate
// components); errors give the line and column where they can. Unknown
// fields are ignored, so reports from newer versions still read.
func ReadJSON(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxJSONSize+1))
	if err != nil {
		return nil, fmt.Errorf("report: reading: %w", err)
	}
	if len(data) > MaxJSONSize {
		return nil, fmt.Errorf("report: larger than %d bytes", MaxJSONSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var rep Report
	if err := dec.Decode(&rep); err != nil {
		return nil, decodeError(data, err)
	}
	rest := dec.InputOffset()
	for rest < int64(len(data)) && bytes.IndexByte([]byte(" \t\r\n"), data[rest]) >= 0 {
		rest++
	}
	if rest < int64(len(data)) {
		line, col := position(data, rest)
		return nil, fmt.Errorf("report: line %d, column %d: unexpected data after the report", line, col)
	}
	if err := rep.validate(); err != nil {
		return nil, err
	}
	return &rep, nil
}

// decodeError turns a decoding error into one that names where it is.
func decodeError(data []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var parseTime *time.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("report: empty input, want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("report: unexpected end of input (truncated?)")
	case errors.As(err, &syntax):
		line, col := position(data, syntax.Offset-1) // Offset is just past the culprit
		return fmt.Errorf("report: line %d, column %d: %v", line, col, syntax)
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset-1)
		if typ.Field == "" {
			return fmt.Errorf("report: line %d, column %d: a JSON %s where a report object belongs", line, col, typ.Value)
		}
		return fmt.Errorf("report: line %d, column %d: %s: a JSON %s where a JSON %s belongs", line, col, typ.Field, typ.Value, jsonKind(typ.Type))
	case errors.As(err, &parseTime):
		return fmt.Errorf("report: startedAt: %w", err)
	default:
		return fmt.Errorf("report: %w", err)
	}
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32,
		reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// position converts a byte offset in data to a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// validate checks what a reader of the report relies on.
func (r *Report) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("report: "+format, args...)) }
	nonNegative := func(field string, v float64) {
		if v < 0 {
			bad("%s is %v, want seconds since the start (≥ 0)", field, v)
		}
	}
	switch r.Result {
	case ResultReady, ResultFailed, ResultTimeout, ResultInterrupted, ResultInvalid:
	case "":
		bad(`"result" is missing; is this a testbed report?`)
	default:
		bad("result %q is not one of ready, failed, timeout, interrupted, invalid", r.Result)
	}
	if r.Stack == "" && r.Result != ResultInvalid && r.Result != "" {
		bad(`"stack" is missing`)
	}
	if r.StartedAt.IsZero() && r.Result != "" {
		bad(`"startedAt" is missing`)
	}
	nonNegative("seconds", r.Seconds)
	if r.LowerBoundSeconds != nil {
		nonNegative("lowerBoundSeconds", *r.LowerBoundSeconds)
	}
	for i, p := range r.Phases {
		if p.Name == "" {
			bad("phases[%d] has no name", i)
		}
		nonNegative(fmt.Sprintf("phases[%d].start", i), p.Start)
		nonNegative(fmt.Sprintf("phases[%d].end", i), p.End)
		if p.End < p.Start {
			bad("phases[%d] %q ends (%v) before it starts (%v)", i, p.Name, p.End, p.Start)
		}
	}
	seen := make(map[string]bool)
	for i, c := range r.Components {
		if c.Name == "" {
			bad("components[%d] has no name", i)
		} else if seen[c.Name] {
			bad("components[%d]: duplicate component %q", i, c.Name)
		}
		seen[c.Name] = true
		if c.Status == "" {
			bad("components[%d] %q has no status", i, c.Name)
		}
		if c.AppliedAt != nil {
			nonNegative(fmt.Sprintf("components[%d].appliedAt", i), *c.AppliedAt)
		}
		if c.ReadyAt != nil {
			nonNegative(fmt.Sprintf("components[%d].readyAt", i), *c.ReadyAt)
		}
		for j, o := range c.Objects {
			if o.Kind == "" || o.Name == "" {
				bad("components[%d].objects[%d] lacks a kind or a name", i, j)
			}
			if o.ReadyAt != nil {
				nonNegative(fmt.Sprintf("components[%d].objects[%d].readyAt", i, j), *o.ReadyAt)
			}
		}
	}
	return errors.Join(errs...)
}
