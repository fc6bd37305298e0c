package ui

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/cybercorp/hotreload"
)

// roots holds the watched folders the overlay shows paths relative to. A
// browser never sees where a file lives on the server: a path under a root
// becomes relative to it (slash-separated), any other absolute path is cut
// to its base name, and a root named in a message is cut out of it.
type roots struct {
	dirs []string // absolute and clean, longest first
}

// add records dir; an empty one, or one that cannot be made absolute, is
// ignored.
func (rs *roots) add(dir string) {
	if dir == "" {
		return
	}
	abs, err := filepath.Abs(dir)
	if err != nil || slices.Contains(rs.dirs, abs) {
		return
	}
	rs.dirs = append(rs.dirs, abs)
	slices.SortFunc(rs.dirs, func(a, b string) int { return len(b) - len(a) })
}

// file returns how the overlay shows the file name f.
func (rs *roots) file(f string) string {
	if !filepath.IsAbs(f) {
		return f
	}
	f = filepath.Clean(f)
	for _, dir := range rs.dirs {
		if rel, err := filepath.Rel(dir, f); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(f)
}

// message cuts every root (with its trailing separator) out of s.
func (rs *roots) message(s string) string {
	for _, dir := range rs.dirs {
		s = strings.ReplaceAll(s, dir+string(filepath.Separator), "")
	}
	return s
}

// shown returns errs as the overlay shows them.
func (rs *roots) shown(errs []hotreload.FieldError) []hotreload.FieldError {
	out := make([]hotreload.FieldError, len(errs))
	for i, e := range errs {
		e.File = rs.file(e.File)
		e.Message = rs.message(e.Message)
		out[i] = e
	}
	return out
}
