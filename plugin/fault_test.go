package plugin_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// loadGood loads faulty as plugin p, version 1, answering "v1:" + input.
func loadGood(t *testing.T, f *fixture, limits string) {
	t.Helper()
	f.install(faultyDir, "p", manifest("p", "1", limits))
	f.setConfig("p", map[string]any{"tag": "v1:"})
	wantResult(t, f.sync(), hotreload.Committed)
	f.mustCall("p", "x", "v1:x")
}

// TestLoadFaults offers a version 2 of plugin p that fails while loading:
// the transaction is rejected with a precise reason, version 1 keeps
// serving, and the failure is the plugin's last error.
func TestLoadFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits string
		config map[string]any
		module func(t *testing.T, f *fixture) // replaces p.wasm; nil keeps faulty
		want   []string
	}{
		{name: "PanicInInitialize", config: map[string]any{"fault": "panic", "in": "initialize"},
			want: []string{"initialize: panic: faulty: boom in initialize (the instance trapped: wasm error: unreachable)"}},
		{name: "InitializeFails", config: map[string]any{"fault": "fail", "in": "initialize"},
			want: []string{"initialize: faulty: refusing in initialize"}},
		{name: "LoopInInitialize", limits: `{"init_timeout": "300ms"}`, config: map[string]any{"fault": "loop", "in": "initialize"},
			want: []string{"initialize: exceeded its time limit of 300ms and was stopped"}},
		{name: "GrowInInitialize", limits: `{"memory_pages": 120}`, config: map[string]any{"fault": "grow", "in": "initialize"},
			want: []string{"initialize: fatal error: out of memory", "the memory limit is 120 pages (7.5 MiB)"}},
		{name: "DegradedStatus", config: map[string]any{"fault": "degraded"},
			want: []string{`get_status: reported "degraded" after initialize: faulty: degraded on request`}},
		{name: "BadBytes", module: func(t *testing.T, f *fixture) {
			plugintest.WriteFile(t, filepath.Join(f.dir, "p.wasm"), []byte("\x00asm\x01\x00\x00\x00garbage"))
		}, want: []string{`plugin "p": compiling:`, "section"}},
		{name: "NotWasm", module: func(t *testing.T, f *fixture) {
			plugintest.WriteFile(t, filepath.Join(f.dir, "p.wasm"), []byte("#!/bin/sh\necho hi\n"))
		}, want: []string{`plugin "p": compiling:`, "invalid magic number"}},
		{name: "MissingExports", module: func(t *testing.T, f *fixture) {
			plugintest.Install(t, noABIDir, f.dir, "p", "")
		}, want: []string{"does not implement the plugin ABI", "missing alloc(i32) -> i32",
			"initialize(i32, i32) -> i64 is initialize(i32) -> i32", "missing get_status() -> i64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, plugin.Options{})
			loadGood(t, f, "")
			if tc.module != nil {
				tc.module(t, f)
			}
			plugintest.WriteFile(t, filepath.Join(f.dir, "p.json"), []byte(manifest("p", "2", tc.limits)))
			if tc.config != nil {
				f.setConfig("p", tc.config)
			}
			o := wantResult(t, f.sync(), hotreload.Rejected)
			wantContains(t, "reason", o.Reason, tc.want...)
			f.mustCall("p", "x", "v1:x")
			i := f.info("p")
			if i.Version != "1" || i.State != plugin.StateReady {
				t.Fatalf("after the rejected load: version %q state %s, want 1 ready", i.Version, i.State)
			}
			wantContains(t, "last error", i.LastError, tc.want...)
		})
	}
}

