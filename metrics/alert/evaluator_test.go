package alert_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/events"
	"github.com/cybercorp/hotreload/metrics/alert"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// fakeClock is the injected clock: it stands still until set.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// fixture is an evaluator on a fake clock, publishing on a real bus and
// logging to a buffer.
type fixture struct {
	t     *testing.T
	clock *fakeClock
	ev    *alert.Evaluator
	sub   *events.Subscription[any]
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, th alert.Thresholds) *fixture {
	t.Helper()
	bus := events.New()
	t.Cleanup(bus.Close)
	f := &fixture{t: t, clock: &fakeClock{now: t0}, sub: events.Subscribe[any](bus), logs: &bytes.Buffer{}}
	ev, err := alert.New(alert.Options{
		Thresholds: th,
		Publisher:  bus,
		Logger:     slog.New(slog.NewTextHandler(f.logs, nil)),
		Now:        f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.ev = ev
	return f
}

// at moves the clock to t0+d.
func (f *fixture) at(d time.Duration) *fixture {
	f.clock.set(t0.Add(d))
	return f
}

// observe feeds n outcomes of the result and duration, each listing targets.
func (f *fixture) observe(n int, result hotreload.Result, d time.Duration, targets ...string) {
	for range n {
		o := hotreload.Outcome{Result: result, Duration: d}
		if result == hotreload.RolledBack {
			o.Cause = "health"
		}
		for _, t := range targets {
			o.Targets = append(o.Targets, hotreload.TargetOutcome{Target: t})
		}
		f.ev.Observe(o)
	}
}

// want checks the active alerts, as "Name=value" strings, sorted by name.
func (f *fixture) want(active ...string) {
	f.t.Helper()
	var got []string
	for _, a := range f.ev.Active() {
		got = append(got, fmt.Sprintf("%s=%.4g", a.Name, a.Value))
	}
	if strings.Join(got, " ") != strings.Join(active, " ") {
		f.t.Fatalf("at t0+%s active alerts %v, want %v", f.clock.Now().Sub(t0), got, active)
	}
}

// wantEvents checks the events published since the last call, as
// "fired Name@offset" and "resolved Name@offset" strings.
func (f *fixture) wantEvents(want ...string) {
	f.t.Helper()
	var got []string
	for {
		select {
		case ev := <-f.sub.C():
			switch ev := ev.(type) {
			case alert.FiredEvent:
				if ev.Type != alert.TypeFired || !ev.Time.Equal(ev.Alert.Since) {
					f.t.Errorf("fired event header %+v, alert since %s", ev.Header, ev.Alert.Since)
				}
				got = append(got, fmt.Sprintf("fired %s@%s", ev.Alert.Name, ev.Time.Sub(t0)))
			case alert.ResolvedEvent:
				if ev.Type != alert.TypeResolved {
					f.t.Errorf("resolved event type %q", ev.Type)
				}
				got = append(got, fmt.Sprintf("resolved %s@%s", ev.Alert.Name, ev.Time.Sub(t0)))
			default:
				f.t.Errorf("unexpected event %T", ev)
			}
			continue
		default:
		}
		break
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		f.t.Fatalf("events %v, want %v", got, want)
	}
}

func TestRollbacksFrequent(t *testing.T) {
	f := newFixture(t, alert.Thresholds{})
	// Each rollback comes with 9 commits, so that the failure rate stays
	// at 10%, which does not fire.
	for _, d := range []time.Duration{0, 10 * time.Minute, 20 * time.Minute} {
		f.at(d).observe(9, hotreload.Committed, time.Second, "app")
		f.observe(1, hotreload.RolledBack, time.Second, "app")
	}
	f.want() // 3 is not more than 3
	f.wantEvents()

	f.at(30*time.Minute).observe(9, hotreload.Committed, time.Second, "app")
	f.observe(1, hotreload.RolledBack, time.Second, "app")
	f.want("HotreloadRollbacksFrequent=4")
	f.wantEvents("fired HotreloadRollbacksFrequent@30m0s")
	if a := f.ev.Active()[0]; a.Severity != alert.Critical || !a.Since.Equal(t0.Add(30*time.Minute)) ||
		a.Summary != "4 automatic rollbacks in the last 1h (threshold 3)" {
		t.Errorf("alert %+v", a)
	}

	f.at(time.Hour - time.Nanosecond).want("HotreloadRollbacksFrequent=4")
	f.at(time.Hour).want() // the rollback at t0 left the window
	f.wantEvents("resolved HotreloadRollbacksFrequent@1h0m0s")

	logs := f.logs.String()
	for _, line := range []string{`msg="alert fired" alert=HotreloadRollbacksFrequent severity=critical value=4`,
		`msg="alert resolved" alert=HotreloadRollbacksFrequent severity=critical value=3`} {
		if !strings.Contains(logs, line) {
			t.Errorf("logs lack %q:\n%s", line, logs)
		}
	}
}

func TestValidationFailuresFrequent(t *testing.T) {
	t.Run("Boundaries", func(t *testing.T) {
		f := newFixture(t, alert.Thresholds{})
		for i := range 5 {
			f.at(time.Duration(i)*time.Minute).observe(1, hotreload.Rejected, time.Millisecond, "app")
		}
		f.want("HotreloadReloadFailureRateHigh=1")
		f.at(5*time.Minute).observe(1, hotreload.Rejected, time.Millisecond, "app")
		f.want("HotreloadReloadFailureRateHigh=1", "HotreloadValidationFailuresFrequent=6")
		f.at(10*time.Minute-time.Nanosecond).want("HotreloadReloadFailureRateHigh=1", "HotreloadValidationFailuresFrequent=6")
		f.at(10 * time.Minute).want("HotreloadReloadFailureRateHigh=1")
		f.wantEvents("fired HotreloadReloadFailureRateHigh@0s",
			"fired HotreloadValidationFailuresFrequent@5m0s",
			"resolved HotreloadValidationFailuresFrequent@10m0s")
	})
	t.Run("CountsPerTarget", func(t *testing.T) {
		// As hotreload_validation_failures_total: a rejected change of two
		// targets is two failures.
		f := newFixture(t, alert.Thresholds{})
		f.observe(2, hotreload.Rejected, time.Millisecond, "app", "plugin")
		f.want("HotreloadReloadFailureRateHigh=1")
		f.observe(1, hotreload.Rejected, time.Millisecond, "app", "plugin")
		f.want("HotreloadReloadFailureRateHigh=1", "HotreloadValidationFailuresFrequent=6")
	})
}

func TestReloadFailureRateHigh(t *testing.T) {
	t.Run("Boundaries", func(t *testing.T) {
		f := newFixture(t, alert.Thresholds{})
		f.observe(9, hotreload.Committed, time.Millisecond, "app")
		f.observe(1, hotreload.Rejected, time.Millisecond, "app")
		f.want() // exactly 10% is not more than 10%
		f.at(time.Minute).observe(1, hotreload.RolledBack, time.Millisecond, "app")
		f.want("HotreloadReloadFailureRateHigh=0.1818") // 2 of 11
		f.at(2*time.Minute).observe(9, hotreload.Committed, time.Millisecond, "app")
		f.want() // 2 of 20
		f.wantEvents("fired HotreloadReloadFailureRateHigh@1m0s", "resolved HotreloadReloadFailureRateHigh@2m0s")
	})
	t.Run("UnchangedCounts", func(t *testing.T) {
		f := newFixture(t, alert.Thresholds{})
		f.observe(9, hotreload.Unchanged, time.Millisecond)
		f.observe(1, hotreload.Rejected, time.Millisecond)
		f.want()
	})
	t.Run("Expiry", func(t *testing.T) {
		f := newFixture(t, alert.Thresholds{})
		f.at(time.Second).observe(1, hotreload.Rejected, time.Millisecond, "app")
		f.at(time.Hour + time.Second - time.Nanosecond).want("HotreloadReloadFailureRateHigh=1")
		f.at(time.Hour + time.Second).want() // nothing left: 0 of 0 does not fire
		f.wantEvents("fired HotreloadReloadFailureRateHigh@1s", "resolved HotreloadReloadFailureRateHigh@1h0m1s")
	})
}

func TestReloadSlow(t *testing.T) {
	f := newFixture(t, alert.Thresholds{})
	f.observe(1, hotreload.Committed, 30*time.Second, "app")
	f.want() // 30 s is not longer than 30 s
	f.at(5*time.Minute).observe(1, hotreload.Committed, 31*time.Second, "app")
	f.want("HotreloadReloadSlow=31")
	if s := f.ev.Active()[0].Summary; s != "a reload took 31s in the last 1h (threshold 30s)" {
		t.Errorf("summary %q", s)
	}
	f.at(65*time.Minute - time.Nanosecond).want("HotreloadReloadSlow=31")
	f.at(65 * time.Minute).want()
	f.wantEvents("fired HotreloadReloadSlow@5m0s", "resolved HotreloadReloadSlow@1h5m0s")
}

func TestCustomThresholds(t *testing.T) {
	th := alert.DefaultThresholds()
	th.Rollbacks, th.RollbackWindow = 0, 90*time.Second
	f := newFixture(t, th)
	f.observe(9, hotreload.Committed, time.Millisecond, "app")
	f.observe(1, hotreload.RolledBack, time.Millisecond, "app")
	f.want("HotreloadRollbacksFrequent=1")
	if s := f.ev.Active()[0].Summary; s != "1 automatic rollbacks in the last 1m30s (threshold 0)" {
		t.Errorf("summary %q", s)
	}

	// Raising a threshold resolves at once; lowering one fires at once.
	th.Rollbacks = 1
	if err := f.ev.SetThresholds(th); err != nil {
		t.Fatal(err)
	}
	f.want()
	th.Rollbacks, th.FailureRatio = 0, 0.05
	if err := f.ev.SetThresholds(th); err != nil {
		t.Fatal(err)
	}
	f.want("HotreloadReloadFailureRateHigh=0.1", "HotreloadRollbacksFrequent=1")
	th.RollbackWindow = 2 * time.Minute
	if err := f.ev.SetThresholds(th); err != nil {
		t.Fatal(err)
	}
	if s := f.ev.Active()[1].Summary; s != "1 automatic rollbacks in the last 2m (threshold 0)" {
		t.Errorf("summary after SetThresholds %q", s)
	}
	if got := f.ev.Thresholds(); got != th {
		t.Errorf("Thresholds() = %+v, want %+v", got, th)
	}
	f.at(2*time.Minute-time.Nanosecond).want("HotreloadReloadFailureRateHigh=0.1", "HotreloadRollbacksFrequent=1")
	f.at(2 * time.Minute).want("HotreloadReloadFailureRateHigh=0.1")
	f.wantEvents("fired HotreloadRollbacksFrequent@0s", "resolved HotreloadRollbacksFrequent@0s",
		"fired HotreloadReloadFailureRateHigh@0s", "fired HotreloadRollbacksFrequent@0s",
		"resolved HotreloadRollbacksFrequent@2m0s")
}

func TestInvalidThresholds(t *testing.T) {
	tests := []struct {
		name   string
		change func(*alert.Thresholds)
		err    string
	}{
		{"ZeroWindow", func(th *alert.Thresholds) { th.FailureWindow = 0 }, "alert thresholds: FailureWindow must be positive, got 0s"},
		{"NegativeSlowReload", func(th *alert.Thresholds) { th.SlowReload = -time.Second }, "alert thresholds: SlowReload must be positive, got -1s"},
		{"RatioOne", func(th *alert.Thresholds) { th.FailureRatio = 1 }, "alert thresholds: FailureRatio must be in [0, 1), got 1"},
		{"RatioNaN", func(th *alert.Thresholds) { th.FailureRatio = nan() }, "alert thresholds: FailureRatio must be in [0, 1), got NaN"},
		{"NegativeRollbacks", func(th *alert.Thresholds) { th.Rollbacks = -1 }, "alert thresholds: Rollbacks must not be negative, got -1"},
		{"NegativeValidationFailures", func(th *alert.Thresholds) { th.ValidationFailures = -2 }, "alert thresholds: ValidationFailures must not be negative, got -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := alert.DefaultThresholds()
			tt.change(&th)
			_, err := alert.New(alert.Options{Thresholds: th})
			if err == nil || err.Error() != tt.err {
				t.Fatalf("New: %v, want %q", err, tt.err)
			}
			if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
				t.Errorf("code %q, want invalid", hotreload.ErrorCode(err))
			}
			ev, err := alert.New(alert.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := ev.SetThresholds(th); err == nil || err.Error() != tt.err {
				t.Errorf("SetThresholds: %v, want %q", err, tt.err)
			}
			if ev.Thresholds() != alert.DefaultThresholds() {
				t.Error("a rejected SetThresholds changed the thresholds")
			}
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

// TestRulesMatchPrometheusFile fires all four rules at once and checks that
// their names and severities are those of the Prometheus rules file.
func TestRulesMatchPrometheusFile(t *testing.T) {
	rules, err := os.ReadFile("../../deploy/prometheus/hotreload-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var inFile []string
	for _, m := range regexp.MustCompile(`(?s)- alert: (\w+).*?severity: (\w+)`).FindAllStringSubmatch(string(rules), -1) {
		inFile = append(inFile, m[1]+"/"+m[2])
	}

	f := newFixture(t, alert.Thresholds{})
	f.observe(6, hotreload.Rejected, time.Minute, "app")
	f.observe(4, hotreload.RolledBack, time.Millisecond, "app")
	var firing []string
	for _, a := range f.ev.Active() {
		firing = append(firing, a.Name+"/"+string(a.Severity))
	}
	want := []string{"HotreloadReloadFailureRateHigh/warning", "HotreloadReloadSlow/warning",
		"HotreloadRollbacksFrequent/critical", "HotreloadValidationFailuresFrequent/warning"}
	if strings.Join(firing, " ") != strings.Join(want, " ") {
		t.Errorf("firing %v, want %v", firing, want)
	}
	if strings.Join(inFile, " ") != strings.Join(want, " ") {
		t.Errorf("the rules file has %v, the evaluator %v", inFile, want)
	}
}

// TestRunResolvesOnTime runs the evaluator on the real clock: an alert
// resolves when its window passes, with no further outcome.
func TestRunResolvesOnTime(t *testing.T) {
	const window = 200 * time.Millisecond
	bus := events.New()
	defer bus.Close()
	resolved := events.Subscribe[alert.ResolvedEvent](bus)
	th := alert.DefaultThresholds()
	th.Rollbacks, th.RollbackWindow, th.FailureWindow = 0, window, window
	ev, err := alert.New(alert.Options{Thresholds: th, Publisher: bus, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- ev.Run(ctx) }()

	observed := time.Now()
	ev.Observe(hotreload.Outcome{Result: hotreload.RolledBack, Cause: "health"})
	if n := len(ev.Active()); n != 2 {
		t.Fatalf("%d alerts active after a rollback, want 2", n)
	}
	for range 2 {
		select {
		case r := <-resolved.C():
			if elapsed := r.Time.Sub(observed); elapsed < window {
				t.Errorf("%s resolved after %s, before its %s window passed", r.Alert.Name, elapsed, window)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not resolve the alerts")
		}
	}
	if n := len(ev.Active()); n != 0 {
		t.Errorf("%d alerts still active", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// BenchmarkObserve measures one outcome with a full hour of outcomes at
// one per millisecond-equivalent in the windows: the cost is the expiry and
// the evaluation, not the window size.
func BenchmarkObserve(b *testing.B) {
	clock := &fakeClock{now: t0}
	ev, err := alert.New(alert.Options{Logger: slog.New(slog.DiscardHandler), Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	o := hotreload.Outcome{Result: hotreload.Committed, Targets: []hotreload.TargetOutcome{{Target: "app"}}}
	b.ReportAllocs()
	for b.Loop() {
		clock.set(clock.Now().Add(time.Millisecond))
		ev.Observe(o)
	}
}

// TestRulesShowValueAndThreshold: every rule has its value beside its
// threshold and window, firing or not.
func TestRulesShowValueAndThreshold(t *testing.T) {
	f := newFixture(t, alert.Thresholds{})
	f.observe(2, hotreload.Committed, time.Millisecond, "app")
	f.observe(1, hotreload.Rejected, time.Millisecond, "app")
	f.observe(1, hotreload.RolledBack, 40*time.Second, "app")
	got := map[string]alert.Rule{}
	var order []string
	for _, r := range f.ev.Rules() {
		got[r.Name] = r
		order = append(order, r.Name)
	}
	want := []alert.Rule{
		{Name: alert.ReloadFailureRateHigh, Severity: alert.Warning, Value: 0.5, Threshold: 0.1, Window: time.Hour, Firing: true},
		{Name: alert.ReloadSlow, Severity: alert.Warning, Value: 40, Threshold: 30, Window: time.Hour, Firing: true},
		{Name: alert.RollbacksFrequent, Severity: alert.Critical, Value: 1, Threshold: 3, Window: time.Hour},
		{Name: alert.ValidationFailuresFrequent, Severity: alert.Warning, Value: 1, Threshold: 5, Window: 10 * time.Minute},
	}
	if len(order) != len(want) {
		t.Fatalf("rules %v, want 4", order)
	}
	for i, w := range want {
		if order[i] != w.Name || got[w.Name] != w {
			t.Errorf("rule %d: %+v, want %+v", i, got[order[i]], w)
		}
	}
}

// TestThresholdsMatchPrometheusFile: DefaultThresholds, which the
// dashboard shows beside each rule's value, are the thresholds and windows
// the Prometheus rules file states.
func TestThresholdsMatchPrometheusFile(t *testing.T) {
	rules, err := os.ReadFile("../../deploy/prometheus/hotreload-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	th := alert.DefaultThresholds()
	for _, r := range []struct {
		name, window, threshold string
	}{
		{alert.ReloadFailureRateHigh, span(th.FailureWindow), fmt.Sprintf("%.2f", th.FailureRatio)},
		{alert.ReloadSlow, span(th.SlowWindow), "0"},
		{alert.RollbacksFrequent, span(th.RollbackWindow), fmt.Sprint(th.Rollbacks)},
		{alert.ValidationFailuresFrequent, span(th.ValidationWindow), fmt.Sprint(th.ValidationFailures)},
	} {
		m := regexp.MustCompile(`(?s)- alert: ` + r.name + `\n\s+(?:#[^\n]*\n\s+)*expr: \|\n(.*?)\n\s+labels:`).FindSubmatch(rules)
		if m == nil {
			t.Fatalf("no rule %s in the rules file", r.name)
		}
		expr := string(m[1])
		if !strings.Contains(expr, "["+r.window+"]") || !strings.HasSuffix(strings.TrimSpace(expr), "> "+r.threshold) {
			t.Errorf("%s: the rules file says\n%s\nwant window [%s] and threshold > %s", r.name, expr, r.window, r.threshold)
		}
	}
	// The slow rule counts the reloads not in the bucket of SlowReload.
	if !strings.Contains(string(rules), fmt.Sprintf(`le=~"%g(\\.0)?"`, th.SlowReload.Seconds())) {
		t.Errorf("the slow rule does not count the le=%q bucket", fmt.Sprint(th.SlowReload.Seconds()))
	}
}

// span writes a window as PromQL does: 1h, 10m.
func span(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}
