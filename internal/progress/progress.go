// Package progress tells a user that a long step is still running: a
// build, a compile, a wait for a fleet.
package progress

import (
	"sync"
	"time"
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
