package health

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// lowMemory is a memory reading that never triggers.
func lowMemory(context.Context) (MemoryUsage, error) {
	return MemoryUsage{Used: 1 << 30, Limit: 8 << 30, Source: "test"}, nil
}

// mustGate returns a gate with a short window and low memory unless opts
// say otherwise.
func mustGate(tb testing.TB, m *Monitor, opts GateOptions) *Gate {
	tb.Helper()
	if opts.Window == 0 {
		opts.Window = 150 * time.Millisecond
	}
	if opts.Memory == nil {
		opts.Memory = lowMemory
	}
	g, err := NewGate(m, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

var tx = hotreload.Transaction{Version: 7, Source: "test", Targets: []string{"app"}}

// wantTrigger checks that err is the gate's conflict error for trigger
// and mentions each of words.
func wantTrigger(tb testing.TB, err error, trigger Trigger, words ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("Watch = nil, want a %s rollback", trigger)
	}
	if got := TriggerOf(err); got != trigger {
		tb.Fatalf("trigger %q (%v), want %q", got, err, trigger)
	}
	if hotreload.ErrorCode(err) != hotreload.CodeConflict {
		tb.Errorf("code %s, want conflict", hotreload.ErrorCode(err))
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			tb.Errorf("reason %q does not mention %q", err, w)
		}
	}
}

func TestGate(t *testing.T) {
	leakCheck(t)
	t.Run("PassingChecksCommit", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		mustAdd(t, m, "a", pass, CheckOptions{Critical: true})
		mustAdd(t, m, "b", pass, CheckOptions{})
		mustAdd(t, m, "c", fail, CheckOptions{}) // one of three failing is tolerated
		var runs atomic.Int32
		mustAdd(t, m, "counted", CheckFunc(func(context.Context) error { runs.Add(1); return nil }), CheckOptions{})
		start := time.Now()
		if err := mustGate(t, m, GateOptions{Rounds: 5}).Watch(t.Context(), tx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("a passing window ended after %s, before the 150ms window", d)
		}
		if runs.Load() != 5 {
			t.Errorf("checks ran %d times in the window, want 5 rounds", runs.Load())
		}
	})
	t.Run("NoWindowRunsOneRoundAtOnce", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		var runs atomic.Int32
		mustAdd(t, m, "counted", CheckFunc(func(context.Context) error { runs.Add(1); return nil }), CheckOptions{Critical: true})
		if err := mustGate(t, m, GateOptions{Window: NoWindow}).Watch(t.Context(), tx); err != nil {
			t.Fatal(err)
		}
		if runs.Load() != 1 {
			t.Errorf("checks ran %d times, want one round", runs.Load())
		}
		mustAdd(t, m, "down", fail, CheckOptions{Critical: true})
		err := mustGate(t, m, GateOptions{Window: NoWindow}).Watch(t.Context(), tx)
		wantTrigger(t, err, TriggerCritical, `critical check "down" failing`)
	})
	t.Run("CriticalCheckFailing", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		mustAdd(t, m, "a", pass, CheckOptions{})
		mustAdd(t, m, "b", pass, CheckOptions{})
		mustAdd(t, m, "upstream", fail, CheckOptions{Critical: true})
		err := mustGate(t, m, GateOptions{}).Watch(t.Context(), tx)
		wantTrigger(t, err, TriggerCritical, `critical check "upstream" failing: down`)
	})
	t.Run("CriticalCheckUnknown", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		mustAdd(t, m, "db", CheckFunc(func(context.Context) error { return ErrUnknown }), CheckOptions{Critical: true})
		wantTrigger(t, mustGate(t, m, GateOptions{}).Watch(t.Context(), tx), TriggerCritical, `"db" unknown`)
	})
	t.Run("MoreThanHalfFailing", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		mustAdd(t, m, "a", pass, CheckOptions{})
		mustAdd(t, m, "b", fail, CheckOptions{})
		mustAdd(t, m, "c", CheckFunc(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }), CheckOptions{Timeout: 10 * time.Millisecond})
		err := mustGate(t, m, GateOptions{}).Watch(t.Context(), tx)
		wantTrigger(t, err, TriggerFailing, "2 of 3 checks failing", "b (down)", "c (timed out after 10ms")
	})
	t.Run("FlappingDoesNotRollBack", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		var n atomic.Int32
		flap := CheckFunc(func(context.Context) error {
			if n.Add(1)%2 == 0 {
				return errors.New("flap")
			}
			return nil
		})
		mustAdd(t, m, "flap", flap, CheckOptions{Critical: true, FailureThreshold: 3, SuccessThreshold: 3})
		if err := mustGate(t, m, GateOptions{Rounds: 10}).Watch(t.Context(), tx); err != nil {
			t.Fatalf("flapping check rolled back: %v", err)
		}
		if n.Load() != 10 {
			t.Errorf("%d results, want 10", n.Load())
		}
	})
	t.Run("Memory", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		high := func(context.Context) (MemoryUsage, error) {
			return MemoryUsage{Used: 95, Limit: 100, Source: "cgroup"}, nil
		}
		err := mustGate(t, m, GateOptions{Memory: high}).Watch(t.Context(), tx)
		wantTrigger(t, err, TriggerMemory, "memory at 95% of", "(cgroup), above 90%")
	})
	t.Run("MemoryUnreadable", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		broken := func(context.Context) (MemoryUsage, error) { return MemoryUsage{}, ErrUnknown }
		if err := mustGate(t, m, GateOptions{Memory: broken}).Watch(t.Context(), tx); err != nil {
			t.Fatalf("an unreadable memory figure decided a rollback: %v", err)
		}
	})
	t.Run("IgnorePreexisting", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		mustAdd(t, m, "broken-before", fail, CheckOptions{Critical: true})
		mustAdd(t, m, "ok", pass, CheckOptions{})
		m.CheckAll(t.Context())
		if err := mustGate(t, m, GateOptions{IgnorePreexisting: true}).Watch(t.Context(), tx); err != nil {
			t.Fatalf("a check failing before the reload rolled it back: %v", err)
		}
		wantTrigger(t, mustGate(t, m, GateOptions{}).Watch(t.Context(), tx), TriggerCritical)
	})
	t.Run("Cancelled", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		wantTrigger(t, mustGate(t, m, GateOptions{Window: time.Minute}).Watch(ctx, tx), TriggerCancelled, "window cancelled after 0 of 5 rounds")
	})
}

