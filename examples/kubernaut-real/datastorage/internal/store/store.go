// Package store connects DataStorage to PostgreSQL (the audit events) and
// Redis (cached counts), as the api package's Store and Cache.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kubetestbed/testbed/examples/kubernaut-real/datastorage/internal/api"
	"github.com/kubetestbed/testbed/examples/kubernaut-real/datastorage/internal/config"
)

// SchemaVersion is the schema_migrations version the service needs: the
// marker the last migration writes.
const SchemaVersion = 4

// tables are the relations the service uses, in the order the migrations
// create them; schema_migrations, written last, marks the schema complete.
var tables = []string{"audit_events", "workflows", "schema_migrations"}

// Postgres is the audit store. Make one with NewPostgres.
type Postgres struct {
	pool *pgxpool.Pool
}

var _ api.Store = (*Postgres)(nil)

// NewPostgres returns a store over a pool of connections to c. It does not
// connect: the pool dials on first use, and again after a failure, so the
// database may come up later (WaitFor logs when it does).
func NewPostgres(c config.Postgres) (*Postgres, error) {
	pc, err := pgxpool.ParseConfig(c.URL())
	if err != nil {
		return nil, fmt.Errorf("postgresql %s: %w", c.Host, err)
	}
	pc.MaxConns = 10
	pc.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("postgresql %s: %w", c.Host, err)
	}
	return &Postgres{pool: pool}, nil
}

// Close closes every connection.
func (p *Postgres) Close() { p.pool.Close() }

// Ping returns nil when the database answers.
func (p *Postgres) Ping(ctx context.Context) error { return p.pool.Ping(ctx) }

// CheckSchema implements api.Store: every table present, then the marker
// at SchemaVersion or later.
func (p *Postgres) CheckSchema(ctx context.Context) error {
	exists := make([]bool, len(tables))
	args, dest := make([]any, len(tables)), make([]any, len(tables))
	cols := make([]string, len(tables))
	for i, t := range tables {
		args[i], dest[i] = t, &exists[i]
		cols[i] = fmt.Sprintf("to_regclass($%d) IS NOT NULL", i+1)
	}
	if err := p.pool.QueryRow(ctx, "SELECT "+strings.Join(cols, ", "), args...).Scan(dest...); err != nil {
		return err
	}
	for i, ok := range exists {
		if !ok {
			return &api.SchemaError{Reason: fmt.Sprintf("schema missing: relation %q does not exist", tables[i])}
		}
	}
	var version int
	if err := p.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&version); err != nil {
		return schemaError(err)
	}
	if version < SchemaVersion {
		return &api.SchemaError{Reason: fmt.Sprintf("schema incomplete: schema_migrations at version %d, want %d", version, SchemaVersion)}
	}
	return nil
}

// InsertEvent implements api.Store.
func (p *Postgres) InsertEvent(ctx context.Context, e api.NewEvent) (api.Event, error) {
	ev := api.Event{Service: e.Service, Action: e.Action}
	err := p.pool.QueryRow(ctx,
		"INSERT INTO audit_events (service, action) VALUES ($1, $2) RETURNING id, created_at",
		e.Service, e.Action).Scan(&ev.ID, &ev.CreatedAt)
	return ev, schemaError(err)
}

// ListEvents implements api.Store.
func (p *Postgres) ListEvents(ctx context.Context, service string, limit int) ([]api.Event, error) {
	rows, err := p.pool.Query(ctx, `
		SELECT id, service, action, created_at FROM audit_events
		WHERE $1 = '' OR service = $1
		ORDER BY created_at DESC, id DESC LIMIT $2`, service, limit)
	if err != nil {
		return nil, schemaError(err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (api.Event, error) {
		var e api.Event
		return e, r.Scan(&e.ID, &e.Service, &e.Action, &e.CreatedAt)
	})
	return events, schemaError(err)
}

// CountEvents implements api.Store.
func (p *Postgres) CountEvents(ctx context.Context, service string) (int64, error) {
	var n int64
	err := p.pool.QueryRow(ctx, "SELECT count(*) FROM audit_events WHERE service = $1", service).Scan(&n)
	return n, schemaError(err)
}

// schemaError turns PostgreSQL's "relation does not exist" into an
// *api.SchemaError; it returns other errors as they are.
func schemaError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return &api.SchemaError{Reason: "schema missing: " + pe.Message}
	}
	return err
}

// WaitFor calls ping until it succeeds or ctx ends, backing off from 250 ms
// to 1 s (a dependency that comes up is seen within a second), and logs each failure and the success: how the service tells its
// operator that a dependency is not there yet. The API serves meanwhile
// (/health says what is missing).
func WaitFor(ctx context.Context, log *slog.Logger, name string, ping func(context.Context) error) {
	start, delay := time.Now(), 250*time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := ping(pctx)
		cancel()
		if err == nil {
			log.Info(name+" connected", "attempts", attempt, "after", time.Since(start).Round(time.Millisecond).String())
			return
		}
		log.Warn(name+" not reachable yet", "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}
