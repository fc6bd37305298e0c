package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kjson "github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/viper"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/config"
)

// section is one part of the benchmark config: ten string keys.
type section struct {
	Host string `json:"host"`
	K1   string `json:"k1"`
	K2   string `json:"k2"`
	K3   string `json:"k3"`
	K4   string `json:"k4"`
	K5   string `json:"k5"`
	K6   string `json:"k6"`
	K7   string `json:"k7"`
	K8   string `json:"k8"`
	K9   string `json:"k9"`
}

// readConfig is the ~50-key config every reader reads.
type readConfig struct {
	Server  section `json:"server"`
	DB      section `json:"db"`
	Cache   section `json:"cache"`
	Limits  section `json:"limits"`
	Logging section `json:"logging"`
}

// readConfigJSON renders the config with generation n in every value.
func readConfigJSON(n int) []byte {
	doc := map[string]any{}
	for _, name := range []string{"server", "db", "cache", "limits", "logging"} {
		s := map[string]any{"host": fmt.Sprintf("%s-%d.internal", name, n)}
		for i := 1; i <= 9; i++ {
			s[fmt.Sprintf("k%d", i)] = fmt.Sprintf("%s-value-%d-%d", name, i, n)
		}
		doc[name] = s
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// yieldEvery is how many reads a reader does between two runtime.Gosched
// calls, so that the reloader really runs on a busy machine.
const yieldEvery = 1024

// reloadInterval paces the background reloader at about 1,000 reloads/s;
// a reloader that falls behind catches up without sleeping.
const reloadInterval = time.Millisecond

// reloader calls reload about 1,000 times a second until stopped and
// reports how many reloads ran per second of benchmark.
type reloader struct {
	stop  chan struct{}
	done  sync.WaitGroup
	count atomic.Int64
	start time.Time
}

func startReloader(b *testing.B, reload func(n int)) *reloader {
	b.Helper()
	r := &reloader{stop: make(chan struct{}), start: time.Now()}
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		timer := time.NewTimer(reloadInterval)
		defer timer.Stop()
		next := r.start
		for n := 1; ; n++ {
			next = next.Add(reloadInterval)
			if d := time.Until(next); d > 0 {
				timer.Reset(d)
				select {
				case <-r.stop:
					return
				case <-timer.C:
				}
			} else {
				select {
				case <-r.stop:
					return
				default:
				}
			}
			reload(n)
			r.count.Add(1)
		}
	}()
	return r
}

func (r *reloader) finish(b *testing.B) {
	b.StopTimer()
	close(r.stop)
	r.done.Wait()
	b.ReportMetric(float64(r.count.Load())/time.Since(r.start).Seconds(), "reloads/s")
}

// storeTarget returns a config target loaded with generation 0.
func storeTarget(b *testing.B) *config.Target[readConfig] {
	b.Helper()
	t, err := config.NewTarget(config.Options[readConfig]{Format: config.JSON})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(t.Close)
	applyContent(b, t, readConfigJSON(0))
	return t
}

func applyContent(b *testing.B, t *config.Target[readConfig], content []byte) {
	ctx := context.Background()
	ch, err := t.Prepare(ctx, hotreload.Candidate{Content: content})
	if err != nil {
		b.Error(err)
		return
	}
	if err := ch.Apply(ctx); err != nil {
		b.Error(err)
		return
	}
	if err := ch.Commit(ctx); err != nil {
		b.Error(err)
	}
}

// reads counts what the readers of one benchmark read, so that the compiler
// cannot drop a read, and yields now and then so that the reloader runs.
type reads struct{ n, bytes int }

func (r *reads) add(v string) {
	r.bytes += len(v)
	if r.n++; r.n%yieldEvery == 0 {
		runtime.Gosched()
	}
}

func (r *reads) check(b *testing.B) {
	if r.n > 0 && r.bytes == 0 {
		b.Error("every value read was empty")
	}
}

func newViper(b *testing.B) *viper.Viper {
	b.Helper()
	v := viper.New()
	v.SetConfigType("json")
	if err := v.ReadConfig(bytes.NewReader(readConfigJSON(0))); err != nil {
		b.Fatal(err)
	}
	return v
}

func newKoanf(b *testing.B) (*koanf.Koanf, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "config.json")
	if err := os.WriteFile(path, readConfigJSON(0), 0o644); err != nil {
		b.Fatal(err)
	}
	k := koanf.New(".")
	if err := k.Load(file.Provider(path), kjson.Parser()); err != nil {
		b.Fatal(err)
	}
	return k, path
}

