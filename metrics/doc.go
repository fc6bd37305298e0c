// Package metrics exports hotreload's Prometheus metrics and ships the
// alerting rules that go with them.
//
// A Metrics owns its own prometheus.Registry (with the Go and process
// collectors), so that importing this package registers nothing globally; its
// Handler serves /metrics. The engine calls Observe synchronously after every
// transaction, the health monitor calls CheckFailed, the file watcher
// WatcherError. Every method is safe for concurrent use and none blocks on
// I/O: they only update in-memory collectors, which a scrape reads.
//
// The metric names are a public contract (docs/operations.md, the rules in
// deploy/prometheus/hotreload-rules.yml). A series for a target exists from
// Track (or its first outcome) on, at zero, so that rate() and increase()
// see its first increment. The in-process evaluation of the same alerting
// rules is package metrics/alert.
//
// Beside the collectors, Observe feeds a record of recent transactions
// (Trends, served by TrendsHandler as GET /api/v1/trends): per target and
// per minute for 24 hours, the same counts and duration buckets, so the
// dashboard draws what /metrics says. Its memory is bounded (TrendMinutes
// slots per target, MaxRecentRollbacks rollbacks); one lock guards it, held
// for a few map updates per outcome and one pass over the window per read.
package metrics
