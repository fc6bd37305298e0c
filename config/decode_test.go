package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// MustDecode decodes src or fails tb.
func MustDecode(tb testing.TB, file, src string) Document {
	tb.Helper()
	d, err := Decode(file, []byte(src), mustFormat(file))
	if err != nil {
		tb.Fatalf("Decode(%s): %v", file, err)
	}
	return d
}

// pointers lists every JSON Pointer of v.
func pointers(v any, ptr string, out *[]string) {
	*out = append(*out, ptr)
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			pointers(e, jsondiff.Join(ptr, k), out)
		}
	case []any:
		for i, e := range x {
			pointers(e, jsondiff.JoinIndex(ptr, i), out)
		}
	}
}

// where is a value's line:column and its key's line:column.
type where struct{ line, col, keyLine, keyCol int }

func checkPositions(t *testing.T, d Document, want map[string]where) {
	t.Helper()
	for ptr, w := range want {
		p, ok := d.Positions()[ptr]
		if !ok {
			t.Errorf("%s: no position", ptr)
			continue
		}
		if got := (where{p.Line, p.Column, p.KeyLine, p.KeyColumn}); got != w {
			t.Errorf("%s: at %d:%d key %d:%d, want %d:%d key %d:%d", ptr, got.line, got.col, got.keyLine, got.keyCol, w.line, w.col, w.keyLine, w.keyCol)
		}
	}
	var all []string
	pointers(d.Value, "", &all)
	for _, ptr := range all {
		if _, ok := d.Positions()[ptr]; !ok {
			t.Errorf("%s: value has no position", ptr)
		}
	}
}

func TestDecodeJSONPositions(t *testing.T) {
	d := MustDecode(t, "a.json", "{\n  \"a\": 1,\n  \"b\": {\"c\": [true, null, {\"d~/\": \"é\"}]}\n}\n")
	want := map[string]any{"a": 1.0, "b": map[string]any{"c": []any{true, nil, map[string]any{"d~/": "é"}}}}
	if !reflect.DeepEqual(d.Value, want) {
		t.Fatalf("value %#v", d.Value)
	}
	checkPositions(t, d, map[string]where{
		"":             {1, 1, 0, 0},
		"/a":           {2, 8, 2, 3},
		"/b/c":         {3, 14, 3, 9},
		"/b/c/1":       {3, 21, 0, 0},
		"/b/c/2/d~0~1": {3, 35, 3, 28},
	})
}

// TestDecodeJSONPositionsLater checks that the positions a JSON document
// computes when first asked for come from the source as it was decoded,
// whatever the caller did with its buffer since, and are computed once
// however many goroutines ask.
func TestDecodeJSONPositionsLater(t *testing.T) {
	src := []byte("{\n  \"a\": [1,\n    2]}\n")
	d, err := Decode("a.json", src, JSON)
	if err != nil {
		t.Fatal(err)
	}
	for i := range src {
		src[i] = '['
	}
	got := make(chan Positions, 2)
	for range 2 {
		go func() { got <- d.Positions() }()
	}
	p := <-got
	if q := <-got; reflect.ValueOf(p).Pointer() != reflect.ValueOf(q).Pointer() {
		t.Fatal("positions computed twice")
	}
	checkPositions(t, d, map[string]where{
		"":     {1, 1, 0, 0},
		"/a":   {2, 8, 2, 3},
		"/a/1": {3, 5, 0, 0},
	})
}

