package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// leakCheck fails t if, once t and its cleanups are done, goroutines run
// that did not run when leakCheck was called.
func leakCheck(t *testing.T) {
	t.Helper()
	known := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, known) })
}

// pass and fail are checks with a fixed answer.
var (
	pass = CheckFunc(func(context.Context) error { return nil })
	fail = CheckFunc(func(context.Context) error { return errors.New("down") })
)

// mustAdd adds a check or fails the test.
func mustAdd(tb testing.TB, m *Monitor, name string, c Check, o CheckOptions) {
	tb.Helper()
	if err := m.Add(name, c, o); err != nil {
		tb.Fatal(err)
	}
}

func mustStatus(tb testing.TB, m *Monitor, name string) Status {
	tb.Helper()
	st, ok := m.Status(name)
	if !ok {
		tb.Fatalf("no check %q", name)
	}
	return st
}

func TestMonitorHungCheck(t *testing.T) {
	t.Run("HonoursContext", func(t *testing.T) {
		leakCheck(t)
		m := NewMonitor(MonitorOptions{})
		hung := CheckFunc(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		mustAdd(t, m, "hung", hung, CheckOptions{Timeout: 100 * time.Millisecond})
		start := time.Now()
		m.CheckAll(t.Context())
		if d := time.Since(start); d > time.Second {
			t.Errorf("CheckAll took %s, want about the 100ms timeout", d)
		}
		st := mustStatus(t, m, "hung")
		if st.State != StateFailing || !strings.Contains(st.LastError, "timed out after 100ms") {
			t.Errorf("state %s, error %q; want failing, timed out", st.State, st.LastError)
		}
	})
	t.Run("IgnoresContext", func(t *testing.T) {
		leakCheck(t)
		m := NewMonitor(MonitorOptions{})
		release := make(chan struct{})
		var calls atomic.Int32
		stuck := CheckFunc(func(context.Context) error { calls.Add(1); <-release; return nil })
		mustAdd(t, m, "stuck", stuck, CheckOptions{Timeout: 100 * time.Millisecond})
		start := time.Now()
		m.CheckAll(t.Context())
		if d := time.Since(start); d > time.Second {
			t.Errorf("CheckAll took %s, want about the 100ms timeout", d)
		}
		if st := mustStatus(t, m, "stuck"); st.State != StateFailing {
			t.Errorf("state %s, want failing", st.State)
		}
		// While the first call is stuck, another round fails at once
		// without starting a second goroutine.
		start = time.Now()
		m.CheckAll(t.Context())
		st := mustStatus(t, m, "stuck")
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("second round took %s, want immediate", d)
		}
		if !strings.Contains(st.LastError, "ignores its context") || calls.Load() != 1 {
			t.Errorf("error %q after %d calls; want one call, then 'ignores its context'", st.LastError, calls.Load())
		}
		close(release)
		m.calls.wait(time.Second)
	})
}

func TestMonitorThresholds(t *testing.T) {
	t.Run("FlappingStaysPassing", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		var n atomic.Int32
		flap := CheckFunc(func(context.Context) error {
			if n.Add(1)%2 == 0 {
				return errors.New("flap")
			}
			return nil
		})
		mustAdd(t, m, "flap", flap, CheckOptions{FailureThreshold: 3, SuccessThreshold: 3})
		for range 10 {
			m.CheckAll(t.Context())
			if st := mustStatus(t, m, "flap"); st.State != StatePassing {
				t.Fatalf("after %d results: %s, want passing", n.Load(), st.State)
			}
		}
	})
	t.Run("ThreeFailuresFlip", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		var healthy atomic.Bool
		healthy.Store(true)
		c := CheckFunc(func(context.Context) error {
			if healthy.Load() {
				return nil
			}
			return errors.New("down")
		})
		mustAdd(t, m, "c", c, CheckOptions{FailureThreshold: 3, SuccessThreshold: 2})
		m.CheckAll(t.Context())
		healthy.Store(false)
		want := []State{StatePassing, StatePassing, StateFailing}
		for i, w := range want {
			m.CheckAll(t.Context())
			if st := mustStatus(t, m, "c"); st.State != w || st.ConsecutiveFailures != i+1 {
				t.Fatalf("failure %d: %s with %d failures, want %s", i+1, st.State, st.ConsecutiveFailures, w)
			}
		}
		healthy.Store(true)
		for i, w := range []State{StateFailing, StatePassing} {
			m.CheckAll(t.Context())
			if st := mustStatus(t, m, "c"); st.State != w {
				t.Fatalf("success %d: %s, want %s", i+1, st.State, w)
			}
		}
	})
	t.Run("FirstResultDecides", func(t *testing.T) {
		m := NewMonitor(MonitorOptions{})
		mustAdd(t, m, "c", fail, CheckOptions{FailureThreshold: 3})
		if st := mustStatus(t, m, "c"); st.State != StateUnknown || st.LastResult != StateUnknown {
			t.Fatalf("before any run: %s/%s, want unknown", st.State, st.LastResult)
		}
		m.CheckAll(t.Context())
		if st := mustStatus(t, m, "c"); st.State != StateFailing {
			t.Fatalf("after the first failure: %s, want failing", st.State)
		}
	})
}

