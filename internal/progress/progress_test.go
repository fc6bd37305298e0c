package progress

import (
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload/internal/testwait"
)

// TestEvery: say is called again and again with a growing elapsed time, and
// never once stop has returned; stop leaves no goroutine behind.
func TestEvery(t *testing.T) {
	defer goleak.VerifyNone(t)
	var calls atomic.Int64
	var stopped atomic.Bool
	var last atomic.Int64
	stop := Every(time.Millisecond, func(d time.Duration) {
		if stopped.Load() {
			t.Error("say was called after stop returned")
		}
		if int64(d) < last.Load() {
			t.Errorf("elapsed went back from %s to %s", time.Duration(last.Load()), d)
		}
		last.Store(int64(d))
		calls.Add(1)
	})
	testwait.For(t, "three calls", 10*time.Second, func() bool { return calls.Load() >= 3 })
	stop()
	stopped.Store(true)
	stop() // again: harmless
	if last.Load() <= 0 {
		t.Fatal("elapsed was never positive")
	}
}
