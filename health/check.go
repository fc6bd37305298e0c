package health

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Default timings of a check.
const (
	DefaultInterval = 30 * time.Second
	DefaultTimeout  = 5 * time.Second
)

// ErrUnknown marks a check result that could not be measured (a reading
// that is unavailable, a dependency of the probe itself missing). Return an
// error wrapping it to put a check in StateUnknown; unknown counts as failing
// for rollback decisions.
var ErrUnknown = errors.New("could not measure")

// A Check probes one thing the service depends on.
type Check interface {
	// Check returns nil when healthy, an error wrapping ErrUnknown when it
	// could not measure, and any other error when failing. It must return
	// promptly once ctx is done.
	Check(ctx context.Context) error
}

// CheckFunc adapts a function to a Check.
type CheckFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckFunc) Check(ctx context.Context) error { return f(ctx) }

// CheckOptions configures one check. The zero value means: every 30 s,
// 5 s timeout, not critical, one result changes the state.
type CheckOptions struct {
	// Interval is the time between periodic runs (DefaultInterval when 0).
	Interval time.Duration `json:"interval_ns"`
	// Timeout bounds one run (DefaultTimeout when 0).
	Timeout time.Duration `json:"timeout_ns"`
	// Critical checks gate readiness, and one failing rolls a reload back.
	Critical bool `json:"critical"`
	// FailureThreshold is how many consecutive failing results turn a
	// passing check failing (1 when 0).
	FailureThreshold int `json:"failure_threshold"`
	// SuccessThreshold is how many consecutive passing results turn a
	// failing check passing (1 when 0).
	SuccessThreshold int `json:"success_threshold"`
}

// Validate reports options Add would refuse (a negative figure).
func (o CheckOptions) Validate() error {
	_, err := o.withDefaults()
	return err
}

// withDefaults validates o and fills its zero fields.
func (o CheckOptions) withDefaults() (CheckOptions, error) {
	switch {
	case o.Interval < 0:
		return o, fmt.Errorf("interval %s is negative", o.Interval)
	case o.Timeout < 0:
		return o, fmt.Errorf("timeout %s is negative", o.Timeout)
	case o.FailureThreshold < 0:
		return o, fmt.Errorf("failure threshold %d is negative", o.FailureThreshold)
	case o.SuccessThreshold < 0:
		return o, fmt.Errorf("success threshold %d is negative", o.SuccessThreshold)
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.FailureThreshold == 0 {
		o.FailureThreshold = 1
	}
	if o.SuccessThreshold == 0 {
		o.SuccessThreshold = 1
	}
	return o, nil
}

// State is the health of one check or of the whole service.
type State string

// The three states. Unknown counts as failing for rollback decisions.
const (
	StateUnknown State = "unknown" // not measured yet, or could not measure
	StatePassing State = "passing"
	StateFailing State = "failing"
)

// stateOf classifies a check's return value.
func stateOf(err error) State {
	switch {
	case err == nil:
		return StatePassing
	case errors.Is(err, ErrUnknown):
		return StateUnknown
	default:
		return StateFailing
	}
}

// callCheck runs c, turning a panic into an error.
func callCheck(ctx context.Context, c Check) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p}
		}
	}()
	return c.Check(ctx)
}

// PanicError is the failure recorded for a check that panicked.
type PanicError struct {
	// Value is what the check panicked with.
	Value any
}

// Error says the check panicked and with what.
func (e *PanicError) Error() string { return fmt.Sprintf("check panicked: %v", e.Value) }
