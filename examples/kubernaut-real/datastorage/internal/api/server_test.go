package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeStore is an in-memory Store; schemaErr and err make it fail.
type fakeStore struct {
	events    []Event
	schemaErr error // returned by CheckSchema
	err       error // returned by every other call
	counted   int   // CountEvents calls
}

func (f *fakeStore) CheckSchema(context.Context) error { return f.schemaErr }

func (f *fakeStore) InsertEvent(_ context.Context, e NewEvent) (Event, error) {
	if f.err != nil {
		return Event{}, f.err
	}
	ev := Event{ID: int64(len(f.events) + 1), Service: e.Service, Action: e.Action, CreatedAt: time.Unix(0, 0).UTC()}
	f.events = append(f.events, ev)
	return ev, nil
}

func (f *fakeStore) ListEvents(_ context.Context, service string, limit int) ([]Event, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []Event
	for i := len(f.events) - 1; i >= 0 && len(out) < limit; i-- {
		if service == "" || f.events[i].Service == service {
			out = append(out, f.events[i])
		}
	}
	return out, nil
}

func (f *fakeStore) CountEvents(ctx context.Context, service string) (int64, error) {
	f.counted++
	evs, err := f.ListEvents(ctx, service, MaxLimit)
	return int64(len(evs)), err
}

// fakeCache is an in-memory Cache; err makes every call fail.
type fakeCache struct {
	counts map[string]int64
	err    error
}

func (f *fakeCache) Ping(context.Context) error { return f.err }

func (f *fakeCache) Count(_ context.Context, service string) (int64, bool, error) {
	n, ok := f.counts[service]
	return n, ok, f.err
}

func (f *fakeCache) SetCount(_ context.Context, service string, n int64) error {
	if f.err != nil {
		return f.err
	}
	f.counts[service] = n
	return nil
}

func (f *fakeCache) Forget(_ context.Context, service string) error {
	delete(f.counts, service)
	return f.err
}

func newTestServer() (*Server, *fakeStore, *fakeCache) {
	st, c := &fakeStore{}, &fakeCache{counts: map[string]int64{}}
	return New(st, c, slog.New(slog.NewTextHandler(io.Discard, nil))), st, c
}

// do sends a request and decodes the JSON response into a map.
func do(t *testing.T, s *Server, method, target, body string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader(body)))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, target, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: body %q is no JSON object: %v", method, target, rec.Body.String(), err)
	}
	return rec.Code, m
}

func TestHealth(t *testing.T) {
	schema := &SchemaError{Reason: `schema missing: relation "audit_events" does not exist`}
	for _, tc := range []struct {
		name              string
		schemaErr, rdsErr error
		code              int
		reason            string
	}{
		{name: "ready", code: 200},
		{name: "schema missing", schemaErr: schema, code: 503,
			reason: `schema missing: relation "audit_events" does not exist`},
		{name: "postgresql down", schemaErr: errors.New("dial tcp: connection refused"), code: 503,
			reason: "postgresql unreachable: dial tcp: connection refused"},
		{name: "redis down", rdsErr: errors.New("i/o timeout"), code: 503,
			reason: "redis unreachable: i/o timeout"},
		{name: "both", schemaErr: schema, rdsErr: errors.New("i/o timeout"), code: 503,
			reason: `schema missing: relation "audit_events" does not exist; redis unreachable: i/o timeout`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, st, c := newTestServer()
			st.schemaErr, c.err = tc.schemaErr, tc.rdsErr
			code, body := do(t, s, "GET", "/health", "")
			if code != tc.code {
				t.Errorf("code %d, want %d", code, tc.code)
			}
			wantStatus := map[bool]string{true: "ready", false: "unready"}[tc.code == 200]
			if body["status"] != wantStatus {
				t.Errorf("status %v, want %s", body["status"], wantStatus)
			}
			if got, _ := body["reason"].(string); got != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
		})
	}
}

func TestHealthWithinTimeout(t *testing.T) {
	s, st, _ := newTestServer()
	s.store = &slowStore{fakeStore: st}
	start := time.Now()
	code, body := do(t, s, "GET", "/health", "")
	if code != 503 || !strings.Contains(body["reason"].(string), "deadline exceeded") {
		t.Errorf("got %d %v, want 503 naming the deadline", code, body)
	}
	if d := time.Since(start); d > 2*HealthTimeout {
		t.Errorf("took %v", d)
	}
}

// slowStore's CheckSchema waits for its context to end.
type slowStore struct{ *fakeStore }

func (s *slowStore) CheckSchema(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestCreateEventBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       int
		err        string
	}{
		{"empty body", "", 400, "request body is empty"},
		{"not JSON", "service=x", 400, "invalid JSON body"},
		{"truncated", `{"service":"gateway"`, 400, "invalid JSON body"},
		{"array", `[1]`, 400, "cannot unmarshal array"},
		{"unknown field", `{"service":"gateway","action":"a","actor":"x"}`, 400, `unknown field "actor"`},
		{"two values", `{"service":"a","action":"b"}{}`, 400, "more than one JSON value"},
		{"no service", `{"action":"a"}`, 400, "service is required"},
		{"blank action", `{"service":"s","action":"  "}`, 400, "action is required"},
		{"null", `null`, 400, "service is required"},
		{"wrong type", `{"service":1,"action":"a"}`, 400, "invalid JSON body"},
		{"long", `{"service":"` + strings.Repeat("s", MaxFieldLen+1) + `","action":"a"}`, 400, "longer than"},
		{"too large", `{"service":"` + strings.Repeat("s", MaxBodyBytes) + `","action":"a"}`, 413, "request body over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, st, _ := newTestServer()
			code, body := do(t, s, "POST", "/api/v1/audit/events", tc.body)
			if code != tc.code || !strings.Contains(body["error"].(string), tc.err) {
				t.Errorf("got %d %v, want %d with %q", code, body, tc.code, tc.err)
			}
			if len(st.events) != 0 {
				t.Errorf("stored %v", st.events)
			}
		})
	}
}

