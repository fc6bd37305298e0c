package events

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cybercorp/hotreload"
)

// DefaultBuffer is the queue length of a subscription that sets none.
const DefaultBuffer = 256

// Overflow is what a subscription does when an event arrives and its queue
// is full.
type Overflow int

const (
	// DropOldest discards the oldest queued event to make room and counts
	// it in Dropped.
	DropOldest Overflow = iota
	// Disconnect closes the subscription after the events already queued;
	// Err then returns ErrOverflow.
	Disconnect
)

// Errors a subscription reports through Err.
var (
	// ErrOverflow means a Disconnect subscription fell behind and was closed.
	ErrOverflow = &hotreload.Error{Code: hotreload.CodeUnavailable, Message: "events: the subscriber fell behind and its queue overflowed"}
	// ErrClosed means the subscription or its bus was closed.
	ErrClosed = &hotreload.Error{Code: hotreload.CodeUnavailable, Message: "events: subscription closed"}
)

// Bus delivers published events to the subscriptions whose type they match.
// It implements hotreload.Publisher. See the package documentation for the
// ordering and backpressure contract.
type Bus struct {
	mu     sync.Mutex
	subs   []subscriber
	closed bool
}

var _ hotreload.Publisher = (*Bus)(nil)

// subscriber is a Subscription of any type, as the bus holds it. Both
// methods are called with the bus's lock held.
type subscriber interface {
	// offer queues ev if it matches and reports whether the subscription
	// closed itself because its queue overflowed.
	offer(ev any) (disconnected bool)
	// shut closes the subscription with err.
	shut(err error)
}

// New returns an empty bus.
func New() *Bus { return &Bus{} }

// Publish queues ev for every subscription it matches. It never waits for a
// subscriber; see the package documentation for what a full queue does.
func (b *Bus) Publish(ev any) {
	if ev == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	var gone []subscriber
	for _, s := range b.subs {
		if s.offer(ev) {
			gone = append(gone, s)
		}
	}
	for _, s := range gone {
		b.remove(s)
	}
}

// Close closes every subscription; Publish then does nothing and Subscribe
// returns closed subscriptions. Close is idempotent.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for _, s := range b.subs {
		s.shut(ErrClosed)
	}
	b.subs = nil
}

// remove drops s from the bus. The caller holds b.mu.
func (b *Bus) remove(s subscriber) {
	b.subs = slices.DeleteFunc(b.subs, func(x subscriber) bool { return x == s })
}

// An Option configures a subscription.
type Option func(*options)

type options struct {
	buffer   int
	overflow Overflow
}

// Buffer sets the subscription's queue length; n < 1 means DefaultBuffer.
func Buffer(n int) Option {
	return func(o *options) {
		if n < 1 {
			n = DefaultBuffer
		}
		o.buffer = n
	}
}

// OnOverflow sets what the subscription does when its queue is full; the
// default is DropOldest.
func OnOverflow(p Overflow) Option {
	return func(o *options) { o.overflow = p }
}

// Subscription receives the events of type T published on a bus after it was
// created. Its methods are safe for concurrent use.
type Subscription[T any] struct {
	bus      *Bus
	ch       chan T
	overflow Overflow
	dropped  atomic.Uint64
	closed   bool  // guarded by bus.mu
	err      error // guarded by bus.mu
}

// Subscribe returns a subscription to the events of b whose type is T (or
// that implement T when T is an interface; any matches every event).
func Subscribe[T any](b *Bus, opts ...Option) *Subscription[T] {
	o := options{buffer: DefaultBuffer}
	for _, f := range opts {
		f(&o)
	}
	s := &Subscription[T]{bus: b, ch: make(chan T, o.buffer), overflow: o.overflow}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.shut(ErrClosed)
		return s
	}
	b.subs = append(b.subs, s)
	return s
}

// C returns the channel the events arrive on, in publish order. It is closed
// when the subscription closes; Err then says why.
func (s *Subscription[T]) C() <-chan T { return s.ch }

// Each calls fn with each event until fn returns false, ctx ends or the
// subscription closes.
func (s *Subscription[T]) Each(ctx context.Context, fn func(T) bool) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-s.ch:
			if !ok || !fn(ev) {
				return
			}
		}
	}
}

// Dropped returns how many events this subscription lost because its queue
// was full.
func (s *Subscription[T]) Dropped() uint64 { return s.dropped.Load() }

// Err returns nil while the subscription is open, ErrOverflow when it was
// disconnected for falling behind, and ErrClosed when it or its bus was
// closed.
func (s *Subscription[T]) Err() error {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.err
}

// Close unsubscribes, closes the channel and discards the events still
// queued. It is idempotent.
func (s *Subscription[T]) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if s.closed {
		return
	}
	s.shut(ErrClosed)
	s.bus.remove(s)
}

func (s *Subscription[T]) offer(ev any) bool {
	v, ok := ev.(T)
	if !ok {
		return false
	}
	// Only the bus sends, under its lock, so after making room the send
	// below cannot block; the consumer may only make more room.
	select {
	case s.ch <- v:
		return false
	default:
	}
	if s.overflow == Disconnect {
		s.dropped.Add(1)
		s.closed, s.err = true, ErrOverflow
		close(s.ch)
		return true
	}
	select {
	case <-s.ch:
		s.dropped.Add(1)
	default: // the consumer made room meanwhile
	}
	s.ch <- v
	return false
}

func (s *Subscription[T]) shut(err error) {
	s.closed, s.err = true, err
	close(s.ch)
	for range s.ch { // discard what is queued; never blocks on a closed channel
	}
}
