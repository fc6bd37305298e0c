package health

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
)

// runGrace bounds how long Run waits, after its loops ended, for in-flight
// checks to return.
const runGrace = time.Second

// MonitorOptions configures a Monitor. Every field may be left zero.
type MonitorOptions struct {
	// Publisher receives a StateEvent whenever a check changes state (the
	// events bus implements it).
	Publisher hotreload.Publisher
	// OnFailure is called with every failing or unknown result, for
	// metrics such as hotreload_health_check_failures_total{check}.
	OnFailure func(check string, err error)
	// Logger logs state changes; nil discards.
	Logger *slog.Logger
}

// Monitor holds the service's health checks, runs them and remembers their
// results. The zero value is not usable; call NewMonitor.
type Monitor struct {
	opts  MonitorOptions
	log   *slog.Logger
	calls callTracker

	mu      sync.Mutex
	entries map[string]*entry
	runCtx  context.Context // non-nil while Run runs
	loops   sync.WaitGroup
}

// NewMonitor returns a Monitor without checks.
func NewMonitor(opts MonitorOptions) *Monitor {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{opts: opts, log: log, entries: map[string]*entry{}}
}

var checkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidateName reports a name Add would refuse: check names appear in
// metric labels and URLs, so they are letters, digits, '_', '.' and '-',
// at most 64, starting with a letter or digit.
func ValidateName(name string) error {
	if !checkName.MatchString(name) {
		return fmt.Errorf("check name %q must match %s", name, checkName)
	}
	return nil
}

// Add registers a check under a name (letters, digits, '_', '.', '-'; at
// most 64). Its state is unknown until it first reports. When the monitor
// is running, the check's loop starts at once. Adding a name twice is a
// CodeConflict error; bad options are CodeInvalid.
func (m *Monitor) Add(name string, c Check, opts CheckOptions) error {
	if err := ValidateName(name); err != nil {
		return hotreload.Errorf(hotreload.CodeInvalid, "health: adding check: %v", err)
	}
	if c == nil {
		return hotreload.Errorf(hotreload.CodeInvalid, "health: adding check %q: the check is nil", name)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return hotreload.Errorf(hotreload.CodeInvalid, "health: adding check %q: %v", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.entries[name]; dup {
		return hotreload.Errorf(hotreload.CodeConflict, "health: adding check %q: a check with that name exists", name)
	}
	e := &entry{name: name, check: c, opts: opts, added: time.Now(), state: StateUnknown}
	m.entries[name] = e
	if m.runCtx != nil {
		m.startLoop(e)
	}
	return nil
}

// Remove unregisters a check and waits for its periodic loop to end. It
// reports whether the check existed. A run in flight finishes unrecorded.
func (m *Monitor) Remove(name string) bool {
	m.mu.Lock()
	e, ok := m.entries[name]
	delete(m.entries, name)
	var stop func()
	var done <-chan struct{}
	if ok {
		stop, done = e.stopLoop, e.loopDone
	}
	m.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return ok
}

// Run runs every check periodically, each at its own interval and first at
// once, until ctx is done. Checks added while it runs start at once. It
// returns nil after ctx is done, once its loops have ended (see the package
// doc for checks that ignore cancellation), or a CodeConflict error when
// the monitor already runs.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.runCtx != nil {
		m.mu.Unlock()
		return hotreload.Errorf(hotreload.CodeConflict, "health: the monitor is already running")
	}
	m.runCtx = ctx
	for _, e := range m.entries {
		m.startLoop(e)
	}
	m.mu.Unlock()

	<-ctx.Done()
	m.mu.Lock()
	m.runCtx = nil
	for _, e := range m.entries {
		e.stopLoop = nil
	}
	m.mu.Unlock()
	m.loops.Wait()
	m.calls.wait(runGrace)
	return nil
}