func TestDecodeYAMLPositions(t *testing.T) {
	src := `base: &base
  timeout: 5
a: 1
b:
  c: [1, "two", {d: ~}]
  e:
    - x
    - 'y'
  f:
    <<: *base
    g: 3
  h: *base
empty:
`
	d := MustDecode(t, "a.yaml", src)
	want := map[string]any{
		"base": map[string]any{"timeout": 5.0}, "a": 1.0,
		"b": map[string]any{
			"c": []any{1.0, "two", map[string]any{"d": nil}},
			"e": []any{"x", "y"},
			"f": map[string]any{"timeout": 5.0, "g": 3.0},
			"h": map[string]any{"timeout": 5.0},
		},
		"empty": nil,
	}
	if !reflect.DeepEqual(d.Value, want) {
		t.Fatalf("value %#v", d.Value)
	}
	for ptr, w := range map[string]where{
		"/a":       {3, 4, 3, 1},
		"/b":       {5, 3, 4, 1},
		"/b/c/1":   {5, 10, 0, 0},
		"/b/c/2/d": {5, 21, 5, 18},
		"/b/e/1":   {8, 7, 0, 0},
		"/b/f/g":   {11, 8, 11, 5},
	} {
		p := d.Positions()[ptr]
		if got := (where{p.Line, p.Column, p.KeyLine, p.KeyColumn}); got != w {
			t.Errorf("%s: at %+v, want %+v", ptr, got, w)
		}
	}
	// A merged key is located at the mapping that merged it.
	if p := d.Positions().Locate("/b/f/timeout"); p.Line != 10 || p.KeyLine != 9 {
		t.Errorf("/b/f/timeout located at %+v", p)
	}
}

