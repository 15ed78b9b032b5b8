package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kubetestbed/testbed/internal/cluster"
)

// twoNodes is extra config that adds a worker to the control-plane node.
const twoNodes = "nodes:\n- role: control-plane\n- role: worker\n"

func TestLoadImage(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f, Options{ExtraConfig: twoNodes})
	ctx := context.Background()
	const ref = "testbed.local/shop/api:3f2a9c"
	if _, err := p.LoadImage(ctx, "shop", ref); !errors.Is(err, ErrNoLocalImage) {
		t.Errorf("LoadImage with no local image = %v, want ErrNoLocalImage", err)
	}
	f.local[ref] = "sha256:aaaa"
	if _, err := p.LoadImage(ctx, "shop", ref); !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("LoadImage with no cluster = %v, want ErrNotFound", err)
	}
	if _, _, err := p.Ensure(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	nodes := []string{"testbed-shop-control-plane", "testbed-shop-worker"}

	ld, err := p.LoadImage(ctx, "shop", ref)
	if err != nil {
		t.Fatal(err)
	}
	if ld.ID != "sha256:aaaa" || !slices.Equal(sorted(ld.Loaded), nodes) || len(ld.Skipped) != 0 || ld.Unchanged() {
		t.Errorf("first load %+v, want loaded into both nodes", ld)
	}
	if f.count("save") != 1 {
		t.Errorf("calls %q, want one save for both nodes", f.Calls())
	}
	if path := f.saved[0]; !strings.HasPrefix(filepath.Base(filepath.Dir(path)), "testbed-kind-load-") {
		t.Errorf("archive %s is not in a directory of its own", path)
	} else if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("archive directory %s left behind", filepath.Dir(path))
	}

	// Loaded again: every node has the same ID, nothing is saved or loaded.
	ld, err = p.LoadImage(ctx, "shop", ref)
	if err != nil {
		t.Fatal(err)
	}
	if !ld.Unchanged() || !slices.Equal(sorted(ld.Skipped), nodes) {
		t.Errorf("second load %+v, want both nodes skipped", ld)
	}
	if f.count("save") != 1 || f.count("load") != 2 {
		t.Errorf("calls %q: a present image was saved or loaded again", f.Calls())
	}

	// A new build under the same ref; one node got it already (podman
	// prints IDs without "sha256:").
	f.local[ref] = "bbbb"
	f.node("testbed-shop-worker").images[ref] = "sha256:bbbb"
	ld, err = p.LoadImage(ctx, "shop", ref)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ld.Loaded, nodes[:1]) || !slices.Equal(ld.Skipped, nodes[1:]) {
		t.Errorf("third load %+v, want the control-plane node loaded and the worker skipped", ld)
	}
}

func TestLoadImagesConcurrently(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f, Options{})
	ctx := context.Background()
	if _, _, err := p.Ensure(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	var refs []string
	for i := range 4 {
		ref := fmt.Sprintf("testbed.local/shop/svc%d:%d", i, i)
		f.local[ref] = fmt.Sprintf("sha256:%d", i)
		refs = append(refs, ref)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(refs))
	for i, ref := range refs {
		wg.Go(func() { _, errs[i] = p.LoadImage(ctx, "shop", ref) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, path := range f.saved {
		if seen[path] {
			t.Errorf("two saves wrote %s", path)
		}
		seen[path] = true
	}
	for i, ref := range refs {
		if got := f.node("testbed-shop-control-plane").images[ref]; got != fmt.Sprintf("sha256:%d", i) {
			t.Errorf("node has %s as %q", ref, got)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
