package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"
)

// hostileSchemas are schemas whose walks were exponential: each must be
// handled in linear time.
var hostileSchemas = map[string]string{
	"MetaschemaRef": `{"$ref": "https://json-schema.org/draft/2020-12/schema", "properties": {"pw": {"x-secret": true}}}`,
	"RecursiveDefaults": `{"$ref": "#/$defs/node", "$defs": {"node": {"type": "object",
		"properties": {"left": {"$ref": "#/$defs/node"}, "right": {"$ref": "#/$defs/node"}, "n": {"default": 1}}}}}`,
	"DynamicRefLoop": `{"$dynamicAnchor": "meta", "type": "object", "properties": {"a": {"$dynamicRef": "#meta"}, "b": {"$dynamicRef": "#meta"},
		"x": {"default": 1}}, "allOf": [{"$dynamicRef": "#meta"}]}`,
}

func TestHostileSchemaWalksAreLinear(t *testing.T) {
	doc := MustDecode(t, "c.yaml", "type: object\nproperties:\n  a:\n    type: string\n  pw: s3cret\nleft: {right: {left: {}}}\na: {b: {a: {}}}\n")
	for name, src := range hostileSchemas {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			s, err := CompileSchema("hostile.json", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			filled, err := s.Defaults(doc.Value)
			if err != nil {
				t.Fatal(err)
			}
			s.Validate(doc.withValue(filled), true)
			s.Redact(filled)
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func TestRecursiveDefaultsCreateEachSectionOnce(t *testing.T) {
	s, err := CompileSchema("r.json", []byte(hostileSchemas["RecursiveDefaults"]))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Defaults(map[string]any{"left": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	// A missing node is created with its defaults, but not inside a node
	// being created: the file's own "left" is no such node.
	want := `map[left:map[left:map[n:1] n:1 right:map[n:1]] n:1 right:map[n:1]]`
	if fmt.Sprint(got) != want {
		t.Fatalf("Defaults = %v, want %s", got, want)
	}
}

func TestDefaultsRefuseExponentialSections(t *testing.T) {
	// Each level has two properties of the next level's type, so filling a
	// missing level-0 object would create 2^40 objects.
	var defs []string
	for i := range 40 {
		defs = append(defs, fmt.Sprintf(`"l%d": {"type": "object", "properties": {"a": {"$ref": "#/$defs/l%d"}, "b": {"$ref": "#/$defs/l%d"}}}`, i, i+1, i+1))
	}
	defs = append(defs, `"l40": {"type": "object", "properties": {"x": {"default": 1}}}`)
	s, err := CompileSchema("x.json", []byte(`{"properties": {"root": {"$ref": "#/$defs/l0"}}, "$defs": {`+strings.Join(defs, ",")+`}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Defaults(map[string]any{}); err == nil || !strings.Contains(err.Error(), "would add more than 100000 values") {
		t.Fatalf("Defaults error = %v", err)
	}
}

func TestSchemaRefRefusesOddFiles(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	mustWrite := func(path, src string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(filepath.Join(outside, "other.json"), `{"type": "string"}`)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "other.json"), filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	mustWrite(filepath.Join(dir, "near.json"), `{"type": "integer"}`)
	for name, tc := range map[string]struct{ ref, want string }{
		"FIFO":         {"fifo.json", "is not a regular file"},
		"Outside":      {"../" + filepath.Base(outside) + "/other.json", "outside the schema's directory"},
		"SymlinkOut":   {"link.json", "outside the schema's directory"},
		"Remote":       {"https://example.com/s.json", "never fetches a remote schema"},
		"BesideSchema": {"near.json", ""},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, "schema.json")
			mustWrite(file, `{"$ref": "`+tc.ref+`"}`)
			done := make(chan error, 1)
			go func() { _, err := LoadSchema(file); done <- err }()
			select {
			case err := <-done:
				if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
					t.Fatalf("LoadSchema error = %v, want %q", err, tc.want)
				}
			case <-time.After(testwait.D(10 * time.Second)):
				t.Fatal("LoadSchema blocked")
			}
		})
	}
	if _, err := LoadSchema(filepath.Join(dir, "fifo.json")); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Fatalf("LoadSchema of a FIFO: %v", err)
	}
}

// fanOutSchema is allOf of two $refs to the next level, 40 levels deep:
// the validator would evaluate the last level 2^40 times.
func fanOutSchema() string {
	var defs []string
	for i := range 40 {
		defs = append(defs, fmt.Sprintf(`"d%d": {"allOf": [{"$ref": "#/$defs/d%d"}, {"$ref": "#/$defs/d%d"}]}`, i, i+1, i+1))
	}
	defs = append(defs, `"d40": {"type": "object"}`)
	return `{"$ref": "#/$defs/d0", "$defs": {` + strings.Join(defs, ",") + `}}`
}

// fanOutAcrossValuesSchema reaches the next level's member twice at each
// level (once directly, once through allOf), so the value at depth k is
// evaluated 2^k times.
func fanOutAcrossValuesSchema() string {
	var defs []string
	for i := range 40 {
		defs = append(defs, fmt.Sprintf(`"d%d": {"properties": {"a": {"$ref": "#/$defs/d%d"}}, "allOf": [{"properties": {"a": {"$ref": "#/$defs/d%d"}}}]}`, i, i+1, i+1))
	}
	defs = append(defs, `"d40": true`)
	return `{"$ref": "#/$defs/d0", "$defs": {` + strings.Join(defs, ",") + `}}`
}

func mustRead(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLinearSchemas checks which schemas validate without the cost walk
// (Schema.linear): those that apply one schema to each value, whatever the
// document, and never a schema whose documents the walk refuses.
func TestLinearSchemas(t *testing.T) {
	for name, tc := range map[string]struct {
		src    string
		linear bool
	}{
		"Bench":                      {benchSchema, true},
		"Refs":                       {`{"$defs": {"port": {"type": "integer", "minimum": 1}}, "properties": {"a": {"$ref": "#/$defs/port"}, "b": {"items": {"$ref": "#/$defs/port"}}}, "additionalProperties": false}`, true},
		"Map":                        {`{"additionalProperties": {"allOf": [{"type": "string"}, {"minLength": 1}]}}`, true},
		"Recursive":                  {hostileSchemas["RecursiveDefaults"], true},
		"Testdata":                   {mustRead(t, "testdata/schema.json"), true},
		"PropertiesBesideAdditional": {`{"properties": {"a": {"type": "object"}}, "additionalProperties": {"type": "object"}}`, false},
		"FanOut":                     {fanOutSchema(), false},
		"FanOutAcrossValues":         {fanOutAcrossValuesSchema(), false},
		"MetaschemaRef":              {hostileSchemas["MetaschemaRef"], false},
		"DynamicRefLoop":             {hostileSchemas["DynamicRefLoop"], false},
		"PatternsAndItems":           {`{"items": {"patternProperties": {"^a": {"type": "string"}, "^b": {"type": "string"}}}}`, false},
		"InPlaceLoop":                {`{"$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"$ref": "#/$defs/a"}}, "properties": {"x": {"$ref": "#/$defs/a"}}}`, false},
		"PrefixAndItems":             {`{"prefixItems": [{"type": "string"}], "items": {"items": {"type": "string"}}}`, false},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := CompileSchema("s.json", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if s.linear != tc.linear {
				t.Fatalf("linear = %v, want %v", s.linear, tc.linear)
			}
		})
	}
	// A linear schema passes the walk on any document it could be given.
	s, err := CompileSchema("s.json", []byte(hostileSchemas["RecursiveDefaults"]))
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{}
	for range maxNesting - 1 {
		doc = map[string]any{"left": doc, "right": map[string]any{}, "n": 1.0}
	}
	if !s.linear || !evaluationsWithin(s.root, doc) {
		t.Fatal("a deep document under a linear schema is too costly")
	}
}

func TestValidateRefusesFanOut(t *testing.T) {
	s, err := CompileSchema("fan.json", []byte(fanOutSchema()))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	errs := s.Validate(MustDecode(t, "c.yaml", "a: 1\n"), false)
	if len(errs) != 1 || !strings.Contains(errs[0].String(), "c.yaml:1:1: the schema is too costly to validate") {
		t.Fatalf("Validate = %v", errs)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestValidateCountsFanOutAcrossValues(t *testing.T) {
	s, err := CompileSchema("fan.json", []byte(fanOutAcrossValuesSchema()))
	if err != nil {
		t.Fatal(err)
	}
	doc := "x: 1\n"
	for range 40 {
		doc = "{a: " + strings.TrimSuffix(doc, "\n") + "}\n"
	}
	errs := s.Validate(MustDecode(t, "c.yaml", doc), false)
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "too costly") {
		t.Fatalf("Validate = %v", errs)
	}
	if errs := s.Validate(MustDecode(t, "c.yaml", "{a: {a: {a: 1}}}\n"), false); len(errs) != 0 {
		t.Fatalf("a shallow document is refused: %v", errs)
	}
}

// BenchmarkHostileSchemas measures defaults, strict validation and
// redaction of a small config under each hostile schema.
func BenchmarkHostileSchemas(b *testing.B) {
	doc := MustDecode(b, "c.yaml", "type: object\nproperties:\n  a:\n    type: string\n  pw: s3cret\nleft: {right: {left: {}}}\na: {b: {a: {}}}\n")
	for name, src := range hostileSchemas {
		b.Run(name, func(b *testing.B) {
			s, err := CompileSchema("hostile.json", []byte(src))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				filled, err := s.Defaults(doc.Value)
				if err != nil {
					b.Fatal(err)
				}
				s.Validate(doc.withValue(filled), true)
				s.Redact(filled)
			}
		})
	}
}

// TestValidateCountsDraft07Dependencies: draft-07's dependencies apply a
// schema to the object that has a key, in place, as dependentSchemas do;
// the cost walk counts them, so a fan-out through them is refused before
// the validator runs (2^40 evaluations otherwise).
func TestValidateCountsDraft07Dependencies(t *testing.T) {
	var defs []string
	for i := range 40 {
		defs = append(defs, fmt.Sprintf(`"d%d": {"dependencies": {"a": {"$ref": "#/definitions/d%d"}, "b": {"$ref": "#/definitions/d%d"}}}`, i, i+1, i+1))
	}
	defs = append(defs, `"d40": {"type": "object"}`)
	src := `{"$schema": "http://json-schema.org/draft-07/schema#", "$ref": "#/definitions/d0", "definitions": {` + strings.Join(defs, ",") + `}}`
	s, err := CompileSchema("deps.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	errs := s.Validate(MustDecode(t, "c.yaml", "a: 1\nb: 1\n"), false)
	if len(errs) != 1 || !strings.Contains(errs[0].String(), "the schema is too costly to validate") {
		t.Fatalf("Validate = %v", errs)
	}
	if d := time.Since(start); d > testwait.D(5*time.Second) {
		t.Fatalf("took %v", d)
	}
}