func TestDecodeTOMLPositions(t *testing.T) {
	src := `# comment with [brackets] and = signs
title = "x # not a comment"
"quoted.key" = 'lit'
dotted.inner = 1979-05-27
multi = """
[not.a.table]
key = "value"
"""
literal = '''
# not a comment'''
nums = [ 1, 2.5,
  # comment inside an array
  3 ]
inline = { a = 1, b = { c = [1, {d = 2}] } }

[server]
host = "h"  # trailing comment
  [server.tls]
  cert = "c"

[[fruit]]
name = "apple"

[[fruit.variety]]
name = "red"

[[fruit]]
name = "banana"

[fruit.info]
ripe = true

[ 'quoted table' . sub ]
x = -inf_not = 1
`
	src = strings.Replace(src, "x = -inf_not = 1\n", "x = +1_000\n", 1)
	d := MustDecode(t, "a.toml", src)
	want := map[string]any{
		"title":      "x # not a comment",
		"quoted.key": "lit",
		"dotted":     map[string]any{"inner": "1979-05-27"},
		"multi":      "[not.a.table]\nkey = \"value\"\n",
		"literal":    "# not a comment",
		"nums":       []any{1.0, 2.5, 3.0},
		"inline":     map[string]any{"a": 1.0, "b": map[string]any{"c": []any{1.0, map[string]any{"d": 2.0}}}},
		"server":     map[string]any{"host": "h", "tls": map[string]any{"cert": "c"}},
		"fruit": []any{
			map[string]any{"name": "apple", "variety": []any{map[string]any{"name": "red"}}},
			map[string]any{"name": "banana", "info": map[string]any{"ripe": true}},
		},
		"quoted table": map[string]any{"sub": map[string]any{"x": 1000.0}},
	}
	if !reflect.DeepEqual(d.Value, want) {
		t.Fatalf("value %#v", d.Value)
	}
	checkPositions(t, d, map[string]where{
		"/title":                  {2, 9, 2, 1},
		"/quoted.key":             {3, 16, 3, 1},
		"/dotted/inner":           {4, 16, 4, 8},
		"/multi":                  {5, 9, 5, 1},
		"/literal":                {9, 11, 9, 1},
		"/nums/2":                 {13, 3, 0, 0},
		"/inline/b/c/1/d":         {14, 38, 14, 34},
		"/server":                 {16, 2, 16, 2},
		"/server/host":            {17, 8, 17, 1},
		"/server/tls/cert":        {19, 10, 19, 3},
		"/fruit/0/name":           {22, 8, 22, 1},
		"/fruit/0/variety/0":      {24, 1, 0, 0},
		"/fruit/0/variety/0/name": {25, 8, 25, 1},
		"/fruit/1":                {27, 1, 0, 0},
		"/fruit/1/info/ripe":      {31, 8, 31, 1},
		"/quoted table/sub/x":     {34, 5, 34, 1},
	})
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		file, src, want string
	}{
		{"empty.json", "", "empty.json:1:1: unexpected end of the document"},
		{"trailing.json", "{}\n{}", "trailing.json:2:1: unexpected data after the end of the document"},
		{"dup.json", "{\"a\": 1,\n \"a\": 2}", `dup.json:2:2: /a: duplicate key "a"`},
		{"big.json", `{"n": 1e400}`, "big.json:1:7: /n: number 1e400 does not fit a 64-bit float"},
		{"key.json", `{"a": {1: 2}}`, "key.json:1:8: /a: invalid character '1'"},
		{"two.yaml", "a: 1\n---\nb: 2\n", "two.yaml:3:1: a config file holds one YAML document, found a second one"},
		{"dup.yaml", "a: 1\na: 2\n", `dup.yaml:2:1: mapping key "a" already defined at [1:1]`},
		{"inf.yaml", "a:\n  b: .inf\n", "inf.yaml:2:6: /a/b: +Inf is not a JSON number"},
		{"tab.yaml", "a:\n\tb: 1\n", "tab.yaml:2:1: found character '\t' that cannot start any token"},
		{"nan.toml", "[a]\nb = nan\n", "nan.toml:2:5: /a/b: NaN is not a JSON number"},
		{"dup.toml", "a = 1\na = 2\n", "dup.toml:2:7: /a: Key 'a' has already been defined."},
		{"unknown.ini", "a=1", "unknown.ini: unknown format: the extension must be .json, .yaml, .yml or .toml"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := FormatOf(tc.file)
			if err == nil {
				_, err = Decode(tc.file, []byte(tc.src), f)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
				t.Fatalf("code %q", hotreload.ErrorCode(err))
			}
			if got := strings.TrimSpace(renderDetails(err)); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDecodeYAMLDirectives(t *testing.T) {
	for _, src := range []string{"%YAML 1.2\n---\na: 1\n", "%TAG !e! tag:example.com,2000:\n---\na: 1\n"} {
		d := MustDecode(t, "d.yaml", src)
		if !reflect.DeepEqual(d.Value, map[string]any{"a": 1.0}) {
			t.Fatalf("%q decoded to %#v", src, d.Value)
		}
		if p := d.Positions()["/a"]; p.Line != strings.Count(src, "\n") {
			t.Fatalf("%q: /a at %+v", src, p)
		}
	}
	_, err := Decode("two.yaml", []byte("%YAML 1.2\n---\na: 1\n...\n%YAML 1.2\n---\nb: 2\n"), YAML)
	if got, want := strings.TrimSpace(renderDetails(err)), "two.yaml:7:1: a config file holds one YAML document, found a second one"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestDecodeEmptyYAMLIsAnObject(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "---\n"} {
		if d := MustDecode(t, "e.yaml", src); !reflect.DeepEqual(d.Value, map[string]any{}) {
			t.Fatalf("%q decoded to %#v", src, d.Value)
		}
	}
}

func TestDeepNesting(t *testing.T) {
	deep := strings.Repeat("[", maxNesting+1) + strings.Repeat("]", maxNesting+1)
	_, err := Decode("deep.json", []byte(deep), JSON)
	if got, want := renderDetails(err), "deep.json:1:1001: "; !strings.HasPrefix(got, want) || !strings.Contains(got, "nested deeper than 1000 levels") {
		t.Fatalf("got %q", got)
	}
	ok := strings.Repeat("[", maxNesting) + strings.Repeat("]", maxNesting)
	if _, err := Decode("ok.json", []byte(ok), JSON); err != nil {
		t.Fatal(err)
	}
	// YAML and TOML are refused before their parsers recurse.
	for _, tc := range []struct{ file, src, at string }{
		{"deep.toml", "a = " + strings.Repeat("[", maxNesting+5) + "1" + strings.Repeat("]", maxNesting+5) + "\nb = 2\n", "deep.toml:1:1005: "},
		{"deep.yaml", "a: " + strings.Repeat("[", 100_000), "deep.yaml:1:1003: "},
		{"deep.yaml", "a: " + strings.Repeat("{b: ", 30_000), "deep.yaml:1:4000: "},
		{"deep.yaml", strings.Repeat("- ", maxNesting+1) + "x\n", "deep.yaml:1:2001: "},
		{"dotted.toml", "x = 1\n[" + strings.Repeat("a.", 20_000) + "a]\n", "dotted.toml:2:1: "},
		{"dotted.toml", strings.Repeat("a.", 2000) + "a = 1\n", "dotted.toml:1:1: "},
	} {
		_, err := Decode(tc.file, []byte(tc.src), mustFormat(tc.file))
		if got := renderDetails(err); !strings.HasPrefix(got, tc.at) || !strings.Contains(got, "nested deeper than 1000 levels") {
			t.Errorf("%s: got %q, want it at %s", tc.file, got, tc.at)
		}
	}
	// Within the limit, and brackets in strings and comments do not count.
	for _, tc := range []struct{ file, src string }{
		{"ok.toml", "a = " + strings.Repeat("[", 999) + strings.Repeat("]", 999) + "\ns = \"" + strings.Repeat("[", 2000) + "\" # " + strings.Repeat("{", 2000) + "\n"},
		{"ok.yaml", "a: '" + strings.Repeat("[", 2000) + "'\nb: \"{{{\" # [[[[\nc: it's [1]\n"},
	} {
		if _, err := Decode(tc.file, []byte(tc.src), mustFormat(tc.file)); err != nil {
			t.Errorf("%s: %v", tc.file, err)
		}
	}
}

func TestAliasBombIsRefused(t *testing.T) {
	src := "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	for i := 1; i <= 8; i++ {
		src += fmt.Sprintf("a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), ", "))
	}
	_, err := Decode("bomb.yaml", []byte(src), YAML)
	if got := renderDetails(err); !strings.HasPrefix(got, "bomb.yaml:") || !strings.Contains(got, "alias bomb") {
		t.Fatalf("got %q", got)
	}
	// Anchors reused within reason are fine.
	MustDecode(t, "ok.yaml", "base: &b {x: 1, y: [1, 2, 3]}\nc: *b\nd: *b\ne:\n  <<: *b\n  z: 2\n")
}

func TestNumbersStayExact(t *testing.T) {
	for _, file := range []string{"n.json", "n.yaml", "n.toml"} {
		src := map[string]string{"n.json": `{"rps": 9007199254740993}`, "n.yaml": "rps: 9007199254740993\n", "n.toml": "rps = 9007199254740993\n"}[file]
		_, err := Decode(file, []byte(src), mustFormat(file))
		if got := renderDetails(err); !strings.Contains(got, "/rps: integer 9007199254740993 is beyond ±2^53") || !strings.Contains(got, "9007199254740992") {
			t.Errorf("%s: got %q", file, got)
		}
		// 2^53 itself and round numbers beyond it are exact.
		ok := strings.ReplaceAll(src, "9007199254740993", "9007199254740992")
		if d := MustDecode(t, file, ok); d.Value.(map[string]any)["rps"] != float64(1<<53) {
			t.Errorf("%s: %v", file, d.Value)
		}
		MustDecode(t, file, strings.ReplaceAll(src, "9007199254740993", "1000000000000000000"))
	}
}

func TestInvalidUTF8IsRefused(t *testing.T) {
	for _, file := range []string{"u.json", "u.yaml", "u.toml"} {
		src := map[string]string{"u.json": "{\"a\": \"x\xff\"}", "u.yaml": "a: x\xff\n", "u.toml": "a = \"x\xff\"\n"}[file]
		_, err := Decode(file, []byte(src), mustFormat(file))
		if got := renderDetails(err); !strings.Contains(got, "invalid UTF-8") {
			t.Errorf("%s: got %q", file, got)
		}
	}
}

// Large whole numbers are written back with all their digits and read back
// as the same number, in every format.
func TestLargeNumbersRoundTrip(t *testing.T) {
	for _, f := range []Format{JSON, YAML, TOML} {
		for _, x := range []float64{1 << 53, 1.152921504606847e18, -9.2e18, 1e19, 1e300, 0.5} {
			doc := map[string]any{"n": x}
			b, err := Encode(doc, f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode("n."+string(f), b, f)
			if err != nil || got.Value.(map[string]any)["n"] != x {
				t.Errorf("%s: %v written as %q reads back as %v, %v", f, x, b, got.Value, err)
			}
			if bytes.Contains(b, []byte("e+15")) {
				t.Errorf("%s: %q", f, b)
			}
		}
	}
}

// go-yaml parses a block mapping in time quadratic in its keys: a document
// whose block mappings hold too many keys is refused before it is parsed,
// while the same keys in flow style, in sequences or in smaller mappings
// are fine.
func TestYAMLKeyBudget(t *testing.T) {
	keys := func(n int, indent, prefix string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%s%s%d: %d\n", indent, prefix, i, i)
		}
		return b.String()
	}
	for _, tc := range []struct{ name, src, at string }{
		{"one mapping", keys(5001, "", "k"), "big.yaml:5001:1: "},
		{"nested", "a:\n  b:\n" + keys(5001, "    ", "k"), "big.yaml:5002:5: "},
		// go-yaml groups an anchor with its key: the mapping is the same.
		{"anchored keys", strings.ReplaceAll(keys(5001, "", "k"), "k1", "&x1 k1"), "big.yaml:5001:1: "},
		// One budget for the document: 30 mappings of 1,000 keys.
		{"many mappings", func() string {
			var b strings.Builder
			for i := range 30 {
				fmt.Fprintf(&b, "m%d:\n%s", i, keys(1000, "  ", "k"))
			}
			return b.String()
		}(), "big.yaml:"},
	} {
		start := time.Now()
		_, err := Decode("big.yaml", []byte(tc.src), YAML)
		if got := renderDetails(err); !strings.HasPrefix(got, tc.at) || !strings.Contains(got, "too many keys in block mappings") {
			t.Errorf("%s: got %.200q, want it at %s", tc.name, got, tc.at)
		}
		if d := time.Since(start); d > testwait.D(time.Second) {
			t.Errorf("%s: refused after %s", tc.name, d)
		}
	}
	for _, tc := range []struct{ name, src string }{
		{"5000 keys", keys(5000, "", "k")},
		{"a sequence of mappings", func() string {
			var b strings.Builder
			for i := range 20_000 {
				fmt.Fprintf(&b, "- a: %d\n  b: %d\n", i, i)
			}
			return b.String()
		}()},
		{"flow mapping", "{" + strings.ReplaceAll(strings.TrimSuffix(keys(20_000, "", "k"), "\n"), "\n", ", ") + "}\n"},
		{"block scalar", "cert: |\n" + keys(20_000, "  ", "line")},
	} {
		if _, err := Decode("ok.yaml", []byte(tc.src), YAML); err != nil {
			t.Errorf("%s: %.300v", tc.name, err)
		}
	}
}

// A bracket that opens no flow collection (inside a plain scalar) does not
// hide the block nesting after it.
func TestYAMLNestingAfterStrayBracket(t *testing.T) {
	src := "a: x[\nb:\n" + strings.Repeat("- ", 100_000) + "x\n"
	_, err := Decode("deep.yaml", []byte(src), YAML)
	if got := renderDetails(err); !strings.HasPrefix(got, "deep.yaml:3:") || !strings.Contains(got, "nested deeper than 1000 levels") {
		t.Fatalf("got %.200q", got)
	}
}

// YAML in the subset yamlPlain reads nests up to maxNesting levels, as
// JSON does: yamlPlain counts its levels itself, and the nesting scan
// (checkNesting) only runs before go-yaml.
func TestYAMLNestingBound(t *testing.T) {
	nested := func(levels int) map[string]string {
		var maps strings.Builder
		for i := range levels - 1 {
			maps.WriteString(strings.Repeat(" ", i) + "a:\n")
		}
		maps.WriteString(strings.Repeat(" ", levels-1) + "x: 1\n")
		return map[string]string{
			"block mappings":  maps.String(),
			"block sequences": strings.Repeat("- ", levels) + "x\n",
			"flow sequences":  "a: " + strings.Repeat("[", levels-1) + strings.Repeat("]", levels-1) + "\n",
			"flow mappings":   "a: " + strings.Repeat("{b: ", levels-1) + "1" + strings.Repeat("}", levels-1) + "\n",
		}
	}
	for name, src := range nested(maxNesting) {
		if _, err := Decode("ok.yaml", []byte(src), YAML); err != nil {
			t.Errorf("%s, %d levels: %.200v", name, maxNesting, err)
		}
	}
	for name, src := range nested(maxNesting + 1) {
		_, err := Decode("deep.yaml", []byte(src), YAML)
		if got := renderDetails(err); !strings.Contains(got, "nested deeper than 1000 levels") {
			t.Errorf("%s, %d levels: got %.200q", name, maxNesting+1, got)
		}
	}
}
