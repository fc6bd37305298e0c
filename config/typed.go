package config

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// fromTree sets v, a settable zero value, to what json.Unmarshal decodes
// from the JSON encoding of x, a decoded JSON tree, without encoding and
// parsing it again. It reports false, leaving v partly set, as soon as it
// meets what it does not decode exactly as json.Unmarshal would: a type
// with a method of its own for decoding (time.Time, json.RawMessage), the
// ",string" option, an embedded field, a float32, an array, a []byte, a
// json.Number, a number Unmarshal would refuse, a key that matches a field
// only case-insensitively, a value that is no JSON value. The caller then
// uses json.Unmarshal, which also says what does not fit. depth counts
// the objects and arrays x is in: beyond maxNesting, fromTree leaves the
// document to json.Unmarshal and its own bound. plan is planOf(v.Type()).
func fromTree(v reflect.Value, plan *typePlan, x any, depth int) bool {
	if plan == nil || depth > maxNesting {
		return false
	}
	if x == nil {
		return true // null leaves a zero value zero
	}
	t := v.Type()
	switch t.Kind() {
	case reflect.Pointer:
		e := reflect.New(t.Elem())
		v.Set(e)
		return fromTree(e.Elem(), plan.elem, x, depth)
	case reflect.Interface:
		c, ok := copyTree(x, depth)
		if ok {
			v.Set(reflect.ValueOf(c))
		}
		return ok
	}
	switch x := x.(type) {
	case bool:
		if t.Kind() != reflect.Bool {
			return false
		}
		v.SetBool(x)
		return true
	case string:
		if t.Kind() != reflect.String || !utf8.ValidString(x) {
			return false
		}
		v.SetString(x)
		return true
	case float64:
		return numberFromTree(v, x)
	case []any:
		if t.Kind() != reflect.Slice {
			return false
		}
		s := reflect.MakeSlice(t, len(x), len(x))
		for i, e := range x {
			if !fromTree(s.Index(i), plan.elem, e, depth+1) {
				return false
			}
		}
		v.Set(s)
		return true
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			m := reflect.MakeMapWithSize(t, len(x))
			e := reflect.New(t.Elem()).Elem()
			for k, ex := range x {
				e.SetZero()
				if !utf8.ValidString(k) || !fromTree(e, plan.elem, ex, depth+1) {
					return false
				}
				m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
			}
			v.Set(m)
			return true
		case reflect.Struct:
			found := 0
			for _, f := range plan.fields {
				if ex, ok := x[f.name]; ok {
					found++
					if !fromTree(v.Field(f.index), f.plan, ex, depth+1) {
						return false
					}
				}
			}
			if found == len(x) {
				return true
			}
			for k, ex := range x {
				// A key naming no field is ignored, but its value must be
				// one that encodes.
				if plan.folded[k] {
					continue
				}
				if _, valid := copyTree(ex, depth+1); !valid || plan.matchesFolded(k) {
					return false
				}
			}
			return true
		}
	}
	return false
}

// numberFromTree sets v to the number f as json.Unmarshal decodes f's
// encoding: the shortest decimal that reads back as f, which for an
// integer is the integer itself only below 2^53 (beyond, 2^60 is written
// 1152921504606847000, which an int64 takes as it is).
func numberFromTree(v reflect.Value, f float64) bool {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return false
	}
	switch v.Kind() {
	case reflect.Float64:
		v.SetFloat(f)
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if f != math.Trunc(f) || math.Abs(f) >= maxExactInt || v.OverflowInt(int64(f)) {
			return false
		}
		v.SetInt(int64(f))
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		// -0 is written "-0", which Unmarshal refuses for an unsigned.
		if f != math.Trunc(f) || math.Signbit(f) || f >= maxExactInt || v.OverflowUint(uint64(f)) {
			return false
		}
		v.SetUint(uint64(f))
		return true
	}
	return false
}

// copyTree returns a copy of the JSON tree x, as json.Unmarshal decodes
// its encoding into an interface{}, or false when x holds what is no JSON
// value, a string that is not valid UTF-8 (which encoding would change) or
// objects and arrays nested beyond maxNesting, with depth those x is in.
func copyTree(x any, depth int) (any, bool) {
	if depth > maxNesting {
		return nil, false
	}
	switch x := x.(type) {
	case nil, bool:
		return x, true
	case float64:
		return x, !math.IsInf(x, 0) && !math.IsNaN(x)
	case string:
		return x, utf8.ValidString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, ok := copyTree(e, depth+1)
			if !ok {
				return nil, false
			}
			out[i] = c
		}
		return out, true
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, ok := copyTree(e, depth+1)
			if !ok || !utf8.ValidString(k) {
				return nil, false
			}
			out[k] = c
		}
		return out, true
	}
	return nil, false
}

