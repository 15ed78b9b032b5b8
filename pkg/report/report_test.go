package report_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/pkg/report"
)

var start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func f(v float64) *float64 { return &v }

// sample is a failed sim run: one component ready, one failed, one never
// applied. Times are not yet rounded.
func sample() *report.Report {
	return &report.Report{
		Stack: "gateway-e2e", Run: "k3x9q", Provider: "sim",
		Result:    report.ResultFailed,
		StartedAt: start.In(time.FixedZone("CET", 3600)),
		Seconds:   21.4049,
		Phases: []report.Phase{
			{Name: "build", Start: 0, End: 0},
			{Name: "cluster", Start: 0, End: 2.1},
			{Name: "load", Start: 2.1, End: 2.1},
			{Name: "deploy", Start: 2.1, End: 21.4},
		},
		Components: []report.Component{
			{
				Name: "postgresql", Status: report.StatusReady, AppliedAt: f(2.2), ReadyAt: f(10.2960),
				Objects: []report.Object{
					{Kind: "Deployment", Namespace: "kubernaut-system", Name: "postgresql", Status: report.StatusReady, ReadyAt: f(10.3)},
					{Kind: "Namespace", Name: "kubernaut-system", Status: report.StatusReady, ReadyAt: f(2.2)},
				},
			},
			{
				Name: "datastorage", Status: report.StatusFailed, AppliedAt: f(10.4),
				Reason:      "Pod datastorage-7d9 container api: CrashLoopBackOff",
				Diagnostics: "/tmp/testbed/k3x9q/datastorage",
				Objects: []report.Object{
					{Kind: "Deployment", Namespace: "kubernaut-system", Name: "datastorage", Status: report.StatusFailed},
				},
			},
			{Name: "gateway", Status: report.StatusSkipped},
		},
		CriticalPath:      []string{"postgresql", "datastorage"},
		LowerBoundSeconds: f(21),
	}
}

// TestWriteJSONGolden pins the exact output: field names and order of
// docs/design.md, "The report", rounding, UTC, and which fields are left out.
func TestWriteJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	want := `{
  "stack": "gateway-e2e",
  "run": "k3x9q",
  "provider": "sim",
  "result": "failed",
  "startedAt": "2026-11-25T10:00:00Z",
  "seconds": 21.4,
  "phases": [
    {
      "name": "build",
      "start": 0,
      "end": 0
    },
    {
      "name": "cluster",
      "start": 0,
      "end": 2.1
    },
    {
      "name": "load",
      "start": 2.1,
      "end": 2.1
    },
    {
      "name": "deploy",
      "start": 2.1,
      "end": 21.4
    }
  ],
  "components": [
    {
      "name": "postgresql",
      "status": "ready",
      "appliedAt": 2.2,
      "readyAt": 10.3,
      "reason": "",
      "objects": [
        {
          "kind": "Deployment",
          "namespace": "kubernaut-system",
          "name": "postgresql",
          "status": "ready",
          "readyAt": 10.3
        },
        {
          "kind": "Namespace",
          "name": "kubernaut-system",
          "status": "ready",
          "readyAt": 2.2
        }
      ]
    },
    {
      "name": "datastorage",
      "status": "failed",
      "appliedAt": 10.4,
      "reason": "Pod datastorage-7d9 container api: CrashLoopBackOff",
      "diagnostics": "/tmp/testbed/k3x9q/datastorage",
      "objects": [
        {
          "kind": "Deployment",
          "namespace": "kubernaut-system",
          "name": "datastorage",
          "status": "failed"
        }
      ]
    },
    {
      "name": "gateway",
      "status": "skipped",
      "reason": "",
      "objects": []
    }
  ],
  "criticalPath": [
    "postgresql",
    "datastorage"
  ],
  "lowerBoundSeconds": 21
}
`
	if got := b.String(); got != want {
		t.Errorf("WriteJSON:\n%s\nwant:\n%s", got, want)
	}
}

// TestJSONFieldNames checks the field names against docs/design.md, "The report".
func TestJSONFieldNames(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(v any) []string { return slices.Sorted(maps.Keys(v.(map[string]any))) }
	check := func(what string, got []string, want ...string) {
		t.Helper()
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s fields = %v, want %v", what, got, want)
		}
	}
	check("report", keys(doc), "stack", "run", "provider", "result", "startedAt", "seconds",
		"phases", "components", "criticalPath", "lowerBoundSeconds")
	check("phase", keys(doc["phases"].([]any)[0]), "name", "start", "end")
	comps := doc["components"].([]any)
	check("ready component", keys(comps[0]), "name", "status", "appliedAt", "readyAt", "reason", "objects")
	check("failed component", keys(comps[1]), "name", "status", "appliedAt", "reason", "diagnostics", "objects")
	check("object", keys(doc["components"].([]any)[0].(map[string]any)["objects"].([]any)[0]),
		"kind", "namespace", "name", "status", "readyAt")
}

