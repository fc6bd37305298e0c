// Package etcd makes an etcd key the source of a config target: every new
// value of the key is proposed to the engine as a candidate, which each
// instance validates, applies, health-gates and commits or rolls back on its
// own, exactly as it would a file.
//
// A Source follows one key, and optionally an override key whose value, while
// it exists, is used instead (the fleet package points it at the instance's
// "desired" key during a staged rollout). The etcd revision of the value is
// passed in Candidate.Meta ("etcd_key", "etcd_revision") so history records
// it beside the engine's version.
//
// # Ordering, disconnects and compaction
//
// Run applies values in revision order. After every event it reads both keys
// at the event's revision, so the override and the key are always seen as one
// consistent state. When the connection drops, the watch resumes from the last
// revision seen, so a change made while the instance was cut off is still
// applied, in order, when it comes back. With Options.Mirror it records the
// last revision proposed on disk, and Options.Resume continues from it after a
// restart, so changes made while the process was down are applied in order
// too. When the revisions it needs were compacted away (ErrCompacted), it
// reads the current value and applies that.
//
// # Concurrency and backpressure
//
// Run owns one goroutine: it calls the engine's Reload synchronously, one
// value at a time, and does not read further watch events until the reload
// returned; etcd buffers them meanwhile. OnOutcome is called from that
// goroutine and must not block for long. A Source is used by one Run call.
package etcd
