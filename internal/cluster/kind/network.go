package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// kindNetwork is the container network kind puts every cluster's nodes on.
// kind creates it and never removes it; testbed removes it when the last
// cluster on it is deleted, so that `down` leaves no network behind.
const kindNetwork = "kind"

// networkLock serialises that removal against clusters being created, in
// every testbed process of the machine: a create holds it shared from
// before kind makes the network until its node is on it, and a delete
// removes the network only if it gets it exclusively, at once.
type networkLock struct{ path string }

// shared takes the lock shared, waiting; the returned function lets it go.
func (l networkLock) shared() (func(), error) {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("kind network lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, fmt.Errorf("kind network lock %s: %w", l.path, err)
	}
	return func() { f.Close() }, nil
}

// tryExclusive takes the lock exclusively if no one holds it; ok is false
// when someone does (a cluster is being created).
func (l networkLock) tryExclusive() (release func(), ok bool, err error) {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false, fmt.Errorf("kind network lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("kind network lock %s: %w", l.path, err)
	}
	return func() { f.Close() }, true, nil
}

// networkEnv names another network for kind's nodes; kind's library
// reads it itself.
const networkEnv = "KIND_EXPERIMENTAL_DOCKER_NETWORK"

// removeNetworkIfUnused removes kind's network when no container is on it
// and no cluster is being created; it says whether it did. When kind puts
// the nodes on a network of the user's (networkEnv), neither that network
// nor kind's is removed: the nodes were never on kind's.
func (p *Provider) removeNetworkIfUnused(ctx context.Context) (bool, error) {
	if os.Getenv(networkEnv) != "" {
		return false, nil
	}
	release, ok, err := p.netLock.tryExclusive()
	if err != nil || !ok {
		return false, err
	}
	defer release()
	return p.eng.RemoveUnusedNetwork(ctx, kindNetwork)
}

func (c cli) RemoveUnusedNetwork(ctx context.Context, name string) (bool, error) {
	if c.bin != RuntimeDocker {
		// podman's network inspect does not list containers; kind's
		// podman network stays.
		return false, nil
	}
	n, err := c.run(ctx, "network", "inspect", "--format", "{{len .Containers}}", name)
	var ce *cmdError
	if errors.As(err, &ce) && strings.Contains(strings.ToLower(ce.msg), "no such network") {
		return false, nil
	}
	if err != nil || n != "0" {
		return false, err
	}
	if _, err := c.run(ctx, "network", "rm", name); err != nil {
		return false, err
	}
	return true, nil
}
