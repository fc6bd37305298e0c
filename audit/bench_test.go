package audit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAppend measures durable appends (write, fsync, head) one
// caller at a time, and with many callers sharing fsyncs (group commit).
func BenchmarkAppend(b *testing.B) {
	e := Entry{Kind: KindAttempt, Source: "api", Actor: "ci", Action: "patch", Targets: []Target{{Name: "config", Before: "06e9a6060cb4b2d7a31dab938767903f12b02173dc7675c441fa0f030c7f991a"}}}
	b.Run("Serial", func(b *testing.B) {
		l := MustOpen(b, Options{Dir: b.TempDir()})
		for b.Loop() {
			if err := l.Append(context.Background(), e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		l := MustOpen(b, Options{Dir: b.TempDir()})
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := l.Append(context.Background(), e); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkVerifyDir measures verifying one full log file (DefaultMaxSize
// of records, as rotation leaves it) and opening it (Open verifies the
// whole chain once). A data dir holds at most DefaultKeep+1 such files.
func BenchmarkVerifyDir(b *testing.B) {
	dir := b.TempDir()
	key, err := LoadKey(filepath.Join(dir, KeyName), true)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	var seq uint64
	prev := ""
	for len(buf) < DefaultMaxSize {
		seq++
		e := Entry{Seq: seq, Prev: prev, Time: time.Now().UTC(), Kind: KindAttempt, Source: "api", Actor: "ci", Action: "patch",
			Targets: []Target{{Name: "config", Before: "06e9a6060cb4b2d7a31dab938767903f12b02173dc7675c441fa0f030c7f991a"}}}
		line, err := seal(key, &e)
		if err != nil {
			b.Fatal(err)
		}
		buf = append(append(buf, line...), '\n')
		prev = e.MAC
	}
	if err := os.WriteFile(filepath.Join(dir, LogName), buf, 0o600); err != nil {
		b.Fatal(err)
	}
	h, err := openHead(dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := h.write(key, seq, prev); err != nil {
		b.Fatal(err)
	}
	h.f.Close()
	b.Logf("%d records, %d bytes", seq, len(buf))
	b.Run("Verify", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			if rep, err := VerifyDir(dir, ""); err != nil || !rep.OK() {
				b.Fatal(rep, err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l, err := Open(Options{Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			l.Close()
		}
	})
}
