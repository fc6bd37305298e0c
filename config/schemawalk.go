package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/cybercorp/hotreload/secret"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Redacted replaces secret values in redacted documents.
const Redacted = "[REDACTED]"

// member returns the schemas that apply to the member key of an object
// described by ss, and whether any of them declares it.
func member(ss []*jsonschema.Schema, key string) (sub []*jsonschema.Schema, declared bool) {
	for _, s := range ss {
		if p, ok := s.Properties[key]; ok {
			sub, declared = append(sub, p), true
			continue
		}
		matched := false
		for re, p := range s.PatternProperties {
			if re.MatchString(key) {
				sub, declared, matched = append(sub, p), true, true
			}
		}
		if !matched {
			if p, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
				sub = append(sub, p)
			}
		}
	}
	return sub, declared
}

// element returns the schemas that apply to item i of an array described by ss.
func element(ss []*jsonschema.Schema, i int) []*jsonschema.Schema {
	var sub []*jsonschema.Schema
	for _, s := range ss {
		switch {
		case i < len(s.PrefixItems):
			sub = append(sub, s.PrefixItems[i])
		case s.Items2020 != nil:
			sub = append(sub, s.Items2020)
		default:
			switch items := s.Items.(type) {
			case *jsonschema.Schema:
				sub = append(sub, items)
			case []*jsonschema.Schema:
				if i < len(items) {
					sub = append(sub, items[i])
				}
			}
		}
	}
	return sub
}

// expand returns every schema applicable to the same instance through any
// of ss (see applicable), each once.
func expand(ss []*jsonschema.Schema, branches bool) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	seen := make(map[*jsonschema.Schema]bool)
	var add func(*jsonschema.Schema)
	add = func(s *jsonschema.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		out = append(out, s)
		add(s.Ref)
		if s.DynamicRef != nil {
			add(s.DynamicRef.Ref)
		}
		for _, e := range s.AllOf {
			add(e)
		}
		if !branches {
			return
		}
		for _, l := range [][]*jsonschema.Schema{s.AnyOf, s.OneOf} {
			for _, e := range l {
				add(e)
			}
		}
		add(s.If)
		add(s.Then)
		add(s.Else)
	}
	for _, s := range ss {
		add(s)
	}
	return out
}

// openObject reports whether an object described by ss accepts keys it does
// not declare: when no schema declares any property, or one allows
// additional or unevaluated properties explicitly. An explicit
// additionalProperties: false is left to the validator, which reports it.
func openObject(ss []*jsonschema.Schema) bool {
	declares := false
	for _, s := range ss {
		switch a := s.AdditionalProperties.(type) {
		case bool:
			if a {
				return true
			}
			declares = true
		case *jsonschema.Schema:
			return true
		}
		if s.UnevaluatedProperties != nil && (s.UnevaluatedProperties.Bool == nil || *s.UnevaluatedProperties.Bool) {
			return true
		}
		if len(s.Properties) > 0 || len(s.PatternProperties) > 0 {
			declares = true
		}
	}
	return !declares
}

