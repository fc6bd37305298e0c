package config

import (
	"slices"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// maxEvaluations bounds the subschema evaluations the validator may make on
// one document: a fixed allowance plus maxEvaluationsPerValue for each value
// of the document. A schema that applies the same subschema many times to
// one value (allOf of two $refs to a schema that does the same, forty levels
// deep, makes 2^40 evaluations) is refused before the validator runs.
const (
	maxEvaluations         = 1_000_000
	maxEvaluationsPerValue = 100
	maxInPlace             = 10_000 // distinct schemas applied to one value
)

// costWalk counts, without evaluating anything, how many subschema
// evaluations the validator would make on a document: every value of the
// document is visited once, with each distinct schema that reaches it and
// how many times it does.
type costWalk struct {
	closures map[*jsonschema.Schema]map[*jsonschema.Schema]uint64
	onStack  map[*jsonschema.Schema]bool
	looped   bool // a closure left a loop out
	total    uint64
	budget   uint64
}

// evaluationsWithin reports whether validating v against root takes at
// most the budget for a document of v's size.
func evaluationsWithin(root *jsonschema.Schema, v any) bool {
	w := newCostWalk(maxEvaluations + maxEvaluationsPerValue*uint64(valueCount(v)))
	return w.value(map[*jsonschema.Schema]uint64{root: 1}, v)
}

func newCostWalk(budget uint64) *costWalk {
	return &costWalk{
		closures: map[*jsonschema.Schema]map[*jsonschema.Schema]uint64{},
		onStack:  map[*jsonschema.Schema]bool{},
		budget:   budget,
	}
}

// linear reports whether evaluationsWithin holds for root and every
// document, so that no document need be walked: each schema that can reach
// a value applies at most maxEvaluationsPerValue schemas to it (as closure
// counts them) and, through them, at most one schema to each of its
// members or items (as costWalk.value counts them). Then every value is
// reached by at most one schema once, and a document of n values costs at
// most maxEvaluationsPerValue*n evaluations. A schema with a reference the
// walk resolves statically ($dynamicRef, $recursiveRef), subschemas it
// does not count (draft-7 schema dependencies, contentSchema, extensions),
// or a loop of schemas applied in place (which the walk counts in the order
// it meets them) is not linear: its documents are walked.
func linear(root *jsonschema.Schema) bool {
	w := newCostWalk(0)
	seen := map[*jsonschema.Schema]bool{root: true}
	for queue := []*jsonschema.Schema{root}; len(queue) > 0; queue = queue[1:] {
		c, ok := w.closure(queue[0])
		if !ok || w.looped {
			return false
		}
		var evaluations, members, items uint64
		for t, n := range c {
			if !counted(t) {
				return false
			}
			ms, mostMembers := memberSchemas(t)
			is, mostItems := itemSchemas(t)
			evaluations = satAdd(evaluations, n)
			members = satAdd(members, satMul(n, mostMembers))
			items = satAdd(items, satMul(n, mostItems))
			for _, u := range append(ms, is...) {
				if !seen[u] {
					seen[u] = true
					queue = append(queue, u)
				}
			}
		}
		if evaluations > maxEvaluationsPerValue || members > 1 || items > 1 {
			return false
		}
	}
	return true
}

// counted reports whether the cost walk counts exactly what s applies.
func counted(s *jsonschema.Schema) bool {
	for _, d := range s.Dependencies {
		if _, ok := d.(*jsonschema.Schema); ok {
			return false
		}
	}
	return s.DynamicRef == nil && s.RecursiveRef == nil && s.ContentSchema == nil && len(s.Extensions) == 0
}

// memberSchemas returns the schemas s may apply to the members of an
// object, and the most of them costWalk.value applies to one member.
func memberSchemas(s *jsonschema.Schema) ([]*jsonschema.Schema, uint64) {
	var out []*jsonschema.Schema
	for _, p := range s.Properties {
		out = append(out, p)
	}
	most := min(len(out), 1)
	for _, p := range s.PatternProperties {
		out = append(out, p)
		most++
	}
	if a, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
		out = append(out, a)
		most++
	}
	for _, p := range []*jsonschema.Schema{s.UnevaluatedProperties, s.PropertyNames} {
		if p != nil {
			out = append(out, p)
			most++
		}
	}
	return out, uint64(most)
}

