package config

import (
	"reflect"
	"testing"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
)

// yamlBody parses src as decodeYAML does up to the value walk, and returns
// the document's body, or nil if src is refused before it.
func yamlBody(src []byte) ast.Node {
	if checkSource("t.yaml", src, YAML) != nil {
		return nil
	}
	toks := lexer.Tokenize(string(src))
	if checkBlockMappings("t.yaml", toks) != nil {
		return nil
	}
	f, err := parser.Parse(toks, 0)
	if err != nil {
		return nil
	}
	body, err := yamlDocument("t.yaml", f)
	if err != nil || body == nil || checkAliases("t.yaml", body) != nil {
		return nil
	}
	return body
}

// checkYAMLWalk checks that the one walk, where it applies, yields what
// NodeToValue, yamlPositions and normalize yield, and reports whether it
// applied.
func checkYAMLWalk(t *testing.T, src []byte) bool {
	t.Helper()
	body := yamlBody(src)
	if body == nil {
		return false
	}
	w := yamlWalk{file: "t.yaml", pos: Positions{}}
	v, ok, err := w.value(body, "", Position{})
	if !ok {
		return false
	}
	want, wantPos, wantErr := yamlTreeGeneral("t.yaml", body)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: one walk: %v; NodeToValue: %v", src, err, wantErr)
	}
	if err != nil {
		return true // with several bad values, normalize reports any one
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("%q: one walk %#v, NodeToValue %#v", src, v, want)
	}
	if !reflect.DeepEqual(w.pos, wantPos) {
		t.Fatalf("%q: one walk at %v, yamlPositions %v", src, w.pos, wantPos)
	}
	return true
}

func TestYAMLOneWalk(t *testing.T) {
	for _, src := range []string{
		"a: 1\n",
		"a:\n  b: [1, -2.5, 0x1F, 0o17, 1e3, true, ~, null, '', \"q\", x y]\n  c: {d: {}, e: []}\n",
		"- a\n- b: c\n  d:\n    - 1\n",
		"plain scalar\n",
		"text: |\n  one\n  two\nfolded: >-\n  a\n  b\n",
		"n: 18446744073709551615\nm: -9223372036854775808\nk: 9007199254740992\n",
		"\"a/b~c\": 1\n'': 2\n",
		"{a: 1, b: [x, {c: y}]}\n",
		string(benchYAMLDocument(2<<10, 1)),
	} {
		if !checkYAMLWalk(t, []byte(src)) {
			t.Errorf("%q: not decoded in one walk", src)
		}
	}
	// Left to NodeToValue: anchors, aliases, merge keys, tags, keys that
	// are not strings.
	for _, src := range []string{
		"a: &x 1\nb: *x\n",
		"a: {b: 1}\nc:\n  <<: {b: 2}\n",
		"a: !!str 1\n",
		"1: a\n",
		"true: a\n",
		"a: !!binary aGk=\n",
	} {
		if yamlBody([]byte(src)) == nil {
			t.Fatalf("%q does not parse", src)
		}
		if checkYAMLWalk(t, []byte(src)) {
			t.Errorf("%q: decoded in one walk", src)
		}
	}
}

// TestYAMLOneWalkErrors checks that a value JSON cannot hold is reported
// at its own position, as before.
func TestYAMLOneWalkErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"a:\n  - 1\n  - .nan\n", "t.yaml:3:5: /a/1: NaN is not a JSON number\n"},
		{"a: {b: -.inf}\n", "t.yaml:1:8: /a/b: -Inf is not a JSON number\n"},
		{"a:\n  b: 18446744073709551615\n", "t.yaml:2:6: /a/b: integer 18446744073709551615 is beyond ±2^53 and cannot be held exactly (it would become 18446744073709552000); write it as a string to keep every digit\n"},
	} {
		checkYAMLWalk(t, []byte(tc.src))
		_, err := Decode("t.yaml", []byte(tc.src), YAML)
		if got := renderDetails(err); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.src, got, tc.want)
		}
	}
}

// FuzzYAMLOneWalk checks the one walk against NodeToValue, yamlPositions
// and normalize on every document it applies to.
func FuzzYAMLOneWalk(f *testing.F) {
	for _, s := range []string{
		"a: 1\nb:\n  - x\n  - {c: [1.5, true, ~]}\n", "- - a\n  - b\n- c: |\n    t\n", "a: .inf\n", "k: 0x10\nl: 1_000\nm: +12\n",
		"a: \"x\\ty\"\nb: 'it''s'\n", "? a\n: b\n", "a: 2001-12-14\n", "a:\n  b:\n    c: 0o7\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkYAMLWalk(t, src)
	})
}
