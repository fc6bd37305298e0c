package hotreload

import "context"

// A Target is one hot-reloadable thing: a config, a plugin, a set of UI
// assets, a process. The engine calls Prepare from its single transaction
// goroutine, so a Target never sees two transactions at once; its live state
// may still be read concurrently by the rest of the program.
type Target interface {
	// Name identifies the target in history, metrics and the API.
	Name() string
	// Prepare validates a candidate without touching live state. A Change it
	// returns holds whatever Prepare built (a decoded config, an
	// instantiated module) until Apply or Rollback releases it. Its errors
	// name the target and, for bad input, carry FieldErrors. The live state
	// it prepares against is the last change applied, which may not be
	// committed yet (in its health window, or while its record is written):
	// a target keeps its live state from Apply, not from Commit.
	Prepare(ctx context.Context, c Candidate) (Change, error)
}

// A Change is a prepared candidate, applied in two phases.
//
// The engine calls, in order, Apply then exactly one of Commit or Rollback;
// or, when another target of the transaction fails before this change was
// applied, Rollback alone, which must then discard what Prepare built. Commit
// and Rollback must succeed even with a cancelled context.
type Change interface {
	// Summary describes the candidate. It is called after Prepare and must
	// not change afterwards.
	Summary() Summary
	// Apply makes the candidate live atomically, keeping the old state so
	// that Rollback can bring it back.
	Apply(ctx context.Context) error
	// Rollback brings the old state back (or discards an unapplied
	// candidate). After Rollback the target serves exactly what it served
	// before Prepare.
	Rollback(ctx context.Context) error
	// Commit releases the old state; the candidate becomes last known
	// good. It is called after history recorded the commit, and may make
	// the candidate durable where the target keeps it (config.Target
	// writes a merge patch or a rollback back to its file). An error is
	// logged: the transaction stays committed.
	Commit(ctx context.Context) error
}

// Kind names the family of a target, which decides the event it emits.
type Kind string

// The kinds of targets this project ships.
const (
	KindConfig  Kind = "config"
	KindPlugin  Kind = "plugin"
	KindUI      Kind = "ui"
	KindProcess Kind = "process"
)

// Summary describes a prepared candidate to the engine, history and events.
type Summary struct {
	// Kind is the target's family.
	Kind Kind
	// Snapshot is the durable form of the candidate: history keeps it, and
	// Prepare of a Candidate carrying it restores exactly this state. It
	// must hold no decrypted secret.
	Snapshot []byte
	// Changes lists what differs from the live state (config paths,
	// rebuilt modules), for subscribers and the event stream.
	Changes []PathChange
	// Modules names rebuilt code modules (packages, plugins) for code
	// reload events.
	Modules []string
	// Meta carries source facts worth keeping in history, such as an etcd
	// revision. May be nil.
	Meta map[string]string
}

// PathChange is one changed location, as a JSON Pointer (RFC 6901) with the
// old and new values; secrets are redacted before a PathChange leaves the
// target.
type PathChange struct {
	Path string `json:"path"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
}

// Candidate is what a trigger proposes for one target.
type Candidate struct {
	// Target names the target the candidate is for.
	Target string `json:"target"`
	// Content, when set, is the full new content in the target's own
	// format (an etcd value, bytes uploaded through the API). When Content,
	// Patch and Snapshot are all empty, the target reads its own source
	// (files on disk).
	Content []byte `json:"-"`
	// Patch is a JSON merge patch (RFC 7396) against the live state.
	Patch []byte `json:"-"`
	// Snapshot is a durable form from history to restore exactly.
	Snapshot []byte `json:"-"`
	// Rollback marks a Snapshot restored by an explicit rollback
	// (Engine.Rollback): a target whose source it can write (a single
	// config file) writes the restored state back there, so that the
	// source, history and the live state agree and a restart or a watcher
	// does not undo the rollback; a file holding an edit that is not live
	// is left alone.
	Rollback bool `json:"-"`
	// Meta carries source facts (an etcd revision) into the Summary.
	Meta map[string]string `json:"-"`
}

// A DataChange is a change that carries a decoded JSON document: a config
// change. Followers read the candidate document through it.
type DataChange interface {
	Change
	// Data returns the candidate document (decrypted, defaults filled). It
	// must not be modified.
	Data() any
}

// A Follower is a target that joins a transaction when another target of it
// changes, such as a plugin whose settings live in the main config: both
// commit or both roll back.
type Follower interface {
	Target
	// Follow is called after the transaction's own targets are prepared,
	// with their changes by target name. It returns the change to join
	// with, or nil to stay out; an error rejects the whole transaction.
	Follow(ctx context.Context, prepared map[string]Change) (Change, error)
}

// A SourceReader is a target that can tell what its source holds without
// preparing it: the snapshot that Prepare of an empty Candidate would
// produce (config.Target reads its files). The engine reads it when it
// prepares an explicit rollback, before anything is applied; where that
// differs from the restored state and the change did not write the
// restored state back (SourceWriter), as for a source hotreload does not
// write (etcd, several files, a Kubernetes mount), the committed rollback
// pins the target: a candidate from the source equal to what it held then
// is ignored, across restarts, until the source changes. An edit made
// after the rollback was prepared is a change of the source, not pinned.
type SourceReader interface {
	Target
	ReadSource(ctx context.Context) ([]byte, error)
}

// A SourceWriter is a Change whose Commit may write its state back to its
// target's source (config.Target's single file). A rollback whose change
// wrote the source pins nothing: the source holds the restored state.
type SourceWriter interface {
	Change
	// WroteSource reports, after Commit, whether the source holds the
	// change's state: Commit wrote it, or found it there already.
	WroteSource() bool
}
