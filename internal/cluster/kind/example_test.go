package kind_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/kubetestbed/testbed/internal/cluster/kind"
)

// A stack's cluster with a host port chosen for it, an image loaded into
// its node unless it has it already, and its deletion. (Not run: it needs
// a kind node image.)
func Example() {
	ctx := context.Background()
	p, err := kind.New(kind.Options{
		StateDir: "/tmp/testbed-state",
		Ports:    []kind.Port{{Name: "web", NodePort: 30080}}, // host port: auto
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	if err := p.Prepare(ctx); err != nil {
		log.Fatal(err) // no usable docker
	}
	c, created, err := p.Ensure(ctx, "shop")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.KubeconfigPath(), created, c.(*kind.Cluster).HostPorts()["web"])

	ld, err := p.LoadImage(ctx, "shop", "testbed.local/shop/api:3f2a9c")
	switch {
	case errors.Is(err, kind.ErrNoLocalImage):
		fmt.Println("left for the cluster to pull")
	case err != nil:
		log.Fatal(err)
	case ld.Unchanged():
		fmt.Println("already on every node")
	}
	if err := p.Delete(ctx, "shop"); err != nil {
		log.Fatal(err)
	}
}
