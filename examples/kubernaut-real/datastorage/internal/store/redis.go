package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/kubetestbed/testbed/examples/kubernaut-real/datastorage/internal/api"
	"github.com/kubetestbed/testbed/examples/kubernaut-real/datastorage/internal/config"
)

// CountTTL is how long a cached count lives: it bounds how stale a count
// can be when a write could not drop it (Redis did not answer then).
const CountTTL = 30 * time.Second

// Redis is the cache. Make one with NewRedis.
type Redis struct {
	client *redis.Client
}

var _ api.Cache = (*Redis)(nil)

// NewRedis returns a cache on c. Like NewPostgres it does not connect
// until first used. go-redis's own messages (it has one logger per
// program) go to log.
func NewRedis(c config.Redis, log *slog.Logger) *Redis {
	redis.SetLogger(redisLogger{log})
	return &Redis{client: redis.NewClient(&redis.Options{
		Addr:         c.Addr,
		Password:     c.Password,
		DB:           c.DB,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		// One dial and one retry per call: the service retries on its
		// own (WaitFor, every /health), and a health check must fail
		// within its timeout with the dial's error, not its own deadline.
		MaxRetries:    1,
		DialerRetries: 1,
		// A plain Redis 7.0 (Debian bookworm's) knows neither CLIENT
		// SETINFO nor maintenance notifications: do not ask on connect.
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})}
}

// Close closes every connection.
func (r *Redis) Close() error { return r.client.Close() }

// redisLogger passes go-redis's messages to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

func countKey(service string) string { return "datastorage:audit-events:count:" + service }

// Ping implements api.Cache.
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }

// Count implements api.Cache.
func (r *Redis) Count(ctx context.Context, service string) (int64, bool, error) {
	n, err := r.client.Get(ctx, countKey(service)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	return n, err == nil, err
}

// SetCount implements api.Cache.
func (r *Redis) SetCount(ctx context.Context, service string, n int64) error {
	return r.client.Set(ctx, countKey(service), n, CountTTL).Err()
}

// Forget implements api.Cache.
func (r *Redis) Forget(ctx context.Context, service string) error {
	return r.client.Del(ctx, countKey(service)).Err()
}
