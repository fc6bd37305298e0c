package history

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cybercorp/hotreload"
)

// BenchmarkCommit measures one transaction with a 1 KB snapshot as the
// engine records it: Gated, a pending record with the snapshot, then the
// committed record; Folded (a change the health gate does not watch), one
// committed record with the snapshot; Full, Folded in a store already
// holding DefaultMaxRecords records, where each commit drops the oldest.
func BenchmarkCommit(b *testing.B) {
	pad := bytes.Repeat([]byte("x"), 1000)
	b.Run("Full", func(b *testing.B) {
		s := mustOpen(b, b.TempDir(), Options{})
		var batch []hotreload.Entry
		for v := uint64(1); v <= DefaultMaxRecords; v++ {
			batch = append(batch, hotreload.Entry{Record: attempt(v, hotreload.Rejected, nil)})
		}
		if err := s.Put(context.Background(), batch...); err != nil {
			b.Fatal(err)
		}
		v := uint64(DefaultMaxRecords)
		for b.Loop() {
			v++
			snaps := map[string][]byte{"app": fmt.Appendf(nil, `{"version":%d,"pad":%q}`, v, pad)}
			mustPut(b, s, attempt(v, hotreload.Committed, snaps), snaps)
		}
	})
	b.Run("Gated", func(b *testing.B) {
		s := mustOpen(b, b.TempDir(), Options{})
		var v uint64
		for b.Loop() {
			v++
			snaps := map[string][]byte{"app": fmt.Appendf(nil, `{"version":%d,"pad":%q}`, v, pad)}
			mustPut(b, s, attempt(v, hotreload.Pending, snaps), snaps)
			mustPut(b, s, attempt(v, hotreload.Committed, snaps), nil)
		}
	})
	b.Run("Folded", func(b *testing.B) {
		s := mustOpen(b, b.TempDir(), Options{})
		var v uint64
		for b.Loop() {
			v++
			snaps := map[string][]byte{"app": fmt.Appendf(nil, `{"version":%d,"pad":%q}`, v, pad)}
			mustPut(b, s, attempt(v, hotreload.Committed, snaps), snaps)
		}
	})
}

// BenchmarkSnapshot measures reading and verifying a 100 KB snapshot.
func BenchmarkSnapshot(b *testing.B) {
	ctx := context.Background()
	s := mustOpen(b, b.TempDir(), Options{})
	content := fmt.Appendf(nil, `{"pad":%q}`, bytes.Repeat([]byte("x"), 100_000))
	snaps := map[string][]byte{"app": content}
	mustPut(b, s, attempt(1, hotreload.Committed, snaps), snaps)
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		if _, err := s.Snapshot(ctx, 1, "app"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen measures opening a store holding 10,000 attempt records.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	s := mustOpen(b, dir, Options{})
	mustCommit(b, s, 1)
	s.Close()
	// The fixture is written without fsync, which Open does not need, in
	// segments of segmentRecords lines.
	var segment []byte
	for v := uint64(2); v <= DefaultMaxRecords; v++ {
		data, err := encodeRecord(v+1, attempt(v, hotreload.Rejected, map[string][]byte{"app": appJSON(v)}))
		if err != nil {
			b.Fatal(err)
		}
		segment = append(segment, data...)
		if v%segmentRecords == 0 || v == DefaultMaxRecords {
			if err := os.WriteFile(filepath.Join(dir, "records", segmentName(v)), segment, 0o600); err != nil {
				b.Fatal(err)
			}
			segment = nil
		}
	}
	for b.Loop() {
		s, err := Open(Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkFsync measures the floor under any durable record on this disk:
// a new 1 KB file written and fsynced (File); two such files fsynced at
// once from two goroutines, to see whether the disk shares one flush
// between them (Parallel2, per pair); and a rename made durable by
// fsyncing its directory (RenameDir), as writeFile and syncDir do.
func BenchmarkFsync(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 1024)
	dir := b.TempDir()
	n := 0
	create := func() *os.File {
		n++
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%d", n)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		return f
	}
	syncClose := func(f *os.File) {
		if err := f.Sync(); err != nil {
			b.Error(err)
		}
		f.Close()
	}
	b.Run("File", func(b *testing.B) {
		for b.Loop() {
			syncClose(create())
		}
	})
	b.Run("Parallel2", func(b *testing.B) {
		for b.Loop() {
			f, g := create(), create()
			done := make(chan struct{})
			go func() { syncClose(g); close(done) }()
			syncClose(f)
			<-done
		}
	})
	b.Run("RenameDir", func(b *testing.B) {
		f := create()
		f.Close()
		from := f.Name()
		for b.Loop() {
			n++
			to := filepath.Join(dir, fmt.Sprintf("f%d", n))
			if err := os.Rename(from, to); err != nil {
				b.Fatal(err)
			}
			if err := syncDir(dir); err != nil {
				b.Fatal(err)
			}
			from = to
		}
	})
}
