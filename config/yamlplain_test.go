package config

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// checkYAMLPlain checks that yamlPlain, where it reads src, reads what
// go-yaml reads: go-yaml's path decodes src too, to an equal value, and the
// document's positions, built lazily, are go-yaml's; and that it counts
// the nodes written and expanded as checkAliases does. It reports whether
// yamlPlain read src.
func checkYAMLPlain(t *testing.T, src []byte) bool {
	t.Helper()
	p := yamlPlain{src: string(src)}
	v, ok := p.document()
	if !ok || checkSource("t.yaml", src, YAML) != nil {
		return false // Decode refuses src before decodeYAML
	}
	want, err := decodeYAMLGoccy("t.yaml", string(src))
	if err != nil {
		t.Fatalf("%q: yamlPlain read %#v, go-yaml refuses it: %v", src, v, err)
	}
	if !reflect.DeepEqual(v, want.Value) {
		t.Fatalf("%q: yamlPlain read %#v, go-yaml %#v", src, v, want.Value)
	}
	body := yamlBody(src)
	c := aliasCount{anchors: map[string]ast.Node{}, memo: map[ast.Node]int{}}
	written := c.count(body, false)
	c = aliasCount{anchors: map[string]ast.Node{}, memo: map[ast.Node]int{}, limit: p.expanded}
	if expanded := c.count(body, true); p.written != written || p.expanded != expanded {
		t.Fatalf("%q: yamlPlain counted %d nodes written, %d expanded; checkAliases %d, %d", src, p.written, p.expanded, written, expanded)
	}
	doc, err := Decode("t.yaml", src, YAML)
	if err != nil {
		t.Fatalf("%q: Decode: %v", src, err)
	}
	if !reflect.DeepEqual(doc.Value, want.Value) || !reflect.DeepEqual(doc.Positions(), want.Positions()) {
		t.Fatalf("%q: Decode %#v at %v, go-yaml %#v at %v", src, doc.Value, doc.Positions(), want.Value, want.Positions())
	}
	return true
}

