// Package config is the typed configuration target of hotreload: it decodes
// JSON, YAML and TOML files into a JSON document together with the line and
// column of every key and value, merges several files in order, fills
// defaults from a JSON Schema (2020-12), validates against it and against
// Go validators registered by the user, and publishes the result as an
// immutable typed snapshot in a [Store].
//
// Every problem is reported as a [hotreload.FieldError] naming the file, the
// line, the column and the JSON Pointer of the value, for syntax errors and
// schema violations alike:
//
//	app.yaml:7:12: /limits/rps: must be >= 1 but found 0
//
// # Changes
//
// A [Target] is a hotreload.Target. Its candidates are the files (read
// again), a full content in its format, a JSON merge patch on the live
// document, or a snapshot from history. The snapshot history keeps is the
// canonical JSON of the merged document before Options.Transform, so it
// never holds a decrypted secret; the changed paths it reports redact the
// values the schema marks secret ("writeOnly" or "x-secret"). A committed
// merge patch on a single-file target is written back to the file, in its
// format, so that a restart keeps it (comments are lost); see
// Options.ReadOnlyFiles. [Open] registers a Target with an engine and offers
// the library operations: load, reload, update (merge patch) and rollback.
//
// # Concurrency
//
// [Store.Load] is one atomic pointer load: it takes no lock, allocates
// nothing and may be called from any number of goroutines. A published
// value is never modified again; readers that keep a pointer keep a
// consistent snapshot for as long as they hold it.
//
// A [Target] is driven by the hotreload engine, which calls Prepare, Apply,
// Rollback and Commit from its single transaction goroutine; a Target must
// not be driven by two engines at once.
//
// # Subscribers and backpressure
//
// Subscribers registered with [Store.Subscribe] are notified when a change
// is applied (after the pointer swap and before the health gate) and again
// when it is rolled back, with the restored value. Each subscriber has its
// own goroutine and is called with one [Update] at a time, in order. Apply
// waits for every interested subscriber to return, but for at most
// [Options.NotifyTimeout] in total; a subscriber still running then keeps
// running on its own, and the updates it has not yet seen are coalesced into
// one (old value of the first, new value of the last, changed paths between
// them), so a slow subscriber never blocks the engine for longer than the
// timeout and never makes memory grow.
package config
