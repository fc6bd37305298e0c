package config

import (
	"strconv"

	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// incremental reports whether validating a document against root amounts
// to checking each of its values, on its own, against the schemas its
// place in the document reaches, so that a value that a document already
// valid held at the same place need not be checked again. It holds when
// every schema reachable from root applies its subschemas whatever the
// value and its siblings are (no not, anyOf, oneOf, if, then, else,
// dependentSchemas, unevaluated keywords, and what counted excludes), and
// checks only the keys and the length of an object or array (no
// uniqueItems, no contains, no enum or const holding an object or array).
func incremental(root *jsonschema.Schema) bool {
	seen := map[*jsonschema.Schema]bool{root: true}
	for queue := []*jsonschema.Schema{root}; len(queue) > 0; queue = queue[1:] {
		s := queue[0]
		if !counted(s) || s.Not != nil || len(s.AnyOf) > 0 || len(s.OneOf) > 0 || s.If != nil || s.Then != nil || s.Else != nil ||
			len(s.DependentSchemas) > 0 || s.UnevaluatedProperties != nil || s.UnevaluatedItems != nil ||
			s.UniqueItems || s.Contains != nil || s.Const != nil && !scalar(*s.Const) || s.Enum != nil && !allScalar(s.Enum.Values) {
			return false
		}
		ms, _ := memberSchemas(s)
		is, _ := itemSchemas(s)
		for _, u := range append(append(inPlace(s), ms...), is...) {
			if !seen[u] {
				seen[u] = true
				queue = append(queue, u)
			}
		}
	}
	return true
}

// scalar reports whether v is no object or array.
func scalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// allScalar reports whether every one of vs is scalar.
func allScalar(vs []any) bool {
	for _, v := range vs {
		if !scalar(v) {
			return false
		}
	}
	return true
}

// unchanged stands, in a document handed to the validator, for a value
// equal to the one a valid document held at the same place. It is no JSON
// value: the validator reports it at its place, without looking further,
// and withoutUnchanged drops what it reports.
type unchanged struct{}

// isUnchanged reports whether v is unchanged{}: jsondiff.DiffKnown's same
// for a value pruned against the document it was compared with.
func isUnchanged(v any) bool {
	_, ok := v.(unchanged)
	return ok
}

// pruned returns v with each value equal to the one valid holds at the
// same place replaced by unchanged{} (v itself when all of it is), and
// whether all of it is. It copies only the objects and arrays on the way
// to a change, in one pass over v.
func pruned(v, valid any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		y, ok := valid.(map[string]any)
		if !ok {
			return v, false
		}
		var out map[string]any // nil while every member is unchanged
		for k, e := range x {
			ye, ok := y[k]
			p, same := e, false
			if ok {
				p, same = pruned(e, ye)
			}
			if same && out == nil {
				continue
			}
			if out == nil {
				out = make(map[string]any, len(x))
			}
			out[k] = p
		}
		if out == nil {
			if len(x) == len(y) {
				return unchanged{}, true
			}
			out = make(map[string]any, len(x))
		}
		for k := range x {
			if _, ok := out[k]; !ok {
				out[k] = unchanged{}
			}
		}
		return out, false
	case []any:
		y, ok := valid.([]any)
		if !ok {
			return v, false
		}
		var out []any // nil while every item is unchanged
		for i, e := range x {
			p, same := e, false
			if i < len(y) {
				p, same = pruned(e, y[i])
			}
			if same && out == nil {
				continue
			}
			if out == nil {
				out = make([]any, len(x))
				for j := range i {
					out[j] = unchanged{}
				}
			}
			out[i] = p
		}
		if out == nil {
			if len(x) == len(y) {
				return unchanged{}, true
			}
			out = make([]any, len(x))
			for i := range out {
				out[i] = unchanged{}
			}
		}
		return out, false
	}
	if jsondiff.Equal(v, valid) {
		return unchanged{}, true
	}
	return v, false
}

// withoutUnchanged returns ve without its failures at or below an
// unchanged{} of v, a document pruned, or nil when none is left.
func withoutUnchanged(ve *jsonschema.ValidationError, v any) *jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		if unchangedAt(v, ve.InstanceLocation) {
			return nil
		}
		return ve
	}
	var causes []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		if c = withoutUnchanged(c, v); c != nil {
			causes = append(causes, c)
		}
	}
	if len(causes) == 0 {
		return nil
	}
	out := *ve
	out.Causes = causes
	return &out
}

// unchangedAt reports whether the place named by the reference tokens
// path lies at or below an unchanged{} in v, a document pruned.
func unchangedAt(v any, path []string) bool {
	for _, tok := range path {
		switch x := v.(type) {
		case unchanged:
			return true
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return false
			}
			v = x[i]
		default:
			return false
		}
	}
	_, ok := v.(unchanged)
	return ok
}
