package ui

import "sync"

// writers is the hub's fixed pool of writer goroutines and the run queue
// of clients with something to write. A client is on the queue at most
// once (client.scheduled); one writer at a time flushes it, so a socket
// has one writer and frames never interleave. The goroutines start with
// the first client and end with close.
type writers struct {
	n int // goroutines; set, with cond.L = &mu, before first use

	mu      sync.Mutex
	cond    sync.Cond
	ready   []*client // FIFO from head
	head    int
	started bool
	stopped bool
	wg      sync.WaitGroup
}

// writerBatch is how many clients a writer takes from the queue at once.
const writerBatch = 32

// push queues clients to be flushed.
func (w *writers) push(cs ...*client) {
	if len(cs) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if !w.started {
		w.started = true
		w.wg.Add(w.n)
		for range w.n {
			go w.run()
		}
	}
	w.ready = append(w.ready, cs...)
	if len(cs) == 1 {
		w.cond.Signal()
	} else {
		w.cond.Broadcast()
	}
}

func (w *writers) run() {
	defer w.wg.Done()
	batch := make([]*client, 0, writerBatch)
	for {
		w.mu.Lock()
		for w.head == len(w.ready) && !w.stopped {
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
	if w.started {
		w.cond.Broadcast()
	}
	w.mu.Unlock()
	w.wg.Wait()
}
