// Package ui reloads a browser UI while the page keeps its state: styles are
// swapped without a flash, theme custom properties change atomically, custom
// elements get a new implementation while their instances keep their
// fields, and only what cannot be patched falls back to a full page reload
// that keeps scroll position and form values.
//
// Three parts work together:
//
//   - Hub is the WebSocket channel to the browsers (GET /ws, protocol
//     "hotreload/1") and to LiveReload clients (GET /livereload, protocol 7).
//     It numbers every message, keeps a bounded ring of recent ones for
//     clients that reconnect, and records each client's acknowledgements.
//   - Assets is the hotreload.Target for a UI folder (kind ui): it validates
//     a candidate (CSS, JavaScript and theme.json sanity), serves the live
//     files, and tells the Hub what changed when a version is applied or
//     rolled back.
//   - Script is the embedded browser client served at /hotreload.js.
//
// # Concurrency and backpressure
//
// Every Hub method is safe for concurrent use and never blocks on a network
// write: a broadcast encodes the message once as a WebSocket frame, appends
// it to the ring and puts that same frame on each client's bounded queue
// under the hub lock, in O(clients). A pool of writer goroutines
// (Options.Writers) flushes the queues, one writer per socket at a time,
// each write bounded by Options.WriteTimeout; at most one writer per P
// but one (and at least one) is put to work at once, leaving a P to the
// rest of the process, and one more each time those at work are stuck for
// 20 ms, which also takes over the clients a stuck writer had yet to
// flush. No goroutine, timer or context is made per message. When a queued
// message has the same key as a newer one (two edits of the same
// stylesheet), only the newer one is kept. A client whose queue is still
// full is closed with CloseResync (4000); it reconnects with its last
// sequence number and gets the missed messages from the ring, or a
// snapshot of current versions when the ring no longer holds them. A slow
// client therefore never slows the others, the engine or the caller; a
// stuck one holds one writer, and no other client, for at most
// WriteTimeout.
//
// On Linux one poller goroutine reads every socket (epoll), so an idle
// client holds no goroutine; elsewhere each client has a reader goroutine.
// What a client sends is bounded: 64 KiB per message, a hello within 10 s.
//
// Assets follows the hotreload.Change contract: the engine calls Prepare,
// Apply, Commit and Rollback from its single transaction goroutine; the live
// file set is an atomic pointer read by ServeHTTP at any time.
package ui
