package kind

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// A host port is claimed through a lock file named after it in a shared
// directory. The file records the stack that owns the port, and stays
// after the run that created the cluster ends, until the cluster is
// deleted: a later run of another stack reads whose port it is. While a
// run uses the port it also holds an flock on the file, so that two runs
// that start together cannot both take it.

// PortConflictError is a host port that a stack asks for and cannot have:
// another stack holds or uses it, or another program listens on it.
type PortConflictError struct {
	// Port is the host port; Name is the stack's name for it.
	Port int
	Name string
	// Stack and Cluster name the stack and kind cluster that own the port;
	// empty when another program listens on it.
	Stack, Cluster string
	// Held reports that a run of Stack holds the port now (it may still
	// be creating its cluster); otherwise Stack's cluster runs and maps it.
	Held bool
	// PID is the process that recorded the claim.
	PID int
}

func (e *PortConflictError) Error() string {
	what := fmt.Sprintf("host port %d", e.Port)
	if e.Name != "" {
		what = fmt.Sprintf("host port %d (port %q)", e.Port, e.Name)
	}
	switch {
	case e.Cluster == "":
		return fmt.Sprintf("%s is in use by another program on %s: choose another hostPort, or hostPort: auto", what, listenAddress)
	case e.Held:
		return fmt.Sprintf("%s is held by a run of stack %q (kind cluster %s, pid %d) that is starting now: choose another hostPort, or hostPort: auto", what, e.Stack, e.Cluster, e.PID)
	default:
		return fmt.Sprintf("%s is used by stack %q (its kind cluster %s is running): take that stack down (testbed down), choose another hostPort, or hostPort: auto", what, e.Stack, e.Cluster)
	}
}

// owner is the content of a port's lock file.
type owner struct {
	Stack   string `json:"stack"`
	Cluster string `json:"cluster"`
	PID     int    `json:"pid"`
}

// portLock is a host port claimed for a cluster and held by this process.
type portLock struct {
	port  int
	path  string
	f     *os.File
	owner owner
	// refs counts the claims that share the lock; done is set once it is
	// let go. Both are guarded by here.
	refs int
	done bool
}

// here is every port lock this process holds, by lock file. An flock
// belongs to an open file, so a second claim of the same cluster's port
// in this process (a new run of the stack, through another Provider)
// shares the first's lock rather than failing on it.
var here = struct {
	sync.Mutex
	locks map[string]*portLock
}{locks: map[string]*portLock{}}

// locker claims host ports through lock files in dir.
type locker struct {
	dir string
	// exists reports whether a kind cluster still exists, so that the claim
	// of a cluster deleted behind testbed's back can be taken over.
	exists func(cluster string) (bool, error)
	// free reports whether nothing listens on a port.
	free func(port int) bool
	// ephemeral returns a port the system considers free.
	ephemeral func() (int, error)
}

// autoTries is how many free ports auto tries before it gives up.
const autoTries = 20

func (l *locker) path(port int) string {
	return filepath.Join(l.dir, strconv.Itoa(port)+".lock")
}

// claim claims port for me. A port whose lock file names me is mine again
// (a re-run); with running set, my running cluster maps it, so it is not
// expected to be free. A port another run holds, that another stack's
// running cluster maps, or that another program listens on is a
// *PortConflictError.
func (l *locker) claim(port int, me owner, running bool) (*portLock, error) {
	if lk, err := l.share(port, me); lk != nil || err != nil {
		return lk, err
	}
	lk, err := l.open(port)
	if err != nil {
		return nil, err
	}
	if lk == nil {
		o, _ := readOwner(l.path(port))
		return nil, &PortConflictError{Port: port, Stack: o.Stack, Cluster: o.Cluster, PID: o.PID, Held: true}
	}
	o, err := readOwner(lk.path)
	if err != nil {
		lk.unlock()
		return nil, err
	}
	mine := o.Cluster == me.Cluster
	if o.Cluster != "" && !mine {
		alive, err := l.exists(o.Cluster)
		if err != nil {
			lk.unlock()
			return nil, err
		}
		if alive {
			lk.unlock()
			return nil, &PortConflictError{Port: port, Stack: o.Stack, Cluster: o.Cluster, PID: o.PID}
		}
	}
	if !running && !l.free(port) {
		lk.unlock()
		return nil, &PortConflictError{Port: port}
	}
	if err := lk.record(me); err != nil {
		lk.unlock()
		return nil, err
	}
	here.Lock()
	lk.owner, lk.refs = me, 1
	here.locks[lk.path] = lk
	here.Unlock()
	return lk, nil
}

