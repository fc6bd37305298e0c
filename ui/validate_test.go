package ui

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cybercorp/hotreload"
)

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name, file, src string
		want            string // "" for valid, else the first error as line:col: message
	}{
		{"CSSOK", "a.css", "/* a { */\n:root { --x: \"}\"; }\na[href='x)'] { color: red }\n", ""},
		{"CSSUnclosedBrace", "a.css", "a {\n  color: red;\n", "1:3: '{' is never closed"},
		{"CSSStrayBrace", "a.css", "a { color: red }\n}\n", "2:1: unexpected '}': nothing to close"},
		{"CSSMismatch", "a.css", "a { color: rgb(1 2 3 }", "1:22: unexpected '}': '(' opened at 1:15 is still open"},
		{"CSSUnclosedComment", "a.css", "a {}\n/* oops", "2:1: comment is never closed"},
		{"CSSUnclosedString", "a.css", "a { content: \"x;\n}", "1:14: string is never closed"},
		{"JSOK", "a.js", "const re = /[}/]+/g; // }\nconst s = `a ${ {b: 1}.b } c`;\nlet x = (1) / 2 / 3;\nif (a) { return }\n", ""},
		{"JSRegexAfterReturn", "a.js", "function f() { return /}/.test(s) }", ""},
		{"JSUnclosedBrace", "a.js", "class A {\n  m() {}\n", "1:9: '{' is never closed"},
		{"JSStray", "a.js", "f());", "1:4: unexpected ')': nothing to close"},
		{"JSUnclosedTemplate", "a.js", "let s = `abc ${x}", "1:17: template literal is never closed"},
		{"JSUnclosedString", "a.js", "let s = 'abc;\n", "1:9: string is never closed"},
		{"JSUnclosedRegex", "a.js", "x = /abc\n", "1:5: regular expression is never closed"},
		{"ThemeOK", "theme.json", `{"--accent": "#0a7", "--radius": "4px"}`, ""},
		{"ThemeBadName", "theme.json", "{\n  \"accent\": \"red\"\n}", "2:3: /accent: a theme property must be a CSS custom property name such as --accent"},
		{"ThemeNotString", "theme.json", `{"--x": 1}`, "1:2: /--x: a theme value must be a string"},
		{"ThemeInjection", "theme.json", `{"--x": "red; } body { display: none"}`, "1:2: /--x: a theme value must not contain ; { } < or >"},
		{"ThemeNotObject", "theme.json", `["--x"]`, "1:1: the theme must be a JSON object of custom properties"},
		{"ThemeTruncated", "theme.json", `{"--x": "red"`, "1:14: decoding the theme: unexpected end of file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := check(tc.file, []byte(tc.src))
			got := ""
			if len(errs) > 0 {
				got = strings.TrimPrefix(errs[0].String(), tc.file+":")
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// check runs the check Assets runs for a file of that name.
func check(name string, data []byte) []hotreload.FieldError {
	switch {
	case name == ThemeFile:
		_, errs := parseTheme(name, data)
		return errs
	case strings.HasSuffix(name, ".css"):
		return checkCSS(name, data)
	default:
		return checkJS(name, data)
	}
}

func fuzzCheck(f *testing.F, name string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, e := range check(name, []byte(src)) {
			lines := strings.Count(src, "\n") + 1
			if e.Line < 1 || e.Line > lines || e.Column < 1 || e.Message == "" || !utf8.ValidString(e.File) {
				t.Fatalf("bad position %+v for %q", e, src)
			}
		}
	})
}

func FuzzCheckCSS(f *testing.F) {
	fuzzCheck(f, "a.css", "a { color: red }", "a {", "/*", "'", "a { b: url(\"x\") }", "}{")
}

func FuzzCheckJS(f *testing.F) {
	fuzzCheck(f, "a.js", "let x = `${`${1}`}`", "a / b / c", "return /x/", "}`", "'\\", "/[/]/")
}

func FuzzParseTheme(f *testing.F) {
	fuzzCheck(f, ThemeFile, `{"--a": "b"}`, `{`, `{"--a": {}}`, `[]`, `{"--a":"b"} x`, "")
}