// BenchmarkConfigRead measures the read path: one config load plus one
// field read, on every CPU at once, with the config static and while a
// background goroutine reloads it about 1,000 times a second. The bare
// atomic.Pointer load is the physical floor; viper and koanf read the same
// 50-key config by key.
func BenchmarkConfigRead(b *testing.B) {
	b.Run("static", func(b *testing.B) {
		b.Run("store", func(b *testing.B) {
			s := storeTarget(b).Store()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var r reads
				for pb.Next() {
					r.add(s.Load().Server.Host)
				}
				r.check(b)
			})
		})
		b.Run("atomic", func(b *testing.B) {
			var p atomic.Pointer[readConfig]
			p.Store(decodeReadConfig(b, 0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var r reads
				for pb.Next() {
					r.add(p.Load().Server.Host)
				}
				r.check(b)
			})
		})
		b.Run("viper", func(b *testing.B) {
			v := newViper(b)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var r reads
				for pb.Next() {
					r.add(v.GetString("server.host"))
				}
				r.check(b)
			})
		})
		b.Run("koanf", func(b *testing.B) {
			k, _ := newKoanf(b)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var r reads
				for pb.Next() {
					r.add(k.String("server.host"))
				}
				r.check(b)
			})
		})
	})
	b.Run("reloading", func(b *testing.B) {
		contents := [][]byte{readConfigJSON(1), readConfigJSON(2)}
		b.Run("store", func(b *testing.B) {
			t := storeTarget(b)
			s := t.Store()
			r := startReloader(b, func(n int) { applyContent(b, t, contents[n%2]) })
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var r reads
				for pb.Next() {
					r.add(s.Load().Server.Host)
				}
				r.check(b)
			})
			r.finish(b)
		})
		b.Run("atomic", func(b *testing.B) {
			var p atomic.Pointer[readConfig]
			p.Store(decodeReadConfig(b, 0))
			values := []*readConfig{decodeReadConfig(b, 1), decodeReadConfig(b, 2)}
			r := startReloader(b, func(n int) { p.Store(values[n%2]) })
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var r reads
				for pb.Next() {
					r.add(p.Load().Server.Host)
				}
				r.check(b)
			})
			r.finish(b)
		})
		// viper is left out: it is not safe for concurrent use, and a
		// reload while readers run is a data race that can crash the
		// process ("concurrent map read and map write").
		b.Run("koanf", func(b *testing.B) {
			k, path := newKoanf(b)
			r := startReloader(b, func(n int) {
				if err := os.WriteFile(path, contents[n%2], 0o644); err != nil {
					b.Error(err)
					return
				}
				if err := k.Load(file.Provider(path), kjson.Parser()); err != nil {
					b.Error(err)
				}
			})
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var r reads
				for pb.Next() {
					r.add(k.String("server.host"))
				}
				r.check(b)
			})
			r.finish(b)
		})
	})
}

func decodeReadConfig(b *testing.B, n int) *readConfig {
	b.Helper()
	var c readConfig
	if err := json.Unmarshal(readConfigJSON(n), &c); err != nil {
		b.Fatal(err)
	}
	return &c
}

// TestReadersNeverSeeAPartialConfig checks, under -race, what the benchmark
// relies on: readers of the store see whole generations only, while the
// config reloads.
func TestReadersNeverSeeAPartialConfig(t *testing.T) {
	target, err := config.NewTarget(config.Options[readConfig]{Format: config.JSON})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	ctx := context.Background()
	apply := func(n int) {
		ch, err := target.Prepare(ctx, hotreload.Candidate{Content: readConfigJSON(n)})
		if err != nil {
			t.Error(err)
			return
		}
		_ = ch.Apply(ctx)
		_ = ch.Commit(ctx)
	}
	apply(0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := target.Store().Load()
				var n int
				if _, err := fmt.Sscanf(c.Server.Host, "server-%d.internal", &n); err != nil {
					t.Errorf("bad host %q", c.Server.Host)
					return
				}
				if want := fmt.Sprintf("logging-value-9-%d", n); c.Logging.K9 != want {
					t.Errorf("generation %d mixed with %q", n, c.Logging.K9)
					return
				}
			}
		}()
	}
	for n := 1; n <= 100; n++ {
		apply(n)
	}
	close(stop)
	wg.Wait()
}

// BenchmarkConfigReload measures what one reload of the 50-key config costs
// the background reloader of BenchmarkConfigRead: decode with positions,
// typed decoding, diff, pointer swap and commit.
func BenchmarkConfigReload(b *testing.B) {
	t := storeTarget(b)
	contents := [][]byte{readConfigJSON(1), readConfigJSON(2)}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		applyContent(b, t, contents[n%2])
	}
}
