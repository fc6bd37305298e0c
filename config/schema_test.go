package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	s := MustSchema(t)
	in := map[string]any{
		"name":     "shop",
		"limits":   map[string]any{"rps": 5.0},
		"backends": []any{map[string]any{"url": "http://x"}, map[string]any{"url": "http://y", "weight": 3.0}},
	}
	got, err := s.Defaults(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name":     "shop",
		"mode":     "dev",
		"listen":   "127.0.0.1:8080",
		"limits":   map[string]any{"rps": 5.0, "burst": 10.0},
		"backends": []any{map[string]any{"url": "http://x", "weight": 1.0}, map[string]any{"url": "http://y", "weight": 3.0}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Defaults = %#v\nwant %#v", got, want)
	}
	if _, ok := in["mode"]; ok {
		t.Fatal("Defaults modified its input")
	}
	if _, ok := in["limits"].(map[string]any)["burst"]; ok {
		t.Fatal("Defaults modified a nested input")
	}
}

func TestDefaultsCreateMissingSections(t *testing.T) {
	got, err := MustSchema(t).Defaults(map[string]any{"name": "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := got.(map[string]any)["limits"].(map[string]any); !ok || l["burst"] != 10.0 {
		t.Fatalf("missing section not created with its defaults: %#v", got)
	}
	if _, ok := got.(map[string]any)["db"]; ok {
		t.Fatal("a section without defaults was created")
	}
}

func TestStrict(t *testing.T) {
	doc := MustDecode(t, "s.yaml", "name: shop\nlimits:\n  rps: 1\n  rsp: 2\nextra: true\ndb:\n  dsn: x\n")
	s := MustSchema(t)
	if errs := s.Validate(doc, false); len(errs) != 0 {
		t.Fatalf("lenient mode: %v", errs)
	}
	var got []string
	for _, e := range s.Validate(doc, true) {
		got = append(got, e.String())
	}
	want := []string{
		`s.yaml:4:3: /limits/rsp: unknown key "rsp": the schema does not declare it (strict mode)`,
		`s.yaml:5:1: /extra: unknown key "extra": the schema does not declare it (strict mode)`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("strict:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestStrictRespectsOpenObjects(t *testing.T) {
	s, err := CompileSchema("open.json", []byte(`{
		"type": "object",
		"properties": {
			"labels": {"type": "object", "additionalProperties": {"type": "string"}},
			"free": {"type": "object"},
			"env": {"patternProperties": {"^[A-Z_]+$": {"type": "string"}}},
			"both": {"allOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]}
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	doc := MustDecode(t, "o.json", `{"labels": {"x": "1"}, "free": {"y": 2}, "env": {"HOME": "/", "home": "/"}, "both": {"a": 1, "b": 2, "c": 3}}`)
	var got []string
	for _, e := range s.Validate(doc, true) {
		got = append(got, e.Path)
	}
	if want := []string{"/env/home", "/both/c"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("unknown keys %v, want %v", got, want)
	}
}

func TestSecrets(t *testing.T) {
	s, err := CompileSchema("sec.json", []byte(`{
		"type": "object",
		"properties": {
			"db": {"$ref": "#/$defs/db"},
			"tokens": {"type": "array", "items": {"type": "string", "writeOnly": true}},
			"name": {"type": "string"}
		},
		"$defs": {"db": {"properties": {"password": {"type": "string", "x-secret": true}}}}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{"db": map[string]any{"password": "p", "host": "h"}, "tokens": []any{"a", "b"}, "name": "n"}
	if got, want := s.SecretPaths(doc), []string{"/db/password", "/tokens/0", "/tokens/1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("SecretPaths = %v, want %v", got, want)
	}
	red := s.Redact(doc)
	want := map[string]any{"db": map[string]any{"password": Redacted, "host": "h"}, "tokens": []any{Redacted, Redacted}, "name": "n"}
	if !reflect.DeepEqual(red, want) {
		t.Fatalf("Redact = %#v", red)
	}
	if doc["db"].(map[string]any)["password"] != "p" || doc["tokens"].([]any)[0] != "a" {
		t.Fatal("Redact modified its input")
	}
	var nilSchema *Schema
	if !reflect.DeepEqual(nilSchema.Redact(doc), doc) {
		t.Fatal("a nil schema redacted something")
	}
}

func TestCompileSchemaErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"bad.json", "{\n  \"type\": \"object\",\n  \"properties\": {\"a\": {\"minimum\": \"one\"}}\n}", "bad.json:3:35: /properties/a/minimum: must be number but found string \"one\""},
		{"syntax.json", "{\"type\": }", "syntax.json:1:10: /type: invalid character '}' looking for beginning of value"},
		{"bad.yaml", "type: object\nrequired: yes\n", "bad.yaml:2:11: /required: must be array but found string \"yes\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileSchema(tc.name, []byte(tc.src))
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.TrimSpace(renderDetails(err)); got != tc.want {
				t.Fatalf("got  %s\nwant %s\n(%v)", got, tc.want, err)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	s, err := CompileSchema("m.json", []byte(`{"properties": {
		"c": {"const": "x"}, "s": {"maxLength": 2}, "o": {"minProperties": 1},
		"a": {"maxItems": 1}, "m": {"multipleOf": 0.5}, "f": false,
		"one": {"oneOf": [{"type": "string"}, {"type": "string", "minLength": 1}]}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	doc := MustDecode(t, "m.json", `{"c": "y", "s": "abc", "o": {}, "a": [1, 2], "m": 0.7, "f": 1, "one": "z"}`)
	var got []string
	for _, e := range s.Validate(doc, false) {
		got = append(got, e.Path+": "+e.Message)
	}
	want := []string{
		`/c: must be "x" but found "y"`,
		`/s: must be at most 2 characters long but found 3`,
		`/o: must have at least 1 properties but found 0`,
		`/a: must have at most 1 items but found 2`,
		`/m: must be a multiple of 0.5 but found 0.7`,
		`/f: is not allowed by the schema`,
		`/one: must match exactly one alternative of oneOf but matched 2`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
