package ui

import (
	"runtime"
	"sync"
	"time"
)

// writers is the hub's pool of writer goroutines and the run queue of
// clients with something to write. A client is on the queue at most once
// (client.scheduled); one writer at a time flushes it, so a socket has one
// writer and frames never interleave.
//
// Writers start as they are needed, up to max, and wait for work once
// started; close ends them. Only as many work at once as there are Ps
// (GOMAXPROCS): more would only take turns on the same CPUs, leaving less
// of them to the rest of the process. While clients are queued, a watch
// every stallCheck puts one more writer to work when none took a batch
// since the last watch, those at work being stuck on sockets that take
// nothing: so a stuck socket holds one writer for at most WriteTimeout
// while the others go on.
type writers struct {
	max int // goroutines at most; set, with cond.L = &mu, before first use

	mu      sync.Mutex
	cond    sync.Cond
	ready   []*client // FIFO from head
	head    int
	started int         // goroutines started
	idle    int         // goroutines waiting on cond, not yet signalled
	taken   uint64      // batches taken, for the watch to see progress
	seen    uint64      // taken at the last watch
	watch   *time.Timer // armed while clients are queued
	stopped bool
	wg      sync.WaitGroup
}

// writerBatch is how many clients a writer takes from the queue at once.
const writerBatch = 32

// stallCheck is how often a queue that is not empty is watched for
// writers that are all stuck: far longer than writing a batch to sockets
// that take it.
const stallCheck = 20 * time.Millisecond

// push queues clients to be flushed and puts writers to work for them, up
// to one at work per P.
func (w *writers) push(cs ...*client) {
	if len(cs) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	switch {
	case w.watch == nil:
		w.watch = time.AfterFunc(stallCheck, w.check)
	case w.head == len(w.ready):
		w.seen = w.taken
		w.watch.Reset(stallCheck)
	}
	w.ready = append(w.ready, cs...)
	batches := (len(w.ready) - w.head + writerBatch - 1) / writerBatch
	w.wake(min(batches, runtime.GOMAXPROCS(0)-(w.started-w.idle)))
}

// wake puts n more writers to work: waiting ones first, then new ones up
// to max. w.mu must be held.
func (w *writers) wake(n int) {
	for ; n > 0; n-- {
		switch {
		case w.idle > 0:
			w.idle--
			w.cond.Signal()
		case w.started < w.max:
			w.started++
			w.wg.Add(1)
			go w.run()
		default:
			return
		}
	}
}

// check is the stall watch: when clients are queued and no writer took a
// batch since the last check, it puts one more to work; it watches again
// while clients are queued.
func (w *writers) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.head == len(w.ready) {
		return
	}
	if w.taken == w.seen {
		w.wake(1)
	}
	w.seen = w.taken
	w.watch.Reset(stallCheck)
}

func (w *writers) run() {
	defer w.wg.Done()
	batch := make([]*client, 0, writerBatch)
	for {
		w.mu.Lock()
		for w.head == len(w.ready) && !w.stopped {
			w.idle++
			w.cond.Wait()
		}
		if w.head == len(w.ready) {
			w.mu.Unlock()
			return
		}
		n := min(len(w.ready)-w.head, writerBatch)
		batch = append(batch[:0], w.ready[w.head:w.head+n]...)
		clear(w.ready[w.head : w.head+n])
		w.head += n
		w.taken++
		if w.head == len(w.ready) {
			w.ready, w.head = w.ready[:0], 0
		}
		w.mu.Unlock()
		for _, c := range batch {
			c.flush()
		}
	}
}

// close lets the writers finish what is queued and waits for them.
func (w *writers) close() {
	w.mu.Lock()
	w.stopped = true
	w.idle = 0
	if w.watch != nil {
		w.watch.Stop()
	}
	w.cond.Broadcast()
	w.mu.Unlock()
	w.wg.Wait()
}
