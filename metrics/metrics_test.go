package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sample returns the value of the series of family name whose labels are
// exactly labels: a counter's or gauge's value, a histogram's count. It fails
// the test when there is no such series.
func sample(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if !sameLabels(s.GetLabel(), labels) {
				continue
			}
			switch {
			case s.Counter != nil:
				return s.Counter.GetValue()
			case s.Gauge != nil:
				return s.Gauge.GetValue()
			case s.Histogram != nil:
				return float64(s.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func sameLabels(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

func outcome(result hotreload.Result, version, active uint64, targets ...string) hotreload.Outcome {
	o := hotreload.Outcome{Result: result, Version: version, Active: active, Duration: 250 * time.Millisecond}
	for _, t := range targets {
		o.Targets = append(o.Targets, hotreload.TargetOutcome{Target: t, Kind: hotreload.KindConfig})
	}
	return o
}

func TestObserve(t *testing.T) {
	app := map[string]string{"target": "app"}
	reloads := func(result string) map[string]string { return map[string]string{"target": "app", "result": result} }
	rollbacks := func(reason string) map[string]string { return map[string]string{"target": "app", "reason": reason} }

	// want lists series and their values after the outcome; series not
	// listed must still be zero where Track created them.
	type want struct {
		name   string
		labels map[string]string
		value  float64
	}
	tests := []struct {
		name    string
		outcome hotreload.Outcome
		want    []want
	}{
		{"Committed", outcome(hotreload.Committed, 7, 7, "app"), []want{
			{"hotreload_reloads_total", reloads("committed"), 1},
			{"hotreload_reloads_total", reloads("rejected"), 0},
			{"hotreload_reload_duration_seconds", app, 1},
			{"hotreload_validation_failures_total", app, 0},
			{"hotreload_rollbacks_total", rollbacks("health"), 0},
			{"hotreload_config_last_reload_successful", app, 1},
			{"hotreload_active_version", app, 7},
		}},
		{"Unchanged", outcome(hotreload.Unchanged, 7, 7, "app"), []want{
			{"hotreload_reloads_total", reloads("unchanged"), 1},
			{"hotreload_reloads_total", reloads("committed"), 0},
			{"hotreload_reload_duration_seconds", app, 1},
			{"hotreload_config_last_reload_successful", app, 1},
			{"hotreload_active_version", app, 7},
		}},
		{"Rejected", outcome(hotreload.Rejected, 8, 7, "app"), []want{
			{"hotreload_reloads_total", reloads("rejected"), 1},
			{"hotreload_validation_failures_total", app, 1},
			{"hotreload_rollbacks_total", rollbacks("health"), 0},
			{"hotreload_config_last_reload_successful", app, 0},
			{"hotreload_active_version", app, 7},
		}},
		{"RolledBack", func() hotreload.Outcome {
			o := outcome(hotreload.RolledBack, 9, 7, "app")
			o.Cause, o.Reason = "health", "check upstream failing"
			return o
		}(), []want{
			{"hotreload_reloads_total", reloads("rolled_back"), 1},
			{"hotreload_rollbacks_total", rollbacks("health"), 1},
			{"hotreload_rollbacks_total", rollbacks("apply"), 0},
			{"hotreload_validation_failures_total", app, 0},
			{"hotreload_config_last_reload_successful", app, 0},
			{"hotreload_active_version", app, 7},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New()
			m.Observe(tt.outcome)
			for _, w := range tt.want {
				if got := sample(t, m, w.name, w.labels); got != w.value {
					t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
				}
			}
		})
	}
}

// TestObserveSequence follows one target through every kind of outcome and
// checks the counters accumulate and the gauges follow the last outcome.
func TestObserveSequence(t *testing.T) {
	m := metrics.New()
	m.Track("app")
	rb := outcome(hotreload.RolledBack, 4, 2, "app")
	rb.Cause = "apply"
	for _, o := range []hotreload.Outcome{
		outcome(hotreload.Committed, 1, 1, "app"),
		outcome(hotreload.Committed, 2, 2, "app"),
		outcome(hotreload.Rejected, 3, 2, "app"),
		rb,
		outcome(hotreload.Unchanged, 2, 2, "app"),
	} {
		m.Observe(o)
	}
	expected := `
# HELP hotreload_reloads_total Reload transactions by target and result (committed, unchanged, rejected, rolled_back).
# TYPE hotreload_reloads_total counter
hotreload_reloads_total{result="committed",target="app"} 2
hotreload_reloads_total{result="rejected",target="app"} 1
hotreload_reloads_total{result="rolled_back",target="app"} 1
hotreload_reloads_total{result="unchanged",target="app"} 1
# HELP hotreload_rollbacks_total Automatic rollbacks by target and reason (apply, health, history, commit).
# TYPE hotreload_rollbacks_total counter
hotreload_rollbacks_total{reason="apply",target="app"} 1
hotreload_rollbacks_total{reason="commit",target="app"} 0
hotreload_rollbacks_total{reason="health",target="app"} 0
hotreload_rollbacks_total{reason="history",target="app"} 0
# HELP hotreload_validation_failures_total Candidates rejected by validation, by target.
# TYPE hotreload_validation_failures_total counter
hotreload_validation_failures_total{target="app"} 1
# HELP hotreload_config_last_reload_successful 1 if the target's last reload committed or was unchanged, 0 if it was rejected or rolled back.
# TYPE hotreload_config_last_reload_successful gauge
hotreload_config_last_reload_successful{target="app"} 1
# HELP hotreload_active_version The version live after the last transaction that involved the target.
# TYPE hotreload_active_version gauge
hotreload_active_version{target="app"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(expected),
		"hotreload_reloads_total", "hotreload_rollbacks_total", "hotreload_validation_failures_total",
		"hotreload_config_last_reload_successful", "hotreload_active_version"); err != nil {
		t.Error(err)
	}
	if got := sample(t, m, "hotreload_reload_duration_seconds", map[string]string{"target": "app"}); got != 5 {
		t.Errorf("duration count = %v, want 5", got)
	}
}

func TestObserveSeveralTargets(t *testing.T) {
	m := metrics.New()
	o := outcome(hotreload.RolledBack, 5, 4, "app", "plugin")
	o.Cause = "health"
	m.Observe(o)
	for _, target := range []string{"app", "plugin"} {
		if got := sample(t, m, "hotreload_rollbacks_total", map[string]string{"target": target, "reason": "health"}); got != 1 {
			t.Errorf("rollbacks of %s = %v, want 1", target, got)
		}
		if got := sample(t, m, "hotreload_active_version", map[string]string{"target": target}); got != 4 {
			t.Errorf("active version of %s = %v, want 4", target, got)
		}
	}
}

func TestObserveWithoutTargets(t *testing.T) {
	m := metrics.New()
	m.Observe(outcome(hotreload.Rejected, 3, 2))
	if got := sample(t, m, "hotreload_reloads_total", map[string]string{"target": "", "result": "rejected"}); got != 1 {
		t.Errorf("reloads{target=\"\"} = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.Registry(), "hotreload_config_last_reload_successful"); n != 0 {
		t.Errorf("%d last-successful series for an outcome naming no target, want 0", n)
	}
}

// TestSlowReloadBucket checks the bucket the slow-reload rule relies on: a
// reload of 31 s is counted, but not in le="30".
func TestSlowReloadBucket(t *testing.T) {
	m := metrics.New()
	for _, d := range []time.Duration{30 * time.Second, 31 * time.Second} {
		o := outcome(hotreload.Committed, 1, 1, "app")
		o.Duration = d
		m.Observe(o)
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(fams, func(f *dto.MetricFamily) bool { return f.GetName() == "hotreload_reload_duration_seconds" })
	h := fams[i].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 2 {
		t.Fatalf("count = %d, want 2", h.GetSampleCount())
	}
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == 30 {
			if b.GetCumulativeCount() != 1 {
				t.Errorf("le=30 holds %d reloads, want 1 (30 s is not slow, 31 s is)", b.GetCumulativeCount())
			}
			return
		}
	}
	t.Error("no bucket at 30")
}

func TestCheckAndWatcherFailures(t *testing.T) {
	m := metrics.New()
	m.TrackCheck("db")
	m.CheckFailed("upstream")
	m.CheckFailed("upstream")
	m.WatcherError("app")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hotreload_health_check_failures_total", map[string]string{"check": "upstream"}, 2},
		{"hotreload_health_check_failures_total", map[string]string{"check": "db"}, 0},
		{"hotreload_watcher_errors_total", map[string]string{"target": "app"}, 1},
	} {
		if got := sample(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func TestHandler(t *testing.T) {
	m := metrics.New()
	m.Observe(outcome(hotreload.Committed, 1, 1, "app"))
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`hotreload_reloads_total{result="committed",target="app"} 1`,
		`hotreload_reload_duration_seconds_bucket{target="app",le="30"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestRulesUseExportedMetrics checks that every metric the alerting rules
// query is one this package exports, so a rename cannot silently break them.
func TestRulesUseExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.Track("app")
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range fams {
		exported[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				exported[f.GetName()+suffix] = true
			}
		}
	}
	used := regexp.MustCompile(`hotreload_[a-z_]+`).FindAllString(string(rules), -1)
	if len(used) == 0 {
		t.Fatal("the rules query no hotreload metric")
	}
	for _, name := range used {
		if !exported[name] {
			t.Errorf("the rules query %s, which this package does not export", name)
		}
	}
}

// FuzzObserve feeds outcomes with arbitrary target and check names (names
// come from users) and checks that nothing panics and /metrics still renders.
func FuzzObserve(f *testing.F) {
	f.Add("app", "rolled_back", "health", "db", int64(time.Second))
	f.Add("", "rejected", "", "", int64(0))
	f.Add("\xff\xfe", "weird", "\x00", "ch\xc3", int64(-1))
	f.Fuzz(func(t *testing.T, target, result, cause, check string, d int64) {
		m := metrics.New()
		o := outcome(hotreload.Result(result), 1, 1, target)
		o.Cause, o.Duration = cause, time.Duration(d)
		m.Observe(o)
		m.CheckFailed(check)
		m.WatcherError(target)
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("/metrics answered %d: %s", rec.Code, rec.Body)
		}
	})
}

func BenchmarkObserve(b *testing.B) {
	m := metrics.New()
	o := outcome(hotreload.Committed, 1, 1, "app")
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(o)
	}
}
