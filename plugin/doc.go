// Package plugin hosts WebAssembly plugins on wazero and reloads them while
// they serve.
//
// A plugin is NAME.wasm in the plugin directory plus an optional manifest
// NAME.json (Manifest: version, config schema, limits). Its module
// implements the plugin ABI (docs/plugins.md; plugin/guest implements it
// for Go plugins): initialize, update_config, get_status, cleanup, and one
// call export for the host's hook, with JSON across the boundary.
//
// The Host is a hotreload.Target whose state is the set of loaded plugins.
// Prepare compiles a new module (with a compilation cache shared by every
// version), starts a pool of instances in a runtime of its own that carries
// the memory limit, initializes each within a deadline and requires an ok
// status. Apply swaps the plugin's live version with one atomic pointer
// store; Commit closes the old one, Rollback the new one. The Host is also a
// hotreload.Follower: when a config change touches a plugin's section, the
// plugin is reconfigured in the same transaction.
//
// Concurrency and backpressure: Call is safe for any number of goroutines.
// A call takes an instance from the live version's pool (Limits.PoolSize
// instances, each single-threaded) and waits for one, until its context
// ends, when all are busy. A call that started on a version finishes on it:
// closing a version waits for its running calls, which Limits.CallTimeout
// bounds. A crashed or timed-out instance is closed and replaced on the next
// call. Consecutive failures quarantine the plugin with exponential backoff.
// Prepare, Apply, Rollback, Commit and Follow are called by one
// transaction at a time, by the engine's loop: the engine is the only
// thing that runs a transaction. Sync and Watch may run on any goroutine
// and submit transactions (Options.Submit), one per changed plugin,
// waiting for each.
package plugin
