package watch

import (
	"path"
	"strings"
)

// checkGlob reports a malformed glob.
func checkGlob(glob string) error {
	if glob == "" {
		return path.ErrBadPattern
	}
	for _, seg := range strings.Split(glob, "/") {
		if seg == "**" {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return err
		}
	}
	return nil
}

// matchAny reports whether rel, a slash-separated path relative to a Dirs
// entry, matches one of globs.
func matchAny(globs []string, rel string) bool {
	for _, g := range globs {
		if matchGlob(g, rel) {
			return true
		}
	}
	return false
}

// matchGlob reports whether rel matches glob: a glob without "/" is matched
// against rel's base name, one with "/" against all of rel, "**" standing
// for any number of path elements. Malformed globs match nothing.
func matchGlob(glob, rel string) bool {
	if !strings.Contains(glob, "/") {
		ok, _ := path.Match(glob, path.Base(rel))
		return ok
	}
	return matchElems(strings.Split(glob, "/"), strings.Split(rel, "/"))
}

func matchElems(glob, elems []string) bool {
	for len(glob) > 0 {
		if glob[0] == "**" {
			for i := 0; i <= len(elems); i++ {
				if matchElems(glob[1:], elems[i:]) {
					return true
				}
			}
			return false
		}
		if len(elems) == 0 {
			return false
		}
		if ok, _ := path.Match(glob[0], elems[0]); !ok {
			return false
		}
		glob, elems = glob[1:], elems[1:]
	}
	return len(elems) == 0
}