// TestYAMLPlain shows which documents yamlPlain reads, and that it leaves
// each of the others to go-yaml.
func TestYAMLPlain(t *testing.T) {
	for _, src := range []string{
		"a: 1\n",
		"a: 1",
		"---\na: 1\n",
		"# head\n\na: x # trailing\n  # indented comment\nb:\n  c: y\n",
		"a:\n  - 1\n  - -2.5\n  - 012\n  - 0x1F\n  - 1_000\n  - +3\n  - 1e3\n",
		"a: b[\nc: d{\ne: x,y]\n",
		"n: null\no: Null\np: NULL\nq: ~\nr: true\ns: False\nu: TRUE\nv: yes\nw: nULL\n",
		"a:\nb:\n",
		"a:\n- x\n- y\nb: 1\n",
		"- a\n- b: c\n  d:\n    - 1\n- - x\n  - y\n-\n- # empty\n",
		"'a b': 'it''s'\n\"c\": \"d # e\"\n'': ''\n",
		"url: http://a.internal:9000/p?q=1#f\ntime: 12:30\nday: 2001-12-14\nmail: a@b\n",
		"a b: c d  \né: ü\n",
		"  a: 1\n  b: 2\n",
		"a:\n    b:\n        c: 1\nd: 2\n",
		string(benchYAMLDocument(2<<10, 1)),
		"tags: [web, eu]\n",
		"a: []\nb: {}\nc: [ ]\nd: { }\n",
		"a: {x: 1, y: \"b\"}\n",
		"a: [[1, 2], {a: b}] # c\n",
		"- [a, 'b c', ~, true, -1.5, 0x1F]\n- {'k': v, \"l\": [x]}\n",
		"a: [  a b  ,c,d  ]\n",
		"a: [http//x, a'b, a\"b, -x, x<y, x y.z]\n",
		"a: |\n  x\n  y\nb: 1\n",
		"a: >\n  x\n  y\n\n  z\nb: 1\n",
		"a: |-\n  x\n\n  # not a comment\n\nb: 1\n",
		"- |\n  x\n   y\n- >-\n  p\n  q\n",
		"a:\n  b: | # c\n    line\n  # c\n  c: 2\n",
		"a: |\n  x\nb: 1",
		"a: |+\n  x\n\nb: |+\n  y\n\n\n# c\nc: |+\n  z\n\n  \n   \n",
		"- |+\n  x\n\n- >+\n  y\n\n  # not a comment\n\n-\n  - |+\n    z\n\n",
		"a:\n  b: |+\n    x\n\nc: 1\n",
		"a: |+\n  x \n\n\nb: |-\n  y  \n   \n\nc: |\n  z \n   \n",
		"a: |2\n   x\n  y\nb: >1-\n  x\n   y\nc: |-2\n  x\n\nd: |+1\n  x\n\ne: 1\n",
		"- |1\n  x\n- a: >2\n     x\n    y\n  b: &x |1+\n     x\n\n   # c\n- *x\n",
		"a:\n- |2\n\n   x\n\n- >1\n\n    x\n   y\n   z\n",
		"a: |\nb: >-\nc:\n- |\n- >\n",
		"a: |\n\n\n  x\nb: >\n \n  \n  x\n  y\n",
		"a: |\n  x\n   \n  y\n     \nb: >\n  x\n\n  y\n\n    z\n     w\n\n  v\n",
		"a: >\n  x\n    y\n    z\n  w\n\n   v\nb: >+\n  x\n    y\n\n",
		"a: |\n  x \n  y  \nb: >\n  x \n  y\n\n  z  \nc: >-\n  x\n  y  \n",
		"- a: >\n    x\n    y\n  b: 2\n",
		"a: \"tab\\there \\u00e9 \\\\d+ \\\"q\\\" \\/ \\r\\n\"\nb: [\"x\\ny\"]\n\"k\\tk\": 1\n",
		"a: \"\\0\\a\\b\\v\\f\\e\\ \\N\\_\\L\\P\"\nb: \"\\x41\\x7e\\xFF\\xe9\"\nc: [\"\\ud83d\\ude00\", \"\\U0001F600\\U0010ffff\\u0000\"]\n\"k\\x20\\N\": {\"\\e\": \"\\uDBFF\\uDFFF\"}\n",
		// Continuation lines that start with an indicator, text for go-yaml.
		"expr: sum(x) BY (m)\n  > 0.01\nhelp: Use one of\n  * IPv4 as in `10.0.0.1`\n  [x] {y} 'q' \"d\" !t &a *b %p @q ?r |s --flag=STOP\n",
		// A flow collection as the document: JSON saved as YAML.
		"{\n  \"name\": \"shop\",\n  \"limits\": {\"rps\": 5, \"burst\": 7},\n  \"tags\": [\"a\", \"b\"]\n}\n",
		"{\"name\":\"shop\",\"limits\":{\"rps\":5,\"burst\":-7},\"tags\":[\"a\",true,null,1.5,{}]}",
		"[1, 2]\n",
		"{a: 1} # c\n",
		"{\n\t\"a\": [\n\t\t1,\t# c\n\t\t\"x\"\t\n\t],\n\t\"b\":\t{\"c\": d\t}\n}\n",
		"a: {\"b\":c, 'd':[e]}\n",
		// A tag on the document's collection.
		"!sum\n# c\n- go: Equal\n  asm: VPCMPEQ\n",
		"%YAML 1.2\n---\n!!map\na: 1\n",
		"!!map\na: 1\n",
		"!!seq\n- 1\n",
		// A value on the line below its key.
		"help:\n  Some words, and more.\n  On two lines.\nb: 1\n",
		"a:\n  b\nc:\n\n    'q'\nd: # c\n  [1, 2]\ne:\n  | # c\n    x\nf:\n   1.5\n",
		"- a:\n    b\n  c:\n      \"d\n      e\"\n",
		"script: |\n  #!/bin/sh\n  set -e\n\n  if [ -n \"$X\" ]; then\n    echo \"x: $X\"\n  fi\n",
		// Anchors, aliases and merge keys.
		"a: &x 1\nb: *x\n",
		"a: &x-1_Z 'q' # c\nb:  *x-1_Z  # c\nc: *x-1_Z",
		"a: &x\n  k: v\nb: *x\n",
		"a: &x # c\n\n  - 1\n  - [2]\nb: *x\n",
		"a: &x\n- 1\nb: *x\n",
		"a: &x [1, {k: v}]\nb: *x\nc: &y {}\n",
		"a: &x |\n  text\nb: *x\n",
		"- &x v\n- *x\n- &y\n  k: v\n- &z\n  - 1\n- [*y, *z]\n",
		"a: [&x a, *x, &y [1], *y]\nb: {k: &z v, l: *z, m: *x}\nc: [ *x , *y ]\n",
		"d: &d {a: 1, b: 2}\nm:\n  <<: *d\n",
		"d: &d {a: 1, b: 2}\nm:\n  a: 0\n  <<: *d # c\n  b: 9\n",
		"p: &p {a: 1, b: 1}\nq: &q {a: 2, c: 2}\nm:\n  <<: [*p, *q]\nn:\n  <<: [ *q , *p ]\n",
		"p: &p {a: 1}\nq: &q\n  <<: *p\n  b: 2\nm:\n  <<: *q\n  c: 3\n",
		"d: &d {a: 1}\n<<: *d\nb: 2\n",
		"d: &d {a: 1}\nm:\n  - <<: *d\n    b: 2\n  - x: 1\n    <<: *d\n",
		"d: &d {a: {n: [1]}}\nm:\n  <<: *d\nn:\n  <<: *d\n  a: 3\n",
		"d: &d {a: 1}\nm:\n  '<<': *d\n",
		"a: &x\n  - 1\nb: &y\n  k: *x\nc: *y\nd:\n  <<: *y\n",
		// Flow collections over several lines, and trailing commas.
		"a: [a, b,]\nb: {c: 1,}\nc: [ 1 , ]\n",
		"args: [\n  \"--verbose\",\n  \"--port=8080\",\n]\nenv: {\n  A: 1,\n  B: two\n}\n",
		"a: [1,\n2]\nb: [1,\n 2]\n",
		"  a: [1,\n2,\n ]\n  b: {\n    c: [\n  x\n   ]}\n",
		"a: [ # c\n  1, # d\n\n# e\n  2 # f\n  # g\n]  # h\nb: 2\n",
		"a: [\n  1\n  ,2\n\n  , 'x'\n  ]\n",
		"a: [\n  [\n    1,\n  ],\n  {b: [\n  2]}\n]\n",
		"a: {b: [\n1,\n], c: {\nd: 1,\n},}\n",
		"a: [\n]\nb: {\n\n}\n",
		"a: [x\n]\nb: [x \n\n]\nc: {k: v #c\n}\n",
		"a: [\n  -1,\n  ---,\n  x---\n]\n",
		"- [1,\n  2]\n- 3\n- a: [\n    1\n]\n  b: {\nc: 2}\n",
		"a:\n  b: [\n  1\n]\nc: 2\n",
		"x: &x 1\na: [*x\n]\nb: [&y 2,\n  *y, *x,\n]\nc: &z {\n  k: *y }\nd: *z\n",
		"a: [b #c]\n]\n", // the comment holds the first ']'
		// Standard tags on scalars.
		"a: !!str 123\nb: !!str 1.10\nc: !!str true\nd: !!str ~\ne: !!str 'x'\nf: !!str  -0 # c\ng: !!str 1e3\n",
		"a: !!int 12\nb: !!int \"-0\"\nc: !!float 1\nd: !!float '1.5'\ne: !!bool yes\nf: !!bool 'NO'\ng: !!null x\nh: !!null \"\"\n",
		"- !!str 1\n- !!int 2\n- k: !!bool False\n",
		"a: [!!str 1, !!int 2, !!null x, !!str 0.000001 ,!!bool no]\nb: {k: !!float -0}\n",
		"a: &x !!str 1\nb: *x\nc: [&y !!int '3', *y]\n",
		"a: !!map {b: 1}\nb: !!seq [1] # c\nc: [!!map {}, !!seq  []]\n",
		"a: !!map # c\n\n  b: 1\nc: !!seq\n  - 1\n  - !!map\n      k: v\n",
		"- !!seq\n  - 1\n- !!map {a: 1}\n",
		// Plain and quoted scalars over several lines.
		"d: a long\n  sentence on two lines\ne: a\n\n  b\nf: a\n\n\n  b\ng: 1\n  2\nh: true\n  x\n",
		"d: a\n  b # c\ne: a\n   b   \nf: a\n  b\n  c\ng: a\n  b\n\nh:\n  d: x\n   y\n",
		"- a\n  b\n- c\n-   x\n\n\n     y\n  z # c\n- k: v\n   w\n",
		"d: 'a\n  b'\ne: 'a\n\n  b'\nf: \"a\n  b\"\ng: \"a\\\n  b\"\nh: \"a\\n\n  b\"\n",
		"d: 'it''s\n  a''\n\n\n    b  '\ne: \"\\x41 \n  \\t\\\n\n  c\\\n   \"\n",
		"- 'a\n  b'\n- \"c\n   d\" # e\n- &x f\n  g\n- *x\n",
		// Local tags, which go-yaml ignores.
		"a: !Ref x\nb: !Ref 1\nc: !x true\nd: !x ~\ne: !x 'y'\nf: !x \"1\"\ng: !x 012\nh: !x null\ni: !x 1.5\nj: !x-y_Z9  v  # c\nk: !str 1\nl: !x ''\n",
		"a: !Sub [x, 1, !y 2, !z [3]]\nb: !x {k: !y v}\nc: !x [\n  1,\n  2]\n",
		"a: !x |\n  text\nb: !x >-\n  t\n  u\n",
		"a: !vault\n  k: v\nb: !x\n  - 1\n  - !y 2\nc: !x # c\n\n  k: v\n",
		"- !x v\n- !x\n  k: v\n- !x\n  - 1\n- k: !vault\n    - !y 2\n",
		// Verbatim tags and named tag handles, which go-yaml ignores too.
		"a: !<tag:yaml.org,2002:str> 1\nb: !<tag:yaml.org,2002:int> x\nc: !<!foo> true\nd: !<x%21> ~\ne: !<x> 'q'\nf: !e!x 1\ng: !e-f!x-y_z 1.5\n",
		"a: !<tag:yaml.org,2002:seq>\n  - 1\nb: !<x> [1, !e!y 2]\nc: !e!x\n  k: v\nd: !<x> |\n  t\ne: {k: !<a:b> v}\n",
		// A version directive, which go-yaml reads alike.
		"%YAML 1.2\n---\na: yes\nb: 0x10\n",
		"%YAML 1.1\n---\n- 1\n- !<x> 2\n",
		// Explicit keys, plain and on one line, their value on the next.
		"? a\n: 1\nb: 2\n? 200\n# c\n:\n  k: v\n",
		"- ? a\n  : [1]\n- ? b # c\n\n  : |\n    t\n",
		// Keys of numbers, bools and null that go-yaml writes back as
		// they are.
		"responses:\n  200:\n    description: OK\n  404: {description: Not found}\n-1: x\n1.5: y\ntrue: z\nnull: n\n",
		"- {200: a, -1: b}\n- 0: c\n",
		// Tabs in comments, before a comment or a line's end, and in a
		// block scalar's text.
		"a: x\t# c\nb: 1\t\n# c\td\nc: |\n  make\tall\n  \tgo test\n",
		"- 'q'\t\t# c\n- |\n  x\ty\n- >\n  a\tb\n  c\n",
		// A tag directive of a handle other than "!!", which go-yaml
		// reads as if it were not there.
		"%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\nb: !x 2\n",
		"%TAG ! tag:example.com,2000:app/\n---\n- !x 1\n- !!int '2'\n",
		// A document end marker, which only blanks and comments follow.
		"a: 1\n...\n",
		"a: |\n  x\n... # c\n# c\n\n",
		"---\n- 1\n...",
		// An anchor defined again, which aliases after it name.
		"a: &x 1\nb: &x 2\nc: *x\n",
		"a: &x 1\nb: *x\nc: &x {k: 2}\nd: *x\n",
		// Lines that end with "\r\n", all or some, which go-yaml reads as
		// lines that end with "\n".
		"a: 1\r\n",
		"a: x\r\n  y\r\nb: |\r\n  t\r\n\r\n  u\r\nc: [1,\r\n  2]\r\n",
		"%YAML 1.2\r\n---\r\n- 'q' # c\r\n- >\n  f\r\n  g\n",
	} {
		if !checkYAMLPlain(t, []byte(src)) {
			t.Errorf("%q: left to go-yaml", src)
		}
	}
	for _, tc := range []struct{ why, src string }{
		{"empty", ""},
		{"comments only", "# a\n"},
		{"root scalar", "a\n"},
		{"alias before its anchor", "b: *x\na: &x 1\n"},
		{"undefined alias", "a: &x 1\nb: *y\n"},
		{"alias in its anchor", "a: &x\n  b: *x\n"},
		{"alias in its anchor's redefinition", "a: &x 1\nb: &x\n  k: *x\n"},
		{"merge key after an anchor redefined", "a: &x {k: 1}\nb: &x {k: 2}\nm:\n  <<: *x\n"},
		{"anchor redefined inside", "a: &x\n  b: &x 1\n"},
		{"anchor on a key", "&k key: v\n"},
		{"anchor on an entry's key", "- &x a: 1\n  b: 2\n- *x\n"},
		{"anchor before an entry", "- &x - 1\n"},
		{"anchor on a null", "a: &x\nb: 1\nc: *x\n"},
		{"anchor on a null entry", "- &x\n- *x\n"},
		{"anchor on ~", "a: &x ~\nb: *x\n"},
		{"anchor at the end", "a: &x"},
		{"anchor on an alias", "a: &x 1\nb: &y *x\n"},
		{"two anchors", "a: &x &y 1\n"},
		{"anchor on a merge key", "d: &d {a: 1}\nm:\n  &x <<: *d\n"},
		{"anchor with a ':'", "a: &x: 1\nb: *x:\n"},
		{"anchor with a '.'", "a: &x.y 1\nb: *x.y\n"},
		{"empty anchor", "a: & 1\n"},
		{"alias then text", "a: &x 1\nb: *x y\n"},
		{"alias then ','", "a: &x 1\nb: *x,\n"},
		{"alias then '#'", "a: &x 1\nb: *x#c\n"},
		{"alias key", "a: &x k\n*x : 1\n"},
		{"anchor in flow then ','", "a: [&x, b]\n"},
		{"anchor on a flow key", "a: {&x k: v}\n"},
		{"alias then ',' in flow", "a: &a 1\nb: {k: *a,l: 1}\n"},
		{"alias then ']' in flow", "a: &a 1\nb: {k: [*a],l: 1}\n"},
		{"merge key", "a:\n  <<: {b: 1}\n"},
		{"merge of a scalar", "s: &s 1\nm:\n  <<: *s\n"},
		{"merge of a sequence", "d: &d\n  - k: 1\nm:\n  <<: *d\n"},
		{"merge of an undefined alias", "m:\n  <<: *d\n"},
		{"merge list with a mapping", "d: &d {a: 1}\nm:\n  <<: [*d, {b: 2}]\n"},
		{"empty merge list", "m:\n  <<: []\n"},
		{"merge list, trailing comma", "d: &d {a: 1}\nm:\n  <<: [*d,]\n"},
		{"merge list of a scalar", "d: &d 1\nm:\n  <<: [*d]\n"},
		{"block merge list", "d: &d {a: 1}\nm:\n  <<:\n    - *d\n"},
		{"two merge keys", "d: &d {a: 1}\nm:\n  <<: *d\n  <<: *d\n"},
		{"quoted << then merge key", "d: &d {a: 1}\nm:\n  '<<': 1\n  <<: *d\n"},
		{"key twice after a merge", "d: &d {a: 1}\nm:\n  <<: *d\n  b: 2\n  b: 3\n"},
		{"key twice around a merge", "d: &d {a: 1}\nm:\n  b: 2\n  <<: *d\n  b: 3\n"},
		{"merge key in flow", "d: &d {a: 1}\nm: {<<: *d}\n"},
		{"merge then text", "d: &d {a: 1}\nm:\n  <<: *d x\n"},
		{"merges nested two deep", "a: &a {k: 1}\nb: &b\n  <<: *a\nc: &c\n  <<: *b\nd:\n  <<: *c\n"},
		{"key ending in <<", "a<<: 1\n"},
		{"key holding <<", "<<:: 1\n"},
		{"tag then nothing", "a: !!str\nb: 1\n"},
		{"tag then a comment", "a: !!str # c\nb: 1\n"},
		{"tag at the end", "a: !!str "},
		{"tag then an anchor", "a: !!str &x 1\nb: *x\n"},
		{"tag then a tag", "a: !!str !!int 1\n"},
		{"tag on a flow", "a: !!str [1]\n"},
		{"tag on a block", "a: !!str\n  b: 1\n"},
		{"tag on a block scalar", "a: !!str |\n  x\n"},
		{"tag on a key", "!!str a: 1\n"},
		{"tag on an entry's key", "- !!str a: 1\n"},
		{"!!str on a hex number", "a: !!str 0x1F\n"},
		{"!!int on text", "a: !!int abc\n"},
		{"!!int on a float", "a: !!int 1.5\n"},
		{"!!int on an octal", "a: !!int 012\n"},
		{"!!float on text", "a: !!float abc\n"},
		{"!!float on infinity", "a: !!float .inf\n"},
		{"!!bool on 1", "a: !!bool 1\n"},
		{"!!bool on text", "a: !!bool abc\n"},
		{"!!null on infinity", "a: !!null .inf\n"},
		{"!!map on a sequence", "a: !!map [1]\n"},
		{"!!seq on a mapping", "a: !!seq\n  b: 1\n"},
		{"!!map on a scalar", "a: !!map x\n"},
		{"!!seq on nothing", "a: !!seq\nb: 1\n"},
		{"!!seq on a sequence in the key's column", "a: !!seq\n- 1\n"},
		{"!!seq on the next entry", "- !!seq\n- 1\n"},
		{"!!map then an anchor", "a: !!map &x\n  b: 1\nc: *x\n"},
		{"anchor then !!map", "a: &x !!map\n  b: 1\nc:\n  <<: *x\n"},
		{"anchor then !!seq in flow", "a: [&x !!seq [1], *x]\n"},
		{"a tag alone", "- !"},
		{"!!binary", "a: !!binary aGk=\n"},
		{"!!timestamp", "a: !!timestamp 2001-12-14\n"},
		{"local tag then nothing", "a: !x\nb: 1\n"},
		{"local tag then nothing at the end", "a: !x\n"},
		{"local tag then an entry in the key's column", "a: !x\n- 1\n"},
		{"local tag then an entry in the entry's column", "- !x\n- 1\n"},
		{"local tag then a tag", "a: !x !y v\n"},
		{"local tag then an anchor", "a: !x &n v\nb: *n\n"},
		{"anchor then a local tag", "a: &n !x v\nb: *n\n"},
		{"local tag on an alias", "a: &n 1\nb: !x *n\n"},
		{"local tag on a key", "!x k: v\n"},
		{"local tag on a flow key", "a: {!x k: v}\n"},
		{"local tag then ',' in flow", "a: [!x, 1]\n"},
		{"local tag then ']' in flow", "a: [!x]\n"},
		{"local tag then '}' in flow", "a: {k: !x}\n"},
		{"local tag then ','", "a: !x,v\n"},
		{"local tag with a '.'", "a: !x.y v\n"},
		{"local tag with a '/'", "a: !x/y v\n"},
		{"local tag starting with a digit", "a: !1 v\n"},
		{"named tag handle then nothing", "a: !e! v\n"},
		{"named tag handle of '!!'", "a: !!x!y v\n"},
		{"named tag handle, twice", "a: !e!x!y v\n"},
		{"non-specific tag", "a: ! v\n"},
		{"local tag on infinity", "a: !x .inf\n"},
		{"local tag on a merge", "a:\n  <<: !x {b: 1}\n"},
		{"empty verbatim tag", "a: !<> x\n"},
		{"verbatim tag holding a ',' in flow", "a: [!<tag:yaml.org,2002:str> x]\n"},
		{"verbatim tag holding a blank", "a: !<a b> x\n"},
		{"verbatim tag not closed", "a: !<a x\n"},
		{"verbatim tag then no blank", "a: !<a>x\n"},
		{"verbatim tag on a key", "!<a> k: v\n"},
		{"verbatim tag then an anchor", "a: !<x> &n v\nb: *n\n"},
		{"tag with a ':'", "a: !!str:x 1\n"},
		{"longer tag", "a: !!strx 1\n"},
		{"tag directive of the secondary handle", "%TAG !! tag:example.com,2000:\n---\na: !!str 1\n"},
		{"tag directive then a version directive", "%TAG !e! x\n%YAML 1.2\n---\na: 1\n"},
		{"tag directive without a prefix", "%TAG !e!\n---\na: 1\n"},
		{"tag directive then a comment", "%TAG !e! x # c\n---\na: 1\n"},
		{"block without a final line break", "a: |\n  x"},
		{"kept block without a final line break", "a: |+\n  x"},
		{"kept block ending in blanks", "a: |+\n  x\n\n  "},
		{"empty kept block", "a: |+\n"},
		{"empty kept block, then a key", "a: |+\nb: 1\n"},
		{"empty block with an indicator", "a: |2\nb: 1\n"},
		{"empty block, then blanks", "a: |\n  \nb: 1\n"},
		{"block of blanks", "a: |2\n   \nb: 1\n"},
		{"indicator, then an empty last line", "a: |1\n x\n\n"},
		{"kept block with an indicator, then an empty last line", "a: |+2\n  x\n\n"},
		{"line indented less than the indicator", "a: |3\n  x\n"},
		{"indicator 0", "a: |0\n  x\n"},
		{"two indicators", "a: |+-\n  x\n"},
		{"indicator of two digits", "a: |10\n  x\n"},
		{"blanks before the content, more than its indentation", "a: |\n   \n  x\n"},
		{"more blanks before the content", "a: |\n    \n  x\n"},
		{"folded block indented more than the next line", "a: >\n    y\n  z\n"},
		{"folded block with blanks for content", "a: >\n  x\n    \n\n  y\n"},
		{"block header then text", "a: | x\n  y\n"},
		{"block header then '#'", "a: |#c\n  y\n"},
		{"flow key", "[a]: 1\n"},
		{"unclosed flow", "a: [1, 2\n"},
		{"unclosed flow over lines", "a: [1,\n  2\n"},
		{"empty entry", "a: [a, , b]\n"},
		{"leading comma", "a: [, b]\n"},
		{"comma alone", "a: [,]\n"},
		{"comma alone in mapping", "a: {,}\n"},
		{"two trailing commas", "a: [1,,\n]\n"},
		{"comma alone on a line", "a: [1,\n,]\n"},
		{"multi-line plain in flow", "a: [x\n  y]\n"},
		{"multi-line plain in flow after a blank line", "a: [x\n\n  y]\n"},
		{"plain in flow then a comment line", "a: [x\n  # c\n  y]\n"},
		{"multi-line quoted in flow", "a: ['x\n  y']\n"},
		{"flow value on the next line", "a: {b:\n  1}\n"},
		{"flow value after a comment", "a: {b: # c\n  1}\n"},
		{"flow key then a line break", "a: {\n  b\n  : 1}\n"},
		{"comment after ',' in flow", "a: [1,#c\n  2]\n"},
		{"'- ' on a flow line", "a: [1,\n- 2]\n"},
		{"'-' alone on a flow line", "a: [1,\n-]\n"},
		{"document start in flow", "a: [1,\n---\n]\n"},
		{"document end in flow", "a: [1,\n...\n]\n"},
		{"'---x' at column 0 in flow", "a: [1,\n---x\n]\n"},
		{"directive in flow", "a: [1,\n%x]\n"},
		{"anchor then a line break in flow", "a: [&x\n  1]\n"},
		{"text after a multi-line flow", "a: [1\n] x\n"},
		{"comment after a multi-line flow", "a: [1\n]#c\n"},
		{"key after a multi-line flow", "a: [1\n]\n  b: 2\n"},
		{"multi-line merge list", "d: &d {a: 1}\nm:\n  <<: [\n    *d]\n"},
		{"? key", "a: {? b: 1}\n"},
		{"key without value", "a: {b}\n"},
		{"key with empty value", "a: {b: }\n"},
		{"key then comma", "a: {b:, c: 1}\n"},
		{"adjacent ':' in mapping", "a: {b:1}\n"},
		{"adjacent ':' in sequence", "a: [b:c]\n"},
		{"url in flow", "a: [http://x]\n"},
		{"space before ':' in flow", "a: {b : 1}\n"},
		{"single-pair mapping", "a: [b: c]\n"},
		{"value with ': ' in flow", "a: {b: c: d}\n"},
		{"'#' in flow", "a: [b#c]\n"},
		{"comment in flow", "a: [b #c]\n"},
		{"'[' in flow scalar", "a: [b[c]\n"},
		{"'{' in flow scalar", "a: [b{c]\n"},
		{"alias in flow", "a: [*x]\n"},
		{"tag then ',' in flow", "a: [!!str, 1]\n"},
		{"!!map on a sequence in flow", "a: [!!map [1]]\n"},
		{"tag on an alias in flow", "a: &x 1\nb: [!!str *x]\n"},
		{"tag on a flow key", "a: {!!str k: v}\n"},
		{"duplicate flow key", "a: {b: 1, b: 2}\n"},
		{"merge key in flow", "a: {<<: {b: 1}}\n"},
		{"infinity in flow", "a: [.inf]\n"},
		{"dash entry in flow", "a: [- b]\n"},
		{"lone dash in flow", "a: [-]\n"},
		{"text after flow", "a: [b] c\n"},
		{"comment after flow", "a: [b]#c\n"},
		{"quote then text in flow", "a: ['b'c]\n"},
		{"quoted value then ':'", "a: ['b': c]\n"},
		{"extra closer", "a: [b]]\n"},
		{"mismatched closer", "a: [b}\n"},
		{"unknown escape", "a: \"b\\q\"\n"},
		{"\\x and one hex digit", "a: \"\\x4\"\n"},
		{"\\x and no hex digit", "a: \"\\xZZ\"\n"},
		{"\\u and three hex digits", "a: \"\\u00e\"\n"},
		{"lone low surrogate", "a: \"\\udc00\"\n"},
		{"lone high surrogate", "a: \"\\ud800x\"\n"},
		{"high surrogate then no low one", "a: \"\\ud800\\u0041\"\n"},
		{"\\U past Unicode", "a: \"\\U00110000\"\n"},
		{"\\U surrogate", "a: \"\\U0000D800\"\n"},
		{"\\U and seven hex digits", "a: \"\\U0001F60\"\n"},
		{"escaped tab", "a: \"\\\tb\"\n"},
		{"plain scalar continued by a '---'", "d: a\n  --- \n   b\n"},
		{"plain scalar continued by a '- '", "d: a\n  - b\n"},
		{"plain scalar continued by a '-' before a comment", "d: a\n  -b # c\n"},
		{"plain scalar continued by a ': '", "d: a\n  : b\n"},
		{"entry continued by a '- '", "- a\n - b\n"},
		{"plain scalar continued in flow", "d: [x\n  y]\n"},
		{"anchor on tabs alone in flow", "d: [&x\t, y]\n"},
		{"plain flow key after a tab", "d: {a: 1,\tb: 2}\n"},
		{"quoted scalar continued in flow", "d: [x,\n  'a\n  b']\n"},
		{"comment among continuation lines", "d: a\n  # c\n  b\n"},
		{"key on a continuation line", "d: a\n  b: c\n"},
		{"key continued", "k\n  k2: v\n"},
		{"continuation line in the key's column", "a:\n  d: x\n  y\n"},
		{"quoted scalar continued in the key's column", "d: 'a\nb'\n"},
		{"quoted scalar closed in the key's column", "d: 'a\n'\n"},
		{"quoted key over two lines", "'a\n  b': 1\n"},
		{"tagged plain scalar continued", "d: !!str a\n  b\n"},
		{"infinity continued", "d: .inf\n  b\n"},
		{"escaped line break then a line in the key's column", "d: \"a\\\nb\"\n"},
		{"quoted explicit key", "? 'a'\n: b\n"},
		{"quoted line starting with ''", "- 'a\n  '' x'\n"},
		{"explicit key without a value", "? a\nb: 1\n"},
		{"explicit key over lines", "? a\n  b\n: 1\n"},
		{"explicit collection key", "? [a]\n: 1\n"},
		{"explicit key's value deeper", "? a\n  : 1\n"},
		{"directive without a document marker", "%YAML 1.2\na: 1\n"},
		{"directive of another version", "%YAML 2.0\n---\na: 1\n"},
		{"directive twice", "%YAML 1.2\n%YAML 1.2\n---\na: 1\n"},
		{"directive then a comment", "%YAML 1.2 # c\n---\na: 1\n"},
		{"directive then an empty document", "%YAML 1.2\n---\n"},
		{"unknown directive", "%FOO bar\n---\na: 1\n"},
		{"second document", "a: 1\n---\nb: 2\n"},
		{"document end then a document", "a: 1\n...\nb: 2\n"},
		{"document end twice", "a: 1\n...\n...\n"},
		{"document end then a comment without a blank", "a: 1\n...#c\n"},
		{"document end alone", "...\n"},
		{"comment before ---", "# c\n---\na: 1\n"},
		{"tab", "a:\n\tb: 1\n"},
		{"tab in a plain scalar", "a: x\ty\n"},
		{"tab in a quoted scalar", "a: 'x\ty'\nb: 1\n"},
		{"tab after a colon", "a:\tx\n"},
		{"tab after a dash", "-\tx\n"},
		{"tab first in a folded scalar's line", "a: >\n  x\n  \ty\n"},
		{"tab in a block scalar's first indentation", "a: |\n \tx\n"},
		{"line of blanks and a tab in a block scalar", "a: |\n  x\n  \t\n  y\n"},
		{"carriage return alone", "a: 1\rb: 2\r"},
		{"carriage return in a line", "a: x\ry\n"},
		{"quoted scalar over lines ending with \\r\\n", "a: 'x\r\n  y'\r\n"},
		{"duplicate key", "a: 1\na: 2\n"},
		{"number key written otherwise", "0x10: a\n"},
		{"float key written otherwise", "1.50: a\n"},
		{"small float key written otherwise", "0.000001: a\n"},
		{"large float key written otherwise", "1234567.5: a\n"},
		{"bool key written otherwise", "True: a\n"},
		{"number key and the same string key", "1: a\n'1': b\n"},
		{"null key", "~: a\n"},
		{"infinity", "a: .inf\n"},
		{"not a number", "a: .NaN\n"},
		{"inexact integer", "a: 9007199254740993\n"},
		{"control character", "a: b\x01\n"},
		{"reserved indicator", "a: @b\n"},
		{"value with ': '", "a: b: c\n"},
		{"value ending in ':'", "a: b:\n"},
		{"space before ':'", "a : 1\n"},
		{"entry after a value", "a: 1\n- b\n"},
		{"deeper key", "a: 1\n  b: 2\n"},
		{"shallower key", "a:\n    b: 1\n  c: 2\n"},
		{"sequence then key", "- a\nb: 1\n"},
		{"quote then text", "a: 'b' c\n"},
		{"quote then comment", "a: 'b'#c\n"},
	} {
		if _, ok := decodePlainYAML(tc.src); ok {
			t.Errorf("%s: %q read by yamlPlain", tc.why, tc.src)
		}
	}
}

