package dev

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Ignore matches paths against the patterns of a .gitignore file. It
// supports what most .gitignore files use: comments, blank lines, "!"
// negation (the last matching pattern wins), a trailing "/" for directories
// only, a leading or inner "/" anchoring the pattern to the file's
// directory, "*", "?", "[...]" and "**" for any number of directories. A
// path inside an ignored directory is ignored, as in git. The zero value
// ignores nothing.
type Ignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	elems    []string // pattern split on "/"; anchored patterns match from the root
	anchored bool
	dirOnly  bool
	negate   bool
}

// ParseIgnore parses .gitignore content.
func ParseIgnore(data []byte) *Ignore {
	ig := &Ignore{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if !strings.HasSuffix(line, `\ `) {
			line = strings.TrimRight(line, " ")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var r ignoreRule
		if strings.HasPrefix(line, "!") {
			r.negate, line = true, line[1:]
		} else if strings.HasPrefix(line, `\`) {
			line = line[1:] // \# and \! escape a leading character
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly, line = true, strings.TrimRight(line, "/")
		}
		if line == "" {
			continue
		}
		if strings.Contains(line, "/") {
			r.anchored, line = true, strings.TrimPrefix(line, "/")
		}
		if _, err := path.Match(strings.ReplaceAll(line, "**", "*"), ""); err != nil {
			continue // git skips malformed patterns too
		}
		r.elems = strings.Split(line, "/")
		ig.rules = append(ig.rules, r)
	}
	return ig
}

// ReadIgnore reads dir/.gitignore; a missing file ignores nothing.
func ReadIgnore(dir string) (*Ignore, error) {
	data, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if os.IsNotExist(err) {
		return &Ignore{}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseIgnore(data), nil
}

// Match reports whether rel, a slash-separated path relative to the
// .gitignore's directory, is ignored; isDir says whether rel is a
// directory. A file is also ignored when one of its parent directories is.
func (ig *Ignore) Match(rel string, isDir bool) bool {
	if ig == nil || len(ig.rules) == 0 {
		return false
	}
	rel = strings.Trim(path.Clean(rel), "/")
	elems := strings.Split(rel, "/")
	for i := 1; i < len(elems); i++ {
		if ig.matchOne(elems[:i], true) {
			return true
		}
	}
	return ig.matchOne(elems, isDir)
}

// matchOne applies the rules to one path, ignoring its parents.
func (ig *Ignore) matchOne(elems []string, isDir bool) bool {
	ignored := false
	for _, r := range ig.rules {
		if r.dirOnly && !isDir {
			continue
		}
		var ok bool
		if r.anchored {
			ok = matchPath(r.elems, elems)
		} else {
			ok = matchPath(r.elems, elems[len(elems)-1:])
		}
		if ok {
			ignored = !r.negate
		}
	}
	return ignored
}

// matchPath matches path elements against pattern elements, "**" standing
// for any number of elements.
func matchPath(pat, elems []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(elems); i++ {
				if matchPath(pat[1:], elems[i:]) {
					return true
				}
			}
			return false
		}
		if len(elems) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], elems[0]); !ok {
			return false
		}
		pat, elems = pat[1:], elems[1:]
	}
	return len(elems) == 0
}

// excludeGlobs returns watch.Options.Exclude globs for the rules that name
// a directory or file by base name alone and are not negated, so the
// watcher does not descend into ignored directories such as node_modules.
// Everything else is filtered by Match. (A directory-only rule such as
// "tmp/" also keeps the watcher off a file named tmp: a file the watcher
// never reports, which only matters if such a file is Go source, and it
// cannot be.)
func (ig *Ignore) excludeGlobs() []string {
	if ig == nil {
		return nil
	}
	for _, r := range ig.rules {
		if r.negate {
			return nil // a negation may re-include something under them
		}
	}
	var out []string
	for _, r := range ig.rules {
		if !r.anchored && len(r.elems) == 1 {
			out = append(out, r.elems[0])
		}
	}
	return out
}
