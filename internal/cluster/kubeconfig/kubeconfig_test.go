package kubeconfig

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKubeconfig writes a kubeconfig for server into a temp dir.
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + server + `"}}]
users: [{name: u, user: {}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Monitor says the cluster died once its API server has stopped answering
// for the grace period, and not before.
func TestMonitorNoticesASilentAPIServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"major":"1","minor":"37","gitVersion":"v1.37.2"}`))
	}))
	p := &Provider{Path: writeKubeconfig(t, srv.URL), Grace: time.Second}
	c, err := p.Find(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.KubeconfigPath() != p.Path {
		t.Errorf("kubeconfig %q, want %q", c.KubeconfigPath(), p.Path)
	}
	done := make(chan error, 1)
	go func() { done <- c.(*Cluster).Monitor(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Monitor returned %v while the API server answers", err)
	case <-time.After(1500 * time.Millisecond):
	}
	srv.Close()
	stopped := time.Now()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "has not answered for 1s") {
			t.Errorf("Monitor = %v; want it to say the API server has not answered", err)
		}
		if took := time.Since(stopped); took < time.Second {
			t.Errorf("Monitor gave up after %s, inside the grace period", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Monitor did not notice the API server stopped")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.(*Cluster).Monitor(ctx); err != nil {
		t.Errorf("Monitor on an ended context = %v, want nil", err)
	}
}

// A kubeconfig that cannot be used says what was looked for.
func TestFindErrors(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HOME", t.TempDir())
	_, err := (&Provider{}).Find(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "no kubeconfig found") {
		t.Errorf("Find without a kubeconfig = %v", err)
	}
	_, err = (&Provider{Path: writeKubeconfig(t, "http://127.0.0.1:1")}).Find(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("Find of a dead server = %v", err)
	}
}
