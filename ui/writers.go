package ui

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// writers is the hub's pool of writer goroutines and the run queue of
// clients with something to write. A client is on the queue, or in a
// writer's batch, at most once (client.scheduled); one writer at a time
// flushes it, so a socket has one writer and frames never interleave.
//
// Writers start as they are needed, up to max, and wait for work once
// started; close ends them. New frames put at most atWork of them to work:
// more would only take turns on the same CPUs, leaving less of them to the
// rest of the process. While clients wait, queued or in a
// batch, a watch runs every stallCheck. A writer whose batch did not move
// over a whole watch is stuck on a socket that takes nothing: the watch
// takes the rest of its batch back to the queue. When a batch was taken
// back, or no writer took a batch since the last watch while clients are
// queued, it puts one more writer to work. So a stuck socket holds one
// writer, and none of the other clients, for at most WriteTimeout.
type writers struct {
	max int // goroutines at most; set, with cond.L = &mu, before first use

	mu       sync.Mutex
	cond     sync.Cond
	ready    []*client // FIFO from head
	head     int
	started  int         // goroutines started
	idle     int         // goroutines waiting on cond, not yet signalled
	taken    uint64      // batches taken, for the watch to see progress
	seen     uint64      // taken at the last watch
	slots    []*slot     // the batch of each goroutine started
	watch    *time.Timer // runs check
	watching bool        // watch is armed
	stopped  bool
	wg       sync.WaitGroup
}

// slot is the batch one writer works through, in order: the writer takes
// each client by moving next on; the watch takes back the rest by moving
// next past the end. batch and taken change under writers.mu.
type slot struct {
	batch []*client
	next  atomic.Int32 // the index of the next client to flush
	taken uint64       // batches taken into the slot
	// What the last watch saw: the batch and the index it was at.
	seenTaken uint64
	seenNext  int32
}

// writerBatch is how many clients a writer takes from the queue at once.
const writerBatch = 32

// stallCheck is how often clients waiting are watched for writers that are
// stuck: far longer than writing a batch to sockets that take it.
const stallCheck = 20 * time.Millisecond

// push queues clients to be flushed and puts writers to work for them, up
// to atWork at work.
func (w *writers) push(cs ...*client) {
	if len(cs) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if !w.watching {
		w.seen = w.taken
		w.arm()
	}
	w.ready = append(w.ready, cs...)
	batches := (len(w.ready) - w.head + writerBatch - 1) / writerBatch
	w.wake(min(batches, atWork()-(w.started-w.idle)))
}

// atWork is how many writers new frames put to work at most: one per P
// (GOMAXPROCS) but one, left to the rest of the process (the service the
// hub is part of, and the browsers a developer runs beside it), and at
// least one.
func atWork() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// arm runs the watch in stallCheck. w.mu must be held.
func (w *writers) arm() {
	w.watching = true
	if w.watch == nil {
		w.watch = time.AfterFunc(stallCheck, w.check)
		return
	}
	w.watch.Reset(stallCheck)
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
			s := &slot{}
			w.slots = append(w.slots, s)
			w.wg.Add(1)
			go w.run(s)
		default:
			return
		}
	}
}

// check is the stall watch: it takes back the rest of the batches that did
// not move since the last check, puts one more writer to work when it took
// some back or when clients are queued and no writer took a batch since
// the last check, and watches again while clients wait.
func (w *writers) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.watching = false
	if w.stopped {
		return
	}
	waiting, reclaimed := false, false
	for _, s := range w.slots {
		next := s.next.Load()
		if int(next) >= len(s.batch) {
			continue
		}
		waiting = true
		if s.taken != s.seenTaken || next != s.seenNext {
			s.seenTaken, s.seenNext = s.taken, next
			continue
		}
		// Stuck on batch[next-1]: the clients after it go back to the queue.
		if i := int(s.next.Swap(int32(len(s.batch)))); i < len(s.batch) {
			w.ready = append(w.ready, s.batch[i:]...)
			reclaimed = true
		}
	}
	if w.head < len(w.ready) {
		waiting = true
		if reclaimed || w.taken == w.seen {
			w.wake(1)
		}
	}
	w.seen = w.taken
	if waiting {
		w.arm()
	}
}

// run flushes the clients of the batches it takes into s until close.
func (w *writers) run(s *slot) {
	defer w.wg.Done()
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
		clear(s.batch)
		s.batch = append(s.batch[:0], w.ready[w.head:w.head+n]...)
		s.next.Store(0)
		s.taken++
		clear(w.ready[w.head : w.head+n])
		w.head += n
		w.taken++
		if w.head == len(w.ready) {
			w.ready, w.head = w.ready[:0], 0
		}
		batch := s.batch
		w.mu.Unlock()
		for i := int(s.next.Add(1)) - 1; i < len(batch); i = int(s.next.Add(1)) - 1 {
			batch[i].flush()
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
