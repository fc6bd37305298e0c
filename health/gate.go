package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cybercorp/hotreload"
)

// Defaults of GateOptions.
const (
	// ProductionWindow is three rounds of the default check interval.
	ProductionWindow = 3 * DefaultInterval
	// DevWindow is short enough to watch a rollback happen.
	DevWindow = 5 * time.Second
	// NoWindow, as GateOptions.Window, runs one round of checks at once
	// and then lets the change commit: no watch window.
	NoWindow                 time.Duration = -1
	DefaultRounds                          = 5
	DefaultMaxFailing                      = 0.5
	DefaultMaxMemory                       = 0.9
	DefaultMaxLatency                      = 5 * time.Second
	DefaultLatencyQuantile                 = 0.95
	DefaultMaxExceptionRate                = 0.05
	DefaultMinSamples                      = 20
	DefaultBaselineTolerance               = 1.5
)

// Trigger names the rule that rolled a reload back; it is short enough for
// a metric label.
type Trigger string

// The gate's triggers.
const (
	TriggerCritical   Trigger = "critical_check"
	TriggerFailing    Trigger = "failing_checks"
	TriggerMemory     Trigger = "memory"
	TriggerExceptions Trigger = "exception_rate"
	TriggerLatency    Trigger = "latency"
	TriggerCancelled  Trigger = "cancelled"
)

// Violation is the cause carried by the gate's error: which trigger fired
// and why, in words.
type Violation struct {
	// Trigger is the rule that fired.
	Trigger Trigger
	// Reason says why, with the figures, starting with "health: ".
	Reason string
}

// Error returns the reason.
func (v *Violation) Error() string { return v.Reason }

// TriggerOf returns the trigger of a gate error, or "" when err carries no
// Violation.
func TriggerOf(err error) Trigger {
	var v *Violation
	if errors.As(err, &v) {
		return v.Trigger
	}
	return ""
}

// GateOptions configures a Gate. Zero fields take the defaults above.
type GateOptions struct {
	// Window is how long the gate watches after apply (ProductionWindow
	// when 0; use DevWindow in development, NoWindow for one round of
	// checks at once).
	Window time.Duration
	// Rounds is how many times every check runs within the window, evenly
	// spaced, the last at its end (DefaultRounds when 0).
	Rounds int
	// MaxFailing is the fraction of checks that may fail; more rolls back
	// (DefaultMaxFailing when 0).
	MaxFailing float64
	// MaxMemory is the memory use, as a fraction of the limit, above which
	// a reload rolls back (DefaultMaxMemory when 0).
	MaxMemory float64
	// Memory reads memory use (ReadMemory when nil). A reading that fails
	// is logged and does not decide anything.
	Memory MemoryReader
	// Traffic records the app's requests and exceptions; nil disables the
	// latency and exception-rate triggers.
	Traffic *Traffic
	// MaxLatency is the response time above which the LatencyQuantile of
	// the window's requests rolls back (DefaultMaxLatency when 0).
	MaxLatency time.Duration
	// LatencyQuantile is the quantile compared with MaxLatency
	// (DefaultLatencyQuantile when 0).
	LatencyQuantile float64
	// MaxExceptionRate is the share of requests that may end in an
	// exception (a 5xx answer or a reported exception); above it a reload
	// rolls back (DefaultMaxExceptionRate when 0).
	MaxExceptionRate float64
	// MinSamples is the fewest requests (or exceptions) a window needs
	// before its latency or exception rate decides anything, and the
	// fewest a baseline needs to count (DefaultMinSamples when 0).
	MinSamples int
	// BaselineTolerance: latency and exception rate roll back only when
	// also above this factor times the same figure before the reload, so a
	// reload is not blamed for what it did not change
	// (DefaultBaselineTolerance when 0).
	BaselineTolerance float64
	// IgnorePreexisting leaves out of the check rules the checks that were
	// already not passing when the window opened, so that a reload fixing
	// another dependency is not rolled back for a broken one.
	IgnorePreexisting bool
	// Logger logs each round; nil discards.
	Logger *slog.Logger
}

