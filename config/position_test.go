package config

import (
	"reflect"
	"testing"
)

func TestLineIndexInAnyOrder(t *testing.T) {
	src := []byte("ab\né→x\n\nlast")
	want := map[int][2]int{0: {1, 1}, 2: {1, 3}, 3: {2, 1}, 5: {2, 2}, 8: {2, 3}, 9: {2, 4}, 10: {3, 1}, 11: {4, 1}, 14: {4, 4}, 99: {4, 5}}
	li := newLineIndex(src)
	for _, order := range [][]int{{0, 2, 3, 5, 8, 9, 10, 11, 14, 99}, {99, 14, 9, 3, 8, 0, 5, 2, 11, 10}} {
		for _, off := range order {
			line, col := li.at(off)
			if w := want[off]; line != w[0] || col != w[1] {
				t.Fatalf("at(%d) = %d:%d, want %d:%d", off, line, col, w[0], w[1])
			}
		}
	}
}

func TestLocateFallsBackToAncestors(t *testing.T) {
	p := Positions{"": {Line: 1, Column: 1}, "/a": {Line: 2, Column: 4, KeyLine: 2, KeyColumn: 1}}
	if got := p.Locate("/a/b/c"); got.Line != 2 || got.Column != 4 {
		t.Fatalf("Locate(/a/b/c) = %+v", got)
	}
	if got := p.locateKey("/a"); got.Line != 2 || got.Column != 1 {
		t.Fatalf("locateKey(/a) = %+v", got)
	}
	if got := p.Locate("/z"); got.Line != 1 {
		t.Fatalf("Locate(/z) = %+v", got)
	}
}

func TestEncodeRoundTrips(t *testing.T) {
	doc := map[string]any{
		"strings": []any{"yes", "no", "on", "null", "~", "1.0", "0x1F", "2001-12-14", "12:30:00", "#x", "a: b", "- x", "", " lead", "multi\nline", "é"},
		"numbers": []any{0.0, -1.0, 1.5, 1e21, 123456789.0, 1e-7, -1.5e300, 123456789012.0, float64(1 << 60), 0.1},
		"bools":   []any{true, false},
		"nested":  map[string]any{"a.b": map[string]any{"c/d": "x"}, "": "empty key"},
	}
	for _, f := range []Format{JSON, YAML, TOML} {
		b, err := Encode(doc, f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		d, err := Decode("rt."+string(f), b, f)
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, b)
		}
		if !reflect.DeepEqual(d.Value, doc) {
			t.Fatalf("%s round trip:\n%s\ngot  %#v\nwant %#v", f, b, d.Value, doc)
		}
	}
}
