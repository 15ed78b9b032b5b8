// Package api is DataStorage's HTTP API: readiness (/health) and the audit
// events. It talks to PostgreSQL and Redis through the Store and Cache
// interfaces, so its handlers are tested without either.
//
//	GET  /health                                   200 ready, 503 with the reason
//	POST /api/v1/audit/events                      {"service","action"} → 201 the event
//	GET  /api/v1/audit/events?service=S&limit=N    {"events": [...]}, newest first
//	GET  /api/v1/audit/events/count?service=S      {"service","count","cached"}
//
// Every error is JSON: {"error": "..."}.
package api

import (
	"context"
	"time"
)

// Event is a stored audit event.
type Event struct {
	ID        int64     `json:"id"`
	Service   string    `json:"service"`
	Action    string    `json:"action"`
	CreatedAt time.Time `json:"createdAt"`
}

// NewEvent is an event to store.
type NewEvent struct {
	Service string
	Action  string
}

// Store keeps the audit events (PostgreSQL).
type Store interface {
	// CheckSchema returns nil when the database answers and holds the
	// schema the service needs; a *SchemaError when it answers without
	// it; any other error when it does not answer.
	CheckSchema(ctx context.Context) error
	// InsertEvent stores e and returns it with its ID and time.
	InsertEvent(ctx context.Context, e NewEvent) (Event, error)
	// ListEvents returns at most limit events, newest first, of one
	// service or (service "") of all.
	ListEvents(ctx context.Context, service string, limit int) ([]Event, error)
	// CountEvents counts a service's events.
	CountEvents(ctx context.Context, service string) (int64, error)
}

// Cache holds counts for a while (Redis).
type Cache interface {
	// Ping returns nil when the cache answers.
	Ping(ctx context.Context) error
	// Count returns a service's cached count, and whether there was one.
	Count(ctx context.Context, service string) (n int64, ok bool, err error)
	// SetCount caches a service's count.
	SetCount(ctx context.Context, service string, n int64) error
	// Forget drops a service's cached count.
	Forget(ctx context.Context, service string) error
}

// SchemaError says why a database that answers cannot serve: its schema is
// missing or older than the service needs (the migrations have not run, or
// not to the end).
type SchemaError struct {
	// Reason is the whole message, such as
	// `schema missing: relation "audit_events" does not exist`.
	Reason string
}

func (e *SchemaError) Error() string { return e.Reason }
