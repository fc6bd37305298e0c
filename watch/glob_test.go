package watch

import (
	"path"
	"strings"
	"testing"
)

func TestMatchGlob(t *testing.T) {
	for _, tc := range []struct {
		glob, rel string
		want      bool
	}{
		{"*.go", "main.go", true},
		{"*.go", "pkg/deep/lib.go", true},
		{"*.go", "main.go~", false},
		{"node_modules", "a/node_modules", true},
		{"static/**", "static", true},
		{"static/**", "static/css/app.css", true},
		{"static/**", "x/static/app.css", false},
		{"**/*.css", "app.css", true},
		{"**/*.css", "a/b/app.css", true},
		{"a/*/c", "a/b/c", true},
		{"a/*/c", "a/b/b/c", false},
		{"a/**/c", "a/c", true},
		{"[a-", "x", false},
	} {
		if got := matchGlob(tc.glob, tc.rel); got != tc.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", tc.glob, tc.rel, got, tc.want)
		}
	}
}

// FuzzMatchGlob checks that matching never panics, that a glob without
// "/" or "**" agrees with path.Match on base names, and that checkGlob
// accepts exactly the globs path.Match accepts element by element.
func FuzzMatchGlob(f *testing.F) {
	for _, s := range [][2]string{{"*.go", "a/b.go"}, {"**/x", "x"}, {"[a-", "a"}, {"a/**/b/**", "a/b/c"}, {"\\", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, glob, rel string) {
		if strings.Count(glob, "**") > 4 {
			t.Skip("too many ** for a quick check")
		}
		got := matchGlob(glob, rel)
		if strings.Contains(glob, "/") {
			return
		}
		want, err := path.Match(glob, path.Base(rel))
		if err != nil {
			if checkGlob(glob) == nil {
				t.Fatalf("checkGlob(%q) accepted a glob path.Match rejects", glob)
			}
			return
		}
		if got != want {
			t.Fatalf("matchGlob(%q, %q) = %v, path.Match says %v", glob, rel, got, want)
		}
	})
}
