package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/cybercorp/hotreload"
)

// fuzzDecode decodes and validates src; it must never panic, and every
// problem it reports must be located in the file.
// check, when set, runs on every document that decodes.
func fuzzDecode(f *testing.F, format Format, check func(t *testing.T, src []byte, doc Document), seeds ...string) {
	files, _ := filepath.Glob("testdata/*." + string(format))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	schema := MustSchema(f)
	name := "fuzz." + string(format)
	f.Fuzz(func(t *testing.T, src []byte) {
		// A bomb is a failure of the decoder, not a crash of the fuzzer:
		// what one decode allocates is bounded by its input.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		doc, err := Decode(name, src, format)
		if err == nil {
			doc.Positions() // computed lazily: counted with the decode
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > fuzzMemoryBound(len(src)) {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(src), grew)
		}
		if err != nil {
			if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
				t.Fatalf("code %q: %v", hotreload.ErrorCode(err), err)
			}
			details := hotreload.ErrorDetails(err)
			if len(details) == 0 {
				t.Fatalf("no detail: %v", err)
			}
			for _, d := range details {
				if d.File != name {
					t.Fatalf("detail without the file: %+v", d)
				}
			}
			return
		}
		if check != nil {
			check(t, src, doc)
		}
		if _, err := json.Marshal(doc.Value); err != nil {
			t.Fatalf("decoded value is not JSON: %v", err)
		}
		var all []string
		pointers(doc.Value, "", &all)
		for _, ptr := range all {
			p := doc.Positions().Locate(ptr)
			if p.File != name || p.Line < 1 || p.Column < 1 {
				t.Fatalf("%s located at %+v", ptr, p)
			}
			if _, exact := doc.Positions()[ptr]; !exact && format != YAML {
				t.Fatalf("%s has no position of its own", ptr)
			}
		}
		filled, err := schema.Defaults(doc.Value)
		if err != nil {
			t.Fatalf("defaults of the test schema: %v", err)
		}
		withDefaults := doc.withValue(filled)
		for _, e := range schema.Validate(withDefaults, true) {
			if e.File != name || e.Line < 1 || e.Message == "" {
				t.Fatalf("schema problem not located: %+v", e)
			}
		}
	})
}

// fuzzMemoryBound is the most a decode of n bytes may allocate: generous
// (positions cost a pointer string per value), but far below what an alias
// or nesting bomb takes.
func fuzzMemoryBound(n int) uint64 { return 64<<20 + 2000*uint64(n) }

// FuzzDecodeJSON also checks that only valid JSON decodes, to exactly what
// encoding/json's Unmarshal produces.
func FuzzDecodeJSON(f *testing.F) {
	fuzzDecode(f, JSON, func(t *testing.T, src []byte, doc Document) {
		if !json.Valid(src) {
			t.Fatalf("decoded JSON that is not valid to %#v", doc.Value)
		}
		var want any
		if json.Unmarshal(src, &want) == nil && !reflect.DeepEqual(doc.Value, want) {
			t.Fatalf("decoded %#v, encoding/json %#v", doc.Value, want)
		}
	}, `{"a": [1, {"b": null}], "c": "\u00e9"}`, `[]`, `"x"`, `{"limits": {"rps": 0}}`, `{"a":1,}`, "{\"a\":\n\t\"x\ny\"}", `{"e": "\u00e9\n\"", "n": -0.5e-3, "x": "\xff"}`, `{"a": 1, "a": 2}`, `1e400`,
		`[1,]`, `[1 2]`, `{"a" 1}`, `{"a":1 "b":2}`, `{,}`, `{"a":1}x`, `"\u12g4"`, `"\x"`, "\"\x01\"", `01`, `1.`, `-`, `1e+`, `.5`, `tru`, `nul`, ` `, `"`)
}

func FuzzDecodeYAML(f *testing.F) {
	fuzzDecode(f, YAML, nil, "a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n", "- 1\n- two\n", "? [a]\n: b\n", "a: !!binary aGk=\n", "a: 1\n---\nb: 2\n", "x: 2001-12-14t21:59:43.10-05:00\n",
		"a0: &a0 [x, x, x]\na1: &a1 [*a0, *a0, *a0]\na2: [*a1, *a1, *a1]\n", "a: [[[[[[[[{b: [[[\n", "- - - - - x\n", "n: 9007199254740993\n")
}

func FuzzDecodeTOML(f *testing.F) {
	fuzzDecode(f, TOML, nil, "a.b.'c.d' = 1\n[[x.y]]\nz = [{q = 1}, 2]\n", "s = \"\"\"\n[t]\n\"\"\"\n[t]\n", "d = 1979-05-27T07:32:00\nt = 07:32:00\n", "x = { a = { b = 1 } }\n")
}
