package health_test

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
	"github.com/cybercorp/hotreload/health"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// mode is a reloadable setting of the test app: its value decides how the
// app behaves, so a reload can break it in each way the gate watches for.
type mode struct{ v atomic.Pointer[string] }

func (m *mode) get() string { return *m.v.Load() }

func (m *mode) Name() string { return "app" }

func (m *mode) Prepare(_ context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	next := string(c.Snapshot)
	if next == "" {
		next = string(c.Content)
	}
	if next == "" {
		next = "ok"
	}
	return &modeChange{m: m, next: next}, nil
}

type modeChange struct {
	m          *mode
	prev, next string
}

func (c *modeChange) Summary() hotreload.Summary {
	return hotreload.Summary{Kind: hotreload.KindConfig, Snapshot: []byte(c.next)}
}
func (c *modeChange) Apply(context.Context) error {
	c.prev = c.m.get()
	c.m.v.Store(&c.next)
	return nil
}
func (c *modeChange) Rollback(context.Context) error {
	if c.prev != "" {
		c.m.v.Store(&c.prev)
	}
	return nil
}
func (c *modeChange) Commit(context.Context) error { return nil }

// testApp is a real HTTP server whose handlers obey the mode, behind the
// Traffic middleware, with health checks probing it, a gate and a real
// engine with a file history.
type testApp struct {
	mode    *mode
	traffic *health.Traffic
	srv     *httptest.Server
	engine  *hotreload.Engine
}

func newTestApp(t *testing.T) *testApp {
	a := &testApp{mode: &mode{}, traffic: &health.Traffic{}}
	ok := "ok"
	a.mode.v.Store(&ok)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch a.mode.get() {
		case "slow":
			time.Sleep(150 * time.Millisecond)
		case "error":
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		case "exception":
			a.traffic.ReportException(errors.New("nil pointer in the new code"))
		}
		_, _ = w.Write([]byte("hello"))
	})
	mux.HandleFunc("/upstream", func(w http.ResponseWriter, r *http.Request) {
		if a.mode.get() == "bad-upstream" {
			http.Error(w, "upstream unreachable", http.StatusBadGateway)
		}
	})
	mux.HandleFunc("/dep/", func(w http.ResponseWriter, r *http.Request) {
		if a.mode.get() == "degraded" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	})
	a.srv = httptest.NewServer(a.traffic.Middleware(mux))
	t.Cleanup(a.srv.Close)

	mon := health.NewMonitor(health.MonitorOptions{})
	add := func(name, path string, critical bool) {
		c := health.HTTPCheck{URL: a.srv.URL + path, Client: a.srv.Client()}
		if err := mon.Add(name, c, health.CheckOptions{Critical: critical, Timeout: time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	add("upstream", "/upstream", true)
	add("dep-a", "/dep/a", false)
	add("dep-b", "/dep/b", false)
	add("dep-c", "/dep/c", false)
	memory := func(context.Context) (health.MemoryUsage, error) {
		if a.mode.get() == "leak" {
			return health.MemoryUsage{Used: 95, Limit: 100, Source: "cgroup"}, nil
		}
		return health.MemoryUsage{Used: 40, Limit: 100, Source: "cgroup"}, nil
	}
	gate, err := health.NewGate(mon, health.GateOptions{
		// Scaled: on a busy machine the load must get requests in.
		Window: testwait.D(400 * time.Millisecond), Rounds: 4, Memory: memory, Traffic: a.traffic,
		MaxLatency: 100 * time.Millisecond, MinSamples: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := history.Open(history.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	a.engine = hotreload.New(hotreload.Options{History: store, Gate: gate})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.engine.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if o, err := a.engine.Add(ctx, a.mode); err != nil || o.Result != hotreload.Committed {
		t.Fatalf("adding the app: %+v %v", o, err)
	}
	a.load(t)
	return a
}

// load sends requests to the app until the test ends, as users would.
func (a *testApp) load(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.srv.URL+"/", nil)
				if resp, err := a.srv.Client().Do(req); err == nil {
					resp.Body.Close()
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	time.Sleep(100 * time.Millisecond) // a baseline before the first reload
}

func (a *testApp) reload(t *testing.T, to string) hotreload.Outcome {
	t.Helper()
	o, err := a.engine.Reload(t.Context(), hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{{Target: "app", Content: []byte(to)}}})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestReloadIsGated makes one real reload per rollback trigger, each rolled
// back by the health gate, and one that commits.
func TestReloadIsGated(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		reason string
	}{
		{"bad-upstream", `health: critical check "upstream" failing: GET `},
		{"degraded", "health: 3 of 4 checks failing, more than 50%"},
		{"leak", "health: memory at 95% of"},
		{"slow", "response time"},
		{"error", "health: exception rate "},
		{"exception", "last: nil pointer in the new code"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			a := newTestApp(t)
			o := a.reload(t, tc.mode)
			if o.Result != hotreload.RolledBack || o.Cause != "health" || !strings.Contains(o.Reason, tc.reason) {
				t.Fatalf("%s (%s): %q; want rolled back by the gate for %q", o.Result, o.Cause, o.Reason, tc.reason)
			}
			if got := a.mode.get(); got != "ok" {
				t.Errorf("live mode %q after rollback, want ok", got)
			}
		})
	}
	t.Run("Commits", func(t *testing.T) {
		a := newTestApp(t)
		if o := a.reload(t, "ok-v2"); o.Result != hotreload.Committed {
			t.Fatalf("%s (%s): %s", o.Result, o.Cause, o.Reason)
		}
		if got := a.mode.get(); got != "ok-v2" {
			t.Errorf("live mode %q, want ok-v2", got)
		}
	})
}
