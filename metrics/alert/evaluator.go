package alert

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/metrics"
)

// The rule names, the same as the alert names in the Prometheus rules file.
const (
	ReloadFailureRateHigh      = "HotreloadReloadFailureRateHigh"
	ReloadSlow                 = "HotreloadReloadSlow"
	RollbacksFrequent          = "HotreloadRollbacksFrequent"
	ValidationFailuresFrequent = "HotreloadValidationFailuresFrequent"
)

// Severity says how urgent an alert is, as the severity label in Prometheus.
type Severity string

// The severities the rules use.
const (
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Alert is a rule that is firing.
type Alert struct {
	// Name is the rule's name.
	Name string `json:"name"`
	// Severity is the rule's severity.
	Severity Severity `json:"severity"`
	// Since is when the rule started firing.
	Since time.Time `json:"since"`
	// Summary says what is wrong, with the value and the threshold.
	Summary string `json:"summary"`
	// Value is the measured value: the failure ratio, the longest reload
	// in seconds, or the number of rollbacks or validation failures.
	Value float64 `json:"value"`
}

// Event types, in the Type field of the events' Header.
const (
	TypeFired    = "alert_fired"
	TypeResolved = "alert_resolved"
)

// FiredEvent is published when a rule starts firing.
type FiredEvent struct {
	hotreload.Header
	Alert Alert `json:"alert"`
}

// ResolvedEvent is published when a rule stops firing; the Header's Time is
// when, and the Alert holds the value that resolved it.
type ResolvedEvent struct {
	hotreload.Header
	Alert Alert `json:"alert"`
}

// Thresholds sets the four rules. Every field is used as is: start from
// DefaultThresholds and change what differs.
type Thresholds struct {
	// FailureRatio: fire when more than this fraction of the reloads in
	// FailureWindow were rejected or rolled back. In [0, 1).
	FailureRatio  float64       `json:"failure_ratio"`
	FailureWindow time.Duration `json:"failure_window"`
	// SlowReload: fire when a reload in SlowWindow took longer than this.
	SlowReload time.Duration `json:"slow_reload"`
	SlowWindow time.Duration `json:"slow_window"`
	// Rollbacks: fire when more rollbacks than this happened in
	// RollbackWindow.
	Rollbacks      int           `json:"rollbacks"`
	RollbackWindow time.Duration `json:"rollback_window"`
	// ValidationFailures: fire when more candidates than this were
	// rejected in ValidationWindow.
	ValidationFailures int           `json:"validation_failures"`
	ValidationWindow   time.Duration `json:"validation_window"`
}

// DefaultThresholds returns the seed's thresholds, those of the Prometheus
// rules file.
func DefaultThresholds() Thresholds {
	return Thresholds{
		FailureRatio: 0.10, FailureWindow: time.Hour,
		SlowReload: 30 * time.Second, SlowWindow: time.Hour,
		Rollbacks: 3, RollbackWindow: time.Hour,
		ValidationFailures: 5, ValidationWindow: 10 * time.Minute,
	}
}

// Validate reports the first threshold out of range as a CodeInvalid error.
func (t Thresholds) Validate() error {
	for _, w := range []struct {
		name string
		d    time.Duration
	}{
		{"FailureWindow", t.FailureWindow}, {"SlowReload", t.SlowReload}, {"SlowWindow", t.SlowWindow},
		{"RollbackWindow", t.RollbackWindow}, {"ValidationWindow", t.ValidationWindow},
	} {
		if w.d <= 0 {
			return hotreload.Errorf(hotreload.CodeInvalid, "alert thresholds: %s must be positive, got %s", w.name, w.d)
		}
	}
	if !(t.FailureRatio >= 0 && t.FailureRatio < 1) {
		return hotreload.Errorf(hotreload.CodeInvalid, "alert thresholds: FailureRatio must be in [0, 1), got %g", t.FailureRatio)
	}
	if t.Rollbacks < 0 {
		return hotreload.Errorf(hotreload.CodeInvalid, "alert thresholds: Rollbacks must not be negative, got %d", t.Rollbacks)
	}
	if t.ValidationFailures < 0 {
		return hotreload.Errorf(hotreload.CodeInvalid, "alert thresholds: ValidationFailures must not be negative, got %d", t.ValidationFailures)
	}
	return nil
}

// Options configures an Evaluator.
type Options struct {
	// Thresholds for the rules; the zero value means DefaultThresholds.
	Thresholds Thresholds
	// Publisher receives FiredEvent and ResolvedEvent; nil publishes
	// nothing. It must not block.
	Publisher hotreload.Publisher
	// Logger logs each alert that fires or resolves; nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
}

// Evaluator evaluates the four rules over the outcomes it observes. Create
// it with New.
type Evaluator struct {
	publisher hotreload.Publisher
	log       *slog.Logger
	now       func() time.Time
	wake      chan struct{} // tells Run that a window gained its first value

	mu          sync.Mutex
	th          Thresholds
	attempts    window // targets per outcome
	failures    window // targets per rejected or rolled back outcome
	slow        window // seconds of each reload over SlowReload
	rollbacks   window // targets per rolled back outcome
	validations window // targets per rejected outcome
	active      map[string]*Alert
	rewrite     bool // the thresholds changed: rewrite active summaries
}

var _ hotreload.Observer = (*Evaluator)(nil)

// New returns an evaluator, or a CodeInvalid error when a threshold is out
// of range.
func New(opts Options) (*Evaluator, error) {
	if opts.Thresholds == (Thresholds{}) {
		opts.Thresholds = DefaultThresholds()
	}
	if err := opts.Thresholds.Validate(); err != nil {
		return nil, err
	}
	e := &Evaluator{
		publisher: opts.Publisher,
		log:       opts.Logger,
		now:       opts.Now,
		wake:      make(chan struct{}, 1),
		active:    map[string]*Alert{},
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.setSpans(opts.Thresholds)
	return e, nil
}

func (e *Evaluator) setSpans(t Thresholds) {
	e.th = t
	e.attempts.span, e.failures.span = t.FailureWindow, t.FailureWindow
	e.slow.span = t.SlowWindow
	e.rollbacks.span = t.RollbackWindow
	e.validations.span = t.ValidationWindow
}

// Thresholds returns the thresholds in use.
func (e *Evaluator) Thresholds() Thresholds {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.th
}

// SetThresholds changes the thresholds and re-evaluates at once. Outcomes
// already observed are kept, but those that had left a shorter window are
// gone: a longer window counts them only from now on. A threshold out of
// range is a CodeInvalid error and changes nothing.
func (e *Evaluator) SetThresholds(t Thresholds) error {
	if err := t.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setSpans(t)
	e.rewrite = true
	e.evaluate(e.now())
	e.poke()
	return nil
}

// Observe counts one transaction's outcome and re-evaluates. It implements
// hotreload.Observer.
func (e *Evaluator) Observe(o hotreload.Outcome) {
	n := float64(len(metrics.Targets(o)))
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	e.attempts.add(now, n)
	switch o.Result {
	case hotreload.Rejected:
		e.failures.add(now, n)
		e.validations.add(now, n)
	case hotreload.RolledBack:
		e.failures.add(now, n)
		e.rollbacks.add(now, n)
	}
	if o.Duration > e.th.SlowReload { // judged by the threshold in force now
		e.slow.add(now, o.Duration.Seconds())
	}
	e.evaluate(now)
	e.poke()
}

// poke wakes Run to recompute its deadline, without waiting.
func (e *Evaluator) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Active evaluates the rules now and returns the alerts firing, by name.
func (e *Evaluator) Active() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evaluate(e.now())
	out := make([]Alert, 0, len(e.active))
	for _, a := range e.active {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Alert) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Rule is one rule's current value beside its threshold.
type Rule struct {
	// Name and Severity are the rule's.
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	// Value is what the rule measures now (see Alert.Value: for
	// ReloadSlow the longest reload over the threshold, 0 when none);
	// Threshold is
	// the value it fires above, in the same unit (a fraction, seconds or
	// a count).
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// Window is the span the value is measured over, in nanoseconds.
	Window time.Duration `json:"window_ns"`
	// Firing is set while the rule fires.
	Firing bool `json:"firing"`
}

// Rules evaluates the rules now and returns each one's value beside its
// threshold, in the order of the Prometheus rules file.
func (e *Evaluator) Rules() []Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evaluate(e.now())
	out := make([]Rule, 0, 4)
	for _, s := range e.states() {
		out = append(out, Rule{Name: s.name, Severity: s.severity, Value: s.value, Threshold: s.threshold, Window: s.window, Firing: s.firing})
	}
	return out
}

// Run resolves alerts on time: it sleeps until the oldest outcome of a window
// expires, evaluates, and repeats until ctx is done, then returns nil.
func (e *Evaluator) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.mu.Lock()
		next, ok := e.next()
		e.mu.Unlock()
		var fire <-chan time.Time
		if ok {
			timer.Reset(max(next.Sub(e.now()), 0))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-fire:
			e.mu.Lock()
			e.evaluate(e.now())
			e.mu.Unlock()
		}
	}
}

