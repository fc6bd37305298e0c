package plugin

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// watchdogTick is how often the watchdog looks at the running calls: a
// call is stopped within its time limit plus this.
const watchdogTick = 5 * time.Millisecond

// errTimedOut is the cause the watchdog gives an instance whose call
// overran its time limit.
var errTimedOut = errors.New("the call exceeded its time limit")

// watchdog is the one goroutine that stops every overdue call of a host's
// instances, instead of a context, a timer and a goroutine per call. Every
// module is instrumented at load (wasmloop): each loop header checks the
// module's stop flag and traps when it is set, which stops even an endless
// loop in compiled code. A call marks its instance busy with its deadline
// and its caller's context; every watchdogTick the watchdog sets the flag of
// each busy instance whose deadline passed (cause errTimedOut) or whose
// caller went away (the caller's error), and records the cause. With no call
// running it parks until the next call starts.
//
// The flag is a Wasm global that wazero's compiler keeps in the instance's
// memory and loads afresh at every loop header (a loop header has a back
// edge, so no earlier load can stand for it). The watchdog's store
// (api.MutableGlobal.Set, a plain 8-byte store) is therefore seen by the
// running code at its next iteration. No Go code reads the flag (wazero
// writes it once, at instantiation, before the watchdog knows the instance),
// and the race detector does not see compiled Wasm code: the store races
// with nothing it could report.
type watchdog struct {
	mu    sync.Mutex
	insts map[*instance]struct{}

	parked atomic.Bool
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

func newWatchdog() *watchdog {
	w := &watchdog{insts: map[*instance]struct{}{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// close stops the watchdog and waits for it.
func (w *watchdog) close() {
	close(w.stop)
	<-w.done
}

func (w *watchdog) add(in *instance) {
	w.mu.Lock()
	w.insts[in] = struct{}{}
	w.mu.Unlock()
}

func (w *watchdog) remove(in *instance) {
	w.mu.Lock()
	delete(w.insts, in)
	w.mu.Unlock()
}

// started is told that a call started: it wakes a parked watchdog.
func (w *watchdog) started() {
	if w.parked.Load() && w.parked.CompareAndSwap(true, false) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

func (w *watchdog) run() {
	defer close(w.done)
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		if w.sweep(time.Now()) {
			continue
		}
		// Park, then look once more: a call that started before parked
		// was set is seen by this sweep, one that starts after wakes us.
		w.parked.Store(true)
		if w.sweep(time.Now()) {
			w.parked.Store(false)
			continue
		}
		select {
		case <-w.stop:
			return
		case <-w.wake:
		}
	}
}

// sweep stops the overdue calls and reports whether any call runs.
func (w *watchdog) sweep(now time.Time) (busy bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for in := range w.insts {
		in.wmu.Lock()
		if in.busy {
			busy = true
			var cause error
			if now.After(in.deadline) {
				cause = errTimedOut
			} else if err := in.caller.Err(); err != nil {
				cause = err
			}
			if cause != nil && in.stopCause == nil {
				in.stopCause = cause
				in.stop.Set(1)
			}
		}
		in.wmu.Unlock()
	}
	return busy
}

// begin marks in busy with a call of caller that must end by timeout.
func (in *instance) begin(caller context.Context, timeout time.Duration) {
	in.wmu.Lock()
	in.busy, in.caller, in.deadline = true, caller, time.Now().Add(timeout)
	in.wmu.Unlock()
	in.wd.started()
}

// end marks in idle; it returns why the watchdog stopped it meanwhile, if
// it did (its stop flag is then set: it cannot be used again).
func (in *instance) end() (cause error) {
	in.wmu.Lock()
	in.busy, in.caller = false, nil
	cause = in.stopCause
	in.wmu.Unlock()
	return cause
}