// TestYAMLPlainBudgets checks that yamlPlain leaves to go-yaml, which
// refuses them, the documents whose block mappings hold too many keys for
// checkBlockMappings, and no other.
func TestYAMLPlainBudgets(t *testing.T) {
	keys := func(n int, indent string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%sk%d: %d\n", indent, i, i)
		}
		return b.String()
	}
	many := func(mappings, n int) string {
		var b strings.Builder
		for i := range mappings {
			fmt.Fprintf(&b, "m%d:\n%s", i, keys(n, "  "))
		}
		return b.String()
	}
	for _, tc := range []struct {
		src  string
		read bool
	}{
		{keys(5000, ""), true},
		{keys(5001, ""), false},
		{"a:\n  b:\n" + keys(5001, "    "), false},
		{many(24, 1000), true},
		{many(26, 1000), false},
		// 4999² + 99² is within the budget, 4999² + 100² beyond.
		{"z:\n" + keys(99, "  ") + keys(4998, ""), true},
		{"z:\n" + keys(100, "  ") + keys(4998, ""), false},
		{"- z:\n" + keys(99, "    ") + keys(4998, "  "), true},
		{"- z:\n" + keys(100, "    ") + keys(4998, "  "), false},
	} {
		_, read := decodePlainYAML(tc.src)
		_, err := Decode("t.yaml", []byte(tc.src), YAML)
		if read != tc.read || (err == nil) != tc.read {
			t.Errorf("%.30q…: read by yamlPlain %v, Decode: %.100v", tc.src, read, err)
		}
	}
}