// next returns the earliest time a window loses a value. The caller holds mu.
func (e *Evaluator) next() (time.Time, bool) {
	var first time.Time
	found := false
	for _, w := range e.windows() {
		if t, ok := w.next(); ok && (!found || t.Before(first)) {
			first, found = t, true
		}
	}
	return first, found
}

func (e *Evaluator) windows() []*window {
	return []*window{&e.attempts, &e.failures, &e.slow, &e.rollbacks, &e.validations}
}

// state is one rule's condition at an instant.
type state struct {
	name     string
	severity Severity
	firing   bool
	value    float64
	// threshold and window are the rule's, in value's unit.
	threshold float64
	window    time.Duration
	summary   func() string // formatted only when the alert fires or resolves
}

// evaluate expires old values, computes every rule and reports the changes.
// The caller holds mu.
func (e *Evaluator) evaluate(now time.Time) {
	for _, w := range e.windows() {
		w.expire(now)
	}
	for _, s := range e.states() {
		e.report(now, s)
	}
	e.rewrite = false
}

// states computes every rule's condition from the windows, which evaluate
// has expired. The caller holds mu.
func (e *Evaluator) states() []state {
	t := e.th
	ratio := 0.0
	if e.attempts.sum > 0 {
		ratio = e.failures.sum / e.attempts.sum
	}
	return []state{
		{
			name: ReloadFailureRateHigh, severity: Warning,
			firing: e.attempts.sum > 0 && ratio > t.FailureRatio, value: ratio,
			threshold: t.FailureRatio, window: t.FailureWindow,
			summary: func() string {
				return fmt.Sprintf("%.4g%% of reloads failed in the last %s (threshold %.4g%%)", 100*ratio, span(t.FailureWindow), 100*t.FailureRatio)
			},
		},
		{
			name: ReloadSlow, severity: Warning,
			firing: len(e.slow.entries) > 0, value: e.slow.max(),
			threshold: t.SlowReload.Seconds(), window: t.SlowWindow,
			summary: func() string {
				return fmt.Sprintf("a reload took %.4gs in the last %s (threshold %s)", e.slow.max(), span(t.SlowWindow), t.SlowReload)
			},
		},
		{
			name: RollbacksFrequent, severity: Critical,
			firing: e.rollbacks.sum > float64(t.Rollbacks), value: e.rollbacks.sum,
			threshold: float64(t.Rollbacks), window: t.RollbackWindow,
			summary: func() string {
				return fmt.Sprintf("%g automatic rollbacks in the last %s (threshold %d)", e.rollbacks.sum, span(t.RollbackWindow), t.Rollbacks)
			},
		},
		{
			name: ValidationFailuresFrequent, severity: Warning,
			firing: e.validations.sum > float64(t.ValidationFailures), value: e.validations.sum,
			threshold: float64(t.ValidationFailures), window: t.ValidationWindow,
			summary: func() string {
				return fmt.Sprintf("%g candidates failed validation in the last %s (threshold %d)", e.validations.sum, span(t.ValidationWindow), t.ValidationFailures)
			},
		},
	}
}

