package config

import (
	"os"
	"strings"
	"testing"

	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// patched returns src with a JSON merge patch applied in place.
func patched(t *testing.T, file, src, patch string) (string, bool) {
	t.Helper()
	f := mustFormat(file)
	doc, err := Decode(file, []byte(src), f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decode("patch", []byte(patch), JSON)
	if err != nil {
		t.Fatal(err)
	}
	out, ok := editSource(file, []byte(src), f, jsondiff.MergePatch(doc.Value, p.Value))
	return string(out), ok
}

func TestEditKeepsWhatTheOperatorWrote(t *testing.T) {
	for _, tc := range []struct {
		name, file, src, patch, want string
	}{{
		name:  "yaml scalars",
		file:  "a.yaml",
		src:   "# top\ngreeting: Hello # trailing\nname: world\nlimits:\n  # rps\n  rps: 50\n  burst: 20\n",
		patch: `{"name": "Gophers", "limits": {"rps": 77}}`,
		want:  "# top\ngreeting: Hello # trailing\nname: Gophers\nlimits:\n  # rps\n  rps: 77\n  burst: 20\n",
	}, {
		name:  "yaml quoting",
		file:  "a.yaml",
		src:   "name: world # who\ncolor: \"#2f6fdf\"\n",
		patch: `{"name": "a: b #c", "color": "#000"}`,
		want:  "name: \"a: b #c\" # who\ncolor: \"#000\"\n",
	}, {
		name:  "yaml add and remove",
		file:  "a.yaml",
		src:   "a: 1\n# about b\nb:\n  x: 1 # x\n  y:\n    - 1\n    - 2\n# about c\nc: 3\n",
		patch: `{"b": {"y": null, "z": {"k": "v"}}, "c": null, "d": [1, 2]}`,
		want:  "a: 1\n# about b\nb:\n  x: 1 # x\n  z:\n    k: v\n# about c\nd:\n  - 1\n  - 2\n",
	}, {
		name:  "yaml sequence grows",
		file:  "a.yaml",
		src:   "tags:\n- a\n- b\n# end\nx: 1\n",
		patch: `{"tags": ["a", "b", "c"]}`,
		want:  "tags:\n  - a\n  - b\n  - c\n# end\nx: 1\n",
	}, {
		name:  "yaml flow",
		file:  "a.yaml",
		src:   "tags: [a, b] # t\nm: {x: 1, y: 2}\n",
		patch: `{"tags": ["a", "c"], "m": {"y": 3}}`,
		want:  "tags: [a, c] # t\nm: {x: 1, y: 3}\n",
	}, {
		name:  "yaml no final newline",
		file:  "a.yaml",
		src:   "a: 1",
		patch: `{"b": 2}`,
		want:  "a: 1\nb: 2",
	}, {
		name:  "json",
		file:  "a.json",
		src:   "{\n    \"name\": \"world\",\n    \"limits\": {\"rps\": 50},\n    \"tags\": [\"a\"],\n    \"old\": true\n}\n",
		patch: `{"name": "<Gophers>", "limits": {"rps": 7, "burst": 1}, "old": null}`,
		want:  "{\n    \"name\": \"<Gophers>\",\n    \"limits\": {\"rps\": 7,\n    \"burst\": 1},\n    \"tags\": [\"a\"]\n}\n",
	}, {
		name:  "json first member removed",
		file:  "a.json",
		src:   "{\n  \"a\": 1,\n  \"b\": 2\n}\n",
		patch: `{"a": null}`,
		want:  "{\n  \"b\": 2\n}\n",
	}, {
		name:  "toml",
		file:  "a.toml",
		src:   "# top\nname = \"world\" # who\nold = 1\n\n[limits]\n# rps\nrps = 50\ntags = [ \"a\", \"b\" ]\n",
		patch: `{"name": "G", "old": null, "new": {"k": 1.5}, "limits": {"rps": 77, "burst": 3, "tags": ["c"]}}`,
		want:  "# top\nname = \"G\" # who\nnew = {k = 1.5}\n\n[limits]\n# rps\nrps = 77\ntags = [\"c\"]\nburst = 3\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := patched(t, tc.file, tc.src, tc.patch)
			if !ok {
				t.Fatal("not edited in place")
			}
			if got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestEditFallsBackWhenItCannotReproduceTheDocument(t *testing.T) {
	for _, tc := range []struct{ file, src, patch string }{
		{"a.yaml", "base: &b {x: 1}\nother: *b\n", `{"other": {"x": 2}}`},
		{"a.yaml", "text: |\n  one\n  two\n", `{"text": "three"}`},
		{"a.toml", "[a]\nx = 1\n", `{"a": 5}`},
		{"a.toml", "[a]\n[a.b]\nx = 1\n", `{"a": {"c": 1}}`},
	} {
		if out, ok := patched(t, tc.file, tc.src, tc.patch); ok {
			t.Errorf("%s %q + %s: edited in place as %q, want a fallback", tc.file, tc.src, tc.patch, out)
		}
	}
}

// The demo's config is mostly comments: a patch from the dashboard changes
// only the lines of the values it sets.
func TestEditOnTheDemoConfig(t *testing.T) {
	src, err := os.ReadFile("../examples/demo/workspace/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := patched(t, "config.yaml", string(src), `{"name": "Gophers", "limits": {"rps": 77}, "plugins": {"shout": {"upper": true}}}`)
	if !ok {
		t.Fatal("not edited in place")
	}
	want := strings.NewReplacer("name: world\n", "name: Gophers\n", "rps: 50\n", "rps: 77\n", "upper: false\n", "upper: true\n").Replace(string(src))
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// FuzzEdit checks that an edit in place never panics and, when it is made,
// reads back as exactly the patched document.
func FuzzEdit(f *testing.F) {
	f.Add("a.yaml", "a: 1 # c\nb:\n  - x\n", `{"a": 2, "b": ["y", "z"], "c": {"d": null}}`)
	f.Add("a.json", "{\"a\": {\"b\": [1, 2]}}", `{"a": {"b": [3], "c": "\n"}}`)
	f.Add("a.toml", "a = 1\n[t]\nb = 'x'\n", `{"a": "s", "t": {"c": [1.5]}}`)
	f.Fuzz(func(t *testing.T, file, src, patch string) {
		fm, err := FormatOf(file)
		if err != nil {
			return
		}
		doc, err := Decode(file, []byte(src), fm)
		if err != nil {
			return
		}
		p, err := Decode("patch", []byte(patch), JSON)
		if err != nil {
			return
		}
		next := jsondiff.MergePatch(doc.Value, p.Value)
		out, ok := editSource(file, []byte(src), fm, next)
		if !ok {
			return
		}
		got, err := Decode(file, out, fm)
		if err != nil || !sameJSON(got.Value, next) {
			t.Fatalf("%q edited as %q: %v", src, out, err)
		}
	})
}
