// Package hotreload changes a service's configuration, plugins, UI and code
// while it keeps serving. Every change runs through one reload transaction:
// validate, back up, apply, notify, health gate, commit — or roll back to the
// last known good state.
//
// The Engine runs transactions one at a time on a single goroutine (Run).
// Every trigger — a file watcher, the admin API, SIGHUP, etcd, the dev-loop
// builder — sends a request with a reply channel; concurrent requests queue
// in arrival order and each gets its own answer (a Ticket). The health gate
// runs beside the engine: a candidate that arrives while another is in its
// window supersedes it (see Engine.Start). Targets (config.Target,
// plugin.Host, ui.Assets, supervise.Process) implement Target and Change; the
// engine never calls two of their methods at once.
package hotreload
