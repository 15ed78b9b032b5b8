// Command datastorage is the DataStorage service of examples/kubernaut-real:
// audit events in PostgreSQL, cached counts in Redis, readiness that says
// whether the schema is there, and an exit at start when it is not. Its configuration comes from the
// environment (internal/config); it logs JSON to stderr and stops
// gracefully on SIGTERM or SIGINT.
//
// It needs nothing from its image but itself (a FROM-scratch image: no
// shell, CA certificates or /etc/passwd).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kubetestbed/testbed/examples/kubernaut-real/datastorage/internal/api"
	"github.com/kubetestbed/testbed/examples/kubernaut-real/datastorage/internal/config"
	"github.com/kubetestbed/testbed/examples/kubernaut-real/datastorage/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(ctx, log); err != nil {
		log.Error("datastorage failed", "error", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down within the configured timeout.
func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := config.FromEnv(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	pg, err := store.NewPostgres(cfg.Postgres)
	if err != nil {
		return err
	}
	defer pg.Close()
	rds := store.NewRedis(cfg.Redis, log)
	defer func() {
		if err := rds.Close(); err != nil {
			log.Warn("closing the redis client", "error", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api.New(pg, rds, log).Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(),
		"postgresql", fmt.Sprintf("%s:%d/%s", cfg.Postgres.Host, cfg.Postgres.Port, cfg.Postgres.Database),
		"redis", cfg.Redis.Addr)
	// Like the service it stands in for, DataStorage checks its schema once
	// PostgreSQL answers and stops if it is not there: it never creates it,
	// the migrations Job does. Started before the Job has run (the original
	// suites' race), it exits saying so, and Kubernetes restarts it.
	schemaErr := make(chan error, 1)
	go func() {
		store.WaitFor(ctx, log, "postgresql", pg.Ping)
		if err := pg.CheckSchema(ctx); err != nil && ctx.Err() == nil {
			schemaErr <- fmt.Errorf("%w: DataStorage does not create its schema; the migrations must run first", err)
		}
	}()
	go store.WaitFor(ctx, log, "redis", rds.Ping)

	select {
	case err := <-serveErr:
		return err
	case err := <-schemaErr:
		_ = srv.Close()
		// What the kubelet shows as the container's last termination.
		_ = os.WriteFile("/dev/termination-log", []byte(err.Error()), 0o644)
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
