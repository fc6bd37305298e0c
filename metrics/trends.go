package metrics

import (
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/httpjson"
)

// TrendMinutes is how many minutes the record of recent transactions keeps
// per target: 24 hours.
const TrendMinutes = 24 * 60

// MaxRecentRollbacks is how many rollbacks, with their reasons, the record
// keeps.
const MaxRecentRollbacks = 50

// TrendWindow is a span the record answers for, drawn as Points steps.
type TrendWindow struct {
	// Name is how the API names it: "1h" or "24h".
	Name string
	// Span is how far back it looks.
	Span time.Duration
	// Step is the span of each point.
	Step time.Duration
}

// TrendWindows are the windows GET /api/v1/trends answers for.
var TrendWindows = []TrendWindow{
	{Name: "1h", Span: time.Hour, Step: time.Minute},
	{Name: "24h", Span: 24 * time.Hour, Step: 15 * time.Minute},
}

// minute is one target's transactions in one minute: the same counts and
// histogram buckets as the collectors of /metrics.
type minute struct {
	at        int64             // unix minute
	results   map[string]uint64 // by result
	rollbacks map[string]uint64 // by cause
	buckets   histogram
}

// histogram counts durations per bucket of durationBuckets (not
// cumulative), the last for +Inf.
type histogram [len(durationBuckets) + 1]uint64

// trendRing is one target's last TrendMinutes minutes, indexed by unix
// minute modulo TrendMinutes; a slot whose at is older holds nothing.
type trendRing [TrendMinutes]*minute

// Rollback is one rolled back transaction of the record.
type Rollback struct {
	Time    time.Time `json:"time"`
	Version uint64    `json:"version"`
	Targets []string  `json:"targets"`
	// Cause is the reason label of hotreload_rollbacks_total.
	Cause string `json:"cause"`
	// Reason is the engine's reason, as in history.
	Reason string `json:"reason,omitempty"`
}

// trends is the engine's record of recent transactions. Its memory is
// bounded: per target at most TrendMinutes minute slots (about 250 bytes
// each, so under 400 KB per target, allocated only for minutes that saw a
// transaction) and MaxRecentRollbacks rollbacks.
type trends struct {
	mu        sync.Mutex
	targets   map[string]*trendRing
	rollbacks []Rollback // oldest first
}

// observe records o at now for each of targets. The caller passes
// Targets(o) with labels made valid, as the collectors count it.
func (tr *trends) observe(now time.Time, targets []string, o hotreload.Outcome) {
	at := now.Unix() / 60
	seconds := o.Duration.Seconds()
	b := sort.SearchFloat64s(durationBuckets[:], seconds) // the first bound >= seconds, as le counts
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.targets == nil {
		tr.targets = map[string]*trendRing{}
	}
	for _, t := range targets {
		ring := tr.targets[t]
		if ring == nil {
			ring = new(trendRing)
			tr.targets[t] = ring
		}
		m := ring[at%TrendMinutes]
		if m == nil || m.at != at {
			m = &minute{at: at, results: map[string]uint64{}, rollbacks: map[string]uint64{}}
			ring[at%TrendMinutes] = m
		}
		m.results[string(o.Result)]++
		m.buckets[b]++
		if o.Result == hotreload.RolledBack {
			m.rollbacks[label(o.Cause)]++
		}
	}
	if o.Result == hotreload.RolledBack {
		if len(tr.rollbacks) == MaxRecentRollbacks {
			tr.rollbacks = slices.Delete(tr.rollbacks, 0, 1)
		}
		tr.rollbacks = append(tr.rollbacks, Rollback{Time: now, Version: o.Version, Targets: targets, Cause: o.Cause, Reason: o.Reason})
	}
}

// Trends is the record's answer for one window.
type Trends struct {
	// Window is the window's name, Step the span of each point in
	// nanoseconds; the points cover [From, To).
	Window string        `json:"window"`
	Step   time.Duration `json:"step_ns"`
	From   time.Time     `json:"from"`
	To     time.Time     `json:"to"`
	// Targets are the targets that saw a transaction in the window, by
	// name. The empty name counts outcomes that listed no target.
	Targets []TargetTrend `json:"targets"`
	// Results are the counts by result of every target, per step, oldest
	// first: sum without (target) (increase(hotreload_reloads_total)).
	Results []ResultPoint `json:"results"`
	// Rollbacks are the rollbacks in the window, newest first, at most
	// MaxRecentRollbacks.
	Rollbacks []Rollback `json:"rollbacks"`
}

// TargetTrend is one target in a window.
type TargetTrend struct {
	Target string `json:"target"`
	// Count is how many transactions involved the target; P50 and P99 are
	// their duration quantiles in seconds, computed from the buckets of
	// hotreload_reload_duration_seconds as histogram_quantile does (0
	// when Count is 0).
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	// Results counts its transactions by result, Rollbacks its rollbacks
	// by cause.
	Results   map[string]uint64 `json:"results"`
	Rollbacks map[string]uint64 `json:"rollbacks"`
	// Points are the same per step, oldest first.
	Points []DurationPoint `json:"points"`
}

