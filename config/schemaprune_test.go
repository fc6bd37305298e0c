package config

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// incrementalSchema uses every keyword an incremental schema may hold.
const incrementalSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$defs": {
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "name": {"type": "string", "minLength": 1, "maxLength": 12, "pattern": "^[a-z]"}
  },
  "type": "object",
  "required": ["name", "servers"],
  "additionalProperties": false,
  "maxProperties": 7,
  "dependentRequired": {"tls": ["cert"]},
  "properties": {
    "name": {"$ref": "#/$defs/name"},
    "mode": {"enum": ["dev", "prod", 1, null]},
    "version": {"const": 2},
    "tls": {"type": "boolean"},
    "cert": {"type": "string", "format": "uri"},
    "servers": {"type": "array", "minItems": 1, "maxItems": 8, "items": {
      "type": "object",
      "required": ["host"],
      "propertyNames": {"maxLength": 8},
      "properties": {
        "host": {"allOf": [{"$ref": "#/$defs/name"}, {"type": "string"}]},
        "port": {"$ref": "#/$defs/port"},
        "weights": {"type": "array", "prefixItems": [{"type": "number"}], "items": {"type": "integer", "exclusiveMinimum": 0}}
      },
      "patternProperties": {"^x-": {"type": ["string", "null"]}}
    }},
    "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 5}}
  }
}`

// TestIncrementalSchemas checks which schemas let the validator see only
// what changed since a valid document.
func TestIncrementalSchemas(t *testing.T) {
	for name, tc := range map[string]struct {
		src         string
		incremental bool
	}{
		"Bench":       {benchSchema, true},
		"Keywords":    {incrementalSchema, true},
		"Not":         {`{"properties": {"a": {"not": {"type": "string"}}}}`, false},
		"Testdata":    {mustRead(t, "testdata/schema.json"), false},
		"AnyOf":       {`{"properties": {"a": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}}`, false},
		"If":          {`{"if": {"required": ["a"]}, "then": {"required": ["b"]}}`, false},
		"ObjectEnum":  {`{"items": {"enum": [{"a": 1}]}}`, false},
		"ArrayConst":  {`{"properties": {"a": {"const": [1]}}}`, false},
		"Contains":    {`{"contains": {"type": "string"}}`, false},
		"Dependent":   {`{"dependentSchemas": {"a": {"required": ["b"]}}}`, false},
		"Unevaluated": {`{"allOf": [{"properties": {"a": true}}], "unevaluatedProperties": false}`, false},
		"DynamicRef":  {hostileSchemas["DynamicRefLoop"], false},
		"Recursive":   {hostileSchemas["RecursiveDefaults"], true},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := CompileSchema("s.json", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if s.incremental != tc.incremental {
				t.Fatalf("incremental = %v, want %v", s.incremental, tc.incremental)
			}
		})
	}
}

// TestValidateSinceValidDocument checks, on random edits of valid
// documents, that validating against what a valid document held reports
// exactly what validating the whole document reports, and that the changes
// listed from what it found unchanged are jsondiff.Diff's.
func TestValidateSinceValidDocument(t *testing.T) {
	for name, tc := range map[string]struct{ schema, valid string }{
		"Keywords": {incrementalSchema, `{"name": "app", "mode": "dev", "version": 2, "tls": true, "cert": "https://x/c",
			"servers": [{"host": "a", "port": 80, "weights": [0.5, 1, 2], "x-note": "n"}, {"host": "b"}], "labels": {"k": "v"}}`},
		"Bench": {benchSchema, string(benchDocument(300, 1))},
		"Recursive": {`{"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "required": ["n"],
			"properties": {"left": {"$ref": "#/$defs/node"}, "right": {"$ref": "#/$defs/node"}, "n": {"type": "integer", "maximum": 5}}}}}`,
			`{"n": 1, "left": {"n": 2, "right": {"n": 3}}}`},
		"Draft7": {`{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false,
			"properties": {"list": {"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "integer"}}, "a": {"type": "string"}, "b": {"type": "number"}},
			"dependencies": {"a": ["b"]}}`, `{"list": ["x", 1, 2], "a": "s", "b": 1}`},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := CompileSchema("s.json", []byte(tc.schema))
			if err != nil {
				t.Fatal(err)
			}
			if !s.incremental {
				t.Fatal("the schema is not incremental")
			}
			valid := MustDecode(t, "c.json", tc.valid)
			if errs := s.Validate(valid, true); len(errs) > 0 {
				t.Fatalf("the valid document is not: %v", errs)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			invalid := 0
			for i := range 1500 {
				v := randomEdit(rng, valid.Value, 1+rng.IntN(3))
				b, err := jsondiff.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				doc := MustDecode(t, "c.json", string(b))
				for _, strict := range []bool{false, true} {
					whole, _ := s.validate(doc, strict, nil, nil)
					since, known := s.validate(doc, strict, nil, valid.Value)
					if !reflect.DeepEqual(whole, since) {
						t.Fatalf("edit %d of the valid document: %s\nwhole document: %v\nsince the valid one: %v", i, b, whole, since)
					}
					if got, want := jsondiff.DiffKnown(valid.Value, doc.Value, known, isUnchanged), jsondiff.Diff(valid.Value, doc.Value); !reflect.DeepEqual(got, want) {
						t.Fatalf("edit %d of the valid document: %s\nchanges told what validation found unchanged: %v\nchanges: %v", i, b, got, want)
					}
					if len(whole) > 0 {
						invalid++
					}
				}
				if len(s.Validate(doc, true)) == 0 {
					valid = doc // edit on from there
				}
			}
			if invalid < 300 {
				t.Fatalf("only %d invalid results", invalid)
			}
		})
	}
}

// randomEdit returns a copy of v with n random changes: a value replaced, a key
// added or removed, an item appended or removed.
func randomEdit(rng *rand.Rand, v any, n int) any {
	v = clone(v)
	for range n {
		var all []string
		pointers(v, "", &all)
		ptr := all[rng.IntN(len(all))]
		switch x := jsondiff.At(v, ptr).(type) {
		case map[string]any:
			keys := []string{"name", "host", "port", "x-a", "weights", "mode", "tls", "cert", "k", "longer-key", "zz",
				"id", "weight", "version", "tail", "items", "n", "left", "right", "list", "a", "b"}
			if k := keys[rng.IntN(len(keys))]; rng.IntN(2) == 0 {
				x[k] = randomValue(rng)
			} else {
				delete(x, k)
			}
			continue
		case []any:
			if rng.IntN(2) == 0 && len(x) > 0 {
				v = set(v, ptr, x[:len(x)-1])
			} else {
				v = set(v, ptr, append(x, randomValue(rng)))
			}
			continue
		}
		v = set(v, ptr, randomValue(rng))
	}
	return v
}

func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = clone(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = clone(e)
		}
		return out
	}
	return v
}

// set returns v with the value at ptr replaced by e.
func set(v any, ptr string, e any) any {
	return setAt(v, jsondiff.Split(ptr), e)
}

func randomValue(rng *rand.Rand) any {
	switch rng.IntN(12) {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return float64(rng.IntN(70000) - 10)
	case 3:
		return 0.5
	case 4:
		return []string{"a", "b", "dev", "prod", "https://h/p", "Upper", "much-too-long-name", ""}[rng.IntN(8)]
	case 5:
		return []any{float64(rng.IntN(3)), "x"}
	case 6:
		return map[string]any{"host": "c", "port": float64(rng.IntN(3))}
	case 7:
		return map[string]any{}
	case 8:
		return []any{}
	case 9:
		return float64(2)
	case 10:
		return fmt.Sprint("h", rng.IntN(3))
	}
	return []any{map[string]any{"host": "d"}}
}

// TestTargetValidatesSinceLive checks that a target reports a candidate's
// problems alike whether or not a live document lets it validate only
// what changed.
func TestTargetValidatesSinceLive(t *testing.T) {
	schema, err := CompileSchema("bench.json", []byte(benchSchema))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bad := []byte(strings.Replace(strings.Replace(string(benchDocument(2000, 1)), `"id":7,`, `"id":-7,`, 1), `"name":"item-00000003"`, `"name":""`, 1))
	var got []string
	for _, live := range []bool{false, true} {
		target, err := NewTarget(Options[benchConfig]{Name: "bench", Files: []string{"bench.json"}, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		if live {
			ch, err := target.Prepare(ctx, hotreload.Candidate{Content: benchDocument(2000, 1)})
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.Apply(ctx); err != nil {
				t.Fatal(err)
			}
		}
		_, err = target.Prepare(ctx, hotreload.Candidate{Content: bad, Meta: map[string]string{"file": "bench.json"}})
		if err == nil {
			t.Fatal("a bad candidate was accepted")
		}
		got = append(got, err.Error()+fmt.Sprint(hotreload.ErrorDetails(err)))
	}
	if got[0] != got[1] || !strings.Contains(got[0], "/items/7/id") || !strings.Contains(got[0], "/items/3/name") {
		t.Fatalf("without a live document:\n%s\nwith one:\n%s", got[0], got[1])
	}
}
