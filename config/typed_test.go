package config

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// typedPlain is a type fromTree decodes, with fields whose values it
// leaves to json.Unmarshal.
type typedPlain struct {
	I     int  `json:"i"`
	I8    int8 `json:"i8,omitempty"`
	U     uint `json:"u"`
	U16   uint16
	F     float64         `json:"f"`
	F32   float32         `json:"f32"`
	S     string          `json:"s"`
	B     bool            `json:"b,omitzero"`
	P     *int            `json:"p"`
	A     any             `json:"a"`
	M     map[string]int  `json:"m"`
	L     []typedPlain    `json:"l"`
	N     *typedPlain     `json:"n"`
	Raw   json.RawMessage `json:"raw"`
	T     time.Time       `json:"t"`
	Num   json.Number     `json:"num"`
	Bytes []byte          `json:"bytes"`
	Arr   [2]int          `json:"arr"`
	D     time.Duration   `json:"d"`
	Name  string
	Skip  string `json:"-"`
	//lint:ignore SA5008 a field named "-" is one of the cases tested
	Dash string `json:"-,"`
	//lint:ignore U1000 an unexported field is one of the cases tested
	hidden string
	Mixed  int `json:"mixedCase"`
}

// typedOdd is a type fromTree leaves to json.Unmarshal whole.
type typedOdd struct {
	typedPlain
	Q int `json:"q,string"`
}

// wantTyped is what decodeTyped must return: json.Unmarshal of the
// document's encoding.
func wantTyped[T any](doc Document) (*T, error) {
	b, err := jsondiff.Marshal(doc.Value)
	if err != nil {
		return nil, err
	}
	v := new(T)
	return v, json.Unmarshal(b, v)
}

// checkTyped checks that decodeTyped decodes doc into a T exactly as
// json.Unmarshal decodes its encoding, and returns whether fromTree did it.
func checkTyped[T any](t *testing.T, doc Document) bool {
	t.Helper()
	want, werr := wantTyped[T](doc)
	got, err := decodeTyped[T](doc, nil)
	switch {
	case werr == nil && err == nil:
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%T: decoded %+v, encoding/json %+v", want, got, want)
		}
	case werr != nil && err != nil:
		var he *hotreload.Error
		if !asError(err, &he) || he.Err == nil || !strings.Contains(he.Err.Error(), werr.Error()) && he.Err.Error() != werr.Error() {
			t.Fatalf("%T: error %v, encoding/json %v", want, err, werr)
		}
	default:
		t.Fatalf("%T: error %v, encoding/json %v", want, err, werr)
	}
	return fromTree(reflect.ValueOf(new(T)).Elem(), planOf(reflect.TypeFor[T]()), doc.Value, 0)
}

func asError(err error, target **hotreload.Error) bool {
	e, ok := err.(*hotreload.Error)
	*target = e
	return ok
}

// checkAllTyped runs checkTyped on several types and returns how many
// fromTree decoded.
func checkAllTyped(t *testing.T, doc Document) int {
	n := 0
	for _, ok := range []bool{
		checkTyped[typedPlain](t, doc),
		checkTyped[typedOdd](t, doc),
		checkTyped[*typedPlain](t, doc),
		checkTyped[[]typedPlain](t, doc),
		checkTyped[map[string]*typedPlain](t, doc),
		checkTyped[map[string]any](t, doc),
		checkTyped[[]any](t, doc),
		checkTyped[[]int8](t, doc),
		checkTyped[map[string]uint16](t, doc),
		checkTyped[string](t, doc),
		checkTyped[float64](t, doc),
		checkTyped[bool](t, doc),
		checkTyped[benchConfig](t, doc),
	} {
		if ok {
			n++
		}
	}
	return n
}

