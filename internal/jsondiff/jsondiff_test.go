package jsondiff

import (
	"encoding/json"
	"reflect"
	"testing"
)

func mustJSON(tb testing.TB, s string) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestDiff(t *testing.T) {
	a := mustJSON(t, `{"a":1,"b":{"c":2,"d":[1,2]},"e/f":3,"gone":true}`)
	b := mustJSON(t, `{"a":1,"b":{"c":5,"d":[1,3]},"e/f":4,"new":"x"}`)
	got := Diff(a, b)
	var paths []string
	for _, c := range got {
		paths = append(paths, c.Path)
	}
	want := []string{"/b/c", "/b/d", "/e~1f", "/gone", "/new"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("paths = %v, want %v", paths, want)
	}
	if got[0].Old != 2.0 || got[0].New != 5.0 {
		t.Fatalf("old/new = %v/%v", got[0].Old, got[0].New)
	}
	if len(Diff(a, a)) != 0 {
		t.Fatal("diff of equal values not empty")
	}
	if d := Diff(1.0, "x"); len(d) != 1 || d[0].Path != "/" {
		t.Fatalf("root diff = %v", d)
	}
}

// TestMergePatchRFC7396 runs the examples of RFC 7396 appendix A.
func TestMergePatchRFC7396(t *testing.T) {
	cases := []struct{ doc, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, c := range cases {
		doc := mustJSON(t, c.doc)
		got := MergePatch(doc, mustJSON(t, c.patch))
		if !reflect.DeepEqual(got, mustJSON(t, c.want)) {
			t.Errorf("MergePatch(%s, %s) = %v, want %s", c.doc, c.patch, got, c.want)
		}
		if !reflect.DeepEqual(doc, mustJSON(t, c.doc)) {
			t.Errorf("MergePatch mutated its input %s", c.doc)
		}
	}
}

func TestMerge(t *testing.T) {
	got := Merge(mustJSON(t, `{"a":{"b":1,"c":2},"d":[1]}`), mustJSON(t, `{"a":{"c":3},"d":[2],"e":null}`))
	if !reflect.DeepEqual(got, mustJSON(t, `{"a":{"b":1,"c":3},"d":[2],"e":null}`)) {
		t.Fatalf("Merge = %v", got)
	}
}

func TestPointer(t *testing.T) {
	p := Join(Join("", "a/b"), "c~d")
	if p != "/a~1b/c~0d" {
		t.Fatalf("Join = %q", p)
	}
	if got := Split(p); !reflect.DeepEqual(got, []string{"a/b", "c~d"}) {
		t.Fatalf("Split = %q", got)
	}
	if !Covers("/limits", "/limits/rps") || Covers("/limits", "/limitsX") || !Covers("", "/x") {
		t.Fatal("Covers wrong")
	}
}

func TestRewrite(t *testing.T) {
	arr := []any{1.0, "x", 2.0}
	double := func(_ int, e any) (any, bool) {
		if f, ok := e.(float64); ok {
			return f * 2, true
		}
		return e, false
	}
	got, changed := RewriteElements(arr, double)
	if !changed || !reflect.DeepEqual(got, []any{2.0, "x", 4.0}) || arr[0] != 1.0 {
		t.Fatalf("RewriteElements = %v, %v; input now %v", got, changed, arr)
	}
	same, changed := RewriteElements([]any{"a"}, double)
	if changed || !reflect.DeepEqual(same, []any{"a"}) {
		t.Fatalf("unchanged array: %v, %v", same, changed)
	}
	obj := map[string]any{"a": 1.0, "b": "y"}
	gotm, changed := RewriteMembers(obj, func(_ string, e any) (any, bool) { return double(0, e) })
	if !changed || !reflect.DeepEqual(gotm, map[string]any{"a": 2.0, "b": "y"}) || obj["a"] != 1.0 {
		t.Fatalf("RewriteMembers = %v, %v; input now %v", gotm, changed, obj)
	}
}

func TestEqual(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{`{"a": [1, "x", true, null, {"b": 2}]}`, `{"a": [1, "x", true, null, {"b": 2}]}`, true},
		{`{"a": 1}`, `{"a": 1, "b": 1}`, false},
		{`{"a": 1}`, `{"b": 1}`, false},
		{`[1, 2]`, `[2, 1]`, false},
		{`[1]`, `[1, 1]`, false},
		{`1`, `"1"`, false},
		{`null`, `false`, false},
		{`true`, `true`, true},
		{`{}`, `[]`, false},
	} {
		if got := Equal(mustJSON(t, c.a), mustJSON(t, c.b)); got != c.want {
			t.Errorf("Equal(%s, %s) = %v", c.a, c.b, got)
		}
		if got := Equal(mustJSON(t, c.b), mustJSON(t, c.a)); got != c.want {
			t.Errorf("Equal(%s, %s) = %v", c.b, c.a, got)
		}
	}
}