// walk calls visit for every member and element below v, with the schemas
// that apply to it; visit returns false to skip what lies below.
// Each value is visited once, with the schemas expanded once, so the walk
// costs the size of the document times the schemas that apply to a value;
// its depth is the document's, which the decoders bound.
func walk(ss []*jsonschema.Schema, v any, ptr string, visit func(ptr, key string, declared bool, parent []*jsonschema.Schema, sub []*jsonschema.Schema, v any) bool) {
	ss = expand(ss, true)
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			sub, declared := member(ss, k)
			child := jsondiff.Join(ptr, k)
			if visit(child, k, declared, ss, sub, x[k]) {
				walk(sub, x[k], child, visit)
			}
		}
	case []any:
		for i, e := range x {
			sub := element(ss, i)
			child := jsondiff.JoinIndex(ptr, i)
			if visit(child, strconv.Itoa(i), true, ss, sub, e) {
				walk(sub, e, child, visit)
			}
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// unknownKeys reports every key of doc the schema does not declare.
func (s *Schema) unknownKeys(doc Document) []hotreload.FieldError {
	var out []hotreload.FieldError
	walk([]*jsonschema.Schema{s.root}, doc.Value, "", func(ptr, key string, declared bool, parent, _ []*jsonschema.Schema, _ any) bool {
		if !declared && !openObject(parent) {
			out = append(out, fieldError(doc, ptr, fmt.Sprintf("unknown key %q: the schema does not declare it (strict mode)", key), true))
			return false
		}
		return true
	})
	return out
}

// SecretPaths returns the JSON Pointers of the values of doc that the schema
// marks secret ("writeOnly": true or "x-secret": true), sorted.
func (s *Schema) SecretPaths(doc any) []string {
	if s == nil || !s.secrets {
		return nil
	}
	var out []string
	walk([]*jsonschema.Schema{s.root}, doc, "", func(ptr, _ string, _ bool, _, sub []*jsonschema.Schema, _ any) bool {
		for _, c := range expand(sub, true) {
			if c.WriteOnly {
				out = append(out, ptr)
				return false
			}
		}
		return true
	})
	slices.Sort(out)
	return out
}

// encryptedPaths returns the JSON Pointers of the ENC[age:...] values in
// v, a source document: once decrypted, they are secrets.
func encryptedPaths(v any, ptr string) []string {
	var out []string
	found := func(tokens []string) {
		p := ptr
		for _, t := range tokens {
			p = jsondiff.Join(p, t)
		}
		out = append(out, p)
	}
	// The pointer is built only for a secret found: a walk of a large
	// document allocates next to nothing.
	var walk func(v any, tokens []string)
	walk = func(v any, tokens []string) {
		switch x := v.(type) {
		case string:
			if secret.IsEncrypted(x) {
				found(tokens)
			}
		case map[string]any:
			for k, e := range x {
				walk(e, append(tokens, k))
			}
		case []any:
			for i, e := range x {
				if s, ok := e.(string); ok && !secret.IsEncrypted(s) {
					continue
				}
				walk(e, append(tokens, strconv.Itoa(i)))
			}
		}
	}
	walk(v, make([]string, 0, 32))
	return out
}

// Redact returns doc with every secret value replaced by [Redacted]; doc
// itself is left untouched. A nil Schema redacts nothing.
func (s *Schema) Redact(doc any) any {
	if s == nil {
		return doc
	}
	for _, p := range s.SecretPaths(doc) {
		doc = setAt(doc, jsondiff.Split(p), Redacted)
	}
	return doc
}

// setAt returns v with the value at the path tokens replaced by nv, copying
// the objects and arrays on the way instead of modifying them.
func setAt(v any, toks []string, nv any) any {
	if len(toks) == 0 {
		return nv
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x)+1)
		for k, e := range x {
			out[k] = e
		}
		out[toks[0]] = setAt(x[toks[0]], toks[1:], nv)
		return out
	case []any:
		i, err := strconv.Atoi(toks[0])
		if err != nil || i < 0 || i >= len(x) {
			return v
		}
		out := slices.Clone(x)
		out[i] = setAt(x[i], toks[1:], nv)
		return out
	}
	return v
}

// maxDefaultValues bounds the values Defaults adds to one document.
const maxDefaultValues = 100_000

// Defaults returns doc with the defaults of the schema filled in where a
// property is missing; doc itself is left untouched. A missing object whose
// schema gives defaults to its own properties is created with them, so a
// section left out of the file still gets its defaults. A section is not
// created again inside itself (a recursive schema), and a schema whose
// defaults would add more than 100,000 values is an error.
func (s *Schema) Defaults(doc any) (any, error) {
	if !s.hasDefaults() {
		return doc, nil
	}
	f := filler{sections: map[string]section{}, building: map[string]bool{}}
	v, _ := f.fill([]*jsonschema.Schema{s.root}, doc)
	if f.added > maxDefaultValues {
		return nil, hotreload.Errorf(hotreload.CodeInvalid,
			"the schema's defaults would add more than %d values to the config (sections created inside sections by a recursive schema?)", maxDefaultValues)
	}
	return v, nil
}

