package history

import (
	"reflect"
	"testing"

	"github.com/cybercorp/hotreload"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record file reader: it must
// return a record or an error, never panic, and whatever it accepts must
// survive a round trip.
func FuzzDecodeRecord(f *testing.F) {
	rec := attempt(7, hotreload.Rejected, map[string][]byte{"app": appJSON(7)})
	rec.Errors = []hotreload.FieldError{{File: "app.yaml", Path: "/a~1b", Line: 3, Column: 8, Message: "bad"}}
	valid, err := encodeRecord(rec)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(""))
	f.Add([]byte("null"))
	f.Add([]byte(`{"format":1,"sha256":"","record":null}`))
	f.Add([]byte(`{"format":1,"sha256":"x","record":{"version":-1}}`))
	f.Add(valid[:len(valid)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodeRecord(data)
		if err != nil {
			return
		}
		again, err := encodeRecord(rec)
		if err != nil {
			t.Fatalf("encoding an accepted record: %v", err)
		}
		back, err := decodeRecord(again)
		if err != nil {
			t.Fatalf("decoding a re-encoded record: %v", err)
		}
		if !reflect.DeepEqual(back, rec) {
			t.Fatalf("round trip changed the record:\n got %+v\nwant %+v", back, rec)
		}
	})
}
