package plugin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// TestThousandReloadsLeakNothing swaps a plugin's version 1,000 times (every
// tenth swap rolled back) with calls in between, and checks that no
// goroutine, heap or file descriptor is left behind. It uses the tiny
// hand-assembled echo module so the loop measures the host, not Go's Wasm
// runtime start-up.
func TestThousandReloadsLeakNothing(t *testing.T) {
	f := newFixture(t, plugin.Options{})
	wasm := plugintest.Echo()
	plugintest.WriteFile(t, filepath.Join(f.dir, "e.wasm"), wasm)
	wantResult(t, f.sync(), hotreload.Committed)
	sum := f.info("e").SHA256
	ctx := context.Background()
	cycle := func(i int) {
		content := fmt.Sprintf(`{"plugins":{"e":{"sha256":%q,"manifest":{"name":"e","version":"%d","limits":{"pool_size":2}},"config":{"n":%d}}}}`, sum, i%2, i)
		ch, err := f.host.Prepare(ctx, hotreload.Candidate{Target: "plugins", Content: []byte(content)})
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if err := ch.Apply(ctx); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		f.mustCall("e", "ping", "ping")
		if i%10 == 0 {
			_ = ch.Rollback(ctx)
		} else {
			_ = ch.Commit(ctx)
		}
		f.mustCall("e", "ping", "ping")
	}
	for i := range 100 { // warm up: caches, pools, the runtime's own growth
		cycle(i)
	}
	opt := goleak.IgnoreCurrent()
	heap0, fds0 := heapAndFDs(t)
	for i := range 1000 {
		cycle(i)
	}
	heap1, fds1 := heapAndFDs(t)
	goleak.VerifyNone(t, opt)
	t.Logf("heap %d -> %d bytes, fds %d -> %d", heap0, heap1, fds0, fds1)
	if fds1 > fds0 {
		t.Errorf("file descriptors grew from %d to %d over 1,000 reloads", fds0, fds1)
	}
	if heap1 > heap0+4<<20 {
		t.Errorf("the heap grew from %d to %d bytes over 1,000 reloads", heap0, heap1)
	}
	if i := f.info("e"); i.Instances != 2 || i.Calls != 2*1100 {
		t.Errorf("after the loop: %+v", i)
	}
}

func heapAndFDs(t *testing.T) (heap uint64, fds int) {
	t.Helper()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting file descriptors: %v", err)
	}
	return ms.HeapAlloc, len(ents)
}
