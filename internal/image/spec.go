package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
)

// Domain is the registry part of every reference testbed builds. Nothing is
// ever pushed there: it keeps testbed's images apart from the user's.
const Domain = "testbed.local"

// TagLen is the length of a content tag, in hex digits.
const TagLen = 12

// Spec is an image to build: from a Dockerfile, or from a Go main package
// (Go).
type Spec struct {
	// Stack is the stack the image belongs to, the first path component of
	// its reference.
	Stack string
	// Name is the image's name in the stack, the last path component of its
	// reference.
	Name string
	// Context is the build context directory.
	Context string
	// Dockerfile is the Dockerfile ("": Dockerfile in Context). A relative
	// path is taken from the working directory, as docker build -f does.
	Dockerfile string
	// Target is the stage to build ("": the last one).
	Target string
	// BuildArgs are passed as --build-arg KEY=VALUE.
	BuildArgs map[string]string
	// Go, if set, builds the image from a Go main package instead
	// (Context, Dockerfile, Target, BuildArgs and Ref stay empty).
	Go *GoBuild
	// Ref, if set, is the reference to tag the build with, as Reference
	// computed it earlier: the caller deploys that reference, so a context
	// that changes meanwhile must not give the build another one.
	Ref string
	// Log receives the build's whole output (nil: discarded; a failure's
	// last lines are kept in its error either way). BuildAll sets it to
	// the image's log file.
	Log io.Writer
}

// DockerfilePath returns the Dockerfile s builds from.
func (s Spec) DockerfilePath() string {
	if s.Dockerfile == "" {
		return filepath.Join(s.Context, "Dockerfile")
	}
	return s.Dockerfile
}

// component is a path component of an image reference, as the
// distribution reference grammar has it.
var component = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// Check reports what keeps s from being built, before anything starts: a
// stack or image name that cannot be part of a reference, a context that
// is not a directory, a Dockerfile that is not a file. Each error names
// the image and the path.
func Check(s Spec) error {
	var errs []error
	for _, n := range []struct{ what, v string }{{"stack name", s.Stack}, {"image name", s.Name}} {
		if !component.MatchString(n.v) || len(n.v) > 63 {
			errs = append(errs, fmt.Errorf("image %q: %s %q is not lower-case letters and digits separated by '.', '_' or '-' (at most 63)", s.Name, n.what, n.v))
		}
	}
	if s.Go != nil {
		return errors.Join(append(errs, checkGo(s)...)...)
	}
	if s.Context == "" {
		errs = append(errs, fmt.Errorf("image %q: no build context", s.Name))
	} else if err := isDir(s.Context); err != nil {
		errs = append(errs, fmt.Errorf("image %q: context %q %w", s.Name, s.Context, err))
	}
	if s.Context != "" || s.Dockerfile != "" {
		if err := isFile(s.DockerfilePath()); err != nil {
			errs = append(errs, fmt.Errorf("image %q: dockerfile %q %w", s.Name, s.DockerfilePath(), err))
		}
	}
	return errors.Join(errs...)
}

// isDir and isFile say what is wrong with p as a directory or a file.
func isDir(p string) error  { return statAs(p, true) }
func isFile(p string) error { return statAs(p, false) }

func statAs(p string, dir bool) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("does not exist")
	case err != nil:
		return fmt.Errorf("cannot be read: %w", err)
	case dir && !fi.IsDir():
		return errors.New("is not a directory")
	case !dir && !fi.Mode().IsRegular():
		return errors.New("is not a file")
	}
	return nil
}

// Reference returns the reference a Dockerfile build of s is tagged with:
// testbed.local/STACK/NAME:TAG, where TAG is the first 12 hex digits of a
// SHA-256 over everything the build reads: the files of the context (as
// .dockerignore leaves them, and never a .git directory), the
// Dockerfile, the build arguments and the target. The same inputs give
// the same reference on any machine; a change to any of them gives
// another. What the Dockerfile pulls (a FROM image) is not part of it.
// A go image's reference hashes its binary, so only its build knows it:
// Reference returns an error for one.
func Reference(s Spec) (string, error) {
	return reference(context.Background(), s)
}

// reference is Reference, stopping when ctx ends (a large context takes
// time to hash).
func reference(ctx context.Context, s Spec) (string, error) {
	if err := Check(s); err != nil {
		return "", err
	}
	if s.Go != nil {
		return "", fmt.Errorf("image %q: the reference of a go image hashes its binary: only its build knows it", s.Name)
	}
	sum, err := inputsDigest(ctx, s)
	if err != nil {
		return "", err
	}
	return contentRef(s, sum), nil
}

// contentRef is the reference of image s whose content hashes to sum (hex).
func contentRef(s Spec, sum string) string {
	return fmt.Sprintf("%s/%s/%s:%s", Domain, s.Stack, s.Name, sum[:TagLen])
}

// framer returns a function that writes its parts to h, each framed with
// its length and the whole ended by a newline, so that no two sequences of
// inputs hash alike.
func framer(h hash.Hash) func(parts ...string) {
	return func(parts ...string) {
		for _, p := range parts {
			fmt.Fprintf(h, "%d:%s,", len(p), p)
		}
		h.Write([]byte{'\n'})
	}
}

// inputsDigest hashes what a build of s reads, in a fixed order.
func inputsDigest(ctx context.Context, s Spec) (string, error) {
	h := sha256.New()
	field := framer(h)
	field("testbed image inputs", "v1")
	field("target", s.Target)
	keys := make([]string, 0, len(s.BuildArgs))
	for k := range s.BuildArgs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field("arg", k, s.BuildArgs[k])
	}
	dockerfile, err := os.ReadFile(s.DockerfilePath())
	if err != nil {
		return "", fmt.Errorf("image %q: read dockerfile: %w", s.Name, err)
	}
	field("dockerfile", string(dockerfile))
	if err := hashContext(ctx, h, field, s); err != nil {
		return "", fmt.Errorf("image %q: hash context %q: %w", s.Name, s.Context, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashContext feeds every entry of the context that a build would send,
// in lexical order: its path, type, permission bits, and its content (a
// file) or target (a symlink).
func hashContext(ctx context.Context, h hash.Hash, field func(...string), s Spec) error {
	ign, err := loadIgnore(s)
	if err != nil {
		return err
	}
	return filepath.WalkDir(s.Context, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(s.Context, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if ign.excluded(rel) {
			if d.IsDir() && !ign.hasExceptions() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := strconv.FormatUint(uint64(info.Mode()), 8)
		switch {
		case d.IsDir():
			field("dir", rel, mode)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			field("symlink", rel, mode, target)
		case d.Type().IsRegular():
			field("file", rel, mode, strconv.FormatInt(info.Size(), 10))
			if err := copyFile(h, p); err != nil {
				return err
			}
			h.Write([]byte{'\n'})
		default:
			field("other", rel, mode)
		}
		return nil
	})
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
