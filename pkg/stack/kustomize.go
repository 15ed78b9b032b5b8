package stack

import (
	"os"
	"path/filepath"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizeMu serializes kustomize builds: kustomize keeps its OpenAPI
// schema in package state.
var kustomizeMu sync.Mutex

// kustomization returns the kustomization file of a kustomize directory
// (kustomize's own order of names), as a path joined to dir.
func kustomization(dir string) string {
	for _, k := range kustomizationFiles {
		p := filepath.Join(dir, k)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() {
			return p
		}
	}
	return filepath.Join(dir, kustomizationFiles[0])
}

// kustomizationName is the kustomization file of f, a kustomize
// directory, as messages show it.
func kustomizationName(f ManifestFile) string {
	return filepath.Join(f.Name, filepath.Base(kustomization(f.Path)))
}

// buildKustomization runs kustomize on the directory f, in process, as
// `kustomize build` would with its defaults (a file outside the directory
// is refused unless reached through another kustomization, plugins and
// helm are off), and returns the YAML it
// emits. References (${image:NAME} and the rest) are not kustomize's: they
// pass through it as written, and the caller substitutes them in the
// output exactly as in a plain manifest file.
func (s *Stack) buildKustomization(f ManifestFile) ([]byte, *Error) {
	name := kustomizationName(f)
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), f.Path)
	if err == nil {
		var data []byte
		if data, err = m.AsYaml(); err == nil {
			return data, nil
		}
	}
	return nil, &Error{File: name, Message: "kustomize build: " + s.trimKustomizeError(err.Error(), f), Err: err}
}

// trimKustomizeError shortens kustomize's error text: absolute paths in
// the directory or the stack file's become the names messages use, and a
// missing resource is told once, not again as a missing directory.
func (s *Stack) trimKustomizeError(msg string, f ManifestFile) string {
	sep := string(filepath.Separator)
	msg = strings.ReplaceAll(msg, f.Path+sep, f.Name+sep)
	msg = strings.ReplaceAll(msg, f.Path, f.Name)
	if s.Dir != "" {
		shown := s.display(s.Dir) + sep
		if shown == "."+sep {
			shown = ""
		}
		msg = strings.ReplaceAll(msg, s.Dir+sep, shown)
	}
	// kustomize wraps a missing resource twice: as a file, then as a
	// directory ("…: must build at directory: not a valid directory: …").
	if i := strings.Index(msg, ": must build at directory: "); i >= 0 {
		msg = msg[:i]
	}
	const limit = 600
	if len(msg) > limit {
		msg = msg[:limit] + "…"
	}
	return msg
}
