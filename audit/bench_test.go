package audit

import (
	"context"
	"testing"
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