// withDefaults validates o and fills its zero fields.
func (o GateOptions) withDefaults() (GateOptions, error) {
	fractions := []struct {
		name string
		v    *float64
		def  float64
	}{
		{"max failing", &o.MaxFailing, DefaultMaxFailing},
		{"max memory", &o.MaxMemory, DefaultMaxMemory},
		{"latency quantile", &o.LatencyQuantile, DefaultLatencyQuantile},
		{"max exception rate", &o.MaxExceptionRate, DefaultMaxExceptionRate},
	}
	for _, f := range fractions {
		if *f.v < 0 || *f.v > 1 {
			return o, fmt.Errorf("%s %g is not a fraction between 0 and 1", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	switch {
	case o.Window < 0 && o.Window != NoWindow:
		return o, fmt.Errorf("window %s is negative", o.Window)
	case o.Rounds < 0:
		return o, fmt.Errorf("rounds %d is negative", o.Rounds)
	case o.MaxLatency < 0:
		return o, fmt.Errorf("max latency %s is negative", o.MaxLatency)
	case o.MinSamples < 0:
		return o, fmt.Errorf("min samples %d is negative", o.MinSamples)
	case o.BaselineTolerance < 0:
		return o, fmt.Errorf("baseline tolerance %g is negative", o.BaselineTolerance)
	}
	if o.Window == 0 {
		o.Window = ProductionWindow
	}
	if o.Rounds == 0 {
		o.Rounds = DefaultRounds
	}
	if o.MaxLatency == 0 {
		o.MaxLatency = DefaultMaxLatency
	}
	if o.MinSamples == 0 {
		o.MinSamples = DefaultMinSamples
	}
	if o.BaselineTolerance == 0 {
		o.BaselineTolerance = DefaultBaselineTolerance
	}
	if o.Memory == nil {
		o.Memory = ReadMemory
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Gate is the health gate (hotreload.Gate): it watches a Monitor's checks,
// memory and the app's traffic for a window after each apply. Watch calls
// are serialized.
type Gate struct {
	monitor *Monitor
	opts    atomic.Pointer[GateOptions]

	window atomic.Pointer[Window] // the window in progress, nil between windows

	mu     sync.Mutex      // held for a whole window
	mark   TrafficSnapshot // traffic when the last window closed: the baseline's start
	markOf *Traffic        // the Traffic mark was taken of
}

var _ hotreload.Gate = (*Gate)(nil)

// NewGate returns a gate over m's checks, or a CodeInvalid error for bad
// options.
func NewGate(m *Monitor, opts GateOptions) (*Gate, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "health: gate options: %v", err)
	}
	g := &Gate{monitor: m}
	g.opts.Store(&opts)
	if opts.Traffic != nil {
		g.mark, g.markOf = opts.Traffic.Snapshot(), opts.Traffic
	}
	return g, nil
}

// Options returns the gate's effective options.
func (g *Gate) Options() GateOptions { return *g.opts.Load() }

// SetOptions replaces the options from the next window on (a window in
// progress keeps its own), or returns a CodeInvalid error and keeps the
// old ones.
func (g *Gate) SetOptions(opts GateOptions) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return hotreload.Errorf(hotreload.CodeInvalid, "health: gate options: %v", err)
	}
	g.opts.Store(&opts)
	return nil
}

// Window is a health window in progress: what GET /api/v1/status shows
// as "window" while a change is pending.
type Window struct {
	// Version is the version the window watches.
	Version uint64 `json:"version"`
	// Started is when the window opened, Length how long it lasts.
	Started time.Time     `json:"started"`
	Length  time.Duration `json:"length_ns"`
	// Round is how many rounds of checks passed, of Rounds.
	Round  int `json:"round"`
	Rounds int `json:"rounds"`
	// Checks are the checks every remaining round runs, with their state
	// after the last round (before the first, when the window opened).
	Checks []Status `json:"checks"`
}

// Window returns the window in progress, or nil between windows. The
// value is not changed after it is returned.
func (g *Gate) Window() *Window { return g.window.Load() }

// progress publishes the window after round rounds with the checks' states.
func (g *Gate) progress(w Window, round int, checks []Status) {
	w.Round, w.Checks = round, checks
	g.window.Store(&w)
}

// Watch runs every check Rounds times over the window and returns nil when
// no trigger fired, or at the first trigger a CodeConflict *hotreload.Error
// whose message is the reason and which wraps a *Violation (see
// TriggerOf). A cancelled ctx ends the window with a TriggerCancelled
// error: what was not watched is not committed.
func (g *Gate) Watch(ctx context.Context, tx hotreload.Transaction) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	opts := g.Options()
	var start, baseline TrafficSnapshot
	if t := opts.Traffic; t != nil {
		start = t.Snapshot()
		if g.markOf == t { // else no baseline yet: a new Traffic
			baseline = start.Sub(g.mark)
		}
		defer func() { g.mark, g.markOf = t.Snapshot(), t }()
	}
	var preexisting map[string]bool
	if opts.IgnorePreexisting {
		preexisting = map[string]bool{}
		for _, st := range g.monitor.Summary().Checks {
			if st.State != StatePassing {
				preexisting[st.Name] = true
			}
		}
	}
	if opts.Window == NoWindow {
		opts.Window, opts.Rounds = time.Nanosecond, 1 // one round at once
	}
	every := opts.Window / time.Duration(opts.Rounds)
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	w := Window{Version: tx.Version, Started: time.Now(), Length: opts.Window, Rounds: opts.Rounds}
	g.progress(w, 0, g.monitor.Summary().Checks)
	defer g.window.Store(nil)
	for round := 1; round <= opts.Rounds; round++ {
		select {
		case <-ctx.Done():
			return g.fail(opts, tx, &Violation{TriggerCancelled, fmt.Sprintf("health: window cancelled after %d of %d rounds: %v", round-1, opts.Rounds, ctx.Err())})
		case <-ticker.C:
		}
		sum := g.monitor.CheckAll(ctx)
		if ctx.Err() != nil {
			continue // reported by the select above
		}
		if v := verdict(sum.Checks, opts.MaxFailing, preexisting); v != nil {
			return g.fail(opts, tx, v)
		}
		if v := opts.judgeMemory(ctx); v != nil {
			return g.fail(opts, tx, v)
		}
		if t := opts.Traffic; t != nil {
			if v := opts.judgeTraffic(t.Snapshot().Sub(start), baseline); v != nil {
				return g.fail(opts, tx, v)
			}
		}
		g.progress(w, round, sum.Checks)
		opts.Logger.Debug("health gate round passed", "version", tx.Version, "round", round,
			"passing", sum.Passing, "failing", sum.Failing, "unknown", sum.Unknown)
	}
	return nil
}

