package history

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/cybercorp/hotreload"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record reader, as a
// record file and as a line of the log (a record's or an object's): it
// must return a record or an error, never panic, and whatever it accepts
// must survive a round trip.
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
	object := encodeObject(hotreload.Digest(appJSON(7)), appJSON(7))
	f.Add(object[:len(object)-1])
	f.Add([]byte(`{"format":2,"object":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if l, err := decodeLine(data); err == nil && l.object != "" {
			back, err := decodeLine(bytes.TrimSuffix(encodeObject(l.object, l.content), []byte("\n")))
			if err != nil || back.object != l.object || !bytes.Equal(back.content, l.content) {
				t.Fatalf("round trip changed the object line: %q, %v; want %s %q", back.content, err, l.object, l.content)
			}
		}
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

// FuzzOpenSegment opens a history whose newest log segment holds arbitrary
// bytes: Open must not fail or panic, whatever it keeps must read back the
// same after a Put and a reopen, and the Put must be there too.
func FuzzOpenSegment(f *testing.F) {
	var valid []byte
	for v := uint64(1); v <= 3; v++ {
		line, err := encodeRecord(v, attempt(v, hotreload.Rejected, nil))
		if err != nil {
			f.Fatal(err)
		}
		valid = append(valid, line...)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	snaps := map[string][]byte{"app": appJSON(4)}
	committed, err := encodeRecord(4, attempt(4, hotreload.Committed, snaps))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(slices.Concat(valid, encodeObject(hotreload.Digest(appJSON(4)), appJSON(4)), committed))
	f.Add(append(slices.Clone(valid), "\x00\x00\n"...))
	f.Add(bytes.Replace(valid, []byte(`"version":2`), []byte(`"version":9`), 1))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "records"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "records", segmentName(1)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		before, _ := s.List(context.Background())
		v := uint64(1)
		for _, r := range before {
			v = max(v, r.Version+1)
		}
		if err := s.Put(context.Background(), hotreload.Entry{Record: attempt(v, hotreload.Rejected, nil)}); err != nil {
			t.Fatalf("Put: %v", err)
		}
		s.Close()
		s, err = Open(Options{Dir: dir})
		if err != nil {
			t.Fatalf("reopening: %v", err)
		}
		defer s.Close()
		after, _ := s.List(context.Background())
		if len(after) != len(before)+1 || !reflect.DeepEqual(after[:len(before)], before) || after[len(before)].Version != v {
			t.Fatalf("after a Put and a reopen:\n got %+v\nwant %+v and version %d", after, before, v)
		}
	})
}

// TestRecordLineIsTheEnvelope: the line Put writes by hand is exactly the
// envelope json.Marshal writes, HTML escapes and all.
func TestRecordLineIsTheEnvelope(t *testing.T) {
	rec := attempt(7, hotreload.Rejected, map[string][]byte{"app": appJSON(7)})
	rec.Reason = `<script>&"quoted"</script> ünïcode`
	rec.Errors = []hotreload.FieldError{{File: "app.yaml", Path: "/a~1b", Line: 3, Column: 8, Message: "bad\n"}}
	body, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(recordFile{Format: lineFormat, Seq: 7, SHA256: lineSum(lineFormat, 7, body), Record: body})
	if err != nil {
		t.Fatal(err)
	}
	if got := recordLine(7, body); string(got) != string(want)+"\n" {
		t.Fatalf("recordLine:\n%s\nwant:\n%s", got, want)
	}
}
