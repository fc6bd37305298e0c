// Package alert evaluates hotreload's four alerting rules in-process, so that
// a single binary without Prometheus still alerts. The rules, their names and
// severities are those of deploy/prometheus/hotreload-rules.yml:
//
//   - HotreloadReloadFailureRateHigh (warning): more than FailureRatio (10%)
//     of the reloads in FailureWindow (1h) were rejected or rolled back;
//   - HotreloadReloadSlow (warning): a reload in SlowWindow (1h) took longer
//     than SlowReload (30s);
//   - HotreloadRollbacksFrequent (critical): more than Rollbacks (3)
//     automatic rollbacks in RollbackWindow (1h);
//   - HotreloadValidationFailuresFrequent (warning): more than
//     ValidationFailures (5) rejected candidates in ValidationWindow (10m).
//
// Rules returns each rule's current value beside its threshold and window,
// firing or not (the dashboard shows them). The thresholds have one source,
// DefaultThresholds, and a test checks that the Prometheus rules file
// states the same ones.
//
// # Counting
//
// An Evaluator consumes the same Outcomes as package metrics and counts the
// same way: an outcome counts once per target it lists (once when it lists
// none), so a rejected change of two targets is two validation failures, as
// in hotreload_validation_failures_total. Unlike Prometheus' increase(),
// which extrapolates, the windows are exact: an outcome observed at t counts
// at every instant in [t, t+window) and no longer. A rule fires at the first
// instant its condition holds and resolves at the first instant it does not.
// Memory is proportional to the outcomes inside the windows.
//
// # Concurrency and delivery
//
// Observe, Active, Rules and SetThresholds are safe for concurrent use; each
// evaluates the rules at the clock's current time under one lock, and
// publishes a FiredEvent or ResolvedEvent and logs a line for each change,
// in order, while holding it (hotreload.Publisher must not block; the events
// bus never does). Run wakes up when the oldest outcome of a window expires,
// so that alerts resolve on time when nothing else happens; without Run they
// resolve at the next Observe or Active.
package alert
