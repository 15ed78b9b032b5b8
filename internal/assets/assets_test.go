package assets

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSet writes a complete-looking set (tiny scripts and their manifest)
// into a fresh cache directory and returns the versioned directory.
func fakeSet(t *testing.T) string {
	t.Helper()
	dir := Dir(t.TempDir())
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	m := manifest{Files: map[Binary]entry{}}
	for _, b := range All {
		p := filepath.Join(bin, string(b))
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho "+string(b)+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		sum, err := fileSHA256(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		m.Files[b] = entry{Size: fi.Size(), SHA256: sum}
	}
	data, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, manifestName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpen(t *testing.T) {
	t.Run("complete set", func(t *testing.T) {
		dir := fakeSet(t)
		set, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if set.Path(Etcd) != filepath.Join(dir, "bin", "etcd") {
			t.Errorf("Path(etcd) = %s", set.Path(Etcd))
		}
		if err := Verify(context.Background(), dir); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})
	t.Run("never built", func(t *testing.T) {
		_, err := Open(Dir(t.TempDir()))
		if !errors.Is(err, ErrNotBuilt) || !strings.Contains(err.Error(), "testbed assets build") {
			t.Fatalf("err = %v, want ErrNotBuilt with the command to build", err)
		}
	})
	cases := []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"missing binary", func(dir string) { os.Remove(filepath.Join(dir, "bin", "kwok")) }, "sim asset kwok"},
		{"truncated binary", func(dir string) { os.WriteFile(filepath.Join(dir, "bin", "etcd"), []byte("#!"), 0o755) }, "sim asset etcd"},
		{"not executable", func(dir string) { os.Chmod(filepath.Join(dir, "bin", "kubectl"), 0o644) }, "not executable"},
		{"corrupt manifest", func(dir string) { os.WriteFile(filepath.Join(dir, manifestName), []byte("{"), 0o644) }, "corrupt manifest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := fakeSet(t)
			tc.damage(dir)
			_, err := Open(dir)
			var ae *AssetError
			if !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "testbed assets build --force") {
				t.Fatalf("err = %v, want an AssetError with %q and how to rebuild", err, tc.want)
			}
		})
	}
	t.Run("same size, other bytes: only Verify sees it", func(t *testing.T) {
		dir := fakeSet(t)
		p := filepath.Join(dir, "bin", "kube-apiserver")
		data, _ := os.ReadFile(p)
		data[len(data)-2] = 'X'
		os.WriteFile(p, data, 0o755)
		if _, err := Open(dir); err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := Verify(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
			t.Fatalf("Verify = %v, want a checksum mismatch", err)
		}
	})
}

func TestResolve(t *testing.T) {
	t.Run("bin dir is used as is", func(t *testing.T) {
		dir := filepath.Join(fakeSet(t), "bin")
		set, err := Resolve(context.Background(), dir, BuildOptions{CacheDir: t.TempDir()}, func() { t.Error("build started") })
		if err != nil || set.Dir != dir {
			t.Fatalf("Resolve = %v, %v", set, err)
		}
	})
	t.Run("bin dir without binaries", func(t *testing.T) {
		_, err := Resolve(context.Background(), t.TempDir(), BuildOptions{CacheDir: t.TempDir()}, nil)
		if err == nil || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a damaged cache is reported, not rebuilt", func(t *testing.T) {
		dir := fakeSet(t)
		os.Remove(filepath.Join(dir, "bin", "kwok"))
		_, err := Resolve(context.Background(), "", BuildOptions{CacheDir: filepath.Dir(dir)}, func() { t.Error("build started") })
		var ae *AssetError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %v, want an AssetError", err)
		}
	})
	t.Run("no go toolchain: a clear error before anything is built", func(t *testing.T) {
		_, err := Resolve(context.Background(), "", BuildOptions{CacheDir: t.TempDir(), Go: "/nonexistent/go"}, nil)
		if err == nil || !strings.Contains(err.Error(), "Go toolchain") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestLockSerialises(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := lock(context.Background(), path, time.Hour, func() { t.Error("first taker waited") })
	if err != nil {
		t.Fatal(err)
	}
	var waited atomic.Bool
	got := make(chan struct{})
	go func() {
		u, err := lock(context.Background(), path, time.Hour, func() { waited.Store(true) })
		if err == nil {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("second taker got the lock while the first held it")
	case <-time.After(500 * time.Millisecond):
	}
	unlock()
	<-got
	if !waited.Load() {
		t.Error("second taker was not told it waits")
	}

	// A waiter gives up when its context ends.
	unlock, _ = lock(context.Background(), path, time.Hour, func() {})
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := lock(ctx, path, time.Hour, func() {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}

func TestWriteSources(t *testing.T) {
	dst := t.TempDir()
	if err := writeSources(dst); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"k8s/go.mod", "k8s/go.sum", "etcd/go.mod", "etcd/main.go", "kwok/go.mod", "kwok/go.sum"} {
		data, err := os.ReadFile(filepath.Join(dst, f))
		if err != nil || len(data) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	mod, _ := os.ReadFile(filepath.Join(dst, "k8s", "go.mod"))
	for _, want := range []string{"k8s.io/kubernetes " + KubernetesVersion, "k8s.io/api => k8s.io/api v0.37.2"} {
		if !strings.Contains(string(mod), want) {
			t.Errorf("k8s/go.mod lacks %q", want)
		}
	}
	etcd, _ := os.ReadFile(filepath.Join(dst, "etcd", "go.mod"))
	if !strings.Contains(string(etcd), "go.etcd.io/etcd/server/v3 "+EtcdVersion) {
		t.Errorf("etcd/go.mod does not pin %s", EtcdVersion)
	}
}

func TestIsPackageLine(t *testing.T) {
	for line, want := range map[string]bool{
		"k8s.io/apimachinery/pkg/util/sets":      true,
		"# k8s.io/kubernetes/cmd/kube-apiserver": false,
		"go: downloading k8s.io/api v0.37.2":     false,
		"main.go:3:2: undefined: x":              false,
		"":                                       false,
	} {
		if got := isPackageLine(line); got != want {
			t.Errorf("isPackageLine(%q) = %v, want %v", line, got, want)
		}
	}
}
