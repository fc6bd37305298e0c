package history

import (
	"reflect"
	"testing"

	"github.com/cybercorp/hotreload"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record reader, as a
// record file and as a line of the log: it must return a record or an
// error, never panic, and whatever it accepts must survive a round trip.
func FuzzDecodeRecord(f *testing.F) {
	rec := attempt(7, hotreload.Rejected, map[string][]byte{"app": appJSON(7)})
	rec.Errors = []hotreload.FieldError{{File: "app.yaml", Path: "/a~1b", Line: 3, Column: 8, Message: "bad"}}
	line, err := encodeRecord(7, rec)
	if err != nil {
		f.Fatal(err)
	}
	file := recordFileOf(f, rec)
	f.Add(line)
	f.Add(file)
	f.Add([]byte(""))
	f.Add([]byte("null"))
	f.Add([]byte(`{"format":1,"sha256":"","record":null}`))
	f.Add([]byte(`{"format":2,"seq":0,"sha256":"x","record":{"version":-1}}`))
	f.Add(line[:len(line)/2])
	f.Add(file[:len(file)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []int{recordFormat, lineFormat} {
			seq, rec, err := decodeRecord(data, format)
			if err != nil {
				continue
			}
			seq = max(seq, 1) // a record file's seq is in its name
			again, err := encodeRecord(seq, rec)
			if err != nil {
				t.Fatalf("encoding an accepted record: %v", err)
			}
			backSeq, back, err := decodeRecord(again, lineFormat)
			if err != nil {
				t.Fatalf("decoding a re-encoded record: %v", err)
			}
			if backSeq != seq || !reflect.DeepEqual(back, rec) {
				t.Fatalf("round trip changed the record:\n got %d %+v\nwant %d %+v", backSeq, back, seq, rec)
			}
		}
	})
}