func TestNewPluginThatFailsIsNotLoaded(t *testing.T) {
	f := newFixture(t, plugin.Options{})
	loadGood(t, f, "")
	plugintest.WriteFile(t, filepath.Join(f.dir, "q.wasm"), []byte("not wasm"))
	o := wantResult(t, f.sync(), hotreload.Rejected)
	wantContains(t, "reason", o.Reason, `plugin "q": compiling:`)
	if _, err := f.call("q", "x"); hotreload.ErrorCode(err) != hotreload.CodeNotFound {
		t.Fatalf("call to the failed plugin: %v, want not_found", err)
	}
	if i := f.info("q"); i.State != plugin.StateUnloaded || i.LastError == "" {
		t.Fatalf("info = %+v, want unloaded with the error", i)
	}
	f.mustCall("p", "x", "v1:x")

	// Reading the whole directory at once (as the engine does at start)
	// loads the good plugins and leaves the bad one out.
	g := newFixture(t, plugin.Options{})
	g.install(faultyDir, "p", "")
	plugintest.WriteFile(t, filepath.Join(g.dir, "q.wasm"), []byte("not wasm"))
	ch, err := g.host.Prepare(context.Background(), hotreload.Candidate{Target: "plugins"})
	if err != nil {
		t.Fatal(err)
	}
	if s := ch.Summary(); len(s.Modules) != 1 || s.Modules[0] != "p" {
		t.Fatalf("modules = %v, want [p]", s.Modules)
	}
	if err := ch.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = ch.Commit(context.Background())
	g.mustCall("p", "x", "x")
}

func TestPanicInCallQuarantines(t *testing.T) {
	f := newFixture(t, plugin.Options{QuarantineAfter: 3, QuarantineBackoff: time.Second})
	f.install(faultyDir, "p", manifest("p", "1", `{"pool_size": 1}`))
	f.setConfig("p", map[string]any{"fault": "panic", "in": "call"})
	wantResult(t, f.sync(), hotreload.Committed)

	for i := range 3 {
		_, err := f.call("p", "x")
		if hotreload.ErrorCode(err) != hotreload.CodeInternal {
			t.Fatalf("call %d: %v, want internal", i, err)
		}
		wantContains(t, "error", err.Error(), `plugin "p" v1 (sha256 `, "call: panic: faulty: boom in call (the instance trapped: wasm error: unreachable)")
	}
	_, err := f.call("p", "x")
	if hotreload.ErrorCode(err) != hotreload.CodeUnavailable {
		t.Fatalf("call in quarantine: %v, want unavailable", err)
	}
	wantContains(t, "error", err.Error(), "is quarantined until", "after 3 consecutive failures", "boom in call")
	i := f.info("p")
	if i.State != plugin.StateQuarantined || i.Calls != 3 || i.Errors != 3 || !i.QuarantinedUntil.Equal(f.clock.Now().Add(time.Second)) {
		t.Fatalf("info = %+v", i)
	}
	// After the backoff one probe goes through; it fails, and the next
	// quarantine is twice as long.
	f.clock.Add(time.Second)
	if _, err := f.call("p", "x"); hotreload.ErrorCode(err) != hotreload.CodeInternal {
		t.Fatalf("probe: %v, want the crash", err)
	}
	if i := f.info("p"); i.State != plugin.StateQuarantined || !i.QuarantinedUntil.Equal(f.clock.Now().Add(2*time.Second)) {
		t.Fatalf("after a failed probe: %+v", i)
	}

	// An operator's load of a fixed config clears the quarantine.
	f.setConfig("p", map[string]any{"tag": "fixed:"})
	if o, err := f.host.Load(context.Background(), "p", hotreload.Request{Source: "api", Author: "ops"}); err != nil || o.Result != hotreload.Committed {
		t.Fatalf("Load = %+v, %v", o, err)
	}
	f.mustCall("p", "x", "fixed:x")
	if i := f.info("p"); i.State != plugin.StateReady {
		t.Fatalf("state after the fix = %s, want ready", i.State)
	}
}

