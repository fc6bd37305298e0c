package dev

import (
	"slices"
	"testing"

	"github.com/cybercorp/hotreload"
)

func TestIgnoreMatch(t *testing.T) {
	ig := ParseIgnore([]byte(`# build output
/bin/
tmp/
*.log
!keep.log
docs/**/*.draft
\#notes
vendor
`))
	for _, tc := range []struct {
		path  string
		isDir bool
		want  bool
	}{
		{"bin", true, true},
		{"bin/app", false, true},
		{"cmd/bin/app", false, false}, // anchored to the root
		{"tmp", true, true},
		{"a/tmp/x.go", false, true}, // unanchored directory anywhere
		{"tmp", false, false},       // directory-only pattern, a file
		{"server.log", false, true},
		{"a/b/server.log", false, true},
		{"keep.log", false, false}, // negated
		{"docs/a/b/x.draft", false, true},
		{"docs/x.draft", false, true},
		{"src/docs/x.draft", false, false},
		{"#notes", false, true},
		{"vendor/x/y.go", false, true},
		{"main.go", false, false},
	} {
		if got := ig.Match(tc.path, tc.isDir); got != tc.want {
			t.Errorf("Match(%q, dir=%v) = %v, want %v", tc.path, tc.isDir, got, tc.want)
		}
	}
	if got := ig.excludeGlobs(); got != nil {
		t.Errorf("excludeGlobs with a negation = %q, want none", got)
	}
	if got := ParseIgnore([]byte("node_modules/\n/bin\n*.tmp\n")).excludeGlobs(); !slices.Equal(got, []string{"node_modules", "*.tmp"}) {
		t.Errorf("excludeGlobs = %q", got)
	}
	var zero *Ignore
	if zero.Match("x", false) {
		t.Error("a nil Ignore ignored something")
	}
}

func FuzzParseIgnore(f *testing.F) {
	f.Add("*.log\n!keep.log\n/bin/\n", "a/keep.log")
	f.Add("[", "x")
	f.Add("**/", "a/b")
	f.Add("a/**/b\n\\!x\n", "a/x/y/b")
	f.Fuzz(func(t *testing.T, patterns, path string) {
		ig := ParseIgnore([]byte(patterns))
		ig.Match(path, false)
		ig.Match(path, true)
		ig.excludeGlobs()
	})
}

func TestBuildError(t *testing.T) {
	out := []byte(`# example.com/app
./main.go:12:5: undefined: x
./store/db.go:3:1: syntax error: non-declaration statement outside function body
note: module requires Go 1.99
`)
	err := BuildError("/src/app", "go build", out, errExit)
	if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
		t.Fatalf("code %q", hotreload.ErrorCode(err))
	}
	got := hotreload.ErrorDetails(err)
	want := []hotreload.FieldError{
		{File: "/src/app/main.go", Line: 12, Column: 5, Message: "undefined: x"},
		{File: "/src/app/store/db.go", Line: 3, Column: 1, Message: "syntax error: non-declaration statement outside function body"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("details %+v\nwant %+v", got, want)
	}
	// Output without compiler messages: each line is a detail.
	got = hotreload.ErrorDetails(BuildError("/src", "make", []byte("make: *** No rule to make target\n"), errExit))
	if len(got) != 1 || got[0].Message != "make: *** No rule to make target" {
		t.Fatalf("details %+v", got)
	}
	got = hotreload.ErrorDetails(BuildError("/src", "make", nil, errExit))
	if len(got) != 1 || got[0].Message != "make: exit status 1" {
		t.Fatalf("details %+v", got)
	}
}

var errExit = hotreload.Errorf(hotreload.CodeInternal, "exit status 1")

func FuzzBuildError(f *testing.F) {
	f.Add("./main.go:1:2: x\n")
	f.Add("main.go:99999999999999999999:1: x")
	f.Add("/abs/x.go:3: no column\n\n#comment")
	f.Fuzz(func(t *testing.T, out string) {
		err := BuildError("/d", "go build", []byte(out), errExit)
		if len(hotreload.ErrorDetails(err)) == 0 {
			t.Fatal("no details")
		}
	})
}

func TestDepsAffects(t *testing.T) {
	d := &deps{
		dirs:     map[string]bool{"/m/app": true, "/m/store": true},
		embedded: map[string]bool{"/m/app/static/index.html": true},
		packages: map[string]string{"/m/app": "m/app", "/m/store": "m/store"},
	}
	for _, tc := range []struct {
		name  string
		paths []string
		pkgs  []string
		hit   bool
	}{
		{"GoFile", []string{"/m/store/db.go", "/m/store/x.go"}, []string{"m/store"}, true},
		{"TestFile", []string{"/m/store/db_test.go"}, nil, false},
		{"OtherPackage", []string{"/m/tools/gen.go"}, nil, false},
		{"Embedded", []string{"/m/app/static/index.html"}, nil, true},
		{"NotEmbedded", []string{"/m/app/static/other.html"}, nil, false},
		{"GoMod", []string{"/m/go.mod"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, hit := d.affects(tc.paths)
			if hit != tc.hit || !slices.Equal(pkgs, tc.pkgs) {
				t.Fatalf("affects = %q, %v; want %q, %v", pkgs, hit, tc.pkgs, tc.hit)
			}
		})
	}
	var unknown *deps
	if _, hit := unknown.affects([]string{"/x/y.go"}); !hit {
		t.Fatal("unlisted deps must be affected by every change")
	}
}
