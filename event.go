package hotreload

import (
	"net/http"
	"time"
)

// Result is the outcome of one reload transaction.
type Result string

// The outcomes of a transaction.
const (
	Committed  Result = "committed"   // the candidate is live and last known good
	Unchanged  Result = "unchanged"   // the candidate equals the live state
	Rejected   Result = "rejected"    // validation failed; nothing changed
	RolledBack Result = "rolled_back" // applied, then restored to the last committed state
	// Superseded marks a candidate whose health window a newer candidate
	// ended: the newer one was applied on top, and it commits or rolls back
	// both (Outcome.SupersededBy names it).
	Superseded Result = "superseded"
	// Pending marks a transaction whose candidate is live in its health
	// window (a Ticket's outcome, a history record); after a crash a
	// pending record is read as rolled back.
	Pending Result = "pending"
)

// Source names what started a transaction: a trigger, a person through the
// API, the engine's own start.
type Source string

// The sources of transactions. Watch, etcd and the builder are automatic
// (Request.Automatic).
const (
	SourceWatch      Source = "watch"      // a file watcher
	SourceAPI        Source = "api"        // the admin API or a library call
	SourceSignal     Source = "signal"     // SIGHUP, SIGUSR2
	SourceEtcd       Source = "etcd"       // an etcd key
	SourceBuilder    Source = "builder"    // the dev loop's builds
	SourceStart      Source = "start"      // Engine.Add loading a target
	SourceRollback   Source = "rollback"   // an explicit rollback
	SourceQuarantine Source = "quarantine" // a plugin back to its last good module
)

// Event header fields shared by every event: its type, when and from where.
type Header struct {
	Type   string    `json:"type"`
	Time   time.Time `json:"time"`
	Source Source    `json:"source"`
}

// Event types published on the bus.
const (
	TypeReload       = "reload"         // ReloadEvent
	TypeConfigReload = "config_reload"  // ConfigReloadEvent
	TypeCodeReload   = "code_reload"    // CodeReloadEvent
	TypeReloadStart  = "reload_start"   // ReloadStartEvent
	TypePending      = "reload_pending" // PendingEvent
	TypeProgress     = "progress"       // ProgressEvent
)

// ProgressEvent reports a long step outside any transaction (a plugin
// compiling, a build of the dev loop): that it started (Elapsed 0), that it
// is still running, every few seconds, and, with Done, that it ended after
// Elapsed. Step names it, the same for every event of one run.
type ProgressEvent struct {
	Header
	Step    string        `json:"step"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Done    bool          `json:"done,omitempty"`
}

// ReloadStartEvent reports that a transaction began (systemd's RELOADING=1).
type ReloadStartEvent struct {
	Header
	Targets []string `json:"targets"`
}

// PendingEvent reports that a candidate is live and in its health window:
// Version is live but not committed; Active is the last committed version.
type PendingEvent struct {
	Header
	Version uint64   `json:"version"`
	Active  uint64   `json:"active"`
	Targets []string `json:"targets"`
}

// ReloadEvent reports the end of one transaction, whatever its result.
type ReloadEvent struct {
	Header
	Outcome
}

// ConfigReloadEvent reports the outcome for one config target: the changed
// paths and the validation result.
type ConfigReloadEvent struct {
	Header
	Target  string       `json:"target"`
	Version uint64       `json:"version"`
	Result  Result       `json:"result"`
	Changes []PathChange `json:"changes,omitempty"`
	Errors  []FieldError `json:"errors,omitempty"`
	Reason  string       `json:"reason,omitempty"`
}

// CodeReloadEvent reports the outcome for one code target (a plugin, a
// process): the rebuilt modules and the result.
type CodeReloadEvent struct {
	Header
	Target  string   `json:"target"`
	Version uint64   `json:"version"`
	Modules []string `json:"modules,omitempty"`
	Result  Result   `json:"result"`
	Reason  string   `json:"reason,omitempty"`
}

// Outcome is the answer to a reload request; the API returns it as is.
type Outcome struct {
	// Result is the transaction's result.
	Result Result `json:"result"`
	// Version is the candidate's version when one was assigned (committed,
	// rejected, rolled back, superseded, pending), else the live version.
	Version uint64 `json:"version"`
	// SupersededBy is the version that superseded this one.
	SupersededBy uint64 `json:"superseded_by,omitempty"`
	// Active is the version live after the transaction.
	Active uint64 `json:"active"`
	// Errors lists precise validation problems.
	Errors []FieldError `json:"errors,omitempty"`
	// Reason says why a candidate was rejected or rolled back.
	Reason string `json:"reason,omitempty"`
	// Cause classifies a rollback for metrics: "apply", "health",
	// "history", "commit" or "stopped" (the engine stopped during the
	// health window). Empty for other results.
	Cause string `json:"cause,omitempty"`
	// Targets lists each target's part in the transaction.
	Targets []TargetOutcome `json:"targets,omitempty"`
	// Duration is how long the transaction took.
	Duration time.Duration `json:"duration_ns"`
}

// HTTPStatus is the status the API answers an outcome with: 422 when it was
// rejected, 409 when it was rolled back or superseded, 202 while it is
// pending, else 200.
func (o Outcome) HTTPStatus() int {
	switch o.Result {
	case Rejected:
		return http.StatusUnprocessableEntity
	case RolledBack, Superseded:
		return http.StatusConflict
	case Pending:
		return http.StatusAccepted
	}
	return http.StatusOK
}

// TargetOutcome is one target's part in a transaction.
type TargetOutcome struct {
	Target  string       `json:"target"`
	Kind    Kind         `json:"kind"`
	Digest  string       `json:"sha256,omitempty"` // the candidate's Digest, keyed as in TargetStatus and TargetState
	Changes []PathChange `json:"changes,omitempty"`
	Modules []string     `json:"modules,omitempty"`
}
