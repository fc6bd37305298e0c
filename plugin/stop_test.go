package plugin_test

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/testwait"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// inWasm is the frame of a goroutine that runs a Wasm call.
const inWasm = "github.com/tetratelabs/wazero/internal/engine/wazevo.(*callEngine).callWithStack"

// TestACallStartsNoGoroutine runs an endless call and checks that nothing
// but the caller's goroutine runs for it (wazero's WithCloseOnContextDone
// starts one per call; the host stops calls through the module's stop flag
// instead), that the caller's cancellation stops it, and that nothing is
// left. Listing the goroutines stops the world while the call loops, which
// only works because instrumented loops pass through Go.
func TestACallStartsNoGoroutine(t *testing.T) {
	f := newFixture(t, plugin.Options{})
	f.install(spinDir, "p", manifest("p", "1", `{"pool_size": 1, "call_timeout": "10m"}`))
	wantResult(t, f.sync(), hotreload.Committed)
	opt := goleak.IgnoreCurrent()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := f.host.Call(ctx, "p", []byte("x"))
		done <- err
	}()
	testwait.For(t, "the call to run in Wasm", testwait.D(10*time.Second), func() bool {
		buf := make([]byte, 1<<20)
		return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte(inWasm))
	})
	if err := goleak.Find(opt, goleak.IgnoreAnyFunction(inWasm)); err != nil {
		t.Fatalf("goroutines besides the caller's while the call runs: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if hotreload.ErrorCode(err) != hotreload.CodeUnavailable {
			t.Fatalf("cancelled call: %v, want unavailable", err)
		}
		wantContains(t, "error", err.Error(), "stopped: the caller cancelled")
	case <-time.After(testwait.D(10 * time.Second)):
		t.Fatal("the cancelled call did not stop")
	}
	goleak.VerifyNone(t, opt)
}

// TestCallAllocations checks issue 15's bound: a call of the echo module
// makes at most two allocations in the host and wazero together.
func TestCallAllocations(t *testing.T) {
	f := newFixture(t, plugin.Options{})
	plugintest.WriteFile(t, filepath.Join(f.dir, "e.wasm"), plugintest.Echo())
	wantResult(t, f.sync(), hotreload.Committed)
	ctx, in := context.Background(), []byte(`{"n":1}`)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := f.host.Call(ctx, "e", in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Fatalf("%v allocations per call, want at most 2", allocs)
	}
}