// startLoop starts e's periodic loop; m.mu must be held.
func (m *Monitor) startLoop(e *entry) {
	ctx, cancel := context.WithCancel(m.runCtx)
	done := make(chan struct{})
	e.stopLoop, e.loopDone = cancel, done
	m.loops.Add(1)
	go func() {
		defer m.loops.Done()
		defer close(done)
		defer cancel()
		t := time.NewTicker(e.opts.Interval)
		defer t.Stop()
		for {
			m.run(ctx, e)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// CheckAll runs every check now, concurrently, joining runs already in
// flight, and returns the summary once all have reported (each within its
// timeout) or ctx is done.
func (m *Monitor) CheckAll(ctx context.Context) Summary {
	var wg sync.WaitGroup
	for _, e := range m.snapshot() {
		wg.Go(func() { m.run(ctx, e) })
	}
	wg.Wait()
	return m.Summary()
}

// Summary returns every check's status, sorted by name, and the verdict
// over them.
func (m *Monitor) Summary() Summary {
	now := time.Now()
	entries := m.snapshot()
	s := Summary{Checks: make([]Status, 0, len(entries))}
	for _, e := range entries {
		st := e.status(now)
		switch st.State {
		case StatePassing:
			s.Passing++
		case StateFailing:
			s.Failing++
		default:
			s.Unknown++
		}
		s.Checks = append(s.Checks, st)
	}
	s.State = StatePassing
	if verdict(s.Checks, DefaultMaxFailing, nil) != nil {
		s.State = StateFailing
	}
	return s
}

// Status returns one check's status.
func (m *Monitor) Status(name string) (Status, bool) {
	m.mu.Lock()
	e, ok := m.entries[name]
	m.mu.Unlock()
	if !ok {
		return Status{}, false
	}
	return e.status(time.Now()), true
}

// Ready reports whether every critical check passes, and the problems when
// not (Kubernetes readiness).
func (m *Monitor) Ready() (bool, []Status) {
	var bad []Status
	for _, st := range m.Summary().Checks {
		if st.Critical && st.State != StatePassing {
			bad = append(bad, st)
		}
	}
	return len(bad) == 0, bad
}

// snapshot returns the entries sorted by name.
func (m *Monitor) snapshot() []*entry {
	m.mu.Lock()
	out := make([]*entry, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, e)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b *entry) int { return strings.Compare(a.name, b.name) })
	return out
}

// run runs e once and records the result, or waits for the run already in
// flight. A run cut short by ctx records nothing.
func (m *Monitor) run(ctx context.Context, e *entry) {
	e.mu.Lock()
	if f := e.flight; f != nil {
		e.mu.Unlock()
		select {
		case <-f:
		case <-ctx.Done():
		}
		return
	}
	f := make(chan struct{})
	e.flight = f
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.flight = nil
		e.mu.Unlock()
		close(f)
	}()
	if latency, ok, err := m.execute(ctx, e); ok {
		m.record(e, err, latency)
	}
}

// execute calls e's check with its timeout and returns the check's error.
// ok is false when ctx ended first: then nothing is known about the check.
func (m *Monitor) execute(ctx context.Context, e *entry) (latency time.Duration, ok bool, err error) {
	start := time.Now()
	e.mu.Lock()
	if busy := e.busySince; !busy.IsZero() {
		e.mu.Unlock()
		return 0, true, fmt.Errorf("the run started %s ago has not returned: the check ignores its context",
			start.Sub(busy).Round(time.Millisecond))
	}
	e.busySince = start
	e.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	done := make(chan error, 1)
	m.calls.add()
	go func() {
		defer m.calls.done()
		err := callCheck(cctx, e.check)
		e.mu.Lock()
		e.busySince = time.Time{}
		e.mu.Unlock()
		done <- err
	}()
	select {
	case err = <-done:
	case <-cctx.Done():
	}
	latency = time.Since(start)
	if ctx.Err() != nil {
		return latency, false, nil
	}
	if cctx.Err() != nil {
		if err == nil {
			return latency, true, fmt.Errorf("timed out after %s", e.opts.Timeout)
		}
		return latency, true, fmt.Errorf("timed out after %s: %w", e.opts.Timeout, err)
	}
	return latency, true, err
}

// record applies one result to e's state and calls the hooks.
func (m *Monitor) record(e *entry, err error, latency time.Duration) {
	now := time.Now()
	res := stateOf(err)
	e.mu.Lock()
	from := e.state
	e.apply(res, err, latency, now)
	to := e.state
	critical := e.opts.Critical
	e.mu.Unlock()

	if res != StatePassing && m.opts.OnFailure != nil {
		m.opts.OnFailure(e.name, err)
	}
	if from == to {
		return
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	m.log.Info("health check changed state", "check", e.name, "from", from, "to", to, "critical", critical, "error", msg)
	if m.opts.Publisher != nil {
		m.opts.Publisher.Publish(StateEvent{
			Header:   hotreload.Header{Type: TypeStateChange, Time: now, Source: "health"},
			Check:    e.name,
			From:     from,
			To:       to,
			Critical: critical,
			Error:    msg,
		})
	}
}

// callTracker counts check goroutines so Run can wait for them.
type callTracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (t *callTracker) add() {
	t.mu.Lock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
}

func (t *callTracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		close(t.idle)
	}
	t.mu.Unlock()
}

// wait returns when no check goroutine runs, or after d.
func (t *callTracker) wait(d time.Duration) {
	t.mu.Lock()
	if t.n == 0 {
		t.mu.Unlock()
		return
	}
	idle := t.idle
	t.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-idle:
	case <-timer.C:
	}
}
