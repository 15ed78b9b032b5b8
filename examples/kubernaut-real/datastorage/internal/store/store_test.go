package store

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubetestbed/testbed/examples/kubernaut-real/datastorage/internal/api"
	"github.com/kubetestbed/testbed/examples/kubernaut-real/datastorage/internal/config"
)

// TestAgainstRealServers runs only with DATASTORAGE_TEST_SERVERS=1, against
// the PostgreSQL and Redis the service's own variables name (DB_HOST,
// DB_PORT, DB_USER, DB_PASSWORD, DB_NAME, REDIS_ADDR). The database must be
// a throwaway one: the test drops the schema's tables, checks that the
// schema is reported missing, applies the migrations of
// ../../../images/migrations, then stores, lists and counts events.
func TestAgainstRealServers(t *testing.T) {
	if os.Getenv("DATASTORAGE_TEST_SERVERS") != "1" {
		t.Skip("set DATASTORAGE_TEST_SERVERS=1 and DB_*, REDIS_ADDR to run against real servers")
	}
	cfg, err := config.FromEnv(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := NewPostgres(cfg.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	rds := NewRedis(cfg.Redis, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer rds.Close()

	if _, err := pg.pool.Exec(ctx, "DROP TABLE IF EXISTS schema_migrations, workflows, audit_events"); err != nil {
		t.Fatal(err)
	}
	var se *api.SchemaError
	if err := pg.CheckSchema(ctx); !errors.As(err, &se) || se.Reason != `schema missing: relation "audit_events" does not exist` {
		t.Fatalf("CheckSchema on an empty database: %v", err)
	}
	if _, err := pg.InsertEvent(ctx, api.NewEvent{Service: "s", Action: "a"}); !errors.As(err, &se) {
		t.Fatalf("InsertEvent without the schema: %v, want a *SchemaError", err)
	}
	files, _ := filepath.Glob("../../../images/migrations/migrations/*.sql")
	if len(files) == 0 {
		t.Fatal("no migrations found")
	}
	for _, f := range files {
		sql, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pg.pool.Exec(ctx, string(sql)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := pg.CheckSchema(ctx); (err == nil) != (f == files[len(files)-1]) {
			t.Errorf("CheckSchema after %s: %v", filepath.Base(f), err)
		}
	}

	for _, e := range []api.NewEvent{{Service: "gateway", Action: "a"}, {Service: "notification", Action: "b"}, {Service: "gateway", Action: "c"}} {
		if _, err := pg.InsertEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	events, err := pg.ListEvents(ctx, "gateway", 10)
	if err != nil || len(events) != 2 || events[0].Action != "c" || events[0].ID == 0 || events[0].CreatedAt.IsZero() {
		t.Errorf("ListEvents: %+v, %v", events, err)
	}
	if n, err := pg.CountEvents(ctx, "gateway"); n != 2 || err != nil {
		t.Errorf("CountEvents: %d, %v", n, err)
	}

	if err := rds.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rds.SetCount(ctx, "gateway", 2); err != nil {
		t.Fatal(err)
	}
	if n, ok, err := rds.Count(ctx, "gateway"); n != 2 || !ok || err != nil {
		t.Errorf("Count: %d %v %v", n, ok, err)
	}
	if err := rds.Forget(ctx, "gateway"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := rds.Count(ctx, "gateway"); ok || err != nil {
		t.Errorf("Count after Forget: %v %v", ok, err)
	}
}