func TestWriteJSONEmpty(t *testing.T) {
	var b bytes.Buffer
	r := &report.Report{Result: report.ResultInvalid, StartedAt: start}
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"phases": []`, `"components": []`, `"criticalPath": []`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "lowerBoundSeconds") {
		t.Errorf("lowerBoundSeconds written for a run without one:\n%s", b.String())
	}
	if err := report.WriteJSON(&b, nil); err == nil {
		t.Error("WriteJSON(nil): no error")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in := sample()
	orig := sample()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, in); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, orig) {
		t.Error("WriteJSON changed its argument")
	}
	got, err := report.ReadJSON(&b)
	if err != nil {
		t.Fatalf("ReadJSON: %v", err)
	}
	want := sample()
	want.StartedAt = start
	want.Seconds = 21.4
	want.Components[0].ReadyAt = f(10.3)
	want.Components[2].Objects = []report.Object{}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Errorf("round trip:\n%s\nwant\n%s", gj, wj)
	}
}

func TestReadJSONAcceptsUnknownFields(t *testing.T) {
	in := `{"stack":"s","result":"ready","startedAt":"2026-11-25T10:00:00Z","seconds":1,
		"phases":[],"components":[{"name":"a","status":"ready","reason":"","objects":[],"color":"red"}],
		"criticalPath":["a"],"futureField":{"x":1}}`
	r, err := report.ReadJSON(strings.NewReader(in))
	if err != nil {
		t.Fatalf("ReadJSON: %v", err)
	}
	if r.Stack != "s" || len(r.Components) != 1 || r.LowerBoundSeconds != nil {
		t.Errorf("ReadJSON = %+v", r)
	}
}

func TestReadJSONRejects(t *testing.T) {
	const ok = `"stack":"s","result":"ready","startedAt":"2026-11-25T10:00:00Z","seconds":1`
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty", "", []string{"empty input"}},
		{"not JSON", "stack: s\n", []string{"line 1, column 1", "invalid character 's'"}},
		{"truncated", `{"stack":"s",`, []string{"unexpected end of input"}},
		{"syntax error on line 3", "{\n  \"stack\": \"s\",\n  \"result\" \"ready\"\n}", []string{"line 3, column 12"}},
		{"array", `[1,2]`, []string{"line 1, column 1", "a JSON array where a report object belongs"}},
		{"wrong type", "{" + ok + `,
"components":[{"name":"a","status":"ready","readyAt":"10.3"}]}`,
			[]string{"line 2", "components.readyAt: a JSON string where a JSON number belongs"}},
		{"bad time", `{"stack":"s","result":"ready","startedAt":"yesterday"}`, []string{"report: startedAt: ", `"yesterday"`}},
		{"trailing data", "{" + ok + "}\n{}", []string{"line 2, column 1: unexpected data after the report"}},
		{"not a report", `{"name":"x"}`, []string{`"result" is missing; is this a testbed report?`}},
		{"unknown result", "{" + `"stack":"s","result":"green","startedAt":"2026-11-25T10:00:00Z"}`,
			[]string{`result "green" is not one of ready, failed, timeout, interrupted, invalid`}},
		{"no stack", `{"result":"ready","startedAt":"2026-11-25T10:00:00Z"}`, []string{`"stack" is missing`}},
		{"no startedAt", `{"stack":"s","result":"ready"}`, []string{`"startedAt" is missing`}},
		{"negative time", "{" + ok + `,"components":[{"name":"a","status":"ready","readyAt":-1}]}`,
			[]string{"components[0].readyAt is -1"}},
		{"reversed phase", "{" + ok + `,"phases":[{"name":"deploy","start":5,"end":2}]}`,
			[]string{`phases[0] "deploy" ends (2) before it starts (5)`}},
		{"duplicate component", "{" + ok + `,"components":[{"name":"a","status":"ready"},{"name":"a","status":"ready"}]}`,
			[]string{`components[1]: duplicate component "a"`}},
		{"nameless object", "{" + ok + `,"components":[{"name":"a","status":"ready","objects":[{"kind":"Pod"}]}]}`,
			[]string{"components[0].objects[0] lacks a kind or a name"}},
		{"every problem", `{"result":"ready","seconds":-2,"phases":[{"start":0,"end":1}]}`,
			[]string{`"stack" is missing`, `"startedAt" is missing`, "seconds is -2", "phases[0] has no name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := report.ReadJSON(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("ReadJSON accepted it: %+v", r)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "report: ") {
				t.Errorf("error %q does not start with \"report: \"", err)
			}
		})
	}
}

func TestTimes(t *testing.T) {
	if got := report.Since(start, start.Add(2149*time.Millisecond)); got != 2.15 {
		t.Errorf("Since = %v, want 2.15", got)
	}
	if got := report.Round(21.404999); got != 21.4 {
		t.Errorf("Round = %v, want 21.4", got)
	}
	if report.At(start, time.Time{}) != nil {
		t.Error("At(zero time) is not nil")
	}
	if got := report.At(start, start.Add(10300*time.Millisecond)); got == nil || *got != 10.3 {
		t.Errorf("At = %v, want 10.3", got)
	}
}
