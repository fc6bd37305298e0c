package config

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// DefaultNotifyTimeout is how long Apply waits for subscribers when
// Options.NotifyTimeout is zero.
const DefaultNotifyTimeout = 5 * time.Second

// Snapshot is one published configuration. It is immutable: neither its
// value nor its document may be modified.
type Snapshot[T any] struct {
	// Value is the typed configuration.
	Value *T
	// Data is the document Value was decoded from: merged, transformed
	// (secrets decrypted) and with defaults filled.
	Data any
}

// Update tells a subscriber what changed.
type Update[T any] struct {
	// Old and New are the values before and after; Old is nil on the
	// first load.
	Old, New *Snapshot[T]
	// Changes lists the changed paths, with their old and new values.
	Changes []hotreload.PathChange
	// Rollback is true when New is a state restored after a failed
	// change (or a failed health gate).
	Rollback bool
}

// Store holds the live configuration of type T. Load is a single atomic
// pointer load; see the package documentation for the subscriber contract.
// The zero Store is not usable; a Target creates its own.
type Store[T any] struct {
	value   atomic.Pointer[T]
	current atomic.Pointer[Snapshot[T]]
	timeout time.Duration
	log     *slog.Logger

	mu     sync.Mutex // guards subs and closed
	subs   []*subscriber[T]
	closed bool
}

func newStore[T any](timeout time.Duration, log *slog.Logger) *Store[T] {
	if timeout <= 0 {
		timeout = DefaultNotifyTimeout
	}
	return &Store[T]{timeout: timeout, log: log}
}

// Load returns the live value, or nil before the first load. It takes no
// lock and allocates nothing; the value must not be modified.
func (s *Store[T]) Load() *T { return s.value.Load() }

// Snapshot returns the live value together with its document, consistently
// (unlike two separate reads), or nil before the first load.
func (s *Store[T]) Snapshot() *Snapshot[T] { return s.current.Load() }

// Subscribe calls fn with every applied change touching path (a JSON
// Pointer such as "/limits"; "" or "/" for every change), on a goroutine of
// its own, one update at a time. A change at a parent of path, such as the
// whole document replaced, touches it too. The returned cancel stops the
// subscription; it does not wait for a callback that is running. After
// Close, Subscribe does nothing.
func (s *Store[T]) Subscribe(path string, fn func(Update[T])) (cancel func()) {
	sub := &subscriber[T]{path: path, fn: fn, log: s.log, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return func() {}
	}
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
	go sub.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			for i, e := range s.subs {
				if e == sub {
					s.subs = append(s.subs[:i:i], s.subs[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
			close(sub.stop)
		})
	}
}

// Close ends every subscription. Loads keep working; later changes notify
// nobody. Close does not wait for a callback that is running.
func (s *Store[T]) Close() {
	s.mu.Lock()
	subs := s.subs
	s.subs, s.closed = nil, true
	s.mu.Unlock()
	for _, sub := range subs {
		close(sub.stop)
	}
}

// publish swaps next in (nil for nothing) and notifies the subscribers
// whose paths the change touches, waiting for them at most the store's
// timeout or until ctx ends.
func (s *Store[T]) publish(ctx context.Context, next *Snapshot[T], changes []hotreload.PathChange, rollback bool) {
	old := s.current.Load()
	if next == nil {
		s.value.Store(nil)
	} else {
		s.value.Store(next.Value)
	}
	s.current.Store(next)
	if len(changes) == 0 {
		return
	}
	u := Update[T]{Old: old, New: next, Changes: changes, Rollback: rollback}
	s.mu.Lock()
	var waits []chan struct{}
	for _, sub := range s.subs {
		if touches(sub.path, changes) {
			done := make(chan struct{})
			sub.enqueue(u, done)
			waits = append(waits, done)
		}
	}
	s.mu.Unlock()
	if len(waits) == 0 {
		return
	}
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	for _, done := range waits {
		select {
		case <-done:
		case <-timer.C:
			s.log.Warn("config subscribers still running after the notify timeout; continuing without them",
				"timeout", s.timeout)
			return
		case <-ctx.Done():
			return
		}
	}
}

// touches reports whether any change lies at, below or above path.
func touches(path string, changes []hotreload.PathChange) bool {
	for _, c := range changes {
		if jsondiff.Covers(path, c.Path) || jsondiff.Covers(c.Path, path) {
			return true
		}
	}
	return false
}

// subscriber delivers updates to one callback, coalescing those that arrive
// while it is busy.
type subscriber[T any] struct {
	path string
	fn   func(Update[T])
	log  *slog.Logger
	wake chan struct{} // capacity 1: an update is pending
	stop chan struct{} // closed by cancel or Close

	mu      sync.Mutex // guards pending and waiters
	pending *Update[T]
	waiters []chan struct{}
}

// enqueue adds u; if an update is already pending they merge into one that
// goes from the older Old to u's New.
func (sub *subscriber[T]) enqueue(u Update[T], done chan struct{}) {
	sub.mu.Lock()
	if sub.pending == nil {
		sub.pending = &u
	} else {
		p := sub.pending
		p.New, p.Rollback = u.New, u.Rollback
		p.Changes = jsondiff.Diff(data(p.Old), data(u.New))
	}
	sub.waiters = append(sub.waiters, done)
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func data[T any](s *Snapshot[T]) any {
	if s == nil {
		return nil
	}
	return s.Data
}

func (sub *subscriber[T]) run() {
	for {
		select {
		case <-sub.stop:
			sub.release()
			return
		case <-sub.wake:
		}
		sub.mu.Lock()
		u, waiters := sub.pending, sub.waiters
		sub.pending, sub.waiters = nil, nil
		sub.mu.Unlock()
		if u != nil && touches(sub.path, u.Changes) {
			sub.call(*u)
		}
		for _, w := range waiters {
			close(w)
		}
	}
}

// release frees whoever waits on updates that will not be delivered.
func (sub *subscriber[T]) release() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for _, w := range sub.waiters {
		close(w)
	}
	sub.pending, sub.waiters = nil, nil
}

// call runs the callback; a panic is logged, not propagated.
func (sub *subscriber[T]) call(u Update[T]) {
	defer func() {
		if r := recover(); r != nil {
			sub.log.Error("config subscriber panicked", "path", sub.path, "panic", fmt.Sprint(r))
		}
	}()
	sub.fn(u)
}
