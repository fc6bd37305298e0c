package plugin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/health"
	"github.com/cybercorp/hotreload/internal/testwait"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

const (
	spinDir  = "testdata/spin"
	pickyDir = "testdata/picky"
)

// appBody is the reply of the app route in these tests; it makes the
// picky module trap.
const appBody = "hello, boom"

// decorated is an app route whose replies pass through plugin p
// (Host.Middleware), recorded by the health gate's traffic middleware, as
// an app wires it. Every plugin here echoes its input or fails, so get
// serves one request and fails the test unless the reply is 200 appBody:
// nothing lost, nothing changed.
func decorated(t *testing.T, h *plugin.Host, traffic *health.Traffic) (get func()) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, appBody) })
	handler := traffic.Middleware(h.Middleware("p", app))
	return func() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != 200 || rec.Body.String() != appBody {
			t.Fatalf("reply = %d %q, want 200 %q", rec.Code, rec.Body, appBody)
		}
	}
}

// TestFailingCallsDuringTheWindowRollBack: a module that loops in every
// call passes its load; during the health window its timed-out calls count
// as exceptions, the gate's exception rate rolls it back, the previous
// module serves again, and no reply was lost or changed meanwhile.
func TestFailingCallsDuringTheWindowRollBack(t *testing.T) {
	traffic := &health.Traffic{}
	gate, err := health.NewGate(health.NewMonitor(health.MonitorOptions{}), health.GateOptions{Window: testwait.D(3 * time.Second), Traffic: traffic})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plugintest.WriteFile(t, filepath.Join(dir, "p.wasm"), plugintest.Echo())
	sys := plugintest.NewHost(t, plugin.Options{Dir: dir, CompilationCache: cache, ReportException: traffic.ReportException}, gate)
	get := decorated(t, sys.Host, traffic)
	for range 30 { // the baseline: healthy traffic before the change
		get()
	}

	plugintest.Install(t, spinDir, dir, "p", manifest("p", "2", `{"call_timeout": "20ms"}`))
	done := make(chan []hotreload.Outcome, 1)
	go func() {
		outs, err := sys.Host.Sync(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- outs
	}()
	var outs []hotreload.Outcome
	for outs == nil {
		get() // the app keeps serving through the window
		select {
		case outs = <-done:
		default:
		}
	}
	o := wantResult(t, outs, hotreload.RolledBack)
	wantContains(t, "reason", o.Reason, "exception rate", `plugin "p" v2`, "exceeded its time limit of 20ms")
	if i, _ := sys.Host.Info("p"); i.Version != "" || i.State != plugin.StateReady {
		t.Fatalf("after the rollback: %+v, want the echo module ready", i)
	}
	for range 5 {
		get()
	}
	// The module rolled back stays out while its file is unchanged.
	if outs, err := sys.Host.Sync(context.Background()); err != nil || len(outs) != 0 {
		t.Fatalf("Sync after the rollback = %+v, %v; want nothing to do", outs, err)
	}
}

// TestQuarantineAfterCommitReturnsToLastGood: a module that serves through
// its window and starts failing after commit is quarantined, and one
// transaction (source quarantine, recorded in history) puts the module
// before it back; the module taken out stays out while its file is
// unchanged, and a new file loads again.
func TestQuarantineAfterCommitReturnsToLastGood(t *testing.T) {
	var mu sync.Mutex
	var exceptions []string
	dir := t.TempDir()
	plugintest.WriteFile(t, filepath.Join(dir, "p.wasm"), plugintest.Echo())
	sys := plugintest.NewHost(t, plugin.Options{Dir: dir, CompilationCache: cache, ReportException: func(err error) {
		mu.Lock()
		exceptions = append(exceptions, err.Error())
		mu.Unlock()
	}}, nil)
	h := sys.Host
	good, _ := h.Info("p")

	plugintest.Install(t, pickyDir, dir, "p", manifest("p", "2", `{"pool_size": 1}`))
	outs, err := h.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, outs, hotreload.Committed)
	bad, _ := h.Info("p")
	for i := range 5 {
		if out, err := h.Call(context.Background(), "p", []byte(`"x"`)); err != nil || string(out) != `"x"` {
			t.Fatalf("call %d of the new module: %q, %v", i, out, err)
		}
	}
	for range 3 { // input it cannot take: three crashes quarantine it
		if _, err := h.Call(context.Background(), "p", []byte(`"boom"`)); hotreload.ErrorCode(err) != hotreload.CodeInternal {
			t.Fatalf("call of the picky module: %v, want a crash", err)
		}
	}
	testwait.Until(t, "the last good module back", 30*time.Second, func() error {
		if i, _ := h.Info("p"); i.SHA256 != good.SHA256 || i.State != plugin.StateReady {
			return fmt.Errorf("plugin p: %+v", i)
		}
		return nil
	})
	if out, err := h.Call(context.Background(), "p", []byte(`"boom"`)); err != nil || string(out) != `"boom"` {
		t.Fatalf("call after the return: %q, %v", out, err)
	}
	// The module serves from its apply; the commit record follows.
	testwait.Until(t, "the committed return from quarantine in history", 30*time.Second, func() error {
		recs, err := sys.History.List(context.Background())
		if err != nil {
			return err
		}
		last := recs[len(recs)-1]
		if last.Source != plugin.SourceQuarantine || last.Result != hotreload.Committed || len(last.Targets) != 1 ||
			last.Targets[0].Meta[plugin.MetaQuarantined] != "p "+bad.SHA256 {
			return fmt.Errorf("last history record = %+v", last)
		}
		return nil
	})
	mu.Lock()
	if len(exceptions) != 3 || !strings.Contains(exceptions[0], "picky: cannot take") {
		t.Errorf("exceptions reported = %q, want the 3 crashes", exceptions)
	}
	mu.Unlock()

	// The picky module's file is still there: the directory sync leaves it
	// out.
	if outs, err := h.Sync(context.Background()); err != nil || len(outs) != 0 {
		t.Fatalf("Sync with the quarantined file = %+v, %v; want nothing to do", outs, err)
	}
	// A new module loads again.
	plugintest.Install(t, faultyDir, dir, "p", manifest("p", "3", ""))
	outs, err = h.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, outs, hotreload.Committed)
}

// TestHookLeavesTheReplyOnLoopAndTrap: through FilterReply and the
// middleware, a plugin that loops or traps leaves the reply as it was.
func TestHookLeavesTheReplyOnLoopAndTrap(t *testing.T) {
	for _, tc := range []struct{ name, dir, limits string }{
		{"Loop", spinDir, `{"call_timeout": "20ms"}`},
		{"Trap", pickyDir, `{"pool_size": 1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, plugin.Options{})
			f.install(tc.dir, "p", manifest("p", "1", tc.limits))
			wantResult(t, f.sync(), hotreload.Committed)
			get := decorated(t, f.host, &health.Traffic{})
			for range 10 {
				get()
			}
			in := plugin.Reply{Status: 201, Body: "hi"}
			for range 8 {
				if r, _ := f.host.FilterReply(context.Background(), "p", in); r.Status != 201 || r.Body != "hi" {
					t.Fatalf("FilterReply = %+v, want the reply as it was (or echoed)", r)
				}
			}
		})
	}
}