// typePlan is what fromTree needs to know of a type it decodes; a nil
// *typePlan stands for a type it does not decode.
type typePlan struct {
	elem   *typePlan   // of a pointer, slice or map: its elements'
	fields []fieldPlan // of a struct: its fields
	// folded holds the fields' JSON names, true, and those names in lower
	// case, false unless a name.
	folded map[string]bool
}

// fieldPlan is a struct field's JSON name, index and the plan of its type.
type fieldPlan struct {
	name  string
	index int
	plan  *typePlan
}

// matchesFolded reports whether json.Unmarshal could match the key k, that
// names no field exactly, with a field case-insensitively (assumed of any
// key that is not ASCII).
func (p *typePlan) matchesFolded(k string) bool {
	for i := range len(k) {
		if k[i] >= utf8.RuneSelf {
			return true
		}
	}
	_, ok := p.folded[strings.ToLower(k)]
	return ok
}

var (
	// plans caches the plans made: reflect.Type → *typePlan.
	plans sync.Map
	// planning serializes the making of plans, which refer to each
	// other, so that none is published before the plans it refers to.
	planning sync.Mutex
)

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

// planOf returns the plan of t and of the types its values hold.
func planOf(t reflect.Type) *typePlan {
	if p, ok := plans.Load(t); ok {
		return p.(*typePlan)
	}
	planning.Lock()
	defer planning.Unlock()
	made := map[reflect.Type]*typePlan{}
	p := makePlan(t, made)
	for t, p := range made {
		plans.Store(t, p)
	}
	return p
}

// makePlan returns the plan of t, making it and those of the types its
// values hold if they are neither in plans nor in made.
func makePlan(t reflect.Type, made map[reflect.Type]*typePlan) *typePlan {
	if p, ok := plans.Load(t); ok {
		return p.(*typePlan)
	}
	if p, ok := made[t]; ok {
		return p
	}
	var p *typePlan
	switch {
	case !decodable(t):
	case t.Kind() == reflect.Struct:
		p = structPlan(t)
	case kindDecoded(t):
		p = &typePlan{}
	}
	made[t] = p // before the plans it refers to, which may refer to it
	if p == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		p.elem = makePlan(t.Elem(), made)
	case reflect.Struct:
		for i, f := range p.fields {
			p.fields[i].plan = makePlan(t.Field(f.index).Type, made)
		}
	}
	return p
}

// kindDecoded reports whether fromTree decodes the values of t's kind,
// other than a struct, when t is decodable.
func kindDecoded(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float64, reflect.Pointer,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	case reflect.Interface:
		return t.NumMethod() == 0
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8 // []byte is base64
	case reflect.Map:
		return t.Key().Kind() == reflect.String && decodable(t.Key())
	}
	return false
}

// decodable reports whether t has no method of its own for decoding and is
// not json.Number, which json.Unmarshal all decode in their own ways.
func decodable(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t != numberType && !t.Implements(unmarshalerType) && !t.Implements(textUnmarshalerType) &&
		!pt.Implements(unmarshalerType) && !pt.Implements(textUnmarshalerType)
}

// structPlan returns the plan of a struct type, without its fields' plans
// yet, or nil unless its fields are named as fromTree knows: exported
// fields, none embedded, named by the Go name or by a plain tag name with
// no option but omitempty or omitzero, no two with the same name.
func structPlan(t reflect.Type) *typePlan {
	p := &typePlan{folded: map[string]bool{}}
	lower := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil
		}
		tag := sf.Tag.Get("json")
		if !sf.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		for opt := range strings.SplitSeq(opts, ",") {
			if opt != "" && opt != "omitempty" && opt != "omitzero" {
				return nil
			}
		}
		if name == "" {
			name = sf.Name
		}
		l := strings.ToLower(name)
		if !plainName(name) || lower[l] {
			return nil
		}
		lower[l] = true
		p.fields = append(p.fields, fieldPlan{name: name, index: i})
	}
	for l := range lower {
		p.folded[l] = false
	}
	for _, f := range p.fields {
		p.folded[f.name] = true
	}
	return p
}

// plainName reports whether a field's JSON name is made of ASCII letters,
// digits, '_', '-' and '.' only, which json.Unmarshal takes as it is.
func plainName(name string) bool {
	for i := range len(name) {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return name != ""
}