// DurationPoint is one step of a target's reload durations.
type DurationPoint struct {
	Time  time.Time `json:"time"`
	Count uint64    `json:"count"`
	P50   float64   `json:"p50"`
	P99   float64   `json:"p99"`
}

// ResultPoint is one step's counts by result.
type ResultPoint struct {
	Time    time.Time         `json:"time"`
	Results map[string]uint64 `json:"results"`
}

// report answers for w at now: the points are w.Step long, the last one
// ends with the current minute.
func (tr *trends) report(now time.Time, w TrendWindow) Trends {
	end := now.Unix()/60 + 1 // exclusive, in minutes
	perStep := int64(w.Step / time.Minute)
	steps := int64(w.Span / w.Step)
	first := end - steps*perStep
	out := Trends{Window: w.Name, Step: w.Step, From: time.Unix(first*60, 0).UTC(), To: time.Unix(end*60, 0).UTC(),
		Targets: []TargetTrend{}, Results: make([]ResultPoint, steps), Rollbacks: []Rollback{}}
	for i := range out.Results {
		out.Results[i] = ResultPoint{Time: time.Unix((first+int64(i)*perStep)*60, 0).UTC(), Results: map[string]uint64{}}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(tr.targets)) {
		ring := tr.targets[name]
		tt := TargetTrend{Target: name, Results: map[string]uint64{}, Rollbacks: map[string]uint64{}, Points: make([]DurationPoint, steps)}
		var total histogram
		for i := range steps {
			var step histogram
			for at := first + i*perStep; at < first+(i+1)*perStep; at++ {
				m := ring[at%TrendMinutes]
				if m == nil || m.at != at {
					continue
				}
				for k, c := range m.buckets {
					step[k] += c
					total[k] += c
				}
				for r, c := range m.results {
					tt.Results[r] += c
					out.Results[i].Results[r] += c
				}
				for c, n := range m.rollbacks {
					tt.Rollbacks[c] += n
				}
			}
			p := DurationPoint{Time: out.Results[i].Time, Count: count(step[:])}
			if p.Count > 0 {
				p.P50, p.P99 = Quantile(0.5, durationBuckets[:], step[:]), Quantile(0.99, durationBuckets[:], step[:])
			}
			tt.Points[i] = p
		}
		if tt.Count = count(total[:]); tt.Count == 0 {
			continue
		}
		tt.P50, tt.P99 = Quantile(0.5, durationBuckets[:], total[:]), Quantile(0.99, durationBuckets[:], total[:])
		out.Targets = append(out.Targets, tt)
	}
	for i := len(tr.rollbacks) - 1; i >= 0 && !tr.rollbacks[i].Time.Before(out.From); i-- {
		out.Rollbacks = append(out.Rollbacks, tr.rollbacks[i])
	}
	return out
}

func count(buckets []uint64) uint64 {
	var n uint64
	for _, c := range buckets {
		n += c
	}
	return n
}

// Quantile estimates the q-quantile (0 < q <= 1) of a histogram as
// PromQL's histogram_quantile does: counts are per bucket (not
// cumulative), one per upper bound in bounds and a last one for +Inf; the
// value is interpolated linearly inside the first bucket whose cumulative
// count reaches the rank q*total, from 0 for the first bucket, and a rank
// in the +Inf bucket yields the highest finite bound. It returns NaN for
// an empty histogram.
func Quantile(q float64, bounds []float64, counts []uint64) float64 {
	total := count(counts)
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	var below float64
	for i, c := range counts {
		if below+float64(c) < rank {
			below += float64(c)
			continue
		}
		if i == len(bounds) {
			break
		}
		lower := 0.0
		if i > 0 {
			lower = bounds[i-1]
		}
		return lower + (bounds[i]-lower)*(rank-below)/float64(c)
	}
	return bounds[len(bounds)-1]
}

// Trends returns the record of recent transactions over the window named
// name ("1h" or "24h"), or a CodeInvalid error for another name.
func (m *Metrics) Trends(name string) (Trends, error) {
	for _, w := range TrendWindows {
		if w.Name == name {
			return m.trends.report(m.now(), w), nil
		}
	}
	return Trends{}, hotreload.Errorf(hotreload.CodeInvalid, "trends: window %q: want 1h or 24h", name)
}

// TrendsHandler answers GET /api/v1/trends?window=1h|24h (1h when absent)
// with Trends as JSON; scrub, when not nil, is applied to every rollback
// reason before it leaves.
func (m *Metrics) TrendsHandler(scrub func(string) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("window")
		if name == "" {
			name = "1h"
		}
		t, err := m.Trends(name)
		if err != nil {
			httpjson.WriteError(w, err)
			return
		}
		if scrub != nil {
			for i := range t.Rollbacks {
				t.Rollbacks[i].Reason = scrub(t.Rollbacks[i].Reason)
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		httpjson.Write(w, http.StatusOK, t)
	})
}