func TestMonitorResults(t *testing.T) {
	m := NewMonitor(MonitorOptions{})
	mustAdd(t, m, "panics", CheckFunc(func(context.Context) error { panic("boom") }), CheckOptions{})
	mustAdd(t, m, "unknown", CheckFunc(func(context.Context) error { return fmt.Errorf("no reading: %w", ErrUnknown) }), CheckOptions{})
	mustAdd(t, m, "ok", pass, CheckOptions{})
	s := m.CheckAll(t.Context())
	got := map[string]Status{}
	for _, st := range s.Checks {
		got[st.Name] = st
	}
	if st := got["panics"]; st.State != StateFailing || st.LastError != "check panicked: boom" || st.Failures != 1 {
		t.Errorf("panics: %s %q %d failures; want failing, 'check panicked: boom', 1", st.State, st.LastError, st.Failures)
	}
	if st := got["unknown"]; st.State != StateUnknown {
		t.Errorf("unknown: %s, want unknown", st.State)
	}
	if st := got["ok"]; st.State != StatePassing || st.LastRun.IsZero() {
		t.Errorf("ok: %s, last run %v; want passing and a time", st.State, st.LastRun)
	}
	if s.Passing != 1 || s.Failing != 1 || s.Unknown != 1 || s.State != StateFailing {
		t.Errorf("summary %+v; want 1/1/1 and failing (unknown counts as failing)", s)
	}
}

func TestMonitorStale(t *testing.T) {
	m := NewMonitor(MonitorOptions{})
	mustAdd(t, m, "c", pass, CheckOptions{Interval: 30 * time.Millisecond, Timeout: 20 * time.Millisecond})
	m.CheckAll(t.Context())
	if st := mustStatus(t, m, "c"); st.State != StatePassing {
		t.Fatalf("fresh: %s, want passing", st.State)
	}
	time.Sleep(80 * time.Millisecond) // nobody runs it: no result within interval + timeout
	st := mustStatus(t, m, "c")
	if st.State != StateFailing || !st.Stale || !strings.HasPrefix(st.LastError, "stale:") {
		t.Errorf("stale: %s stale=%v %q; want failing, stale", st.State, st.Stale, st.LastError)
	}
}

func TestMonitorRun(t *testing.T) {
	leakCheck(t)
	var hooked atomic.Int32
	events := &recorder{}
	m := NewMonitor(MonitorOptions{Publisher: events, OnFailure: func(string, error) { hooked.Add(1) }})
	var aCalls, bCalls atomic.Int32
	mustAdd(t, m, "a", CheckFunc(func(context.Context) error { aCalls.Add(1); return nil }), CheckOptions{Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	waitFor(t, func() bool { return aCalls.Load() >= 3 })
	if err := m.Run(ctx); hotreload.ErrorCode(err) != hotreload.CodeConflict {
		t.Errorf("second Run: %v, want a conflict", err)
	}
	// A check added while running starts at once; a removed one stops.
	mustAdd(t, m, "b", CheckFunc(func(context.Context) error { bCalls.Add(1); return errors.New("down") }), CheckOptions{Interval: 10 * time.Millisecond})
	waitFor(t, func() bool { return hooked.Load() >= 2 }) // b failed twice, each reported
	if !m.Remove("b") {
		t.Fatal("Remove(b) = false")
	}
	after := bCalls.Load()
	time.Sleep(30 * time.Millisecond)
	if bCalls.Load() != after {
		t.Errorf("b ran %d times after Remove", bCalls.Load()-after)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	evs := events.all()
	if len(evs) < 2 {
		t.Fatalf("events %v, want a and b changing state", evs)
	}
	for _, e := range evs {
		ev, ok := e.(StateEvent)
		if !ok || ev.Type != TypeStateChange || ev.From != StateUnknown {
			t.Errorf("event %#v, want a StateEvent from unknown", e)
		}
	}
}

func TestMonitorAdd(t *testing.T) {
	m := NewMonitor(MonitorOptions{})
	mustAdd(t, m, "db", pass, CheckOptions{})
	for _, tc := range []struct {
		name string
		c    Check
		o    CheckOptions
		code hotreload.Code
		msg  string
	}{
		{"", pass, CheckOptions{}, hotreload.CodeInvalid, "must match"},
		{"a b", pass, CheckOptions{}, hotreload.CodeInvalid, "must match"},
		{"x", nil, CheckOptions{}, hotreload.CodeInvalid, "the check is nil"},
		{"x", pass, CheckOptions{Timeout: -1}, hotreload.CodeInvalid, "timeout -1ns is negative"},
		{"x", pass, CheckOptions{FailureThreshold: -3}, hotreload.CodeInvalid, "failure threshold -3 is negative"},
		{"db", pass, CheckOptions{}, hotreload.CodeConflict, "exists"},
	} {
		err := m.Add(tc.name, tc.c, tc.o)
		if hotreload.ErrorCode(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Add(%q): %v, want %s containing %q", tc.name, err, tc.code, tc.msg)
		}
	}
	if st := mustStatus(t, m, "db"); st.Options != (CheckOptions{Interval: DefaultInterval, Timeout: DefaultTimeout, FailureThreshold: 1, SuccessThreshold: 1}) {
		t.Errorf("defaults %+v", st.Options)
	}
	if m.Remove("nope") {
		t.Error("Remove(nope) = true")
	}
}

// recorder is a Publisher that keeps what it gets.
type recorder struct {
	mu     sync.Mutex
	events []any
}

func (r *recorder) Publish(e any) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }

func (r *recorder) all() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.events...)
}

// waitFor polls cond for up to five seconds.
func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkCheckAll measures the monitor's own cost of one round over 100
// checks that pass at once.
func BenchmarkCheckAll(b *testing.B) {
	m := NewMonitor(MonitorOptions{})
	for i := range 100 {
		mustAdd(b, m, fmt.Sprintf("c%d", i), pass, CheckOptions{})
	}
	b.ReportAllocs()
	for b.Loop() {
		m.CheckAll(b.Context())
	}
}
