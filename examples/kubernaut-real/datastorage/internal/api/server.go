package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits on requests.
const (
	// HealthTimeout bounds each of /health's checks: under a readiness
	// probe's default timeout of 1 s.
	HealthTimeout = 800 * time.Millisecond
	// MaxBodyBytes is the largest request body accepted.
	MaxBodyBytes = 64 << 10
	// MaxFieldLen is the longest service or action accepted.
	MaxFieldLen = 256
	// DefaultLimit and MaxLimit bound how many events a list returns.
	DefaultLimit, MaxLimit = 100, 1000
)

// Server serves the API. Make one with New.
type Server struct {
	store Store
	cache Cache
	log   *slog.Logger
	// ready is the last /health verdict, so that only changes are logged.
	ready atomic.Value // of string: "" ready, else the reason
}

// New returns a Server over store and cache, logging to log.
func New(store Store, cache Cache, log *slog.Logger) *Server {
	s := &Server{store: store, cache: cache, log: log}
	s.ready.Store("not checked yet")
	return s
}

// Handler returns the API's routes, with every panic turned into a 500.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("POST /api/v1/audit/events", s.createEvent)
	mux.HandleFunc("GET /api/v1/audit/events", s.listEvents)
	mux.HandleFunc("GET /api/v1/audit/events/count", s.countEvents)
	// The same paths without a method catch the other methods: a JSON 405
	// instead of the mux's plain-text one.
	for path, allow := range map[string]string{
		"/health":                    "GET",
		"/api/v1/audit/events":       "GET, POST",
		"/api/v1/audit/events/count": "GET",
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: %s)", r.Method, path, allow)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
	})
	return s.recoverPanics(mux)
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// healthResponse is /health's body.
type healthResponse struct {
	// Status is "ready" or "unready".
	Status string `json:"status"`
	// Reason says why it is unready: every failed check, joined by "; ".
	Reason string `json:"reason,omitempty"`
	// Checks gives each dependency's state: "ok" or why not.
	Checks map[string]string `json:"checks"`
}

// health answers 200 only when PostgreSQL answers with the schema in place
// and Redis answers PING; otherwise 503 saying which and why. The checks run
// concurrently, each within HealthTimeout.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	var pgErr, redisErr error
	var wg sync.WaitGroup
	check := func(errp *error, f func(context.Context) error) {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), HealthTimeout)
			defer cancel()
			*errp = f(ctx)
		})
	}
	check(&pgErr, s.store.CheckSchema)
	check(&redisErr, s.cache.Ping)
	wg.Wait()

	resp := healthResponse{Status: "ready", Checks: map[string]string{"postgresql": "ok", "redis": "ok"}}
	var reasons []string
	if pgErr != nil {
		var se *SchemaError
		msg := pgErr.Error()
		if !errors.As(pgErr, &se) {
			msg = "postgresql unreachable: " + msg
		}
		resp.Checks["postgresql"] = msg
		reasons = append(reasons, msg)
	}
	if redisErr != nil {
		msg := "redis unreachable: " + redisErr.Error()
		resp.Checks["redis"] = msg
		reasons = append(reasons, msg)
	}
	code := http.StatusOK
	if len(reasons) > 0 {
		code = http.StatusServiceUnavailable
		resp.Status = "unready"
		resp.Reason = strings.Join(reasons, "; ")
	}
	if old := s.ready.Swap(resp.Reason); old != resp.Reason {
		if resp.Reason == "" {
			s.log.Info("ready")
		} else {
			s.log.Warn("unready", "reason", resp.Reason)
		}
	}
	writeJSON(w, code, resp)
}

// eventRequest is the body of POST /api/v1/audit/events.
type eventRequest struct {
	Service string `json:"service"`
	Action  string `json:"action"`
}

