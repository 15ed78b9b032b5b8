package image

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// ignore is a context's .dockerignore: which paths a build does not send.
type ignore []ignorePattern

type ignorePattern struct {
	re        *regexp.Regexp
	exception bool // a "!" line: sent after all
}

// loadIgnore reads the .dockerignore at the root of s's context, with the
// rules of Docker's own: '#' comments, '!' exceptions, '*', '?', '[…]'
// and '**', a pattern excluding a directory excluding what is under it,
// and the last matching line deciding. BuildKit prefers a
// Dockerfile-specific ignore file (<Dockerfile>.dockerignore), which the
// legacy builder does not read; when one exists no pattern is applied, so
// that the digest covers whatever either builder sends.
func loadIgnore(s Spec) (ignore, error) {
	if _, err := os.Stat(s.DockerfilePath() + ".dockerignore"); err == nil {
		return nil, nil
	}
	name := filepath.Join(s.Context, ".dockerignore")
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ign ignore
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := ignorePattern{}
		if strings.HasPrefix(line, "!") {
			p.exception = true
			line = strings.TrimSpace(line[1:])
		}
		line = path.Clean(filepath.ToSlash(line))
		if len(line) > 1 && line[0] == '/' {
			line = line[1:]
		}
		re, err := patternRegexp(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		p.re = re
		ign = append(ign, p)
	}
	return ign, sc.Err()
}

// patternRegexp turns a .dockerignore pattern into an anchored regexp
// over slash-separated paths.
func patternRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
				}
				if i+1 == len(p) {
					b.WriteString(".*")
				} else {
					b.WriteString("(.*/)?")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			end := strings.IndexByte(p[i+1:], ']')
			if end < 0 {
				return nil, fmt.Errorf("pattern %q: '[' without ']'", p)
			}
			class := p[i+1 : i+1+end]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += end + 1
		case '\\':
			if i+1 < len(p) {
				i++
			}
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", p, err)
	}
	return re, nil
}

// excluded reports whether rel (slash-separated, relative to the context)
// is left out of the build: the last pattern that matches it or one of
// its parent directories decides.
func (ign ignore) excluded(rel string) bool {
	out := false
	for _, p := range ign {
		if p.matches(rel) {
			out = !p.exception
		}
	}
	return out
}

func (p ignorePattern) matches(rel string) bool {
	if p.re.MatchString(rel) {
		return true
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' && p.re.MatchString(rel[:i]) {
			return true
		}
	}
	return false
}

func (ign ignore) hasExceptions() bool {
	for _, p := range ign {
		if p.exception {
			return true
		}
	}
	return false
}
