package kind

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/kubetestbed/testbed/internal/cluster"
)

// ErrNoLocalImage is cluster.ErrNoLocalImage.
var ErrNoLocalImage = cluster.ErrNoLocalImage

// LoadImage puts ref, from the run's container tool, on every node of the
// cluster of stack name. As `kind load docker-image` does, it first asks
// each node for the image's ID and skips the nodes where it matches; the
// others get one archive, saved into a directory of this call's own and
// removed after, loaded into them concurrently. An image the local engine
// does not have is an error wrapping ErrNoLocalImage.
func (p *Provider) LoadImage(ctx context.Context, name, ref string) (cluster.Load, error) {
	kname := p.clusterName(name)
	ld := cluster.Load{Ref: ref}
	fail := func(err error) (cluster.Load, error) {
		return ld, fmt.Errorf("load image %s into kind cluster %s: %w", ref, kname, err)
	}
	id, err := p.eng.ImageID(ctx, ref)
	if err != nil {
		return fail(err)
	}
	ld.ID = id
	nodes, err := p.api.Nodes(kname)
	if err != nil {
		return fail(err)
	}
	if len(nodes) == 0 {
		return fail(cluster.ErrNotFound)
	}
	var need []node
	for i, has := range nodesWith(nodes, ref, id) {
		if has {
			ld.Skipped = append(ld.Skipped, nodes[i].Name())
		} else {
			need = append(need, nodes[i])
		}
	}
	if len(need) == 0 {
		return ld, nil
	}
	dir, err := os.MkdirTemp("", "testbed-kind-load-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "image.tar")
	if err := p.eng.Save(ctx, ref, archive); err != nil {
		return fail(fmt.Errorf("%s save: %w", p.eng.Name(), err))
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range need {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			f, err := os.Open(archive)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := n.LoadImage(f); err != nil {
				return fmt.Errorf("node %s: %w", n.Name(), err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	for _, n := range need {
		ld.Loaded = append(ld.Loaded, n.Name())
	}
	return ld, nil
}

// nodesWith reports, for each node, whether it has ref with image ID id.
// A node that cannot say has not.
func nodesWith(nodes []node, ref, id string) []bool {
	has := make([]bool, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			got, err := n.ImageID(ref)
			has[i] = err == nil && sameImage(got, id)
		})
	}
	wg.Wait()
	return has
}

// sameImage compares image IDs with or without their "sha256:" (podman
// prints none).
func sameImage(a, b string) bool {
	a, b = strings.TrimPrefix(a, "sha256:"), strings.TrimPrefix(b, "sha256:")
	return a != "" && a == b
}
