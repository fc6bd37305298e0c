package hotreload

import (
	"context"
	"sync"
)

// A Ticket follows one transaction handed to the engine by Start or
// StartRollback. Its methods are safe for concurrent use.
type Ticket struct {
	live     chan struct{} // closed when the candidate is live in its window, or at the end
	liveOnce sync.Once
	done     chan struct{} // closed at the end

	mu  sync.Mutex
	o   Outcome
	err error
}

func newTicket() *Ticket {
	return &Ticket{live: make(chan struct{}), done: make(chan struct{})}
}

// Live is closed once the candidate is live in its health window, or live
// while its committed record is written (a change the gate does not
// watch): the outcome is then Pending, with its version. It is also closed
// when the transaction ended.
func (t *Ticket) Live() <-chan struct{} { return t.live }

// Done is closed when the transaction ended.
func (t *Ticket) Done() <-chan struct{} { return t.done }

// Outcome returns the latest outcome: Pending while the candidate is in its
// health window, the final one once Done is closed, and the zero Outcome
// before either. The error is set when the request could not run at all.
func (t *Ticket) Outcome() (Outcome, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.o, t.err
}

// Wait waits for the end of the transaction, or ctx; a transaction keeps
// running when its waiter gives up.
func (t *Ticket) Wait(ctx context.Context) (Outcome, error) {
	select {
	case <-t.done:
		return t.Outcome()
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
}

// pend records the pending outcome and closes Live.
func (t *Ticket) pend(o Outcome) {
	t.mu.Lock()
	t.o = o
	t.mu.Unlock()
	t.liveOnce.Do(func() { close(t.live) })
}

// end records the final outcome and closes Live and Done.
func (t *Ticket) end(o Outcome, err error) {
	t.mu.Lock()
	t.o, t.err = o, err
	t.mu.Unlock()
	t.liveOnce.Do(func() { close(t.live) })
	close(t.done)
}