func TestRepeatedLoadFailuresQuarantine(t *testing.T) {
	f := newFixture(t, plugin.Options{QuarantineAfter: 3, QuarantineBackoff: time.Second})
	loadGood(t, f, "")
	for n := range 3 {
		plugintest.WriteFile(t, filepath.Join(f.dir, "p.wasm"), []byte("bad bytes "+string(rune('a'+n))))
		wantResult(t, f.sync(), hotreload.Rejected)
	}
	i := f.info("p")
	if i.State != plugin.StateQuarantined || i.Version != "1" {
		t.Fatalf("info = %+v, want version 1 quarantined", i)
	}
	// Version 1 goes on serving while the loads are quarantined, and the
	// directory sync does not retry.
	f.mustCall("p", "x", "v1:x")
	if outs := f.sync(); len(outs) != 0 {
		t.Fatalf("sync retried during the quarantine: %+v", outs)
	}
	f.clock.Add(time.Second)
	wantResult(t, f.sync(), hotreload.Rejected)
	if i := f.info("p"); !i.QuarantinedUntil.Equal(f.clock.Now().Add(2 * time.Second)) {
		t.Fatalf("second quarantine until %v, want 2s", i.QuarantinedUntil)
	}
	f.clock.Add(2 * time.Second)
	f.install(faultyDir, "p", manifest("p", "3", ""))
	wantResult(t, f.sync(), hotreload.Committed)
	f.mustCall("p", "x", "v1:x")
}

func TestCallFaults(t *testing.T) {
	t.Run("LoopInCall", func(t *testing.T) {
		f := newFixture(t, plugin.Options{})
		f.install(faultyDir, "p", manifest("p", "1", `{"call_timeout": "200ms"}`))
		f.setConfig("p", map[string]any{"fault": "loop", "in": "call"})
		f.install(faultyDir, "other", "")
		for _, o := range f.sync() { // one transaction per plugin
			if o.Result != hotreload.Committed {
				t.Fatalf("load: %s: %s", o.Result, o.Reason)
			}
		}
		start := time.Now()
		_, err := f.call("p", "x")
		if hotreload.ErrorCode(err) != hotreload.CodeUnavailable {
			t.Fatalf("looping call: %v, want unavailable", err)
		}
		wantContains(t, "error", err.Error(), "call: exceeded its time limit of 200ms and was stopped")
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("the looping call took %v", d)
		}
		f.mustCall("other", "x", "x")
	})
	t.Run("GrowInCall", func(t *testing.T) {
		f := newFixture(t, plugin.Options{})
		// A generous call timeout: on a loaded machine the growth must meet
		// the memory cap before the clock.
		f.install(faultyDir, "p", manifest("p", "1", `{"memory_pages": 120, "call_timeout": "60s"}`))
		f.setConfig("p", map[string]any{"fault": "grow", "in": "call"})
		wantResult(t, f.sync(), hotreload.Committed)
		_, err := f.call("p", "x")
		wantContains(t, "error", err.Error(), "call: fatal error: out of memory", "the memory limit is 120 pages (7.5 MiB)")
		if i := f.info("p"); i.MemoryBytes > 120*65536*uint64(i.Instances) {
			t.Fatalf("memory %d over the limit", i.MemoryBytes)
		}
	})
	t.Run("PanicInCleanup", func(t *testing.T) {
		f := newFixture(t, plugin.Options{})
		f.install(faultyDir, "p", manifest("p", "1", ""))
		f.setConfig("p", map[string]any{"fault": "panic", "in": "cleanup", "tag": "v1:"})
		wantResult(t, f.sync(), hotreload.Committed)
		f.setConfig("p", map[string]any{"tag": "v2:"})
		plugintest.WriteFile(t, filepath.Join(f.dir, "p.json"), []byte(manifest("p", "2", "")))
		wantResult(t, f.sync(), hotreload.Committed)
		f.mustCall("p", "x", "v2:x")
		i := f.info("p")
		if i.Version != "2" || i.State != plugin.StateReady {
			t.Fatalf("info = %+v", i)
		}
		wantContains(t, "last error", i.LastError, `plugin "p" v1`, "closing the previous version: cleanup: panic: faulty: boom in cleanup")
		// Unloading runs cleanup too; the unload still happens.
		if err := os.Remove(filepath.Join(f.dir, "p.wasm")); err != nil {
			t.Fatal(err)
		}
		wantResult(t, f.sync(), hotreload.Committed)
	})
}
