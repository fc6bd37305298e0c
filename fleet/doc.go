// Package fleet runs many hotreload instances on one configuration kept in
// etcd and rolls a change out to them in stages: canaries first, then the
// rest in steps, with a fleet-wide halt when any instance rolls back.
//
// # Keys
//
// Under a fleet prefix P (such as /hotreload/fleets/web):
//
//	P/instances/ID        an Instance record, bound to the member's lease
//	P/desired/ID          the value instance ID must run instead of the
//	                      config key, during a rollout only
//	P/rollout             the Rollout record: the current or last rollout
//	P/rollouts/RID/candidate  the candidate of rollout RID
//	P/coordinator/        the election of the coordinator
//
// The config key itself (named in each Instance) moves to the candidate only
// when a rollout completes, in the same transaction that deletes every
// desired key; a halt deletes the desired keys only, so every instance goes
// back to the config key's value, the last good one. Each instance follows
// its own desired key over the config key (see source/etcd) and reports what
// came of every value in its Instance record.
//
// # Concurrency and consistency
//
// Every write of the Rollout record is a compare-and-swap on its mod
// revision, so a coordinator that lost its leadership (or a second rollout
// started meanwhile) cannot overwrite a newer state; Start refuses while a
// rollout runs, and the completing transaction also compares the config
// key's mod revision with the one the rollout started from, so an edit made
// meanwhile halts the rollout instead of being overwritten. The rollout
// lives in etcd, so when the coordinator dies another member wins the
// election and continues from the record.
//
// A Member owns one goroutine for its registration and, while it leads, one
// for the coordinator; both poll at Interval and do not queue work: a
// member that falls behind reads the latest state on its next tick.
package fleet
