// Package config reads DataStorage's configuration from its environment.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Config is everything DataStorage needs to start.
type Config struct {
	// HTTPAddr is the address the API listens on, ":8080" by default.
	HTTPAddr string
	// Postgres is the database holding the audit events.
	Postgres Postgres
	// Redis is the cache.
	Redis Redis
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// SIGTERM.
	ShutdownTimeout time.Duration
}

// Postgres says where the database is and how to log in.
type Postgres struct {
	Host, User, Password, Database, SSLMode string
	Port                                    int
}

// URL is the database's connection URL, every part escaped.
func (p Postgres) URL() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(p.User, p.Password),
		Host:     net.JoinHostPort(p.Host, strconv.Itoa(p.Port)),
		Path:     "/" + p.Database,
		RawQuery: url.Values{"sslmode": {p.SSLMode}}.Encode(),
	}
	return u.String()
}

// Redis says where the cache is.
type Redis struct {
	Addr, Password string
	DB             int
}

// The variables FromEnv reads.
const (
	EnvHTTPPort        = "HTTP_PORT"        // default 8080
	EnvDBHost          = "DB_HOST"          // default localhost
	EnvDBPort          = "DB_PORT"          // default 5432
	EnvDBUser          = "DB_USER"          // required
	EnvDBPassword      = "DB_PASSWORD"      // default empty
	EnvDBName          = "DB_NAME"          // required
	EnvDBSSLMode       = "DB_SSLMODE"       // default disable (the image has no CA certificates)
	EnvRedisAddr       = "REDIS_ADDR"       // default localhost:6379
	EnvRedisPassword   = "REDIS_PASSWORD"   // default empty
	EnvRedisDB         = "REDIS_DB"         // default 0
	EnvShutdownTimeout = "SHUTDOWN_TIMEOUT" // default 10s
)

// FromEnv reads the configuration through lookup (os.LookupEnv in main).
// It reports every missing or malformed variable at once.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	r := reader{lookup: lookup}
	c := Config{
		HTTPAddr: ":" + strconv.Itoa(r.port(EnvHTTPPort, 8080)),
		Postgres: Postgres{
			Host:     r.str(EnvDBHost, "localhost"),
			Port:     r.port(EnvDBPort, 5432),
			User:     r.required(EnvDBUser),
			Password: r.str(EnvDBPassword, ""),
			Database: r.required(EnvDBName),
			SSLMode:  r.str(EnvDBSSLMode, "disable"),
		},
		Redis: Redis{
			Addr:     r.str(EnvRedisAddr, "localhost:6379"),
			Password: r.str(EnvRedisPassword, ""),
			DB:       r.integer(EnvRedisDB, 0, 0, 15),
		},
		ShutdownTimeout: r.duration(EnvShutdownTimeout, 10*time.Second),
	}
	if _, _, err := net.SplitHostPort(c.Redis.Addr); err != nil {
		r.fail(EnvRedisAddr, c.Redis.Addr, "want host:port")
	}
	return c, errors.Join(r.errs...)
}

type reader struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (r *reader) fail(name, value, why string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: %s", name, value, why))
}

func (r *reader) str(name, def string) string {
	if v, ok := r.lookup(name); ok && v != "" {
		return v
	}
	return def
}

func (r *reader) required(name string) string {
	v := r.str(name, "")
	if v == "" {
		r.errs = append(r.errs, fmt.Errorf("%s is not set", name))
	}
	return v
}

func (r *reader) integer(name string, def, lo, hi int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, v, fmt.Sprintf("want a number from %d to %d", lo, hi))
		return def
	}
	return n
}

func (r *reader) port(name string, def int) int { return r.integer(name, def, 1, 65535) }

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, v, "want a positive duration such as 10s")
		return def
	}
	return d
}