// app is a real HTTP server behind a Traffic middleware whose handler can
// be made slow or failing.
type app struct {
	traffic *Traffic
	srv     *httptest.Server
	delay   atomic.Int64 // nanoseconds
	status  atomic.Int32
}

func newApp(tb testing.TB) *app {
	a := &app{traffic: &Traffic{}}
	a.status.Store(http.StatusOK)
	a.srv = httptest.NewServer(a.traffic.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(a.delay.Load()))
		w.WriteHeader(int(a.status.Load()))
	})))
	tb.Cleanup(a.srv.Close)
	return a
}

// hit sends n concurrent requests and waits for them.
func (a *app) hit(tb testing.TB, n int) {
	tb.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := a.srv.Client().Get(a.srv.URL)
			if err != nil {
				tb.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
}

// watchWhile runs the gate while load runs, and returns its answer.
func watchWhile(t *testing.T, g *Gate, load func()) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.Watch(t.Context(), tx) }()
	time.Sleep(50 * time.Millisecond) // let the window open (its first round is 250ms in)
	load()
	return <-done
}

func TestGateTraffic(t *testing.T) {
	opts := func(a *app) GateOptions {
		return GateOptions{Window: time.Second, Rounds: 4, Traffic: a.traffic, MinSamples: 10,
			MaxLatency: 100 * time.Millisecond}
	}
	t.Run("SlowHandlerRollsBack", func(t *testing.T) {
		a := newApp(t)
		g := mustGate(t, NewMonitor(MonitorOptions{}), opts(a))
		a.hit(t, 30) // the baseline: fast
		a.delay.Store(int64(150 * time.Millisecond))
		err := watchWhile(t, g, func() { a.hit(t, 20) })
		wantTrigger(t, err, TriggerLatency, "response time", "above 100ms over")
	})
	t.Run("ServerErrorsRollBack", func(t *testing.T) {
		a := newApp(t)
		g := mustGate(t, NewMonitor(MonitorOptions{}), opts(a))
		a.hit(t, 30)
		a.status.Store(http.StatusBadGateway)
		err := watchWhile(t, g, func() { a.hit(t, 10) })
		wantTrigger(t, err, TriggerExceptions, "exception rate 100% above 5%", "10 exceptions, 10 requests")
	})
	t.Run("ReportedExceptionsRollBack", func(t *testing.T) {
		a := newApp(t)
		g := mustGate(t, NewMonitor(MonitorOptions{}), opts(a))
		err := watchWhile(t, g, func() {
			a.hit(t, 10)
			for range 3 {
				a.traffic.ReportException(errors.New("nil map write"))
			}
			a.hit(t, 10)
		})
		wantTrigger(t, err, TriggerExceptions, "health: exception rate ", "last: nil map write")
	})
	t.Run("OneExceptionIsNotARate", func(t *testing.T) {
		a := newApp(t)
		g := mustGate(t, NewMonitor(MonitorOptions{}), opts(a))
		err := watchWhile(t, g, func() {
			a.hit(t, 2)
			a.traffic.ReportException(errors.New("once"))
		})
		if err != nil {
			t.Fatalf("one exception in two requests rolled back: %v", err)
		}
	})
}

// traffic returns a snapshot of n requests taking d each, failed of them
// answering 500.
func traffic(n, failed int, d time.Duration) TrafficSnapshot {
	var tr Traffic
	for i := range n {
		status := http.StatusOK
		if i < failed {
			status = http.StatusInternalServerError
		}
		tr.Observe(status, d)
	}
	return tr.Snapshot()
}

