package hotreload

import (
	"context"
	"time"
)

// Record is one transaction in history. Every attempt is recorded; the
// content of committed versions is kept as per-target snapshots.
type Record struct {
	// Version numbers the candidate: every transaction that is not
	// unchanged gets the next number. Unchanged attempts carry the active
	// version.
	Version uint64 `json:"version"`
	// Time is when the transaction started.
	Time time.Time `json:"time"`
	// Source is the trigger: "watch", "api", "signal", "etcd", "builder",
	// "rollback", "start".
	Source Source `json:"source"`
	// Author is who asked, where known (a token name, a user).
	Author string `json:"author,omitempty"`
	// Result is the outcome; Pending while the transaction runs.
	Result Result `json:"result"`
	// Reason says why it was rejected or rolled back.
	Reason string `json:"reason,omitempty"`
	// Errors lists precise validation problems.
	Errors []FieldError `json:"errors,omitempty"`
	// RestoredFrom is the version a rollback transaction restored.
	RestoredFrom uint64 `json:"restored_from,omitempty"`
	// Targets lists, for every target, its state in this version: a target
	// the transaction did not touch keeps the digest it had.
	Targets []TargetState `json:"targets"`
}

// TargetState is one target's state in a version.
type TargetState struct {
	Target string `json:"target"`
	Kind   Kind   `json:"kind,omitempty"`
	// Digest is the hex SHA-256 of the snapshot.
	Digest string `json:"sha256"`
	// Changed is true when this version changed the target.
	Changed bool `json:"changed,omitempty"`
	// Meta holds source facts such as an etcd revision.
	Meta map[string]string `json:"meta,omitempty"`
}

// Entry is one record for History.Put with the snapshots (target name to
// bytes) stored beside it.
type Entry struct {
	Record    Record
	Snapshots map[string][]byte
}

// History is the durable version store the engine writes every transaction
// to. Implementations must be safe for concurrent use; the engine is the only
// writer.
type History interface {
	// Put creates or replaces the record of each entry's version, in the
	// order given, and stores the entry's snapshots beside it. It is
	// durable when it returns: a crash afterwards loses nothing it wrote.
	// Entries put together are written as one, at about the cost of one
	// (group commit); when Put fails, none of them is in history.
	Put(ctx context.Context, entries ...Entry) error
	// Get returns the record of a version, or a CodeNotFound error.
	Get(ctx context.Context, version uint64) (Record, error)
	// List returns every record, oldest first.
	List(ctx context.Context) ([]Record, error)
	// Snapshot returns a target's content at a committed version, or a
	// CodeNotFound error when it is unknown or was pruned.
	Snapshot(ctx context.Context, version uint64, target string) ([]byte, error)
	// LastGood returns the last committed record, or ok false when none.
	LastGood(ctx context.Context) (rec Record, ok bool, err error)
}