// TestYAMLPlainAliasBomb checks that a "billion laughs" in the subset,
// of flow sequences or of block mappings and merge keys, is still refused
// by Decode as an alias bomb, and at once: yamlPlain gives up once its
// aliases expand past checkAliases' bound, before building the nodes; and
// that it reads the same document expanding to fewer nodes.
func TestYAMLPlainAliasBomb(t *testing.T) {
	laughs := func(levels int) string {
		var b strings.Builder
		b.WriteString("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
		for i := 1; i < levels; i++ {
			fmt.Fprintf(&b, "l%d: &l%d [%s*l%d]\n", i, i, strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), i-1)
		}
		return b.String()
	}
	merges := func(levels int) string {
		var b strings.Builder
		b.WriteString("m0: &m0\n  k: x\n")
		for i := 1; i < levels; i++ {
			fmt.Fprintf(&b, "m%d: &m%d\n  <<: *m0\n", i, i)
			for j := range 10 {
				fmt.Fprintf(&b, "  k%d: *m%d\n", j, i-1)
			}
		}
		return b.String()
	}
	for _, tc := range []struct {
		src  string
		bomb bool
	}{
		{laughs(4), false}, {laughs(10), true}, {merges(4), false}, {merges(12), true},
	} {
		start := time.Now()
		_, read := decodePlainYAML(tc.src)
		_, err := Decode("t.yaml", []byte(tc.src), YAML)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%.40q…: %v", tc.src, d)
		}
		if bomb := err != nil && strings.Contains(err.Error(), "alias bomb"); bomb != tc.bomb || read == tc.bomb {
			t.Errorf("%.40q…: read by yamlPlain %v, Decode: %.100v", tc.src, read, err)
		}
		if !tc.bomb {
			checkYAMLPlain(t, []byte(tc.src))
		}
	}
}

// TestYAMLPlainAliasCopies checks that each alias and merge key gets a
// copy of its anchor's value, as in go-yaml's tree (normalize copies
// the value go-yaml shares): overwriting all in one leaves the others.
func TestYAMLPlainAliasCopies(t *testing.T) {
	src := []byte("a: &x {k: [1, {l: 2}], m: {n: 3}}\nb: *x\nc:\n  <<: *x\nd: [*x]\n")
	var scribble func(v any)
	scribble = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				scribble(e)
				x[k] = "scribbled"
			}
			x["new"] = true
		case []any:
			for i, e := range x {
				scribble(e)
				x[i] = "scribbled"
			}
		}
	}
	for _, key := range []string{"a", "b", "c", "d"} {
		if !checkYAMLPlain(t, src) {
			t.Fatal("left to go-yaml")
		}
		doc, err := Decode("t.yaml", src, YAML)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := decodePlainYAML(string(src))
		got := doc.Value.(map[string]any)
		scribble(got[key])
		for k, v := range want.(map[string]any) {
			if k != key && !reflect.DeepEqual(got[k], v) {
				t.Errorf("with %s scribbled over, %s is %v, want %v", key, k, got[k], v)
			}
		}
	}
}

// TestYAMLPlainBenchDocument checks that the benchmark document, at the
// sizes BenchmarkYAMLDecoders decodes, is read by yamlPlain.
func TestYAMLPlainBenchDocument(t *testing.T) {
	for _, size := range []int{1 << 10, 100 << 10, 1 << 20} {
		src := benchYAMLDocument(size, 2)
		if size < 1<<20 && !checkYAMLPlain(t, src) {
			t.Errorf("%d bytes: left to go-yaml", size)
		}
		if _, ok := decodePlainYAML(string(src)); !ok {
			t.Errorf("%d bytes: left to go-yaml", size)
		}
	}
}