// TestJudgeTraffic checks the baseline and sample rules on exact figures.
func TestJudgeTraffic(t *testing.T) {
	o, err := GateOptions{MaxLatency: 100 * time.Millisecond, MinSamples: 10}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	none := TrafficSnapshot{}
	for _, tc := range []struct {
		name             string
		window, baseline TrafficSnapshot
		want             Trigger
	}{
		{"FastIsFine", traffic(50, 0, 10*time.Millisecond), traffic(50, 0, 10*time.Millisecond), ""},
		{"SlowerThanMax", traffic(50, 0, 300*time.Millisecond), traffic(50, 0, 10*time.Millisecond), TriggerLatency},
		{"SlowWithoutBaseline", traffic(50, 0, 300*time.Millisecond), none, TriggerLatency},
		{"TooFewSlowRequests", traffic(9, 0, 300*time.Millisecond), none, ""},
		{"AsSlowAsBefore", traffic(50, 0, 300*time.Millisecond), traffic(50, 0, 250*time.Millisecond), ""},
		{"MuchSlowerThanBefore", traffic(50, 0, 900*time.Millisecond), traffic(50, 0, 250*time.Millisecond), TriggerLatency},
		{"TooFewBaselineSamples", traffic(50, 0, 300*time.Millisecond), traffic(5, 0, 300*time.Millisecond), TriggerLatency},
		{"ErrorsWhileAlreadySlow", traffic(50, 10, 300*time.Millisecond), traffic(50, 0, 300*time.Millisecond), TriggerExceptions},
		{"FewErrors", traffic(100, 5, time.Millisecond), none, ""},
		{"ManyErrors", traffic(100, 6, time.Millisecond), none, TriggerExceptions},
		{"AsManyErrorsAsBefore", traffic(100, 20, time.Millisecond), traffic(100, 15, time.Millisecond), ""},
		{"TwoRequestsOneError", traffic(2, 1, time.Millisecond), none, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := o.judgeTraffic(tc.window, tc.baseline)
			if got := Trigger(""); v != nil {
				got = v.Trigger
				if got != tc.want {
					t.Errorf("%s: %s", got, v.Reason)
				}
			} else if tc.want != "" {
				t.Errorf("no trigger, want %s", tc.want)
			}
		})
	}
}

func TestGateOptions(t *testing.T) {
	for _, tc := range []struct {
		opts GateOptions
		msg  string
	}{
		{GateOptions{MaxFailing: 1.5}, "max failing 1.5 is not a fraction"},
		{GateOptions{MaxMemory: -0.1}, "max memory -0.1 is not a fraction"},
		{GateOptions{Window: -time.Second}, "window -1s is negative"},
		{GateOptions{Rounds: -1}, "rounds -1 is negative"},
	} {
		_, err := NewGate(NewMonitor(MonitorOptions{}), tc.opts)
		if hotreload.ErrorCode(err) != hotreload.CodeInvalid || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("NewGate(%+v): %v, want invalid %q", tc.opts, err, tc.msg)
		}
	}
	g, err := NewGate(NewMonitor(MonitorOptions{}), GateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o := g.Options(); o.Window != 90*time.Second || o.Rounds != 5 || o.MaxLatency != 5*time.Second || o.MaxMemory != 0.9 || o.MaxFailing != 0.5 {
		t.Errorf("defaults %+v", o)
	}
	if err := g.SetOptions(GateOptions{Rounds: -2}); hotreload.ErrorCode(err) != hotreload.CodeInvalid {
		t.Errorf("SetOptions(bad): %v, want invalid", err)
	}
	if err := g.SetOptions(GateOptions{Window: time.Second}); err != nil || g.Options().Window != time.Second || g.Options().Rounds != 5 {
		t.Errorf("SetOptions: %v, options %+v", err, g.Options())
	}
}

// TestGateWindow: while Watch runs, Window says which version it watches,
// since when, for how long, how many rounds passed and each check's state;
// after it, nil.
func TestGateWindow(t *testing.T) {
	leakCheck(t)
	m := NewMonitor(MonitorOptions{})
	release := make(chan struct{})
	mustAdd(t, m, "a", pass, CheckOptions{Critical: true})
	mustAdd(t, m, "slow", CheckFunc(func(ctx context.Context) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}), CheckOptions{Timeout: time.Minute})
	g := mustGate(t, m, GateOptions{Window: 20 * time.Millisecond, Rounds: 2})
	if w := g.Window(); w != nil {
		t.Fatalf("before a window: %+v", w)
	}
	done := make(chan error, 1)
	go func() { done <- g.Watch(t.Context(), tx) }()
	var w *Window
	testwait.For(t, "the window to open", testwait.D(5*time.Second), func() bool { w = g.Window(); return w != nil })
	if w.Version != 7 || w.Length != 20*time.Millisecond || w.Rounds != 2 || w.Round != 0 || len(w.Checks) != 2 || w.Started.IsZero() {
		t.Errorf("window %+v, want version 7, 20ms, round 0 of 2, checks a and slow", w)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w := g.Window(); w != nil {
		t.Errorf("after the window: %+v, want nil", w)
	}
}