// itemSchemas returns the schemas s may apply to the items of an array,
// and the most of them costWalk.value applies to one item.
func itemSchemas(s *jsonschema.Schema) ([]*jsonschema.Schema, uint64) {
	out := append([]*jsonschema.Schema(nil), s.PrefixItems...)
	most := min(len(out), 1)
	switch items := s.Items.(type) {
	case *jsonschema.Schema:
		out = append(out, items)
		most++
	case []*jsonschema.Schema:
		out = append(out, items...)
		most += min(len(items), 1)
	}
	if a, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
		out = append(out, a)
		most++
	}
	for _, p := range []*jsonschema.Schema{s.Items2020, s.Contains, s.UnevaluatedItems} {
		if p != nil {
			out = append(out, p)
			most++
		}
	}
	return out, uint64(most)
}

// inPlace returns the subschemas s applies to the same value.
func inPlace(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else}
	if s.DynamicRef != nil {
		out = append(out, s.DynamicRef.Ref)
	}
	out = append(out, s.AllOf...)
	out = append(out, s.AnyOf...)
	out = append(out, s.OneOf...)
	for _, d := range s.DependentSchemas {
		out = append(out, d)
	}
	for _, d := range s.Dependencies { // draft-07: a schema, or a list of required keys
		if d, ok := d.(*jsonschema.Schema); ok {
			out = append(out, d)
		}
	}
	return slices.DeleteFunc(out, func(s *jsonschema.Schema) bool { return s == nil })
}

// closure returns how many ways s reaches each schema it applies to the
// same value, s itself included, or nil when they are more than
// maxInPlace. A loop back to a schema being counted is left out: the
// validator stops it as an infinite loop.
func (w *costWalk) closure(s *jsonschema.Schema) (map[*jsonschema.Schema]uint64, bool) {
	if c, ok := w.closures[s]; ok {
		return c, c != nil
	}
	if w.onStack[s] {
		w.looped = true
		return map[*jsonschema.Schema]uint64{}, true
	}
	w.onStack[s] = true
	defer delete(w.onStack, s)
	c := map[*jsonschema.Schema]uint64{s: 1}
	for _, e := range inPlace(s) {
		ec, ok := w.closure(e)
		if !ok {
			w.closures[s] = nil
			return nil, false
		}
		for t, n := range ec {
			c[t] = satAdd(c[t], n)
		}
		if len(c) > maxInPlace {
			w.closures[s] = nil
			return nil, false
		}
	}
	w.closures[s] = c
	return c, true
}

// value counts the evaluations on v of the schemas reaching it, and below
// it; it reports false as soon as the budget is spent.
func (w *costWalk) value(reach map[*jsonschema.Schema]uint64, v any) bool {
	_, isObject := v.(map[string]any)
	_, isArray := v.([]any)
	var all map[*jsonschema.Schema]uint64 // what reaches v's members, for a container
	if isObject || isArray {
		all = map[*jsonschema.Schema]uint64{}
	}
	for s, m := range reach {
		c, ok := w.closure(s)
		if !ok {
			return false
		}
		for t, n := range c {
			k := satMul(m, n)
			if all != nil {
				all[t] = satAdd(all[t], k)
			}
			w.total = satAdd(w.total, k)
		}
		if w.total > w.budget {
			return false
		}
	}
	if all == nil {
		return true
	}
	next := map[*jsonschema.Schema]uint64{} // reused: value keeps no reach
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			clear(next)
			for s, m := range all {
				reachWith(next, m, s.Properties[k])
				for re, p := range s.PatternProperties {
					if re.MatchString(k) {
						reachWith(next, m, p)
					}
				}
				if a, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
					reachWith(next, m, a)
				}
				reachWith(next, m, s.UnevaluatedProperties)
				reachWith(next, m, s.PropertyNames)
			}
			if !w.value(next, e) {
				return false
			}
		}
	case []any:
		for i, e := range x {
			clear(next)
			for s, m := range all {
				if i < len(s.PrefixItems) {
					reachWith(next, m, s.PrefixItems[i])
				}
				reachWith(next, m, s.Items2020)
				switch items := s.Items.(type) {
				case *jsonschema.Schema:
					reachWith(next, m, items)
				case []*jsonschema.Schema:
					if i < len(items) {
						reachWith(next, m, items[i])
					}
				}
				if a, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
					reachWith(next, m, a)
				}
				reachWith(next, m, s.Contains)
				reachWith(next, m, s.UnevaluatedItems)
			}
			if !w.value(next, e) {
				return false
			}
		}
	}
	return true
}

// reachWith adds m ways of reaching schema c (if any) to next.
func reachWith(next map[*jsonschema.Schema]uint64, m uint64, c *jsonschema.Schema) {
	if c != nil {
		next[c] = satAdd(next[c], m)
	}
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}
