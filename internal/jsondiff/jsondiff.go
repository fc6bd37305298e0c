// Package jsondiff compares and patches decoded JSON values (the any trees
// encoding/json produces: map[string]any, []any, string, float64, bool,
// nil). It is pure and safe for concurrent use; it never mutates its inputs.
package jsondiff

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/cybercorp/hotreload"
)

// Diff lists the paths where b differs from a, in JSON Pointer form, sorted.
// Objects are compared key by key; any other change (arrays included) is
// reported at the path of the value that changed.
func Diff(a, b any) []hotreload.PathChange { return DiffKnown(a, b, nil, nil) }

// DiffKnown is Diff told what a comparison of a and b found already:
// known, unless nil, mirrors b, with a value for which same reports true in
// place of each value equal to a's at the same place, and any other
// non-nil value where they differ. It skips what known says is the same,
// and reports what it says differs without comparing it again.
func DiffKnown(a, b, known any, same func(any) bool) []hotreload.PathChange {
	var out []hotreload.PathChange
	diff("", a, b, known, same, &out)
	slices.SortFunc(out, func(x, y hotreload.PathChange) int { return strings.Compare(x.Path, y.Path) })
	return out
}

func diff(path string, a, b, known any, same func(any) bool, out *[]hotreload.PathChange) {
	if known != nil && same(known) {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		km, _ := known.(map[string]any)
		for k, av := range am {
			bv, ok := bm[k]
			if !ok {
				*out = append(*out, hotreload.PathChange{Path: Join(path, k), Old: av})
				continue
			}
			diff(Join(path, k), av, bv, km[k], same, out)
		}
		for k, bv := range bm {
			if _, ok := am[k]; !ok {
				*out = append(*out, hotreload.PathChange{Path: Join(path, k), New: bv})
			}
		}
		return
	}
	if known != nil || !Equal(a, b) {
		p := path
		if p == "" {
			p = "/"
		}
		*out = append(*out, hotreload.PathChange{Path: p, Old: a, New: b})
	}
}

// Equal reports whether two decoded JSON values are equal. It switches on
// the types encoding/json produces and leaves anything else to
// reflect.DeepEqual.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !Equal(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// Join appends one reference token to a JSON Pointer, escaping ~ and /.
func Join(pointer, token string) string {
	token = strings.ReplaceAll(token, "~", "~0")
	token = strings.ReplaceAll(token, "/", "~1")
	return pointer + "/" + token
}

// JoinIndex appends an array index to a JSON Pointer.
func JoinIndex(pointer string, i int) string { return pointer + "/" + strconv.Itoa(i) }

// Split returns the unescaped reference tokens of a JSON Pointer.
func Split(pointer string) []string {
	if pointer == "" || pointer == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	for i, p := range parts {
		p = strings.ReplaceAll(p, "~1", "/")
		parts[i] = strings.ReplaceAll(p, "~0", "~")
	}
	return parts
}

// At returns the value at JSON Pointer ptr in v, or nil.
func At(v any, ptr string) any {
	for _, tok := range Split(ptr) {
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// Covers reports whether path lies at or below prefix ("" and "/" cover
// everything), comparing whole tokens: /limits covers /limits/rps but not
// /limitsX.
func Covers(prefix, path string) bool {
	if prefix == "" || prefix == "/" {
		return true
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// MergePatch applies an RFC 7396 JSON merge patch to doc and returns the
// result; doc is left untouched.
func MergePatch(doc, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	dm, ok := doc.(map[string]any)
	out := make(map[string]any, len(dm)+len(pm))
	if ok {
		for k, v := range dm {
			out[k] = v
		}
	}
	for k, pv := range pm {
		if pv == nil {
			delete(out, k)
			continue
		}
		out[k] = MergePatch(out[k], pv)
	}
	return out
}

// Merge deep-merges layers in order: objects merge key by key, and any other
// value in a later layer replaces the earlier one. Unlike MergePatch, a null
// is kept as a value.
func Merge(layers ...any) any {
	var out any
	for _, l := range layers {
		out = merge(out, l)
	}
	return out
}

func merge(a, b any) any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return b
	}
	out := make(map[string]any, len(am)+len(bm))
	for k, v := range am {
		out[k] = v
	}
	for k, v := range bm {
		out[k] = merge(out[k], v)
	}
	return out
}

// RewriteElements rewrites the elements of an array copy-on-write: fn
// returns an element's new value and whether it changed. It returns x itself
// and false when nothing changed, else a new array and true.
func RewriteElements(x []any, fn func(i int, e any) (any, bool)) (any, bool) {
	var out []any
	for i, e := range x {
		if ne, changed := fn(i, e); changed {
			if out == nil {
				out = slices.Clone(x)
			}
			out[i] = ne
		}
	}
	if out == nil {
		return x, false
	}
	return out, true
}

// RewriteMembers rewrites the members of an object copy-on-write, as
// RewriteElements does for arrays.
func RewriteMembers(x map[string]any, fn func(k string, e any) (any, bool)) (any, bool) {
	var out map[string]any
	for k, e := range x {
		if ne, changed := fn(k, e); changed {
			if out == nil {
				out = maps.Clone(x)
			}
			out[k] = ne
		}
	}
	if out == nil {
		return x, false
	}
	return out, true
}

// MustMarshal returns the JSON encoding of v, a value of a type that always
// encodes (a fixed struct, a map of strings); it panics otherwise.
func MustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