// TestYAMLPlainTestdata checks that yamlPlain reads the YAML files of
// testdata, flow sequences and mappings included, all but the one whose
// flow sequence is never closed.
func TestYAMLPlainTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata/*.yaml", err)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Base(file) != "syntax.bad.yaml"
		if got := checkYAMLPlain(t, src); got != want {
			t.Errorf("%s: read by yamlPlain %v, want %v", file, got, want)
		}
	}
}

// TestYAMLPlainShapes checks that yamlPlain reads, as go-yaml does, the
// shapes of the YAML configs users write most (testdata/shapes: a GitHub
// Actions workflow, a docker-compose file, a Kubernetes deployment, a
// Prometheus config and alerting rules, an Ansible playbook, an OpenAPI
// document, the compose file saved on Windows, comments aligned with tabs,
// a CLI command's spec with help text below its keys).
func TestYAMLPlainShapes(t *testing.T) {
	files, err := filepath.Glob("testdata/shapes/*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatal("testdata/shapes/*.yaml missing", files, err)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !checkYAMLPlain(t, src) {
			t.Errorf("%s: left to go-yaml", file)
		}
	}
}

var yamlPlainSurvey = flag.String("yamlplain.survey", "", "a file that lists YAML files, one path a line, for TestYAMLPlainSurvey to read")

// TestYAMLPlainSurvey reads each YAML file the -yamlplain.survey list
// names (by default those of testdata) with yamlPlain and go-yaml, fails
// on any file yamlPlain reads otherwise than go-yaml, and logs how many of
// the files go-yaml reads yamlPlain reads too, and with -v which it leaves
// to go-yaml. docs/benchmarks.md gives its figures for every YAML file of
// a machine.
func TestYAMLPlainSurvey(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	shapes, _ := filepath.Glob("testdata/shapes/*.yaml")
	files = append(files, shapes...)
	if *yamlPlainSurvey != "" {
		var list []byte
		list, err = os.ReadFile(*yamlPlainSurvey)
		files = strings.Fields(string(list))
	}
	if err != nil || len(files) == 0 {
		t.Fatal("no YAML files to read", err)
	}
	var goccy, plain int
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeYAMLGoccy(file, string(src))
		if err != nil {
			continue
		}
		goccy++
		v, ok := decodePlainYAML(string(src))
		switch {
		case !ok:
			t.Logf("left to go-yaml: %s", file)
		case !reflect.DeepEqual(v, want.Value):
			t.Errorf("%s: yamlPlain read %#v, go-yaml %#v", file, v, want.Value)
		default:
			plain++
		}
	}
	t.Logf("of %d files, go-yaml reads %d, yamlPlain %d of them (%.1f%%)", len(files), goccy, plain, 100*float64(plain)/float64(max(goccy, 1)))
}

// TestYAMLPlainPrepareBuildsNoPositions checks that Prepare of a valid
// YAML config that yamlPlain reads never builds its positions (go-yaml
// would), and that an invalid one reports its problem where it is.
func TestYAMLPlainPrepareBuildsNoPositions(t *testing.T) {
	target := MustTarget(t, Options[App]{Format: YAML})
	ctx := context.Background()
	ch, err := target.Prepare(ctx, yamlCandidate("name: shop\nlimits:\n  rps: 5\n  burst: 7\nbackends:\n  - url: http://a:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if next := ch.(*change[App]).next; next.source.pos.build == nil || next.final.pos.build == nil {
		t.Error("a valid Prepare built the positions")
	}
	_, err = target.Prepare(ctx, yamlCandidate("name: shop\nlimits:\n  rps: 0\n"))
	if got, want := renderDetails(err), "content.yaml:3:8: /limits/rps: must be >= 1 but found 0\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestYAMLPlainScalars checks plainScalar's spellings of null, bools,
// infinity and NaN, and some near misses, against go-yaml's token.New.
func TestYAMLPlainScalars(t *testing.T) {
	for _, s := range []string{
		"null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE",
		".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
		"nULL", "tRUE", "yes", "no", "on", "off", "y", "n", "+.inf", "+.INF", "-.nan", ".Nan", "nan", "inf", "~~", "NaN",
	} {
		v, ok := plainScalar(s)
		var want token.Type
		switch {
		case !ok:
			want = token.InfinityType
			if s[len(s)-1] == 'n' || s[len(s)-1] == 'N' {
				want = token.NanType
			}
		case v == nil:
			want = token.NullType
		case v == true || v == false:
			want = token.BoolType
		default:
			want = token.StringType
		}
		if got := token.New(s, s, nil).Type; got != want {
			t.Errorf("%q: plainScalar says %v (%v), token.New %v", s, want, v, got)
		}
	}
	for _, s := range []string{
		"null", "~", "TRUE", "false", ".inf", "-.nan", "nULL", "yes", "no", "n",
		"12", "-3", "+4", ".5", "0x1F", "0o17", "1e3", "1_000", "+", "-a", ".x",
		"name", "item-00000000", "Region", "tier", "fast", "x1",
	} {
		v, ok := plainScalar(s)
		if want := ok && v == s; plainString(s) != want {
			t.Errorf("%q: plainString says %v, plainScalar %v (%v)", s, !want, v, ok)
		}
	}
}

// FuzzYAMLPlain checks yamlPlain against go-yaml on every document it
// reads, and that it never panics; it starts from the test files, the
// benchmark document, odd cases and documents of yamlGen.
func FuzzYAMLPlain(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		string(benchYAMLDocument(1<<10, 1)),
		"a: 1\nb:\n  - x\n  - c: [1.5, true, ~]\n", "- - a\n  - b\n- c: d\n", "k: 0x10\nl: 1_000\nm: +12\nn: 0o7\no: 1e3\n",
		"a: 'x''y'\nb: \"q\"\n", "a:\nb:\n- 1\n", "---\n  a:   b   # c\n", "- \n-\n- #x\n", "a: -1\nb: -x\nc: .5\nd: 5.\n",
		"a: b#c\nd: e #f\n", "url: http://x:1/y\n", "a:\n  b:\n  - 1\n  c: 2\n", "é: ü\n", "\"\": ''\n", "a: 2001-12-14\n",
		"tags: [web, eu]\n", "a: [[1, 2], {a: b}] # c\n", "- {x: 1, y: \"b\"}\n- []\n- {}\n", "a: [a,b , 'c']\n", "a: {b: [], c: {d: -1.5}}\n",
		"a: |\n  x\n\n  y\nb: >-\n  p\n  q\n", "- |-\n  # x\n- >\n  a\n\n  b\n",
		"a: &x 1\nb: *x\n", "a: &x\n  k: v\nb: *x\n", "- &x [1, {k: *y}]\n- *x\n", "a: [&x a, *x]\nb: {k: *x}\n",
		"b: *x\na: &x 1\n", "a: &x 1\nb: &x 2\nc: *x\n", "a: &x\n  b: *x\n", "&k key: v\n", "- &x k: v\n- *x\n", "a: &x\nb: *x\n",
		"d: &d {a: 1, b: 2}\nm:\n  a: 0\n  <<: *d\n  b: 9\n", "p: &p {a: 1}\nq: &q {a: 2}\nm:\n  <<: [*p, *q]\n",
		"p: &p {a: 1}\nq: &q\n  <<: *p\n  b: 2\nm:\n  - <<: *q\n    c: 3\n", "s: &s 1\nm:\n  <<: *s\n", "m:\n  <<: *d\n",
		"d: &d {a: 1}\nm:\n  <<: *d\n  <<: *d\n", "a: &a\n  x: &b 1\n  y: *b\n", "a: &a 1\nb: {k: *a,l: 1}\n",
		"a: [\n  1,\n  'x', # c\n\n  {b: [\n2]},\n]\nb: 1\n", "a: {\n  b: 1,\n  c: two\n}\n", "- [x\n  ,y\n]\n- [x\n  y]\n",
		"a: !!str 1.10\nb: !!int '2'\nc: [!!bool yes, !!null x]\n", "- !!float 1\n- !!str\n- !!str &x 1\n", "a: !foo x\nb: !!map {}\n", "- !", "- !!seq\n  - !!map\n      a: 1\n", "d: &d !!map\n  a: 1\nm:\n  <<: *d\n",
		"a: |+\n  x\n\n# c\nb: |2-\n   y\n  z \n", "- >1+\n  x\n   y\n\n- |\n- >\n\n  x\n\n    y\n",
		"a: [1,\n---\n]\n", "a: [b #c]\n]\n", "a: {b:\n 1}\n", "a: [1,,\n]\n", "x: &x 1\na: [*x\n , &y 2,\n *y,]\n",
		"a: \"\\0\\x41\\N\\U0001F600\\ud83d\\ude00\"\nb: \"\\xZZ\\udc00\"\n", "a: !Ref x\nb: !vault\n  k: !x 1\nc: !Sub [a, !y 2]\n",
		"d: a\n  b\n\n  c # d\n- e\n", "- 'a\n\n  b'\n- \"c\\\n   d\\n\n  e\"\n- f\n  -g\n",
		"%YAML 1.2\n---\na: !<tag:yaml.org,2002:str> 1\nb: [!<x> 2, !e!y 3]\nc: !e!x\n  k: !<a:b,c> v\n",
		"a: x\r\n  y\r\nb: |\r\n  t\r\nc:\n- 'q\r\n  r'\r\n- \"s\rt\"\n",
		"a: x\t# c\td\nb: |\n  x\ty\n  \tz\nc: >\n \ta\n- 'q\tr'\n-\tx: y\n",
		"200: a\n-1: b\n1.5: {true: c, null: d, 0x10: e}\n~: f\n1.50: g\n'1': h\n",
		"? a\n: 1\n? b # c\n\n:\n  - x\n? 'q'\n: |\n  t\n  - u\n- ? k\n  : v\n",
	} {
		f.Add([]byte(s))
	}
	r := rand.New(rand.NewPCG(15, 3))
	for range 100 {
		refs := r.IntN(2) == 0
		g := yamlGen{r: r, refs: refs, rare: refs}
		g.block(0, 0, false)
		f.Add([]byte(g.b.String()))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkYAMLPlain(t, src)
	})
}

var yamlPlainSeeds = flag.Int("yamlplain.seeds", 1, "how many seeds TestYAMLPlainGenerated runs, 20,000 documents each")

// TestYAMLPlainGenerated checks yamlPlain against go-yaml on random block
// YAML documents, odd keys and scalars, anchors, aliases and merge keys and
// misplaced lines included, which random bytes rarely spell. Run more
// documents with -args -yamlplain.seeds=N.
func TestYAMLPlainGenerated(t *testing.T) {
	for seed := range uint64(*yamlPlainSeeds) {
		checkYAMLPlainGenerated(t, rand.New(rand.NewPCG(15, 2+seed)))
	}
}

// checkYAMLPlainGenerated checks yamlPlain on 20,000 documents of yamlGen,
// and that enough of those it read hold each feature.
func checkYAMLPlainGenerated(t *testing.T, r *rand.Rand) {
	t.Helper()
	const docs = 20_000
	features := []struct {
		name string
		in   func(src string) bool // about whether src holds the feature
		min  int                   // documents read that must hold it
		read int
	}{
		{"aliases", func(src string) bool { return strings.Contains(src, "*b") || strings.Contains(src, "*d0") }, docs / 50, 0},
		{"merge keys", func(src string) bool { return strings.Contains(src, "<<: *") || strings.Contains(src, "<<: [*") }, docs / 125, 0},
		{"flow collections over lines", openLine, docs / 50, 0},
		{"standard tags", func(src string) bool { return strings.Contains(src, "!!") }, docs / 50, 0},
		{"kept or indicated block scalars", blockIndicated, docs / 100, 0},
		{"the other escapes", rareEscapes, docs / 100, 0},
		{"local tags", localTagged, docs / 100, 0},
		{"verbatim tags", func(src string) bool { return strings.Contains(src, "!<") }, docs / 100, 0},
		{"a version directive", func(src string) bool { return strings.HasPrefix(src, "%YAML") }, docs / 100, 0},
		{"a tag directive", func(src string) bool { return strings.HasPrefix(src, "%TAG") }, docs / 100, 0},
		{"a document end marker", func(src string) bool { return strings.Contains(src, "\n...") }, docs / 100, 0},
		{"an anchor defined twice", redefined, docs / 800, 0},
		{"scalars over several lines", continued, docs / 100, 0},
		{"lines ending with \\r\\n", func(src string) bool { return strings.Contains(src, "\r\n") }, docs / 100, 0},
		{"keys of numbers, bools or null", scalarKeyed, docs / 250, 0},
		{"explicit keys", func(src string) bool {
			return strings.HasPrefix(src, "? ") || strings.Contains(src, "\n? ") || strings.Contains(src, " ? ")
		}, docs / 400, 0},
		{"tabs", func(src string) bool { return strings.Contains(src, "\t") }, docs / 200, 0},
		{"values on the line below their key", valueBelow, docs / 80, 0},
		{"indicators first in a continuation line", indicatorLed, docs / 250, 0},
		{"a flow collection as the document", flowDocument, docs / 400, 0},
		{"tabs in flow collections", func(src string) bool {
			return strings.Contains(src, ",\t") || strings.Contains(src, "\t,") || strings.Contains(src, "\n\t") && openLine(src)
		}, docs / 400, 0},
		{"quoted keys of flow mappings before ':' and a value", func(src string) bool {
			for i := 0; i+2 < len(src); i++ {
				if (src[i] == '"' || src[i] == '\'') && src[i+1] == ':' && src[i+2] != ' ' && src[i+2] != '\n' {
					return true
				}
			}
			return false
		}, docs / 400, 0},
		{"a tag on the document's collection", func(src string) bool {
			return strings.HasPrefix(src, "!") || strings.Contains(src, "---\n!")
		}, docs / 400, 0},
	}
	read := 0
	for range docs {
		refs := r.IntN(2) == 0
		g := yamlGen{r: r, refs: refs, rare: refs}
		switch r.IntN(16) {
		case 0, 1:
			g.b.WriteString(g.pick("---\n", "# c\n", "\n", "--- \n", "---\n# c\n"))
		case 2:
			g.b.WriteString(g.pick("%YAML 1.2\n---\n", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n"))
			if g.odd() {
				g.b.WriteString(g.pick("%YAML 1.2\n", "---\n", "# c\n", "%TAG !e! tag:e.com,2000:\n---\n", "\n"))
			}
		case 3:
			g.b.WriteString(g.pick("%TAG !e! tag:e.com,2000:\n---\n", "%TAG ! tag:e.com,2000:app/\n---\n", "%TAG !e-f! !x-\n---\n"))
			if g.odd() {
				g.b.WriteString(g.pick("%TAG !e! e\n---\n", "%YAML 1.2\n---\n", "---\n", "# c\n"))
			}
		case 4:
			if g.odd() {
				g.b.WriteString(g.pick("%TAG !! tag:e.com,2000:\n---\n", "%TAG !e!\n---\n", "%TAG e x\n---\n", "%TAG !e! x # c\n---\n", "%TAG !e! x\n"))
			}
		}
		if r.IntN(24) == 0 { // a tag on the document's collection
			g.b.WriteString(g.pick("!sum\n", "!sum\n", "!!map\n", "!!seq\n", "!x # c\n", "!e!x\n\n", "!<x>\n", "!!str\n", "!x\n  ", "!x ", "!sum\n# c\n"))
		}
		switch {
		case r.IntN(24) == 0: // a flow collection as the document, as JSON is
			g.b.WriteString(g.flow(0) + g.pick("\n", "\n", "", " # c\n", "\n# c\n", "\nx\n"))
		case g.refs && r.IntN(2) == 0:
			g.defaults()
		default:
			g.block(0, 0, false)
		}
		src := g.b.String()
		if r.IntN(3) == 0 { // a line moved, copied or shifted
			lines := strings.SplitAfter(src, "\n")
			i, j := r.IntN(len(lines)), r.IntN(len(lines))
			switch r.IntN(4) {
			case 0:
				lines[i], lines[j] = lines[j], lines[i]
			case 1:
				lines[i] = lines[j]
			case 2:
				lines[i] = " " + lines[i]
			case 3:
				lines[i] = strings.TrimPrefix(lines[i], " ")
			}
			src = strings.Join(lines, "")
		}
		switch r.IntN(40) {
		case 0: // a tab in a comment or before one
			src = strings.ReplaceAll(src, "# c", g.pick("#\tc", "# c\td", "\t# c", " \t# c", "\t\t# c"))
		case 1, 2: // a tab in place of a blank, or in front of one
			if sp := strings.Count(src, " "); sp > 0 {
				k := r.IntN(sp)
				for i := range src {
					if src[i] == ' ' {
						if k == 0 {
							src = src[:i] + g.pick("\t", "\t ", " \t") + src[i+1:]
							break
						}
						k--
					}
				}
			}
		case 3: // a tab at the end of a line
			lines := strings.SplitAfter(src, "\n")
			i := r.IntN(len(lines))
			lines[i] = strings.TrimSuffix(lines[i], "\n") + g.pick("\t", " \t", "\t ") + "\n"
			src = strings.Join(lines, "")
		case 4: // a tab anywhere
			i := r.IntN(len(src) + 1)
			src = src[:i] + "\t" + src[i:]
		}
		if r.IntN(12) == 0 { // a document end marker
			src += g.pick("...\n", "... # c\n", "...\n# c\n\n", "...")
			if g.odd() {
				src += g.pick("...\n", "---\n", "a: 1\n", "  # c\n", "#c\n")
			}
		}
		if r.IntN(10) == 0 {
			src = strings.TrimSuffix(src, "\n")
		}
		switch r.IntN(16) {
		case 0, 1: // as editors on Windows save
			src = strings.ReplaceAll(src, "\n", "\r\n")
		case 2: // some lines of each
			lines := strings.SplitAfter(src, "\n")
			for i := range lines {
				if r.IntN(2) == 0 {
					lines[i] = strings.Replace(lines[i], "\n", "\r\n", 1)
				}
			}
			src = strings.Join(lines, "")
		case 3: // a '\r' alone
			i := r.IntN(len(src) + 1)
			src = src[:i] + "\r" + src[i:]
		}
		if checkYAMLPlain(t, []byte(src)) {
			read++
			for i := range features {
				if features[i].in(src) {
					features[i].read++
				}
			}
		}
	}
	counts := fmt.Sprintf("%d documents of %d read by yamlPlain", read, docs)
	few := read < docs/5
	for _, f := range features {
		counts += fmt.Sprintf(", %d with %s", f.read, f.name)
		few = few || f.read < f.min
	}
	t.Log(counts)
	if few {
		t.Errorf("too few read: %s", counts)
	}
}

// scalarKeyed reports whether a line of src starts with a key that is a
// number, a bool or a null, about whether src holds such a key.
func scalarKeyed(src string) bool {
	for _, l := range strings.Split(src, "\n") {
		l = strings.TrimLeft(strings.TrimLeft(l, " "), "- ")
		if k, _, ok := strings.Cut(l, ": "); ok && k != "" && !plainString(k) && plainKey(k) {
			return true
		}
	}
	return false
}

// redefined reports whether src holds an anchor, '&' and a name, twice,
// about whether it defines an anchor twice.
func redefined(src string) bool {
	seen := map[string]bool{}
	for i := strings.IndexByte(src, '&'); i >= 0; {
		end := i + 1
		for end < len(src) && (isLetter(src[end]) || isDigit(src[end]) || src[end] == '-' || src[end] == '_') {
			end++
		}
		if name := src[i+1 : end]; name != "" {
			if seen[name] {
				return true
			}
			seen[name] = true
		}
		j := strings.IndexByte(src[end:], '&')
		if j < 0 {
			break
		}
		i = end + j
	}
	return false
}

// blockIndicated reports whether src holds the header of a block scalar
// with keep chomping or an indentation indicator, about whether it holds
// such a scalar.
func blockIndicated(src string) bool {
	for _, h := range []string{"|", ">"} {
		for i := strings.Index(src, h); i >= 0 && i+1 < len(src); {
			if c := src[i+1]; c == '+' || c >= '1' && c <= '9' || c == '-' && i+2 < len(src) && src[i+2] >= '1' && src[i+2] <= '9' {
				return true
			}
			j := strings.Index(src[i+1:], h)
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	return false
}

// openLine reports whether a line of src opens more flow collections than
// it closes, about whether a flow collection spans lines.
func openLine(src string) bool {
	for _, l := range strings.Split(src, "\n") {
		if strings.Count(l, "[")+strings.Count(l, "{") > strings.Count(l, "]")+strings.Count(l, "}") {
			return true
		}
	}
	return false
}

// yamlGen writes a random block YAML document.
type yamlGen struct {
	r      *rand.Rand
	b      strings.Builder
	refs   bool     // write anchors, aliases and merge keys
	rare   bool     // write odd things more rarely
	names  []string // the anchors written
	blocks []string // those of them on a block, mostly a mapping
}

func (g *yamlGen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

// odd says whether to write something unusual, one time in twelve, or in
// fifty if rare (in a document with anchors, aliases and merge keys, to
// keep more of them within the subset).
func (g *yamlGen) odd() bool {
	if g.rare {
		return g.r.IntN(50) == 0
	}
	return g.r.IntN(12) == 0
}

// block writes a mapping or a sequence (if seq, else at random) in column
// col; the indentation of its first line is written already.
func (g *yamlGen) block(col, depth int, seq bool) {
	n := 1 + g.r.IntN(4)
	seq = seq || g.r.IntN(3) == 0
	merged := false
	for i := range n {
		if i > 0 {
			g.b.WriteString(strings.Repeat(" ", col))
		}
		sep := ": "
		if g.odd() {
			sep = g.pick(":", ":  ", " : ", "-", "-   ")
		}
		if seq {
			g.b.WriteString("-" + sep[1:])
			g.value(col, col+len(sep), depth, true)
			continue
		}
		if g.refs && g.r.IntN(3) == 0 && (g.blocks != nil && !merged || g.odd()) {
			g.b.WriteString("<<: " + g.merge() + g.pick("\n", " # c\n"))
			merged = true
			continue
		}
		if g.r.IntN(24) == 0 { // an explicit key, its value on the next line
			g.b.WriteString(g.pick("? ", "? ", "?  ", "?") + g.key(i) + g.pick("\n", " # c\n", "\n# c\n", "\n\n", "\n  more\n"))
			pad := strings.Repeat(" ", col)
			if g.odd() {
				pad += " " // the ':' deeper than the '?'
			}
			g.b.WriteString(pad + g.pick(": ", ": ", ":", ":  "))
			g.value(col, col+2, depth, false)
			continue
		}
		g.b.WriteString(g.key(i))
		g.b.WriteString(sep)
		g.value(col, col+2, depth, false)
	}
}

// value writes the rest of an entry's line, and any block below it,
// sometimes after an anchor.
func (g *yamlGen) value(col, inner, depth int, entry bool) {
	k := g.r.IntN(10)
	if g.refs && g.r.IntN(5) == 0 && (k != 2 || g.odd()) { // mostly not on a null
		name := g.anchor()
		g.b.WriteString("&" + name + g.pick(" ", " ", "  "))
		defer g.defined(name, k < 2) // an alias in its value is odd
	}
	switch {
	case !entry && g.r.IntN(16) == 0:
		g.below(col, inner)
	case k < 2 && depth < 4:
		if g.r.IntN(8) == 0 {
			g.b.WriteString(g.pick("!!map", "!!seq", "!!str", "!custom", "!Sub"))
		}
		g.b.WriteString(g.pick("\n", " # c\n", "\n  # c\n", "\n\n"))
		seq := !entry && g.r.IntN(3) == 0
		if seq {
			inner = col // a sequence in its key's column
		}
		g.b.WriteString(strings.Repeat(" ", inner))
		g.block(inner, depth+1, seq)
	case k < 3 && entry && depth < 4:
		g.block(inner, depth+1, false) // a compact mapping or sequence
	case k < 3:
		g.b.WriteString(g.pick("", " # c", " ") + "\n")
	case k < 5 && g.r.IntN(8) == 0:
		f, tag := g.flow(0), "!!map "
		if strings.HasPrefix(f, "[") != g.odd() {
			tag = "!!seq " // mostly the tag of the collection's kind
		}
		g.b.WriteString(tag + f + "\n")
	case k < 5:
		g.b.WriteString(g.tag() + g.flow(0) + g.pick("\n", "\n", " # c\n", "  \n"))
	case k < 6 && (!g.refs || g.r.IntN(4) == 0):
		g.b.WriteString(g.tag())
		g.blockScalar(col, inner)
	case k < 8 && g.refs && (g.names != nil || g.odd()):
		g.b.WriteString("*" + g.alias(g.names) + g.pick("\n", "\n", " # c\n", "  \n"))
	case g.r.IntN(10) == 0:
		g.b.WriteString(g.lines(col, inner) + g.pick("\n", "\n", " # c\n", "  \n"))
	default:
		g.b.WriteString(g.scalar() + g.pick("\n", "\n", " # c\n", "  \n"))
	}
}

// below writes, after a key in column col, a scalar on the lines below,
// mostly indented to inner or more: plain or quoted, on one line or more,
// a flow collection or a block scalar.
func (g *yamlGen) below(col, inner int) {
	g.b.WriteString(g.pick("\n", "\n", " # c\n", "\n\n", "\n  # c\n"))
	pad := inner + g.r.IntN(3)
	if g.odd() {
		pad = max(col+g.r.IntN(3)-1, 0) // in the key's column, or less
	}
	g.b.WriteString(strings.Repeat(" ", pad))
	switch g.r.IntN(4) {
	case 0:
		g.b.WriteString(g.lines(col, pad) + g.pick("\n", " # c\n"))
	case 1:
		g.b.WriteString(g.tag() + g.flow(0) + g.pick("\n", " # c\n"))
	case 2:
		g.blockScalar(col, col+1+g.r.IntN(pad-col+3)) // its text less, as or more indented than its header
	default:
		g.b.WriteString(g.scalar() + g.pick("\n", " # c\n"))
	}
}

// valueBelow reports whether a line of src holds no more than a key, and
// the next line that holds more than a comment is indented more and holds
// a flow collection, or neither a key nor an entry, about whether src
// holds a scalar on the line below its key.
func valueBelow(src string) bool {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		l, _, _ = strings.Cut(l, " #")
		if l = strings.TrimRight(l, " "); !strings.HasSuffix(l, ":") || strings.Contains(l, ": ") {
			continue
		}
		for _, next := range lines[i+1:] {
			t := strings.TrimLeft(next, " ")
			if t == "" || t[0] == '#' {
				continue
			}
			if len(next)-len(t) > len(l)-len(strings.TrimLeft(l, " -")) && !strings.HasPrefix(t, "- ") && (strings.IndexAny(t[:1], "[{") == 0 || !strings.Contains(t, ": ")) && !strings.HasSuffix(t, ":") {
				return true
			}
			break
		}
	}
	return false
}

// flowDocument reports whether the first line of src that holds more than
// a directive, a "---", a comment or blanks starts with '[' or '{', about
// whether a flow collection is src's document.
func flowDocument(src string) bool {
	for _, l := range strings.Split(src, "\n") {
		t := strings.TrimLeft(l, " ")
		if t == "" || t[0] == '#' || t[0] == '%' || strings.HasPrefix(t, "---") {
			continue
		}
		return t[0] == '[' || t[0] == '{'
	}
	return false
}

// indicatorLed reports whether a line of src starts, after blanks, with an
// indicator and "more", about whether a scalar over several lines in src
// holds such a line.
func indicatorLed(src string) bool {
	for _, l := range strings.Split(src, "\n") {
		t := strings.TrimLeft(l, " ")
		if t != "" && indicator(t[0]) && strings.HasPrefix(strings.TrimLeft(t[1:], " "), "more") {
			return true
		}
	}
	return false
}

// lines returns a plain or quoted scalar continued on the lines below, the
// value of a key or an entry in column col: its lines start with "more",
// mostly indented to inner or more, among empty lines and blanks; odd
// lines and indentation too.
func (g *yamlGen) lines(col, inner int) string {
	q := g.pick("", "", "'", `"`)
	var b strings.Builder
	b.WriteString(q + g.pick("a", "first words", "1", "true", "x y", "~"))
	for range 1 + g.r.IntN(3) {
		b.WriteString(g.pick("", "", " ", "  "))
		if g.r.IntN(4) == 0 {
			b.WriteString(g.pick("\n", "\n\n", "\n  \n"))
		}
		if q == `"` && g.r.IntN(4) == 0 {
			b.WriteString(`\`) // an escaped line break
		}
		pad := inner + g.r.IntN(3)
		if g.odd() {
			pad = max(col+g.r.IntN(3)-1, 0) // in the key's column, or less
		}
		b.WriteString("\n" + strings.Repeat(" ", pad))
		if g.odd() {
			b.WriteString(g.pick("- more", "more: x", "# more", "more #c", "[more]", "more<<", "'more'", "&more", "*more", "!more", "---", "...",
				`more\`, `more\q`, "more''", `more"`, "more'", "more\x01", "-more #c", "-\tmore", "--more\t#c", ": more", ":more", "-", "---more", "...more"))
			continue
		}
		if g.r.IntN(8) == 0 { // an indicator first
			b.WriteString(g.pick("> ", "* ", "{", "[", "'", `"`, "`", "%", "@", ", ", "? ", "|", "!", "&", "*", "]", "}") + "more")
			continue
		}
		b.WriteString(g.pick("more", "more words", "more 2", "more-x", "more  x"))
	}
	return b.String() + q
}

// continued reports whether a line of src starts, after blanks, with
// "more", about whether src holds a scalar over several lines.
func continued(src string) bool {
	for _, l := range strings.Split(src, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), "more") {
			return true
		}
	}
	return false
}

// defaults writes a mapping of two keys: an anchored block (mostly a
// mapping) without anchors, aliases and merge keys, and a block with them.
func (g *yamlGen) defaults() {
	g.b.WriteString("defaults: &d0\n  ")
	g.refs = false
	g.block(2, 1, false)
	g.refs = true
	g.defined("d0", true)
	g.b.WriteString("main:\n  ")
	g.block(2, 1, false)
}

// anchor returns the name of an anchor, mostly a new one.
func (g *yamlGen) anchor() string {
	if len(g.names) > 0 && g.r.IntN(3) == 0 {
		return g.names[g.r.IntN(len(g.names))] // defined again
	}
	if g.odd() {
		return g.pick("", "x.y", "x:", "é", "a0,", "a0]", "a0#c", "a0 x", "-", "-x", "1", "0x1", "true", "null", "A_b-1", g.alias(g.names))
	}
	return "b" + strconv.Itoa(g.r.IntN(1000))
}

// defined adds name, an anchor on a block if block is set, to those
// aliases name.
func (g *yamlGen) defined(name string, block bool) {
	g.names = append(g.names, name)
	if block {
		g.blocks = append(g.blocks, name)
	}
}

// alias returns the name of an alias, mostly one of names.
func (g *yamlGen) alias(names []string) string {
	if len(names) == 0 || g.odd() {
		return g.pick("a9", "", "b1,", "b1]", "b1#c", "b1 x", "-", "x.y", "é", "1")
	}
	return names[g.r.IntN(len(names))]
}

// merge returns the value of a merge key, mostly an alias of a block or a
// flow sequence of such aliases.
func (g *yamlGen) merge() string {
	switch {
	case g.odd():
		return g.pick("[]", "[*b1,]", "{a: 1}", "[*b1, {b: 1}]", "[*b1 *b2]", "*", "", "1", "*b1 x", "[*b1", "[[*b1]]", "*"+g.alias(g.names))
	case g.r.IntN(3) == 0:
		return "[*" + g.alias(g.blocks) + g.pick(", ", ",", " , ") + "*" + g.alias(g.blocks) + g.pick("]", " ]")
	}
	return "*" + g.alias(g.blocks)
}

// blockScalar writes a literal or folded block scalar, the value of a key
// or an entry in column col, its header and its lines, the content
// indented by indent, mostly a common one.
func (g *yamlGen) blockScalar(col, indent int) {
	g.b.WriteString(g.pick("|", ">"))
	if g.r.IntN(2) == 0 {
		g.b.WriteString(g.blockIndicators(col, indent))
	} else {
		g.b.WriteString(g.pick("", "-"))
	}
	if g.odd() {
		g.b.WriteString(g.pick("+", "2", "-2", "1-", "+ ", " #c", "#c", " x", "  # c  "))
	} else if g.r.IntN(4) == 0 {
		g.b.WriteString(" # c")
	}
	g.b.WriteString("\n")
	if g.odd() {
		g.b.WriteString(g.pick("\n", "   \n", " \n")) // an empty first line
	}
	pad := strings.Repeat(" ", indent)
	for range 1 + g.r.IntN(4) {
		switch {
		case g.odd():
			g.b.WriteString(g.pick("", " ", pad+"  ", pad+"   x", pad[1:]+"y", pad+"#c", "#c", pad+" - x", pad+"\x01", "---", "...") + "\n")
		case g.r.IntN(5) == 0:
			g.b.WriteString("\n")
		default:
			g.b.WriteString(pad + g.pick("text", "two words", "a: b", "- x", "# not a comment", "x  y", "'q'", "{a}", "é", "trailing ") + "\n")
		}
	}
	if g.r.IntN(4) == 0 {
		g.b.WriteString(g.pick("\n", pad+"\n", "\n\n"))
	}
	if g.r.IntN(4) == 0 {
		g.blockLines(pad)
	}
}

// blockIndicators returns the indicators of a block scalar's header, the
// value of a key or an entry in column col whose content is indented by
// indent: keep chomping, an indentation indicator, mostly the one that
// indent takes, or both, or strip and an indicator.
func (g *yamlGen) blockIndicators(col, indent int) string {
	n := strconv.Itoa(indent - col)
	if g.odd() {
		n = strconv.Itoa(indent - col + g.r.IntN(3) - 1)
	}
	return g.pick("+", "+", n, "+"+n, n+"+", "-"+n, n+"-")
}

// blockLines writes more lines in a block scalar whose content is indented
// by pad: lines indented more, some of them more than the next ones, empty
// lines, lines of blanks and comments, in the scalar or after it.
func (g *yamlGen) blockLines(pad string) {
	for range 1 + g.r.IntN(3) {
		g.b.WriteString(g.pick(pad+"  more", pad+" x", pad+"   ", "", pad+"y", pad+"# c", "# c", pad+"z  ") + "\n")
	}
}

// key returns the ith key of a mapping, mostly a plain one.
func (g *yamlGen) key(i int) string {
	if !g.odd() {
		return g.quoteSome(g.pick("a", "name", "id", "x_y", "k-", "a.b", "a/b", "a b")+strconv.Itoa(i), 8)
	}
	return g.pick("a b", "'q'", `"d"`, "''", "1", "true", "y", "a<<", "<<", "a:b", "-k", ".k", "~", "é", "k#", "a ", "[k]", "&a k", "? k", "0x1", "null", "no",
		"200", "404", "-1", "1.5", "-0", "0", "1.10", "010", "1_000", "True", "Null", "false", "1e3", "0.5", "-2.25", "1.", ".5", "+1", "9007199254740993", ".inf", "'1'",
		"0.000001", "1234567.5", "100000.5", "10.0", "123456789012345", "0.0001")
}

// scalar returns a scalar, mostly a common one, sometimes after a tag.
func (g *yamlGen) scalar() string {
	if tag := g.tag(); tag != "" {
		return tag + g.untagged()
	}
	return g.untagged()
}

// tag returns a tag and blanks to write before a value, mostly none, else
// mostly a standard one of scalars.
func (g *yamlGen) tag() string {
	switch {
	case g.r.IntN(8) != 0:
		return ""
	case g.odd():
		return g.pick("!!binary", "!!timestamp", "!!strx", "!!str:x", "!!", "!", "!custom", "!Ref", "!e!x", "!x-y_1", "!x.y", "!1", "!x,", "!x!", "!X]", "!x !y",
			"!<tag:yaml.org,2002:str>", "!!str !!int", "!!str &t1", "!!str\n", "!!str #c\n", "!!int,", "!!bool]",
			"!<>", "!<a b>", "!<x", "!<x>>", "!<x#y>", "!<x]>", "!<x>,", "!<x>]", "!e!", "!!x!y", "!e!x!y", "!e!1", "!<x> !y", "!<x> &t1", "!e!x &t1") + g.pick(" ", "  ")
	}
	return g.pick("!!str", "!!str", "!!int", "!!float", "!!bool", "!!null", "!Ref", "!vault",
		"!<tag:yaml.org,2002:str>", "!<tag:yaml.org,2002:int>", "!<!x>", "!e!x", "!e-f!x_1") + g.pick(" ", " ", "  ")
}

// untagged returns a scalar, mostly a common one.
func (g *yamlGen) untagged() string {
	if g.r.IntN(24) == 0 {
		return g.escaped()
	}
	if !g.odd() {
		return g.pick("1", "-1", "1.5", "-0.25", "0", "x", "x y", "item-00000012", "true", "false", "null", "~", "'s'", `"d"`, "http://h:1/p")
	}
	return g.pick("012", "0x1F", "0o7", "1e3", "1.5e3", "Null", "False", "yes", "'it''s'", `"a\n"`, "a#b", "a #c", "# c", "-", "- x", "x:y", "x: y",
		".5", "5.", "-0", "+1", "1_0", "-.5", "2001-12-14", "12:30", ".inf", "-.Inf", ".nan", "é", "[", "[1]", "x]", "{", "{a: 1}", "&a x", "*a", "!t x",
		"|", ">-", "@x", "`x", "%x", "9007199254740993", "18446744073709551615", "0.1e999", "00", "x ", "?x", "? x", "<<", "x<<", "''''", "'a' b",
		"'a'#c", "---", "...", "123456789012345", "1234567890123456", "-123456789012345", "1.", "01.5", "+1.5", "1__2", "0b101", "0B101", "0X1.8p1",
		"'a\tb'", `""`, "''", "yes", "NO", "'Yes'", "'12'", `"-0"`, "'1.5'", "1.10", "0.000001", "~x", "-x", "x\x01", "x:", "-1_0", "1:2",
		`"a\tb"`, `"\u00e9"`, `"\\d+"`, `"q\"q"`, `"\x41"`, `"\ud800"`, `"\/"`, `"\N"`, `"a\`, `"\u00"`, `"\U0001F600"`, `"\0"`, `"\e"`, `"\ "`, `"\u0000"`)
}

// escaped returns a double-quoted scalar holding escapes of every kind,
// some that go-yaml refuses or reads oddly among them.
func (g *yamlGen) escaped() string {
	var b strings.Builder
	b.WriteString(`"`)
	for range 1 + g.r.IntN(3) {
		b.WriteString(g.pick("", "x", "a b"))
		if g.odd() {
			b.WriteString(g.pick(`\q`, `\x4`, `\xZZ`, `\x`, `\u00e`, `\udc00`, `\ud800x`, `\ud800\u0041`, `\ud800\udbff`, `\U00110000`, `\U0000D800`,
				`\U0001F60`, `\`, `\'`, `\u+041`, `\x-1`, "\\\t"))
			continue
		}
		b.WriteString(g.pick(`\0`, `\a`, `\b`, `\v`, `\f`, `\e`, `\ `, `\N`, `\_`, `\L`, `\P`, `\t`, `\n`, `\r`, `\"`, `\\`, `\/`,
			`\x41`, `\xff`, `\xE9`, `\x00`, `\u00e9`, `\u2028`, `\uFFFF`, `\ud83d\ude00`, `\uDBFF\uDFFF`, `\U0001F600`, `\U0010FFFF`, `\U00000041`))
	}
	return b.String() + `"`
}

// localTagged reports whether src holds a local tag, '!' and a letter,
// about whether it holds one.
func localTagged(src string) bool {
	for i := 1; i+1 < len(src); i++ {
		if src[i] == '!' && src[i-1] != '!' && isLetter(src[i+1]) {
			return true
		}
	}
	return false
}

// rareEscapes reports whether src holds an escape other than \n, \t,
// \r, \", \\, \/ and a \u of one UTF-16 unit, about whether it holds
// one in a double-quoted scalar.
func rareEscapes(src string) bool {
	for _, e := range []string{`\0`, `\a`, `\b`, `\v`, `\f`, `\e`, `\ `, `\N`, `\_`, `\L`, `\P`, `\x`, `\U`, `\ud8`, `\udb`} {
		if strings.Contains(src, e) {
			return true
		}
	}
	return false
}

// flow returns a flow collection, mostly a common one, its entries from
// scalar and flowKey, some of them nested collections; one in three
// spans lines (see flowGap), and some end with a ','.
func (g *yamlGen) flow(depth int) string {
	if g.odd() {
		return g.pick("[", "[a,]", "[a, , b]", "{a}", "{a:1}", "[a:b]", `{"a":b}`, "{? a: b}", "{a: }", "[a\n  b]", "{a: 1, a: 2}",
			"[a #c]", "[a]b", "[a]#c", "[&x a]", "[*x]", "[!t a]", "[- a]", "[-]", "{a: b: c}", "[a: b]", "[http://x]", "[]]", "[}", "{a: 1,}",
			"{<<: {b: 1}}", "{1: a}", "[', a]", "[a, 'b'c]", "[ ]", "{ }", "[a  b]", "[ -1 ]", "[x<<y]", "{ a : b}",
			"[a,\n\n  b\n  c]", "[a\n  # c\n  b]", "{a:\n  1}", "{a: # c\n  1}", "{a\n  : 1}", "[a,\n,]", "[,]", "{,}", "[a,,\n]",
			"[a,#c\n  b]", "[a #c]\n]", "[\n'a\n b']", "[&x\n  a]", "[a,\n  b", "[a\n] x", "[a\n]#c", "[\n]\n  x: 1")
	}
	seq := g.r.IntN(2) == 0
	multi := g.r.IntN(3) == 0
	open, close := "{", "}"
	if seq {
		open, close = "[", "]"
	}
	var b strings.Builder
	b.WriteString(open + g.pick("", "", " ") + g.flowGap(multi))
	n := g.r.IntN(4)
	for i := range n {
		if i > 0 {
			b.WriteString(g.flowGap(multi) + g.pick(", ", ", ", ",", " , ", ",  ", ",\t", "\t,", "\t, ") + g.flowGap(multi))
		}
		if !seq {
			k, sep := g.flowKey(i), g.pick(": ", ": ", ":  ")
			if strings.IndexAny(k[:1], `'"`) == 0 && g.r.IntN(2) == 0 {
				sep = g.pick(":", ":", ":\n", ":#c\n", ":\t", ": ,") // as JSON writes it, and odd
			}
			b.WriteString(k + sep)
		}
		switch k := g.r.IntN(10); {
		case k < 2 && depth < 3:
			b.WriteString(g.flow(depth + 1))
		case k < 3 && g.refs && (g.names != nil || g.odd()):
			b.WriteString("*" + g.alias(g.names))
		case k < 4 && g.refs:
			name := g.anchor()
			b.WriteString("&" + name + " " + g.scalar())
			g.defined(name, false)
		default:
			b.WriteString(g.scalar())
		}
	}
	if n > 0 && g.r.IntN(4) == 0 {
		b.WriteString(g.flowGap(multi) + g.pick(",", " ,", ", "))
	}
	b.WriteString(g.flowGap(multi) + g.pick("", "", " ") + close)
	return b.String()
}

// flowGap returns what goes between the tokens of a flow collection
// spanning lines (if multi), half the time: a line break after a comment
// or not, blank or comment lines, and the next line's indentation, of
// any depth, of tabs too; or something odd.
func (g *yamlGen) flowGap(multi bool) string {
	switch {
	case !multi || g.r.IntN(2) == 0:
		return ""
	case g.odd():
		return g.pick("\n---\n", "\n...\n", "\n--- ", "#c\n", "\n- ", "\n-", "\n? ", "\n%x ", "\n---x ", ",\n", " # c", "\n\t", "\n# c")
	}
	gap := g.pick("", "", " # c", "  #c", " ", "\t", "\t# c") + "\n"
	if g.r.IntN(4) == 0 {
		gap += g.pick("\n", "  \n", "# c\n", "    # c\n", "\n\n", "\t\n", "\t# c\n")
	}
	if g.r.IntN(4) == 0 { // indented with tabs, as JSON often is
		return gap + g.pick("\t", "\t\t", "  \t", "\t ")
	}
	return gap + strings.Repeat(" ", g.r.IntN(7))
}

// flowKey returns the ith key of a flow mapping.
func (g *yamlGen) flowKey(i int) string {
	if g.odd() {
		return g.key(i) // odd or not
	}
	return g.quoteSome(g.pick("a", "b", "x y", "k")+strconv.Itoa(i), 6)
}

// quoteSome returns k, or k single-quoted one time in n, or double-quoted
// one time in n.
func (g *yamlGen) quoteSome(k string, n int) string {
	switch g.r.IntN(n) {
	case 0:
		return "'" + k + "'"
	case 1:
		return `"` + k + `"`
	}
	return k
}
