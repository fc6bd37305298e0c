// Package events is the typed, in-process event bus that carries the
// engine's reload events (and any other event value) to subscribers such as
// the admin API's Server-Sent Events stream and the UI's WebSocket hub.
//
// # Publishing
//
// Bus.Publish never waits for a subscriber. It holds the bus's internal lock
// only long enough to put the event into each matching subscriber's bounded
// queue, which never blocks, so the engine can publish from its transaction
// goroutine. A nil event is ignored, and so is any event published after
// Close. The zero Bus is not usable; call New.
//
// # Subscribing and type filtering
//
// Subscribe[T] delivers only the events whose dynamic type is T, or which
// implement T when T is an interface: Subscribe[hotreload.ReloadEvent] gets
// reload events only, Subscribe[any] gets every event. An event is delivered
// as it was published, so a subscriber that wants pointers must have
// pointers published.
//
// # Ordering
//
// Publishes are serialised: all subscribers see the events they match in one
// order, the order in which the Publish calls took the bus's lock, which for
// a single publishing goroutine is its program order. A subscriber never sees
// events out of that order; it may see fewer of them (see below), never
// duplicates. Subscribe is serialised with Publish as well: a subscription
// gets the matching events of every Publish that starts after Subscribe
// returned, and none of those that returned before Subscribe was called.
//
// # Backpressure
//
// Each subscription has its own queue of Buffer events (DefaultBuffer unless
// set). A subscriber that does not keep up never slows the publisher or any
// other subscriber; what happens when its queue is full is its Overflow
// policy:
//
//   - DropOldest (the default): the oldest queued event is discarded to make
//     room for the new one, and Subscription.Dropped counts it. A consumer
//     that sees Dropped grow knows it missed events just before the ones it
//     is now reading, and can resynchronise (the SSE stream tells its client
//     to reload the status).
//   - Disconnect: the subscription is closed instead; its channel is closed
//     after the events already queued, and Err returns ErrOverflow. The event
//     that did not fit counts in Dropped. Use it where a gap is worse than a
//     reconnection.
//
// # Closing
//
// Subscription.Close unsubscribes and closes the channel; events still queued
// are discarded, so a consumer ranging over C stops promptly, and Err returns
// ErrClosed. Bus.Close does the same to every subscription and makes later
// Subscribe calls return already-closed subscriptions. Both are idempotent and
// safe to call concurrently with Publish and with each other. The bus starts
// no goroutine.
package events
