package config

import (
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := FromEnv(env(map[string]string{EnvDBUser: "slm_user", EnvDBName: "action_history"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		HTTPAddr:        ":8080",
		Postgres:        Postgres{Host: "localhost", Port: 5432, User: "slm_user", Database: "action_history", SSLMode: "disable"},
		Redis:           Redis{Addr: "localhost:6379"},
		ShutdownTimeout: 10 * time.Second,
	}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestFromEnvErrors(t *testing.T) {
	_, err := FromEnv(env(map[string]string{
		EnvHTTPPort:        "http",
		EnvDBPort:          "70000",
		EnvRedisAddr:       "redis",
		EnvRedisDB:         "x",
		EnvShutdownTimeout: "-1s",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`HTTP_PORT="http": want a number from 1 to 65535`,
		`DB_PORT="70000"`,
		"DB_USER is not set",
		"DB_NAME is not set",
		`REDIS_ADDR="redis": want host:port`,
		`REDIS_DB="x"`,
		`SHUTDOWN_TIMEOUT="-1s"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestPostgresURLEscapes(t *testing.T) {
	p := Postgres{Host: "db", Port: 5432, User: "u", Password: "p@ss w/rd", Database: "d", SSLMode: "disable"}
	if got, want := p.URL(), "postgres://u:p%40ss%20w%2Frd@db:5432/d?sslmode=disable"; got != want {
		t.Errorf("URL() = %s, want %s", got, want)
	}
}