// report updates the active alert of one rule, publishing and logging when
// it fires or resolves. The caller holds mu.
func (e *Evaluator) report(now time.Time, s state) {
	a, wasFiring := e.active[s.name]
	switch {
	case s.firing && !wasFiring:
		a = &Alert{Name: s.name, Severity: s.severity, Since: now, Summary: s.summary(), Value: s.value}
		e.active[s.name] = a
		e.log.Warn("alert fired", "alert", a.Name, "severity", a.Severity, "value", a.Value, "summary", a.Summary)
		if e.publisher != nil {
			e.publisher.Publish(FiredEvent{Header: hotreload.Header{Type: TypeFired, Time: now, Source: "alert"}, Alert: *a})
		}
	case s.firing:
		if a.Value != s.value || e.rewrite {
			a.Summary, a.Value = s.summary(), s.value
		}
	case wasFiring:
		delete(e.active, s.name)
		a.Summary, a.Value = s.summary(), s.value
		e.log.Info("alert resolved", "alert", a.Name, "severity", a.Severity, "value", a.Value, "since", a.Since, "summary", a.Summary)
		if e.publisher != nil {
			e.publisher.Publish(ResolvedEvent{Header: hotreload.Header{Type: TypeResolved, Time: now, Source: "alert"}, Alert: *a})
		}
	}
}

// span renders a window as people write it: 1h, 10m, 1h30m, 90s.
func span(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
