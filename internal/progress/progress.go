// Package progress tells a user that a long step is still running: a
// build, a compile, a wait for a fleet. Report also tells the daemon's
// event bus, so the dashboard shows the step.
package progress

import (
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
)

// Every calls say with the time elapsed since the call to Every, once every
// period, until stop is called. Stop waits for a call of say in progress, so
// nothing is said after it returns; it may be called more than once.
func Every(period time.Duration, say func(elapsed time.Duration)) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				select {
				case <-done:
					return
				default:
				}
				say(time.Since(start))
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// Report is Every that also publishes hotreload.ProgressEvents for step
// (from source) on pub: one at once, one at each period and one with Done
// when stop is called, so a dashboard lists the step from its start and
// says how long it took; a nil pub publishes nothing. pub must not block
// (the events bus never does).
func Report(pub hotreload.Publisher, source hotreload.Source, step string, period time.Duration, say func(elapsed time.Duration)) (stop func()) {
	if pub == nil {
		return Every(period, say)
	}
	start := time.Now()
	publish := func(d time.Duration, done bool) {
		pub.Publish(hotreload.ProgressEvent{Header: hotreload.Header{Type: hotreload.TypeProgress, Time: time.Now(), Source: source},
			Step: step, Elapsed: d, Done: done})
	}
	publish(0, false)
	stopEvery := Every(period, func(d time.Duration) {
		say(d)
		publish(d, false)
	})
	var once sync.Once
	return func() {
		stopEvery()
		once.Do(func() { publish(time.Since(start), true) })
	}
}
