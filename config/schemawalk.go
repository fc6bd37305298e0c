package config

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// maxSchemaDepth bounds the walks below on recursive schemas.
const maxSchemaDepth = 64

// Redacted replaces secret values in redacted documents.
const Redacted = "[REDACTED]"

// applicable returns s and every schema that applies to the same instance
// through $ref and allOf, and with branches also through anyOf, oneOf and
// if/then/else, without duplicates.
func applicable(s *jsonschema.Schema, branches bool) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	var add func(*jsonschema.Schema, int)
	add = func(s *jsonschema.Schema, depth int) {
		if s == nil || depth > maxSchemaDepth || slices.Contains(out, s) {
			return
		}
		out = append(out, s)
		add(s.Ref, depth+1)
		if s.DynamicRef != nil {
			add(s.DynamicRef.Ref, depth+1)
		}
		for _, e := range s.AllOf {
			add(e, depth+1)
		}
		if !branches {
			return
		}
		for _, l := range [][]*jsonschema.Schema{s.AnyOf, s.OneOf} {
			for _, e := range l {
				add(e, depth+1)
			}
		}
		add(s.If, depth+1)
		add(s.Then, depth+1)
		add(s.Else, depth+1)
	}
	add(s, 0)
	return out
}

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

// expand returns every schema applicable through any of ss (see applicable).
func expand(ss []*jsonschema.Schema, branches bool) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	for _, s := range ss {
		for _, a := range applicable(s, branches) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
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
func walk(ss []*jsonschema.Schema, v any, ptr string, depth int, visit func(ptr, key string, declared bool, parent []*jsonschema.Schema, sub []*jsonschema.Schema, v any) bool) {
	if depth > maxSchemaDepth {
		return
	}
	ss = expand(ss, true)
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			sub, declared := member(ss, k)
			child := jsondiff.Join(ptr, k)
			if visit(child, k, declared, ss, sub, x[k]) {
				walk(sub, x[k], child, depth+1, visit)
			}
		}
	case []any:
		for i, e := range x {
			sub := element(ss, i)
			child := jsondiff.JoinIndex(ptr, i)
			if visit(child, strconv.Itoa(i), true, ss, sub, e) {
				walk(sub, e, child, depth+1, visit)
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
	walk([]*jsonschema.Schema{s.root}, doc.Value, "", 0, func(ptr, key string, declared bool, parent, _ []*jsonschema.Schema, _ any) bool {
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
	walk([]*jsonschema.Schema{s.root}, doc, "", 0, func(ptr, _ string, _ bool, _, sub []*jsonschema.Schema, _ any) bool {
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

// Defaults returns doc with the defaults of the schema filled in where a
// property is missing; doc itself is left untouched. A missing object whose
// schema gives defaults to its own properties is created with them, so a
// section left out of the file still gets its defaults.
func (s *Schema) Defaults(doc any) any {
	if s == nil {
		return doc
	}
	v, _ := fillDefaults([]*jsonschema.Schema{s.root}, doc, 0)
	return v
}

// fillDefaults fills v's defaults and reports whether it changed anything.
func fillDefaults(ss []*jsonschema.Schema, v any, depth int) (any, bool) {
	if depth > maxSchemaDepth {
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
				d, found := defaultOf(sub)
				if !found {
					if !objectSchema(sub) {
						continue
					}
					d = map[string]any{}
				}
				filled, changed := fillDefaults(sub, d, depth+1)
				if found || changed {
					set(k, filled)
				}
				continue
			}
			if filled, changed := fillDefaults(sub, e, depth+1); changed {
				set(k, filled)
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case []any:
		return jsondiff.RewriteElements(x, func(i int, e any) (any, bool) {
			return fillDefaults(element(ss, i), e, depth+1)
		})
	}
	return v, false
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
