package metrics

import (
	"math"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cybercorp/hotreload"
)

// clock is a settable clock for the record.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClocked(t *testing.T) (*Metrics, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 2, 10, 0, 30, 0, time.UTC)}
	m := New()
	m.now = c.now
	return m, c
}

func outcome(r hotreload.Result, d time.Duration, targets ...string) hotreload.Outcome {
	o := hotreload.Outcome{Result: r, Duration: d, Version: 7}
	for _, t := range targets {
		o.Targets = append(o.Targets, hotreload.TargetOutcome{Target: t})
	}
	if r == hotreload.RolledBack {
		o.Cause, o.Reason = "health", "health: check http failing"
	}
	return o
}

func mustTrends(t *testing.T, m *Metrics, window string) Trends {
	t.Helper()
	tr, err := m.Trends(window)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestQuantileAsHistogramQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4}
	for _, tc := range []struct {
		name   string
		q      float64
		counts []uint64
		want   float64
	}{
		{"MedianAtABound", 0.5, []uint64{10, 10, 0, 0}, 1},
		{"InterpolatedInsideABucket", 0.99, []uint64{10, 10, 0, 0}, 1.98},
		{"FirstBucketFromZero", 0.25, []uint64{4, 0, 0, 0}, 0.25},
		{"InfBucketIsTheHighestBound", 0.5, []uint64{0, 0, 0, 5}, 4},
		{"EmptyBucketsSkipped", 0.5, []uint64{0, 0, 2, 0}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Quantile(tc.q, bounds, tc.counts); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Quantile(%g, %v) = %g, want %g", tc.q, tc.counts, got, tc.want)
			}
		})
	}
	t.Run("EmptyIsNaN", func(t *testing.T) {
		if got := Quantile(0.5, bounds, []uint64{0, 0, 0, 0}); !math.IsNaN(got) {
			t.Errorf("got %g, want NaN", got)
		}
	})
}

// TestTrendsMatchTheCollectors: the record's counts and quantiles are
// those the registry's histogram and counters give.
func TestTrendsMatchTheCollectors(t *testing.T) {
	m, _ := newClocked(t)
	for i, d := range []time.Duration{3 * time.Millisecond, 40 * time.Millisecond, 200 * time.Millisecond, 2 * time.Second, 45 * time.Second} {
		m.Observe(outcome(hotreload.Committed, d*time.Duration(1+i%2), "config"))
	}
	m.Observe(outcome(hotreload.Rejected, time.Millisecond, "config"))
	m.Observe(outcome(hotreload.RolledBack, 6*time.Second, "config", "plugins"))

	tr := mustTrends(t, m, "1h")
	if len(tr.Targets) != 2 || tr.Targets[0].Target != "config" || tr.Targets[1].Target != "plugins" {
		t.Fatalf("targets %+v, want config and plugins", tr.Targets)
	}
	cfg := tr.Targets[0]
	if cfg.Count != 7 || cfg.Results["committed"] != 5 || cfg.Results["rejected"] != 1 || cfg.Results["rolled_back"] != 1 || cfg.Rollbacks["health"] != 1 {
		t.Errorf("config: %+v", cfg)
	}

	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var h *dto.Histogram
	for _, f := range families {
		if f.GetName() != "hotreload_reload_duration_seconds" {
			continue
		}
		for _, mt := range f.GetMetric() {
			if mt.GetLabel()[0].GetValue() == "config" {
				h = mt.GetHistogram()
			}
		}
	}
	if h == nil {
		t.Fatal("no histogram for config")
	}
	counts := make([]uint64, len(durationBuckets)+1)
	var prev uint64
	for i, b := range h.GetBucket() {
		counts[i] = b.GetCumulativeCount() - prev
		prev = b.GetCumulativeCount()
	}
	counts[len(durationBuckets)] = h.GetSampleCount() - prev
	for _, q := range []struct {
		q   float64
		got float64
	}{{0.5, cfg.P50}, {0.99, cfg.P99}} {
		if want := Quantile(q.q, durationBuckets[:], counts); q.got != want {
			t.Errorf("p%g: the record says %g, the registry's histogram %g", q.q*100, q.got, want)
		}
	}
	if len(tr.Rollbacks) != 1 || tr.Rollbacks[0].Reason != "health: check http failing" || tr.Rollbacks[0].Cause != "health" {
		t.Errorf("rollbacks %+v", tr.Rollbacks)
	}
}