// share returns the lock this process holds on port when it is me's,
// counting one more claim on it; a *PortConflictError when another
// cluster's; nil, nil when this process holds none.
func (l *locker) share(port int, me owner) (*portLock, error) {
	here.Lock()
	defer here.Unlock()
	lk := here.locks[l.path(port)]
	switch {
	case lk == nil:
		return nil, nil
	case lk.owner.Cluster != me.Cluster:
		return nil, &PortConflictError{Port: port, Stack: lk.owner.Stack, Cluster: lk.owner.Cluster, PID: lk.owner.PID, Held: true}
	}
	lk.refs++
	return lk, nil
}

// pick claims a free port for me.
func (l *locker) pick(me owner) (*portLock, error) {
	var last error
	for range autoTries {
		port, err := l.ephemeral()
		if err != nil {
			return nil, fmt.Errorf("pick a free host port: %w", err)
		}
		lk, err := l.claim(port, me, false)
		var conflict *PortConflictError
		if !errors.As(err, &conflict) {
			return lk, err
		}
		last = err
	}
	return nil, fmt.Errorf("no free host port after %d tries; the last: %w", autoTries, last)
}

// open opens and flocks the lock file of port; nil when another process
// (or another open file in this one) holds it.
func (l *locker) open(port int) (*portLock, error) {
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, fmt.Errorf("port locks: %w", err)
	}
	path := l.path(port)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, fmt.Errorf("port lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, nil
			}
			return nil, fmt.Errorf("port lock %s: %w", path, err)
		}
		// A release removes the file while it holds the lock: a lock
		// taken on a file no longer at path is no lock; open it again.
		if same(f, path) {
			return &portLock{port: port, path: path, f: f}, nil
		}
		f.Close()
	}
}

// same reports whether the open file f is the file at path.
func same(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// readOwner reads the owner a lock file records; the zero owner when it
// is empty or gone.
func readOwner(path string) (owner, error) {
	var o owner
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && strings.TrimSpace(string(data)) == "") {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("port lock: %w", err)
	}
	if json.Unmarshal(data, &o) != nil {
		return owner{}, nil // a damaged claim claims nothing
	}
	return o, nil
}

// record writes me into the held lock file.
func (lk *portLock) record(me owner) error {
	data, _ := json.Marshal(me)
	if err := lk.f.Truncate(0); err != nil {
		return fmt.Errorf("port lock %s: %w", lk.path, err)
	}
	if _, err := lk.f.WriteAt(append(data, '\n'), 0); err != nil {
		return fmt.Errorf("port lock %s: %w", lk.path, err)
	}
	return nil
}

// unlock ends one claim on the lock; the last one lets go of it. The
// claim it records stays.
func (lk *portLock) unlock() { lk.end(false) }

// drop removes the claim and lets go of the lock, however many share it:
// the cluster is gone.
func (lk *portLock) drop() { lk.end(true) }

func (lk *portLock) end(drop bool) {
	here.Lock()
	defer here.Unlock()
	if lk.done {
		return
	}
	if lk.refs--; lk.refs > 0 && !drop {
		return
	}
	if drop {
		_ = os.Remove(lk.path)
	}
	_ = syscall.Flock(int(lk.f.Fd()), syscall.LOCK_UN)
	lk.f.Close()
	lk.done = true
	if here.locks[lk.path] == lk {
		delete(here.locks, lk.path)
	}
}

// forget removes every claim of cluster: those this process holds, and
// those that no process holds, which a run left when it ended with the
// cluster running.
func (l *locker) forget(cluster string) error {
	here.Lock()
	var mine []*portLock
	for _, lk := range here.locks {
		if lk.owner.Cluster == cluster && filepath.Dir(lk.path) == l.dir {
			mine = append(mine, lk)
		}
	}
	here.Unlock()
	for _, lk := range mine {
		lk.drop()
	}
	entries, err := os.ReadDir(l.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("port locks: %w", err)
	}
	for _, e := range entries {
		port, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".lock"))
		if err != nil || !strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		if o, _ := readOwner(l.path(port)); o.Cluster != cluster {
			continue
		}
		lk, err := l.open(port)
		if err != nil || lk == nil {
			continue // held: a run owns it now and releases it itself
		}
		if o, _ := readOwner(lk.path); o.Cluster == cluster {
			lk.drop()
		} else {
			lk.unlock()
		}
	}
	return nil
}

// freePort reports whether a TCP listener can bind port on 127.0.0.1
// (which fails, too, when something listens on all addresses).
func freePort(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(listenAddress, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// ephemeralPort returns a port the system hands out as free.
func ephemeralPort() (int, error) {
	ln, err := net.Listen("tcp", listenAddress+":0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
