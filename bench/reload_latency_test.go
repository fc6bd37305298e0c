package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	koanfjson "github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/viper"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/watch"
	"github.com/cybercorp/hotreload/watch/watchtest"
)

// latencyConfig is the benchmark's configuration: a version at the start
// and at the end (a reader that sees them differ, or zero, saw a partial or
// empty config) around items that make up the size.
type latencyConfig struct {
	Version int           `json:"version"`
	Items   []latencyItem `json:"items"`
	Tail    int           `json:"tail"`
}

type latencyItem struct {
	ID     int     `json:"id"`
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
}

const latencySchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["version", "items", "tail"],
  "properties": {
    "version": {"type": "integer", "minimum": 1},
    "tail": {"type": "integer", "minimum": 1},
    "items": {"type": "array", "items": {
      "type": "object",
      "required": ["id", "name", "weight"],
      "properties": {
        "id": {"type": "integer", "minimum": 0},
        "name": {"type": "string", "minLength": 1},
        "weight": {"type": "number"}
      }
    }}
  }
}`

// configOfSize returns a function making version v of a JSON config of
// about size bytes; the items are shared, only the versions change.
func configOfSize(size int) func(v int) []byte {
	var items []byte
	for i := 0; len(items) < size-64; i++ {
		if i > 0 {
			items = append(items, ',')
		}
		items = fmt.Appendf(items, `{"id":%d,"name":"item-%08d","weight":%d.5}`, i, i, i%100)
	}
	return func(v int) []byte {
		out := fmt.Appendf(nil, `{"version":%d,"items":[`, v)
		out = append(out, items...)
		return fmt.Appendf(out, `],"tail":%d}`, v)
	}
}

// subject is one implementation under test: it watches path and calls
// applied with the version the application now sees after every change
// notification it gives the application.
type subject struct {
	name  string
	start func(tb testing.TB, path string, applied func(version int)) (read func() (version, tail int), stop func())
}

var subjects = []subject{
	{"watch", startWatch},
	{"hotreload", startHotreload},
	{"viper", startViper},
	{"koanf", startKoanf},
}

// startWatch is the watcher alone (debounce off, contents in the batch):
// the version is taken from the delivered bytes, nothing is validated or
// recorded. It shows what the pipeline adds to the watcher.
func startWatch(tb testing.TB, path string, applied func(int)) (func() (int, int), func()) {
	w, err := watch.New(watch.Options{Files: []string{path}, Debounce: watch.Off, Contents: true})
	if err != nil {
		tb.Fatal(err)
	}
	var seen atomic.Pointer[[2]int] // version and tail, swapped together
	seen.Store(&[2]int{1, 1})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range w.Events() {
			for _, p := range b.Paths {
				v, t := versions(b.Contents[p])
				seen.Store(&[2]int{v, t})
				applied(v)
			}
		}
	}()
	read := func() (int, int) {
		s := seen.Load()
		return s[0], s[1]
	}
	return read, func() { w.Close(); <-done }
}

// versions reads the version and tail of a config made by configOfSize
// without decoding it all (0 when missing).
func versions(data []byte) (version, tail int) {
	_, _ = fmt.Sscanf(string(data[:min(len(data), 32)]), `{"version":%d,`, &version)
	if i := bytes.LastIndex(data, []byte(`"tail":`)); i >= 0 {
		_, _ = fmt.Sscanf(string(data[i:]), `"tail":%d}`, &tail)
	}
	return version, tail
}

// historyDir is where the hotreload subject keeps its history: by default
// in the test's temporary directory, on the config's file system, where
// its fsyncs share the disk with the saves; /dev/shm (no fsync) shows the
// reload without them.
var historyDir = flag.String("historydir", "", "a directory for the hotreload subject's history (default: the test's temporary directory)")

// saves, when set, replaces every size's count of saves per run.
var saves = flag.Int("saves", 0, "saves per run at every size (default: each size's own count)")

// startHotreload runs the real pipeline: the watcher (debounce off,
// contents in the batch) feeds the engine, which validates against the
// schema, records in a durable history and swaps the typed snapshot.
func startHotreload(tb testing.TB, path string, applied func(int)) (func() (int, int), func()) {
	schema, err := config.CompileSchema("schema.json", []byte(latencySchema))
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	if *historyDir != "" {
		if dir, err = os.MkdirTemp(*historyDir, "history"); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { os.RemoveAll(dir) })
	}
	hist, err := history.Open(history.Options{Dir: filepath.Join(dir, "history")})
	if err != nil {
		tb.Fatal(err)
	}
	e := hotreload.New(hotreload.Options{History: hist})
	ctx, cancel := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- e.Run(ctx) }()
	// The save patterns name the file config.yaml; its content is JSON, so
	// candidates are decoded as JSON (the format a JSON config would have),
	// and the file's size limit is JSON's (a .yaml file's is 1 MiB).
	c, _, err := config.Open(ctx, e, config.Options[latencyConfig]{Files: []string{path}, Schema: schema, Format: config.JSON,
		Limits: config.Limits{MaxBytes: 16 << 20}})
	if err != nil {
		tb.Fatal(err)
	}
	c.Subscribe("", func(u config.Update[latencyConfig]) { applied(u.New.Value.Version) })
	w, err := watch.New(watch.Options{Files: []string{path}, Debounce: watch.Off, Contents: true})
	if err != nil {
		tb.Fatal(err)
	}
	// The glue submits as the daemon's file triggers do (Engine.Submit): it
	// waits until the candidate is live, not for its record, so the next
	// save is prepared while that record is written.
	glueDone := make(chan struct{})
	go func() {
		defer close(glueDone)
		for b := range w.Events() {
			for _, p := range b.Paths {
				e.Submit(ctx, hotreload.Request{Source: "watch", Candidates: []hotreload.Candidate{{
					Target: c.Target().Name(), Content: b.Contents[p], Meta: map[string]string{"file": p},
				}}})
			}
		}
	}()
	read := func() (int, int) {
		v := c.Load()
		return v.Version, v.Tail
	}
	stop := func() {
		w.Close()
		<-glueDone
		c.Close(ctx)
		cancel()
		<-engineDone
		hist.Close()
	}
	return read, stop
}

// startViper uses viper's WatchConfig and OnConfigChange as documented.
// Viper's watcher cannot be stopped; it ends when the file is removed.
func startViper(tb testing.TB, path string, applied func(int)) (func() (int, int), func()) {
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		tb.Fatal(err)
	}
	v.OnConfigChange(func(fsnotify.Event) { applied(v.GetInt("version")) })
	v.WatchConfig()
	read := func() (int, int) { return v.GetInt("version"), v.GetInt("tail") }
	return read, func() {}
}

// startKoanf uses koanf's file provider Watch as its README does, but
// carefully: a fresh instance is loaded and swapped in only when the load
// succeeds, so readers always hold a fully loaded instance.
func startKoanf(tb testing.TB, path string, applied func(int)) (func() (int, int), func()) {
	f := file.Provider(path)
	var live atomic.Pointer[koanf.Koanf]
	k := koanf.New(".")
	if err := k.Load(f, koanfjson.Parser()); err != nil {
		tb.Fatal(err)
	}
	live.Store(k)
	err := f.Watch(func(_ any, err error) {
		if err != nil {
			return
		}
		k := koanf.New(".")
		if err := k.Load(f, koanfjson.Parser()); err != nil {
			return
		}
		live.Store(k)
		applied(k.Int("version"))
	})
	if err != nil {
		tb.Fatal(err)
	}
	read := func() (int, int) {
		k := live.Load()
		return k.Int("version"), k.Int("tail")
	}
	return read, func() { f.Unwatch() }
}

// latencySize is one config size and how many writes to time at it.
type latencySize struct {
	name   string
	bytes  int
	writes int
}

var latencySizes = []latencySize{
	{"1KB", 1 << 10, 200},
	{"100KB", 100 << 10, 200},
	{"1MB", 1 << 20, 200},
	{"10MB", 10 << 20, 20}, // fewer: a save costs hotreload ~10 s here
}

var latencyPatterns = []watchtest.Pattern{watchtest.WriteFile, watchtest.RenameOver, watchtest.ConfigMapSwap}

// BenchmarkReloadLatency times, for each subject, config size and save
// pattern, how long from the start of a save the new version is visible to
// readers (the change notification has run), with no debounce; the time
// includes writing the file. It reports the median and 99th percentile in
// ms of the saves seen within a timeout (one second plus 300 ms per MB, or
// five times the median of the saves seen, late ones included, worked out
// when their count reaches a power of two, if longer), the saves
// seen only after it (late), the saves never seen (missed), the
// notifications that repeated the version already seen (double), the
// notifications of an empty or partial config (empty), and the reads by
// concurrent readers that saw an empty or partial config, or fields of two
// versions (bad-reads). save-p50-ms and save-p99-ms are the median and
// 99th percentile of the save alone (writing the file), which the
// subject's own disk writes can slow, and after-save-p50-ms and
// after-save-p99-ms those of the time from the save's end to the
// notification (zero when the notification came first).
//
// Run it with -benchtime 1x: each iteration saves writes times.
func BenchmarkReloadLatency(b *testing.B) {
	for _, size := range latencySizes {
		makeConfig := configOfSize(size.bytes)
		for _, pattern := range latencyPatterns {
			for _, s := range subjects {
				b.Run(s.name+"/"+size.name+"/"+pattern.Name, func(b *testing.B) {
					for range b.N {
						writes := size.writes
						if *saves > 0 {
							writes = *saves
						}
						r := measureLatency(b, s, pattern, makeConfig, writes)
						b.ReportMetric(r.percentile(50), "p50-ms")
						b.ReportMetric(r.percentile(99), "p99-ms")
						b.ReportMetric(percentile(r.saves, 99), "save-p99-ms")
						b.ReportMetric(percentile(r.saves, 50), "save-p50-ms")
						b.ReportMetric(percentile(r.afterSaves, 50), "after-save-p50-ms")
						b.ReportMetric(percentile(r.afterSaves, 99), "after-save-p99-ms")
						b.ReportMetric(float64(r.missed), "missed")
						b.ReportMetric(float64(r.late), "late")
						b.ReportMetric(float64(r.double), "double")
						b.ReportMetric(float64(r.empty), "empty")
						b.ReportMetric(float64(r.badReads), "bad-reads")
					}
				})
			}
		}
	}
}

// latencyResult is what one run measured.
type latencyResult struct {
	latencies                             []time.Duration
	saves                                 []time.Duration // how long each save took
	afterSaves                            []time.Duration // from each save's end to its notification
	missed, late, double, empty, badReads int
}

func (r latencyResult) percentile(p int) float64 { return percentile(r.latencies, p) }

// percentile returns the p-th percentile of ds in ms.
func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return float64(s[max(i-1, 0)]) / float64(time.Millisecond)
}

// notification is one change notification: the version seen, and when.
type notification struct {
	version int
	at      time.Time
}

func measureLatency(b *testing.B, s subject, pattern watchtest.Pattern, makeConfig func(int) []byte, writes int) latencyResult {
	b.StopTimer()
	dir := b.TempDir()
	first := makeConfig(1)
	path := pattern.Setup(b, dir, first)
	notes := make(chan notification, 4*writes+16)
	read, stop := s.start(b, path, func(v int) {
		select {
		case notes <- notification{v, time.Now()}:
		default: // a storm of notifications: the counts below still see the rest
		}
	})

	// Readers check the config they see while saves go on.
	var badReads atomic.Int64
	readersDone := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-readersDone:
					return
				default:
				}
				for range 100 {
					if v, t := read(); v < 1 || v != t {
						badReads.Add(1)
					}
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}

	// A save not seen within the timeout is late (if seen later) or missed
	// (if never seen). The timeout grows with the subject's median so that
	// a slow subject is not written to faster than it can apply.
	base := time.Second + time.Duration(len(first)>>20)*300*time.Millisecond
	var r latencyResult
	var all []notification
	var unseen []int // saves not seen within the timeout
	started := map[int]time.Time{}
	var observed latencyResult // every latency seen, late ones too
	timeout := base
	b.StartTimer()
	for i := 2; i < writes+2; i++ {
		data := makeConfig(i)
		// The timeout is worked out again only when the latencies seen
		// reach a power of two: sorting them takes the CPU from the
		// subject, which may still be at work on the last save.
		if n := len(observed.latencies); n > 0 && n&(n-1) == 0 {
			timeout = max(base, 5*time.Duration(observed.percentile(50)*float64(time.Millisecond)))
		}
		saving := time.Now() // a notification may beat Save's return
		started[i] = saving
		pattern.Save(b, path, data)
		saved := time.Now()
		r.saves = append(r.saves, saved.Sub(saving))
		deadline := time.After(timeout)
	wait:
		for {
			select {
			case n := <-notes:
				all = append(all, n)
				if t, ok := started[n.version]; ok && n.version < i && slices.Contains(unseen, n.version) {
					observed.latencies = append(observed.latencies, n.at.Sub(t))
				}
				if n.version == i {
					observed.latencies = append(observed.latencies, n.at.Sub(saving))
					r.latencies = append(r.latencies, n.at.Sub(saving))
					r.afterSaves = append(r.afterSaves, max(n.at.Sub(saved), 0))
					break wait
				}
			case <-deadline:
				unseen = append(unseen, i)
				break wait
			}
		}
	}
	b.StopTimer()
	// Late notifications still count as doubles or empties.
	for end := time.After(500 * time.Millisecond); ; {
		select {
		case n := <-notes:
			all = append(all, n)
			continue
		case <-end:
		}
		break
	}
	close(readersDone)
	readers.Wait()
	stop()
	seen := map[int]bool{}
	for _, n := range all {
		seen[n.version] = true
	}
	for _, v := range unseen {
		if seen[v] {
			r.late++
		} else {
			r.missed++
		}
	}
	prev := 1
	for _, n := range all {
		switch {
		case n.version < 1:
			r.empty++
		case n.version == prev:
			r.double++
		}
		prev = n.version
	}
	r.badReads = int(badReads.Load())
	b.Logf("%s: %d saves, %d notifications, missed %d, late %d", s.name, writes, len(all), r.missed, r.late)
	return r
}

// TestLatencyConfig checks the benchmark's own fixture: sizes, versions
// and that the schema accepts it.
func TestLatencyConfig(t *testing.T) {
	schema, err := config.CompileSchema("schema.json", []byte(latencySchema))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range latencySizes[:3] {
		data := configOfSize(size.bytes)(7)
		if n := len(data); n < size.bytes*9/10 || n > size.bytes*11/10 {
			t.Errorf("%s: %d bytes", size.name, n)
		}
		if v, tail := versions(data); v != 7 || tail != 7 {
			t.Errorf("%s: versions %d, %d", size.name, v, tail)
		}
		doc, err := config.Decode("config.json", data, config.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if errs := schema.Validate(doc, true); len(errs) > 0 {
			t.Fatalf("%s: %v", size.name, errs)
		}
	}
	if v, tail := versions(nil); v != 0 || tail != 0 {
		t.Errorf("empty config: versions %d, %d", v, tail)
	}
}