// TestTrendsBucketing: each transaction lands in the step of its minute,
// the last point holds the current minute, and the 24 h window sums 15
// minute steps.
func TestTrendsBucketing(t *testing.T) {
	m, c := newClocked(t)
	m.Observe(outcome(hotreload.Committed, time.Second, "config"))
	c.add(2 * time.Minute)
	m.Observe(outcome(hotreload.Rejected, time.Second, "config"))
	m.Observe(outcome(hotreload.Unchanged, time.Millisecond, "config"))

	hour := mustTrends(t, m, "1h")
	if len(hour.Results) != 60 || hour.Step != time.Minute {
		t.Fatalf("1h: %d points of %s, want 60 of 1m", len(hour.Results), hour.Step)
	}
	if got := hour.Results[59].Results; got["rejected"] != 1 || got["unchanged"] != 1 || got["committed"] != 0 {
		t.Errorf("the current minute holds %v", got)
	}
	if got := hour.Results[57].Results; got["committed"] != 1 {
		t.Errorf("two minutes ago holds %v", got)
	}
	if !hour.To.After(c.now()) || hour.To.Sub(hour.From) != time.Hour {
		t.Errorf("1h covers [%s, %s) at %s", hour.From, hour.To, c.now())
	}

	day := mustTrends(t, m, "24h")
	if len(day.Results) != 96 || day.Step != 15*time.Minute {
		t.Fatalf("24h: %d points of %s, want 96 of 15m", len(day.Results), day.Step)
	}
	var all uint64
	for _, p := range day.Results {
		all += p.Results["committed"] + p.Results["rejected"] + p.Results["unchanged"]
	}
	if all != 3 {
		t.Errorf("24h counts %d transactions, want 3", all)
	}
	if _, err := m.Trends("7d"); hotreload.ErrorCode(err) != hotreload.CodeInvalid {
		t.Errorf("window 7d: %v, want CodeInvalid", err)
	}
}

// TestTrendsForgetAfterADay: the record holds 24 hours and no more; a slot
// is reused by the same minute of the next day.
func TestTrendsForgetAfterADay(t *testing.T) {
	m, c := newClocked(t)
	m.Observe(outcome(hotreload.RolledBack, time.Second, "config"))
	c.add(24*time.Hour - time.Minute)
	if tr := mustTrends(t, m, "24h"); len(tr.Targets) != 1 || len(tr.Rollbacks) != 1 {
		t.Fatalf("23h59m later: %+v, want the rollback still there", tr)
	}
	c.add(time.Minute)
	if tr := mustTrends(t, m, "24h"); len(tr.Targets) != 0 || len(tr.Rollbacks) != 0 {
		t.Fatalf("24h later: %+v, want nothing", tr)
	}
	m.Observe(outcome(hotreload.Committed, time.Second, "config"))
	tr := mustTrends(t, m, "24h")
	if len(tr.Targets) != 1 || tr.Targets[0].Count != 1 || tr.Targets[0].Results["rolled_back"] != 0 {
		t.Fatalf("the reused slot holds %+v, want only the new commit", tr.Targets)
	}
	for range MaxRecentRollbacks + 5 {
		m.Observe(outcome(hotreload.RolledBack, time.Second, "config"))
	}
	if n := len(m.trends.rollbacks); n != MaxRecentRollbacks {
		t.Errorf("%d rollbacks kept, want %d", n, MaxRecentRollbacks)
	}
}

// TestTrendsConcurrent observes and reads from several goroutines (run
// with -race).
func TestTrendsConcurrent(t *testing.T) {
	m, c := newClocked(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 200 {
				m.Observe(outcome(hotreload.Committed, time.Duration(i)*time.Millisecond, "config"))
				c.add(time.Second)
			}
		})
		wg.Go(func() {
			for range 50 {
				mustTrends(t, m, "1h")
			}
		})
	}
	wg.Wait()
	if tr := mustTrends(t, m, "24h"); tr.Targets[0].Count != 800 {
		t.Errorf("counted %d, want 800", tr.Targets[0].Count)
	}
}
