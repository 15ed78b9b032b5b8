package assets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Pinned versions of the control plane the sim provider runs.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.6.8"
	KwokVersion       = "v0.8.0"
)

// Binary names one program of the control plane.
type Binary string

// The binaries an asset set holds.
const (
	APIServer         Binary = "kube-apiserver"
	ControllerManager Binary = "kube-controller-manager"
	Scheduler         Binary = "kube-scheduler"
	Kubectl           Binary = "kubectl"
	Etcd              Binary = "etcd"
	Kwok              Binary = "kwok"
)

// All lists every binary of an asset set, in build order.
var All = []Binary{APIServer, ControllerManager, Scheduler, Kubectl, Etcd, Kwok}

// Key names the versioned directory of an asset set under the cache
// directory: it changes whenever a pinned version or the platform changes.
func Key() string {
	return fmt.Sprintf("k8s-%s_etcd-%s_kwok-%s_%s-%s",
		KubernetesVersion, EtcdVersion, KwokVersion, runtime.GOOS, runtime.GOARCH)
}

// Set is a directory of control-plane binaries ready to run.
type Set struct {
	// Dir holds the binaries, one file per Binary.
	Dir string
}

// Path returns the path of binary b in the set.
func (s *Set) Path(b Binary) string { return filepath.Join(s.Dir, string(b)) }

// manifest records what a build produced, so that a later run can tell a
// complete set from a partial or damaged one without rebuilding it.
type manifest struct {
	Kubernetes string           `json:"kubernetes"`
	Etcd       string           `json:"etcd"`
	Kwok       string           `json:"kwok"`
	GoVersion  string           `json:"goVersion"`
	BuiltAt    time.Time        `json:"builtAt"`
	Files      map[Binary]entry `json:"files"`
}

type entry struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

const manifestName = "manifest.json"

// AssetError says which asset is missing or damaged and how to fix it.
type AssetError struct {
	Binary Binary
	Path   string
	Reason string
	Fix    string
}

func (e *AssetError) Error() string {
	msg := fmt.Sprintf("sim asset %s (%s): %s", e.Binary, e.Path, e.Reason)
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// ErrNotBuilt is returned (wrapped) by Open when no asset set has been built
// in the cache directory yet.
var ErrNotBuilt = errors.New("sim assets are not built")

// rebuildHint is the advice every damaged-asset error carries.
const rebuildHint = "rebuild with `testbed assets build --force`"

// Open returns the asset set in dir (a directory that holds a manifest
// written by Build) after a quick check: every binary present, executable
// and of the size the manifest recorded. It never builds.
func Open(dir string) (*Set, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: build them with `testbed assets build` (about 10 minutes on 2 cores, once)", ErrNotBuilt, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read sim asset manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, &AssetError{Binary: manifestName, Path: filepath.Join(dir, manifestName), Reason: "corrupt manifest: " + err.Error(), Fix: rebuildHint}
	}
	set := &Set{Dir: filepath.Join(dir, "bin")}
	for _, b := range All {
		want, ok := m.Files[b]
		if !ok {
			return nil, &AssetError{Binary: b, Path: set.Path(b), Reason: "not in the manifest", Fix: rebuildHint}
		}
		if err := checkFile(set.Path(b), want.Size); err != nil {
			return nil, &AssetError{Binary: b, Path: set.Path(b), Reason: err.Error(), Fix: rebuildHint}
		}
	}
	return set, nil
}

// UseBinaries returns a set made of binaries the user already has in dir (no
// manifest needed): each must exist and be executable.
func UseBinaries(dir string) (*Set, error) {
	set := &Set{Dir: dir}
	for _, b := range All {
		if err := checkFile(set.Path(b), -1); err != nil {
			return nil, &AssetError{Binary: b, Path: set.Path(b), Reason: err.Error(),
				Fix: "put a " + string(b) + " binary there, or drop the binaries directory option to use testbed's own build"}
		}
	}
	return set, nil
}

func checkFile(path string, size int64) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("missing")
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not executable")
	}
	if size >= 0 && fi.Size() != size {
		return fmt.Errorf("corrupt: %d bytes, the build wrote %d", fi.Size(), size)
	}
	return nil
}

// Verify checks every binary of the set in dir against the SHA-256 the build
// recorded. It reads every byte (about a second), so Open does not call it.
func Verify(ctx context.Context, dir string) error {
	set, err := Open(dir)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	for _, b := range All {
		if err := ctx.Err(); err != nil {
			return err
		}
		sum, err := fileSHA256(set.Path(b))
		if err != nil {
			return &AssetError{Binary: b, Path: set.Path(b), Reason: err.Error(), Fix: rebuildHint}
		}
		if sum != m.Files[b].SHA256 {
			return &AssetError{Binary: b, Path: set.Path(b), Reason: "checksum mismatch", Fix: rebuildHint}
		}
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
