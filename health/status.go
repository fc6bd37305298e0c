package health

import (
	"fmt"
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
)

// TypeStateChange is the event type of a StateEvent.
const TypeStateChange = "health_check"

// StateEvent reports that a check changed state.
type StateEvent struct {
	hotreload.Header
	Check    string `json:"check"`
	From     State  `json:"from"`
	To       State  `json:"to"`
	Critical bool   `json:"critical"`
	Error    string `json:"error,omitempty"`
}

// Status is what the monitor knows about one check.
type Status struct {
	// Name is the check's name.
	Name string `json:"name"`
	// State is the check's state after thresholds and staleness.
	State State `json:"state"`
	// Critical is the check's criticality flag.
	Critical bool `json:"critical"`
	// Stale is true when the check has not reported within its interval
	// plus its timeout; State is then failing.
	Stale bool `json:"stale,omitempty"`
	// Since is when State last changed (zero before the first result).
	Since time.Time `json:"since,omitzero"`
	// LastResult is the result of the last run alone.
	LastResult State `json:"last_result"`
	// LastRun is when the last run ended (zero before the first run).
	LastRun time.Time `json:"last_run,omitzero"`
	// Latency is how long the last run took.
	Latency time.Duration `json:"latency_ns"`
	// LastError is the last run's error, or why a stale check fails.
	LastError string `json:"last_error,omitempty"`
	// ConsecutiveFailures counts failing or unknown results in a row.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// ConsecutiveSuccesses counts passing results in a row.
	ConsecutiveSuccesses int `json:"consecutive_successes"`
	// Failures counts every failing or unknown result since Add.
	Failures uint64 `json:"failures_total"`
	// Options are the check's effective options.
	Options CheckOptions `json:"options"`
}

// Summary is every check's status and the verdict over them.
type Summary struct {
	// State is failing when a critical check or more than half of the
	// checks are not passing (the gate's rule), else passing.
	State   State    `json:"state"`
	Passing int      `json:"passing"`
	Failing int      `json:"failing"`
	Unknown int      `json:"unknown"`
	Checks  []Status `json:"checks"`
}

// entry is one registered check and what is known about it. The fields
// below mu are guarded by it.
type entry struct {
	name     string
	check    Check
	opts     CheckOptions
	added    time.Time
	stopLoop func()          // set while the periodic loop runs; guarded by Monitor.mu
	loopDone <-chan struct{} // closed when the periodic loop ended

	mu         sync.Mutex
	state      State
	since      time.Time
	runs       int
	lastRun    time.Time
	lastResult State
	lastErr    string
	latency    time.Duration
	fails      int
	passes     int
	failures   uint64
	flight     chan struct{} // non-nil while a run is in flight; closed at its end
	busySince  time.Time     // non-zero while the check's goroutine has not returned
}

// apply records one result; e.mu must be held. The first result sets the
// state; afterwards a state changes only after its threshold of
// consecutive results.
func (e *entry) apply(res State, err error, latency time.Duration, now time.Time) {
	e.runs++
	e.lastRun, e.lastResult, e.latency = now, res, latency
	e.lastErr = ""
	if err != nil {
		e.lastErr = err.Error()
	}
	if res == StatePassing {
		e.passes, e.fails = e.passes+1, 0
	} else {
		e.fails, e.passes = e.fails+1, 0
		e.failures++
	}
	next := e.state
	switch {
	case e.runs == 1:
		next = res
	case res == StatePassing && e.passes >= e.opts.SuccessThreshold:
		next = StatePassing
	case res != StatePassing && e.fails >= e.opts.FailureThreshold:
		next = res
	}
	if next != e.state {
		e.state, e.since = next, now
	}
}

// status returns e's status at now: a check that has not reported within
// its interval plus its timeout reads as failing.
func (e *entry) status(now time.Time) Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Status{
		Name:                 e.name,
		State:                e.state,
		Critical:             e.opts.Critical,
		Since:                e.since,
		LastResult:           e.lastResult,
		LastRun:              e.lastRun,
		Latency:              e.latency,
		LastError:            e.lastErr,
		ConsecutiveFailures:  e.fails,
		ConsecutiveSuccesses: e.passes,
		Failures:             e.failures,
		Options:              e.opts,
	}
	if st.LastResult == "" {
		st.LastResult = StateUnknown
	}
	last := e.lastRun
	if e.runs == 0 {
		last = e.added
	}
	if age := now.Sub(last); age > e.opts.Interval+e.opts.Timeout {
		st.Stale, st.State = true, StateFailing
		st.LastError = fmt.Sprintf("stale: no result for %s (interval %s)", age.Round(time.Millisecond), e.opts.Interval)
	}
	return st
}