// fail wraps v for the engine.
func (g *Gate) fail(opts GateOptions, tx hotreload.Transaction, v *Violation) error {
	opts.Logger.Warn("health gate failed", "version", tx.Version, "trigger", v.Trigger, "reason", v.Reason)
	return &hotreload.Error{Code: hotreload.CodeConflict, Message: v.Reason, Err: v}
}

// judgeMemory reads memory once and judges it against MaxMemory.
func (o GateOptions) judgeMemory(ctx context.Context) *Violation {
	u, err := o.Memory(ctx)
	if err != nil {
		o.Logger.Warn("health gate: reading memory", "error", err)
		return nil
	}
	if f := u.Fraction(); f > o.MaxMemory {
		return &Violation{TriggerMemory, fmt.Sprintf("health: memory at %s, above %s", u, percent(o.MaxMemory))}
	}
	return nil
}

// judgeTraffic judges the window's requests against the thresholds and
// the baseline (the same process before the reload).
func (o GateOptions) judgeTraffic(window, baseline TrafficSnapshot) *Violation {
	if v := o.judgeLatency(window, baseline); v != nil {
		return v
	}
	return o.judgeExceptions(window, baseline)
}

// tolerated reports whether now is within BaselineTolerance of before.
func (o GateOptions) tolerated(now, before float64) bool { return now <= before*o.BaselineTolerance }

func (o GateOptions) judgeLatency(window, baseline TrafficSnapshot) *Violation {
	if window.Requests < uint64(o.MinSamples) {
		return nil
	}
	p := window.Quantile(o.LatencyQuantile)
	if p <= o.MaxLatency {
		return nil
	}
	before := "unknown"
	if baseline.Requests >= uint64(o.MinSamples) {
		b := baseline.Quantile(o.LatencyQuantile)
		if o.tolerated(float64(p), float64(b)) {
			return nil
		}
		before = b.String()
	}
	return &Violation{TriggerLatency, fmt.Sprintf("health: p%g response time %s above %s over %d requests (before the reload: %s)",
		o.LatencyQuantile*100, p, o.MaxLatency, window.Requests, before)}
}

func (o GateOptions) judgeExceptions(window, baseline TrafficSnapshot) *Violation {
	if window.Samples() < uint64(o.MinSamples) {
		return nil
	}
	rate, before := window.ExceptionRate(), 0.0
	if baseline.Samples() >= uint64(o.MinSamples) {
		before = baseline.ExceptionRate()
	}
	if rate <= o.MaxExceptionRate || o.tolerated(rate, before) {
		return nil
	}
	last := ""
	if window.LastException != "" {
		last = ", last: " + window.LastException
	}
	return &Violation{TriggerExceptions, fmt.Sprintf("health: exception rate %s above %s (%d exceptions, %d requests; before the reload: %s)%s",
		percent(rate), percent(o.MaxExceptionRate), window.Failures(), window.Requests, percent(before), last)}
}

// verdict applies the check rules: any critical check not passing, or more
// than maxFailing of the checks not passing. Checks named in ignore are
// left out.
func verdict(checks []Status, maxFailing float64, ignore map[string]bool) *Violation {
	var bad []string
	total := 0
	for _, st := range checks {
		if ignore[st.Name] {
			continue
		}
		total++
		if st.State == StatePassing {
			continue
		}
		if st.Critical {
			return &Violation{TriggerCritical, fmt.Sprintf("health: critical check %q %s: %s", st.Name, st.State, st.LastError)}
		}
		bad = append(bad, fmt.Sprintf("%s (%s)", st.Name, st.LastError))
	}
	if total > 0 && float64(len(bad)) > maxFailing*float64(total) {
		return &Violation{TriggerFailing, fmt.Sprintf("health: %d of %d checks failing, more than %s: %s",
			len(bad), total, percent(maxFailing), strings.Join(bad, "; "))}
	}
	return nil
}

// percent renders a fraction as a percentage.
func percent(f float64) string { return fmt.Sprintf("%.4g%%", f*100) }