func TestCreateThenList(t *testing.T) {
	s, st, c := newTestServer()
	c.counts["gateway"] = 7 // stale: the write must drop it
	code, body := do(t, s, "POST", "/api/v1/audit/events", `{"service":"gateway","action":"signal.received"}`)
	if code != 201 || body["id"] != 1.0 || body["service"] != "gateway" || body["action"] != "signal.received" {
		t.Fatalf("POST: %d %v", code, body)
	}
	if _, ok := c.counts["gateway"]; ok {
		t.Error("the cached count was not dropped")
	}
	do(t, s, "POST", "/api/v1/audit/events", `{"service":"notification","action":"sent"}`)
	do(t, s, "POST", "/api/v1/audit/events", `{"service":"gateway","action":"crd.created"}`)

	code, body = do(t, s, "GET", "/api/v1/audit/events?service=gateway", "")
	events, _ := body["events"].([]any)
	if code != 200 || len(events) != 2 || events[0].(map[string]any)["action"] != "crd.created" {
		t.Errorf("GET ?service=gateway: %d %v", code, body)
	}
	code, body = do(t, s, "GET", "/api/v1/audit/events?limit=1", "")
	if events, _ := body["events"].([]any); code != 200 || len(events) != 1 {
		t.Errorf("GET ?limit=1: %d %v", code, body)
	}
	if len(st.events) != 3 {
		t.Errorf("stored %d events", len(st.events))
	}
}

func TestListEmptyIsArray(t *testing.T) {
	s, _, _ := newTestServer()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/audit/events?service=none", nil))
	if got := strings.TrimSpace(rec.Body.String()); got != `{"events":[]}` {
		t.Errorf("body %s", got)
	}
}

func TestListBadInput(t *testing.T) {
	for _, target := range []string{
		"/api/v1/audit/events?limit=0",
		"/api/v1/audit/events?limit=x",
		"/api/v1/audit/events?limit=1001",
		"/api/v1/audit/events?service=%20",
		"/api/v1/audit/events/count",
	} {
		s, _, _ := newTestServer()
		if code, body := do(t, s, "GET", target, ""); code != 400 || body["error"] == "" {
			t.Errorf("GET %s: %d %v, want 400", target, code, body)
		}
	}
}

func TestCountIsCached(t *testing.T) {
	s, st, _ := newTestServer()
	do(t, s, "POST", "/api/v1/audit/events", `{"service":"gateway","action":"a"}`)
	for i, wantCached := range []bool{false, true} {
		code, body := do(t, s, "GET", "/api/v1/audit/events/count?service=gateway", "")
		if code != 200 || body["count"] != 1.0 || body["cached"] != wantCached {
			t.Errorf("GET %d: %d %v, want count 1, cached %v", i, code, body, wantCached)
		}
	}
	if st.counted != 1 {
		t.Errorf("counted in the store %d times, want 1", st.counted)
	}
}

func TestCacheDownCostsOnlyTheCache(t *testing.T) {
	s, _, c := newTestServer()
	c.err = errors.New("connection refused")
	if code, body := do(t, s, "POST", "/api/v1/audit/events", `{"service":"gateway","action":"a"}`); code != 201 {
		t.Errorf("POST: %d %v", code, body)
	}
	if code, body := do(t, s, "GET", "/api/v1/audit/events/count?service=gateway", ""); code != 200 || body["count"] != 1.0 {
		t.Errorf("count: %d %v", code, body)
	}
}

func TestStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
		msg  string
	}{
		{"schema missing", &SchemaError{Reason: `schema missing: relation "audit_events" does not exist`}, 503,
			`storing the event: schema missing: relation "audit_events" does not exist`},
		{"other", errors.New("conn closed"), 500, "storing the event: conn closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, st, _ := newTestServer()
			st.err = tc.err
			code, body := do(t, s, "POST", "/api/v1/audit/events", `{"service":"gateway","action":"a"}`)
			if code != tc.code || body["error"] != tc.msg {
				t.Errorf("got %d %v, want %d %q", code, body, tc.code, tc.msg)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	s, _, _ := newTestServer()
	for _, tc := range []struct {
		method, target string
		code           int
		allow          string
	}{
		{"DELETE", "/api/v1/audit/events", 405, "GET, POST"},
		{"POST", "/health", 405, "GET"},
		{"GET", "/nope", 404, ""},
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		if rec.Code != tc.code || rec.Header().Get("Allow") != tc.allow || !strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("%s %s: %d Allow %q %s", tc.method, tc.target, rec.Code, rec.Header().Get("Allow"), rec.Body)
		}
	}
}

func TestPanicIsA500(t *testing.T) {
	s, _, _ := newTestServer()
	s.store = nil // every store call panics
	code, body := do(t, s, "POST", "/api/v1/audit/events", `{"service":"gateway","action":"a"}`)
	if code != http.StatusInternalServerError || body["error"] != "internal error" {
		t.Errorf("got %d %v", code, body)
	}
}
