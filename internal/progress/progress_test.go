package progress

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
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

// publisher keeps what it is told.
type publisher struct {
	mu     sync.Mutex
	events []hotreload.ProgressEvent
}

func (p *publisher) Publish(e any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e.(hotreload.ProgressEvent))
}

func (p *publisher) copy() []hotreload.ProgressEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// TestReport: the step is published at once, then at each period with what
// is said, and done when stop is called, once, and nothing after.
func TestReport(t *testing.T) {
	defer goleak.VerifyNone(t)
	pub := &publisher{}
	var said atomic.Int64
	stop := Report(pub, hotreload.SourceBuilder, "build of app", time.Millisecond, func(time.Duration) { said.Add(1) })
	testwait.For(t, "three progress events", time.Second, func() bool { return len(pub.copy()) >= 3 })
	stop()
	stop()
	events := pub.copy()
	first, last := events[0], events[len(events)-1]
	if first.Done || first.Elapsed != 0 || first.Step != "build of app" {
		t.Fatalf("first event %+v, want the step starting", first)
	}
	if !last.Done || last.Step != "build of app" || last.Type != hotreload.TypeProgress || last.Source != hotreload.SourceBuilder {
		t.Fatalf("last event %+v, want the step done", last)
	}
	for i, e := range events[1 : len(events)-1] {
		if e.Done || e.Elapsed <= 0 || e.Elapsed < events[i].Elapsed {
			t.Errorf("event %d: %+v, want a growing elapsed time, not done", i+1, e)
		}
	}
	if last.Elapsed < events[len(events)-2].Elapsed {
		t.Errorf("done after %s, less than the last progress %s", last.Elapsed, events[len(events)-2].Elapsed)
	}
	if int(said.Load()) != len(events)-2 {
		t.Errorf("said %d times, published %d progress events between start and done", said.Load(), len(events)-2)
	}

	quick := &publisher{}
	Report(quick, hotreload.SourceBuilder, "quick", time.Hour, func(time.Duration) { t.Error("a step shorter than its period said something") })()
	if ev := quick.copy(); len(ev) != 2 || ev[0].Done || !ev[1].Done {
		t.Errorf("a step shorter than its period published %+v, want its start and its end", ev)
	}
}
