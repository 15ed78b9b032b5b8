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
// kind creates it and never removes it; when a testbed create made it,
// testbed removes it once the last cluster on it is deleted, so that `down`
// leaves no network behind (one that was there before stays).
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
	if _, err := os.Stat(p.netLock.ours()); err != nil {
		return false, nil // the network was there before testbed's first cluster
	}
	removed, err := p.eng.RemoveUnusedNetwork(ctx, kindNetwork)
	if err == nil {
		if exists, _ := p.eng.NetworkExists(ctx, kindNetwork); !exists {
			_ = os.Remove(p.netLock.ours())
		}
	}
	return removed, err
}

// ours is the marker file that says testbed's create made kind's network
// (it did not exist before): only then does a delete remove it, so that a
// network a user's own kind clusters made stays.
func (l networkLock) ours() string { return l.path + ".ours" }

// markIfAbsent notes, with the lock held shared before a create, that the
// create will make kind's network.
func (p *Provider) markIfAbsent(ctx context.Context) {
	if os.Getenv(networkEnv) != "" {
		return
	}
	if exists, err := p.eng.NetworkExists(ctx, kindNetwork); err == nil && !exists {
		if f, err := os.OpenFile(p.netLock.ours(), os.O_CREATE|os.O_WRONLY, 0o666); err == nil {
			f.Close()
		}
	}
}

func (c cli) NetworkExists(ctx context.Context, name string) (bool, error) {
	if c.bin != RuntimeDocker {
		return true, nil // podman's kind network is never removed
	}
	_, err := c.run(ctx, "network", "inspect", "--format", "{{.Name}}", name)
	if noSuchNetwork(err) {
		return false, nil
	}
	return err == nil, err
}

// noSuchNetwork reports whether err is a `network inspect` of a network
// that does not exist: "network kind not found" (Docker 20.10), "No such
// network: kind" (other versions).
func noSuchNetwork(err error) bool {
	var ce *cmdError
	if !errors.As(err, &ce) {
		return false
	}
	msg := strings.ToLower(ce.msg)
	return strings.Contains(msg, "no such network") || (strings.Contains(msg, "network") && strings.Contains(msg, "not found"))
}

func (c cli) RemoveUnusedNetwork(ctx context.Context, name string) (bool, error) {
	if c.bin != RuntimeDocker {
		// podman's network inspect does not list containers; kind's
		// podman network stays.
		return false, nil
	}
	n, err := c.run(ctx, "network", "inspect", "--format", "{{len .Containers}}", name)
	if noSuchNetwork(err) {
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
