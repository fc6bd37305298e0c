// Package health watches what a service depends on and decides whether a
// reload may commit.
//
// A Monitor holds named checks (Add, Remove, CheckAll, Summary). Run starts
// one loop per check that runs it every interval (30 s by default). Every
// run gets a context with the check's timeout (5 s by default); a check that
// does not return in time is recorded as failing at its deadline, and one
// that panics is recovered and recorded as failing. Failure and success
// thresholds turn consecutive results into a state (passing, failing,
// unknown) so a flapping check does not flip the service, and a check whose
// last result is older than its interval plus its timeout reads as failing
// ("stale"), never as its last pass.
//
// The Gate implements hotreload.Gate: after apply it runs every check
// several times within a window and returns the reason to roll back on the
// first trigger (a critical check failing, more than half of the checks
// failing, memory above 90 %, the app's exception rate or response time
// above its threshold and worse than before the reload). Its Window tells
// the window in progress (version, start, length, rounds passed, checks),
// for the status and the dashboard. A Traffic records
// what the last two are measured from: its Middleware times the app's own
// handlers and counts 5xx answers, and ReportException counts exceptions.
//
// Built-in checks probe a database/sql pool (SQL), an HTTP endpoint (HTTP),
// a WebSocket endpoint (WebSocket), memory (cgroup v2, v1 or host), CPU and
// disk. The handlers ServeHealth, ServeLive and ServeReady answer
// GET /api/v1/health, /healthz and /readyz.
//
// # Concurrency and backpressure
//
// Every Monitor method is safe for concurrent use. At most one run of a
// check is in flight at a time: CheckAll and the periodic loop join a run
// already in flight instead of starting another, so slow checks never pile
// up. Checks must honour their context. A check that ignores it is still
// reported failing at its deadline, but its goroutine stays blocked until
// the check returns (Go cannot stop it); while it does, further runs of that
// check are recorded as failing at once without starting a new goroutine.
// Run returns after its loops have ended and in-flight checks have returned,
// waiting at most one second for checks that ignore cancellation.
//
// Hooks (MonitorOptions.OnFailure and the Publisher) are called
// synchronously from the goroutine that recorded the result, outside any
// lock; they must not block.
//
// Traffic is lock-free (atomic counters) and adds no allocation to a
// request beyond its ResponseWriter wrapper.
package health