var typedSeeds = []string{
	`{"i":1,"i8":-128,"u":3,"U16":65535,"f":1.5,"s":"x\u00e9\n","b":true,"p":5,"a":{"x":[1,"y",null,true]},"m":{"a":1,"b":-0},"l":[{"i":2},{}],"n":{"s":"z","n":null},"Name":"n","mixedCase":1,"d":1000,"-":"dash","other":[1,{"x":null}]}`,
	`{"name":"x"}`, `{"NAME":"x","Name":"y"}`, `{"I":1}`, `{"mixedcase":1}`, `{"u":-0}`, `{"i":-0}`, `{"i":1e3}`, `{"i":1.5}`, `{"i":1e300}`,
	`{"i8":128}`, `{"i8":-129}`, `{"u":-1}`, `{"U16":65536}`, `{"i":9007199254740992}`, `{"u":9007199254740992}`, `{"i":-9007199254740991}`,
	`{"raw":[1]}`, `{"t":"2020-01-01T00:00:00Z"}`, `{"num":1.50}`, `{"bytes":"aGk="}`, `{"arr":[1,2,3]}`, `{"f32":0.1}`, `{"f":1e-7}`, `{"f":-0}`,
	`[]`, `{}`, `null`, `true`, `"s"`, `1`, `[1,2]`, `[{"i":1},null]`, `{"Skip":"x","hidden":"y","Dash":"z"}`, `{"k":{"\u212a":1}}`, `{"\u212a":1}`,
	`{"p":null,"a":null,"m":null,"l":null,"n":null}`, `{"l":[]}`, `{"m":{}}`, `{"a":{}}`, `{"s":1}`, `{"b":"true"}`, `{"q":"1"}`, `{"i":"1"}`,
	`{"version":1,"items":[{"id":1,"name":"a","weight":1.5}],"tail":2}`, `{"version":1.5}`, `{"items":{"id":1}}`, `{"a":"\ud800"}`,
}

// FuzzDecodeTyped checks that decodeTyped decodes every document into
// several Go types exactly as json.Unmarshal decodes its encoding: the
// same value, or the same error.
func FuzzDecodeTyped(f *testing.F) {
	for _, s := range typedSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		doc, err := Decode("fuzz.json", src, JSON)
		if err != nil {
			return
		}
		checkAllTyped(t, doc)
	})
}

// TestTypedFromTree runs the seeds of FuzzDecodeTyped, and requires
// fromTree to decode most of them.
func TestTypedFromTree(t *testing.T) {
	decoded := 0
	for _, s := range typedSeeds {
		doc, err := Decode("seed.json", []byte(s), JSON)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		decoded += checkAllTyped(t, doc)
	}
	if decoded < len(typedSeeds)*2 {
		t.Fatalf("fromTree decoded %d values of %d", decoded, len(typedSeeds)*13)
	}
	// The typed value holds a copy of what it shares with the document.
	doc, _ := Decode("seed.json", []byte(`{"a": {"x": [1]}}`), JSON)
	v, err := decodeTyped[typedPlain](doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	v.A.(map[string]any)["x"].([]any)[0] = 2.0
	if x := doc.Value.(map[string]any)["a"].(map[string]any)["x"].([]any)[0]; x != 1.0 {
		t.Fatalf("the typed value shares the document: %v", x)
	}
}

// TestTypedFromTransformedTree checks documents that only a Transform
// makes: values that are no JSON values, strings that are not valid
// UTF-8, empty containers that are nil, nesting beyond the decoders'
// bound.
func TestTypedFromTransformedTree(t *testing.T) {
	deep := any("x")
	for range maxNesting + 5 {
		deep = []any{deep}
	}
	for _, v := range []any{
		map[string]any{"other": math.NaN()},
		map[string]any{"other": 7},
		map[string]any{"f": math.Inf(1)},
		map[string]any{"i": 7},
		map[string]any{"s": "\xff"},
		map[string]any{"other": "\xff"},
		map[string]any{"m": map[string]any{"\xff": 1.0}},
		map[string]any{"a": map[string]any{"x": "\xff"}},
		map[string]any{"l": []any(nil), "m": map[string]any(nil), "a": map[string]any(nil)},
		map[string]any{"a": deep},
		map[string]any{"other": deep},
		map[string]any{"p": (*int)(nil)},
	} {
		checkAllTyped(t, Document{Value: v})
	}
}
