package jsondiff

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// FuzzMarshal: Marshal writes what encoding/json.Marshal writes for every
// decoded JSON document.
func FuzzMarshal(f *testing.F) {
	for _, s := range []string{
		`{"b": [1, 2.5, -0, 1e21, 1e-7, 123456789012345678, "x<y>&z\u2028\u2029\b\f\n\r\t\u0001"], "a": {"": null, "é": true}}`,
		`"\ud800 lone surrogate"`, `[0.000001, 1e-6, 9007199254740993, -1.5e300, 9007199254740991, -9007199254740991, 9007199254740992, 1e15, -7, 0]`, `{"\u0000": false}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(v)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Marshal(%s) = %s, %v; encoding/json writes %s", data, got, err, want)
		}
	})
}

func TestMarshalInvalidUTF8AndNaN(t *testing.T) {
	v := map[string]any{"k\xff": "v\xfe", "n": []any{int64(3), uint8(4)}}
	want, _ := json.Marshal(v)
	if got, err := Marshal(v); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Marshal = %s, %v; want %s", got, err, want)
	}
	if _, err := Marshal(math.NaN()); err == nil {
		t.Fatal("Marshal(NaN) succeeded")
	}
}