// hasDefaults reports whether Defaults may add anything: without, it
// returns its argument as it is.
func (s *Schema) hasDefaults() bool { return s != nil && s.defaults }

// filler fills the defaults of one document. The section created for a
// missing property depends only on the schemas that apply to it, so it is
// built once per set of schemas and shared; a set already being built is
// not created again inside itself.
type filler struct {
	sections map[string]section
	building map[string]bool
	added    int // values added so far, a shared section counted at each place
}

// section is what a missing property gets: its default, or an object of
// the defaults of its properties, with size values in all.
type section struct {
	v    any
	ok   bool
	size int
}

// fill fills v's defaults and reports whether it changed anything.
func (f *filler) fill(ss []*jsonschema.Schema, v any) (any, bool) {
	if f.added > maxDefaultValues {
		return v, false
	}
	ss = expand(ss, false)
	switch x := v.(type) {
	case map[string]any:
		var out map[string]any // copied on the first change
		set := func(k string, e any) {
			if out == nil {
				out = make(map[string]any, len(x)+1)
				for k, e := range x {
					out[k] = e
				}
			}
			out[k] = e
		}
		for _, k := range declaredKeys(ss) {
			sub, _ := member(ss, k)
			e, ok := x[k]
			if !ok {
				if sec := f.section(sub); sec.ok {
					f.added += sec.size
					set(k, sec.v)
				}
				continue
			}
			if filled, changed := f.fill(sub, e); changed {
				set(k, filled)
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case []any:
		return jsondiff.RewriteElements(x, func(i int, e any) (any, bool) {
			return f.fill(element(ss, i), e)
		})
	}
	return v, false
}

// section returns what a missing property described by ss gets.
func (f *filler) section(ss []*jsonschema.Schema) section {
	ss = expand(ss, false)
	var locs []string // of the schemas that give the section its content
	for _, s := range ss {
		if s.Default != nil || len(s.Properties) > 0 {
			locs = append(locs, s.Location)
		}
	}
	slices.Sort(locs)
	key := strings.Join(locs, "\n")
	if sec, ok := f.sections[key]; ok || f.building[key] {
		return sec
	}
	f.building[key] = true
	defer delete(f.building, key)
	d, found := defaultOf(ss)
	if !found {
		if !objectSchema(ss) {
			return section{}
		}
		d = map[string]any{}
	}
	before := f.added
	filled, changed := f.fill(ss, d)
	sec := section{v: filled, ok: found || changed, size: valueCount(d) + f.added - before}
	f.added = before
	f.sections[key] = sec
	return sec
}

// valueCount returns the number of values in v, itself included.
func valueCount(v any) int {
	n := 1
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			n += valueCount(e)
		}
	case []any:
		for _, e := range x {
			n += valueCount(e)
		}
	}
	return n
}

// declaredKeys returns the property names the schemas declare, sorted.
func declaredKeys(ss []*jsonschema.Schema) []string {
	var keys []string
	for _, s := range ss {
		for k := range s.Properties {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// defaultOf returns the first default among the schemas.
func defaultOf(ss []*jsonschema.Schema) (any, bool) {
	for _, s := range expand(ss, false) {
		if s.Default != nil {
			return *s.Default, true
		}
	}
	return nil, false
}

// objectSchema reports whether the schemas say the value is an object.
func objectSchema(ss []*jsonschema.Schema) bool {
	for _, s := range expand(ss, false) {
		if s.Types != nil && slices.Contains(s.Types.ToStrings(), "object") {
			return true
		}
	}
	return false
}