func (s *Server) createEvent(w http.ResponseWriter, r *http.Request) {
	var req eventRequest
	if code, msg := decodeJSON(w, r, &req); code != 0 {
		writeError(w, code, "%s", msg)
		return
	}
	for _, f := range []struct{ name, value string }{{"service", req.Service}, {"action", req.Action}} {
		if msg := checkField(f.name, f.value); msg != "" {
			writeError(w, http.StatusBadRequest, "%s", msg)
			return
		}
	}
	ev, err := s.store.InsertEvent(r.Context(), NewEvent(req))
	if err != nil {
		s.storeError(w, "storing the event", err)
		return
	}
	// The count changed: drop the cached one. A cache that does not answer
	// does not fail the write; its count expires on its own.
	if err := s.cache.Forget(r.Context(), ev.Service); err != nil {
		s.log.Warn("cache: forgetting a count failed", "service", ev.Service, "error", err)
	}
	writeJSON(w, http.StatusCreated, ev)
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	service := q.Get("service")
	if service != "" {
		if msg := checkField("service", service); msg != "" {
			writeError(w, http.StatusBadRequest, "%s", msg)
			return
		}
	}
	limit := DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			writeError(w, http.StatusBadRequest, "limit %q: want a number from 1 to %d", v, MaxLimit)
			return
		}
		limit = n
	}
	events, err := s.store.ListEvents(r.Context(), service, limit)
	if err != nil {
		s.storeError(w, "listing events", err)
		return
	}
	if events == nil {
		events = []Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events})
}

// countResponse is the body of GET /api/v1/audit/events/count.
type countResponse struct {
	Service string `json:"service"`
	Count   int64  `json:"count"`
	// Cached says the count came from Redis rather than PostgreSQL.
	Cached bool `json:"cached"`
}

// countEvents answers from Redis when it holds the count, else counts in
// PostgreSQL and caches the result. Redis failing only costs the cache.
func (s *Server) countEvents(w http.ResponseWriter, r *http.Request) {
	service := r.URL.Query().Get("service")
	if msg := checkField("service", service); msg != "" {
		writeError(w, http.StatusBadRequest, "%s", msg)
		return
	}
	n, ok, err := s.cache.Count(r.Context(), service)
	if err != nil {
		s.log.Warn("cache: reading a count failed", "service", service, "error", err)
	}
	if ok && err == nil {
		writeJSON(w, http.StatusOK, countResponse{Service: service, Count: n, Cached: true})
		return
	}
	n, err = s.store.CountEvents(r.Context(), service)
	if err != nil {
		s.storeError(w, "counting events", err)
		return
	}
	if err := s.cache.SetCount(r.Context(), service, n); err != nil {
		s.log.Warn("cache: storing a count failed", "service", service, "error", err)
	}
	writeJSON(w, http.StatusOK, countResponse{Service: service, Count: n})
}

// storeError answers a failed store call: 503 when the schema is missing
// (the service is not ready for it), else 500.
func (s *Server) storeError(w http.ResponseWriter, doing string, err error) {
	var se *SchemaError
	if errors.As(err, &se) {
		writeError(w, http.StatusServiceUnavailable, "%s: %s", doing, se.Reason)
		return
	}
	s.log.Error(doing+" failed", "error", err)
	writeError(w, http.StatusInternalServerError, "%s: %v", doing, err)
}

// decodeJSON reads one JSON object of known fields from r's body into v.
// It returns 0 on success, else the status code and a message for the client.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) (int, string) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return 0, ""
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", tooLarge.Limit)
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, "request body is empty: want a JSON object"
	default:
		return http.StatusBadRequest, "invalid JSON body: " + err.Error()
	}
}

// checkField returns why value is not a valid service or action, or "".
func checkField(name, value string) string {
	switch {
	case strings.TrimSpace(value) == "":
		return name + " is required"
	case len(value) > MaxFieldLen:
		return fmt.Sprintf("%s is longer than %d bytes", name, MaxFieldLen)
	}
	return ""
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// The status is sent; a client gone away is no error of ours.
	_ = json.NewEncoder(w).Encode(v)
}
