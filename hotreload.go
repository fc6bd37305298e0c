// Package hotreload changes a service's configuration, plugins, UI and code
// while it keeps serving. Every change runs through one reload transaction:
// validate, back up, apply, notify, health gate, commit — or roll back to the
// last known good state.
//
// The Engine runs transactions one at a time on a single goroutine (Run).
// Every trigger — a file watcher, the admin API, SIGHUP, etcd, the dev-loop
// builder — sends a request with a reply channel; concurrent requests queue
// in arrival order and each gets its own answer. Targets (config.Target,
// plugin.Host, ui.Assets, dev.Process) implement Target and Change; the
// engine never calls two of their methods at once.
package hotreload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Publisher receives the engine's events (ReloadStartEvent, ReloadEvent,
// ConfigReloadEvent, CodeReloadEvent). Publish must not block; the events
// package's Bus implements it.
type Publisher interface {
	Publish(event any)
}

// Observer is told the outcome of every transaction, synchronously, before
// the requester gets its answer; the metrics package implements it.
type Observer interface {
	Observe(o Outcome)
}

// Observers tells each of its observers in turn.
type Observers []Observer

// Observe implements Observer.
func (os Observers) Observe(o Outcome) {
	for _, ob := range os {
		ob.Observe(o)
	}
}

// Auditor records every mutation attempt. Attempt runs before a transaction
// changes anything; an error refuses the transaction (fail closed). Result
// records the outcome; its error is logged.
type Auditor interface {
	Attempt(ctx context.Context, r Request) error
	Result(ctx context.Context, r Request, o Outcome) error
}

// Request asks the engine for one transaction.
type Request struct {
	// Source names the trigger: "watch", "api", "signal", "etcd",
	// "builder", "start". Automatic sources freeze after too many
	// rollbacks; see Options.MaxRollbacks.
	Source string
	// Author is who asked, where known.
	Author string
	// Remote is where the request came from (an address), where known.
	Remote string
	// Candidates proposes new content for some targets. When empty, the
	// targets named in Targets (all targets when that is empty too) reload
	// from their own sources.
	Candidates []Candidate
	// Targets restricts a reload from source to these targets.
	Targets []string
	// Check, when set, runs inside the transaction before anything is
	// prepared, with the active version; an error refuses the request
	// unchanged (the admin API's If-Match uses it).
	Check func(active uint64) error
	// restoredFrom is set by Rollback.
	restoredFrom uint64
}

// Automatic reports whether the request comes from an automatic trigger
// (a watcher, etcd, the builder) rather than a person.
func (r Request) Automatic() bool {
	switch r.Source {
	case "watch", "etcd", "builder":
		return true
	}
	return false
}

// Options configure an Engine. Only History is required.
type Options struct {
	// History stores every transaction durably.
	History History
	// Gate is the health gate; nil commits at once after apply.
	Gate Gate
	// Publisher receives events; nil publishes nothing.
	Publisher Publisher
	// Observer is told every outcome; nil for none.
	Observer Observer
	// Auditor records every attempt; nil for none.
	Auditor Auditor
	// Logger logs each transaction with its step timings; nil discards.
	Logger *slog.Logger
	// MaxRollbacks is how many rollbacks (of any trigger) within
	// RollbackWindow are tolerated; one more freezes automatic reloads
	// until Unfreeze.
	// Zero means 3; negative never freezes.
	MaxRollbacks int
	// RollbackWindow is the window for MaxRollbacks; zero means one hour.
	RollbackWindow time.Duration
	// StepTimeout bounds each target's Prepare and Apply in a
	// transaction; zero means DefaultStepTimeout. A step past it fails the
	// transaction (rejected, or rolled back), so no target can freeze the
	// engine; when the step finally returns its work is undone, and until
	// then Status.Stuck says which step hangs.
	StepTimeout time.Duration
	// GateTimeout bounds the health gate of a transaction beyond which it
	// is rolled back; zero means DefaultGateTimeout.
	GateTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Engine runs reload transactions one at a time. Create it with New, start
// Run on its own goroutine, then Add targets.
type Engine struct {
	opts Options
	log  *slog.Logger
	reqs chan func(context.Context)
	done chan struct{} // closed when Run returns

	// Owned by the Run goroutine.
	running   context.Context // Run's: done when the engine stops
	targets   []Target
	snapshots map[string][]byte // current durable form per target
	next      uint64            // next version to assign
	rollbacks []time.Time       // rollbacks within the window

	mu     sync.RWMutex // guards status
	status Status
}

// Status is a consistent view of the engine, safe to read at any time.
type Status struct {
	// Active is the live (and last known good) version; 0 before the first
	// commit.
	Active uint64 `json:"active"`
	// Targets lists each target and the version that last changed it.
	Targets []TargetStatus `json:"targets"`
	// Applied is the version applied and inside its health gate, 0 when
	// none: during the window the live state is that version's, not
	// Active's.
	Applied uint64 `json:"applied,omitempty"`
	// Last is the outcome of the last transaction, if any.
	Last *Outcome `json:"last,omitempty"`
	// Stuck lists the steps that overran their deadline and have not
	// returned yet ("prepare of config for 2m0s"): a target is wedged.
	Stuck []string `json:"stuck,omitempty"`
	// Frozen is set when automatic reloads are frozen by the rollback
	// loop breaker; FrozenReason says why.
	Frozen       bool   `json:"frozen"`
	FrozenReason string `json:"frozen_reason,omitempty"`
}

// TargetStatus is one target in Status.
type TargetStatus struct {
	Name    string `json:"name"`
	Kind    Kind   `json:"kind"`
	Digest  string `json:"sha256,omitempty"`
	Version uint64 `json:"version"`
	State   string `json:"state"`
}

// A Kinded target tells its kind before any candidate is prepared, so even
// a rejected candidate's event has the right type.
type Kinded interface {
	Kind() Kind
}

// New returns an engine; it does nothing until Run.
func New(opts Options) *Engine {
	if opts.History == nil {
		panic("hotreload.New: Options.History is required")
	}
	if opts.MaxRollbacks == 0 {
		opts.MaxRollbacks = 3
	}
	if opts.RollbackWindow == 0 {
		opts.RollbackWindow = time.Hour
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = DefaultStepTimeout
	}
	if opts.GateTimeout <= 0 {
		opts.GateTimeout = DefaultGateTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		opts:      opts,
		log:       log,
		reqs:      make(chan func(context.Context)),
		done:      make(chan struct{}),
		snapshots: map[string][]byte{},
	}
}

var errStopped = &Error{Code: CodeUnavailable, Message: "the reload engine is stopped"}

// Run executes transactions until ctx is done, one at a time, then returns
// ctx's error. Requests made after Run returns fail with CodeUnavailable.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.done)
	if err := e.open(ctx); err != nil {
		return err
	}
	e.running = ctx
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case fn := <-e.reqs:
			fn(context.WithoutCancel(ctx))
		}
	}
}

// open reads the last known good version and the next version number.
func (e *Engine) open(ctx context.Context) error {
	recs, err := e.opts.History.List(ctx)
	if err != nil {
		return fmt.Errorf("reading history: %w", err)
	}
	for _, r := range recs {
		e.next = max(e.next, r.Version)
	}
	e.next++
	lkg, ok, err := e.opts.History.LastGood(ctx)
	if err != nil {
		return fmt.Errorf("reading last known good version: %w", err)
	}
	if ok {
		e.setStatus(func(s *Status) { s.Active = lkg.Version })
	}
	return nil
}

// do runs fn on the engine goroutine and waits for it. If ctx ends first the
// caller stops waiting, but a transaction already started runs to its end.
func do[T any](ctx context.Context, e *Engine, fn func(context.Context) (T, error)) (T, error) {
	type reply struct {
		v   T
		err error
	}
	ch := make(chan reply, 1)
	req := func(ctx context.Context) {
		v, err := fn(ctx)
		ch <- reply{v, err}
	}
	var zero T
	select {
	case e.reqs <- req:
	case <-e.done:
		return zero, errStopped
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Add registers a target. If history holds the target's state in the last
// known good version, that state is restored first; then the target loads
// from its own source as a transaction with source "start". When the source
// is invalid but a last known good state was restored, Add returns the
// rejected outcome and a nil error: the target serves last known good. When
// there is nothing to serve, Add returns the error and the target is not
// added.
func (e *Engine) Add(ctx context.Context, t Target) (Outcome, error) {
	return do(ctx, e, func(ctx context.Context) (Outcome, error) {
		name := t.Name()
		if e.target(name) != nil {
			return Outcome{}, Errorf(CodeConflict, "target %q is already registered", name)
		}
		restored, err := e.restoreLastGood(ctx, t)
		if err != nil {
			return Outcome{}, err
		}
		r := Request{Source: "start", Targets: []string{name}}
		if err := e.audit(ctx, r); err != nil {
			return Outcome{}, err
		}
		e.targets = append(e.targets, t)
		e.publishTargets()
		o := e.transact(ctx, r)
		e.auditResult(ctx, r, o)
		if o.Result == Rejected && !restored {
			e.removeTarget(name)
			return o, &Error{Code: CodeInvalid, Message: fmt.Sprintf("loading %s: %s", name, o.Reason), Details: o.Errors}
		}
		if o.Result == Rejected {
			e.log.Warn("source is invalid; serving the last known good version",
				"target", name, "version", e.activeVersion(), "reason", o.Reason)
		}
		return o, nil
	})
}

// restoreLastGood brings t to its state in the last known good version, if
// history has one. It reports whether it did. When that version's object is
// missing or corrupt, or no longer loads, it tries the committed versions
// before it, newest first, and says why; with none intact it restores
// nothing, and the target loads from its source.
func (e *Engine) restoreLastGood(ctx context.Context, t Target) (bool, error) {
	lkg, ok, err := e.opts.History.LastGood(ctx)
	if err != nil || !ok {
		return false, err
	}
	candidates := []Record{lkg}
	if all, err := e.opts.History.List(ctx); err == nil {
		for i := len(all) - 1; i >= 0; i-- {
			if r := all[i]; r.Result == Committed && r.Version < lkg.Version {
				candidates = append(candidates, r)
			}
		}
	}
	for _, rec := range candidates {
		if !slices.ContainsFunc(rec.Targets, func(s TargetState) bool { return s.Target == t.Name() }) {
			continue
		}
		snap, err := e.restore(ctx, t, rec.Version)
		if err != nil {
			e.log.Error("the last known good state cannot be restored; trying an older committed version, then the source",
				"target", t.Name(), "version", rec.Version, "err", err)
			continue
		}
		if rec.Version != lkg.Version {
			e.log.Warn("restored an older committed version: the last known good one is not intact",
				"target", t.Name(), "version", rec.Version, "last_good", lkg.Version)
		}
		e.snapshots[t.Name()] = snap
		return true, nil
	}
	return false, nil
}

// restore brings t to its state in a committed version and returns that
// state's snapshot.
func (e *Engine) restore(ctx context.Context, t Target, version uint64) ([]byte, error) {
	snap, err := e.opts.History.Snapshot(ctx, version, t.Name())
	if err != nil {
		return nil, err
	}
	ch, err := t.Prepare(ctx, Candidate{Target: t.Name(), Snapshot: snap})
	if err != nil {
		return nil, fmt.Errorf("restoring %s to version %d: %w", t.Name(), version, err)
	}
	if err := ch.Apply(ctx); err != nil {
		_ = ch.Rollback(ctx)
		return nil, fmt.Errorf("restoring %s to version %d: %w", t.Name(), version, err)
	}
	if err := ch.Commit(ctx); err != nil {
		e.log.Error("releasing the state before restore", "target", t.Name(), "err", err)
	}
	return snap, nil
}

// Remove unregisters a target; its live state stays as it is and is no
// longer part of later versions.
func (e *Engine) Remove(ctx context.Context, name string) error {
	_, err := do(ctx, e, func(context.Context) (struct{}, error) {
		if e.target(name) == nil {
			return struct{}{}, Errorf(CodeNotFound, "no target %q", name)
		}
		e.removeTarget(name)
		return struct{}{}, nil
	})
	return err
}

func (e *Engine) removeTarget(name string) {
	e.targets = slices.DeleteFunc(e.targets, func(t Target) bool { return t.Name() == name })
	delete(e.snapshots, name)
	e.publishTargets()
}

// Reload runs one transaction and returns its outcome. The error is non-nil
// only when the request could not run at all (stopped engine, cancelled
// wait, unknown target, frozen automatic reloads, audit failure, a failed
// Check); rejected and rolled-back transactions are outcomes, not errors.
func (e *Engine) Reload(ctx context.Context, r Request) (Outcome, error) {
	return do(ctx, e, func(ctx context.Context) (Outcome, error) {
		if err := e.admit(r); err != nil {
			return Outcome{}, err
		}
		if r.Check != nil {
			if err := r.Check(e.activeVersion()); err != nil {
				return Outcome{}, err
			}
		}
		if err := e.audit(ctx, r); err != nil {
			return Outcome{}, err
		}
		o := e.transact(ctx, r)
		e.auditResult(ctx, r, o)
		return o, nil
	})
}

// Rollback restores every target to its state at a committed version, as a
// new transaction (which the health gate checks like any other). Version 0
// means the committed version before the active one. Of r, only Source
// ("rollback" when empty), Author and Remote are used.
func (e *Engine) Rollback(ctx context.Context, version uint64, r Request) (Outcome, error) {
	return do(ctx, e, func(ctx context.Context) (Outcome, error) {
		r := Request{Source: r.Source, Author: r.Author, Remote: r.Remote}
		if r.Source == "" {
			r.Source = "rollback"
		}
		to, err := e.rollbackTarget(ctx, version)
		if err != nil {
			return Outcome{}, err
		}
		for _, st := range to.Targets {
			if e.target(st.Target) == nil {
				continue // no longer registered
			}
			snap, err := e.opts.History.Snapshot(ctx, to.Version, st.Target)
			if err != nil {
				return Outcome{}, fmt.Errorf("reading %s at version %d: %w", st.Target, to.Version, err)
			}
			r.Candidates = append(r.Candidates, Candidate{Target: st.Target, Snapshot: snap, Rollback: true})
		}
		r.restoredFrom = to.Version
		if err := e.audit(ctx, r); err != nil {
			return Outcome{}, err
		}
		o := e.transact(ctx, r)
		e.auditResult(ctx, r, o)
		return o, nil
	})
}

// rollbackTarget finds the committed record to roll back to.
func (e *Engine) rollbackTarget(ctx context.Context, version uint64) (Record, error) {
	if version != 0 {
		rec, err := e.opts.History.Get(ctx, version)
		if err != nil {
			return Record{}, err
		}
		if rec.Result != Committed {
			return Record{}, Errorf(CodeConflict, "version %d was %s, not committed; only committed versions can be restored", version, rec.Result)
		}
		return rec, nil
	}
	recs, err := e.opts.History.List(ctx)
	if err != nil {
		return Record{}, err
	}
	active := e.activeVersion()
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Result == Committed && recs[i].Version < active {
			return recs[i], nil
		}
	}
	return Record{}, Errorf(CodeNotFound, "no committed version before the active version %d", active)
}

// Unfreeze clears the rollback loop breaker so automatic reloads run again.
func (e *Engine) Unfreeze(ctx context.Context) error {
	_, err := do(ctx, e, func(context.Context) (struct{}, error) {
		e.rollbacks = nil
		e.setStatus(func(s *Status) { s.Frozen, s.FrozenReason = false, "" })
		e.log.Info("automatic reloads unfrozen")
		return struct{}{}, nil
	})
	return err
}

// Status returns a copy of the engine's current status.
func (e *Engine) Status() Status {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s := e.status
	s.Targets = slices.Clone(s.Targets)
	s.Stuck = slices.Clone(s.Stuck)
	return s
}

func (e *Engine) setStatus(f func(*Status)) {
	e.mu.Lock()
	f(&e.status)
	e.mu.Unlock()
}

func (e *Engine) activeVersion() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.status.Active
}

// admit refuses requests that cannot run: unknown targets, automatic
// reloads while frozen.
func (e *Engine) admit(r Request) error {
	for _, c := range r.Candidates {
		if e.target(c.Target) == nil {
			return Errorf(CodeNotFound, "no target %q", c.Target)
		}
	}
	for _, name := range r.Targets {
		if e.target(name) == nil {
			return Errorf(CodeNotFound, "no target %q", name)
		}
	}
	if st := e.Status(); st.Frozen && r.Automatic() {
		return Errorf(CodeUnavailable, "automatic reloads are frozen (%s); reload by hand or unfreeze", st.FrozenReason)
	}
	return nil
}

func (e *Engine) audit(ctx context.Context, r Request) error {
	if e.opts.Auditor == nil {
		return nil
	}
	if err := e.opts.Auditor.Attempt(ctx, r); err != nil {
		return &Error{Code: CodeUnavailable, Message: "refused: the audit record could not be written: " + err.Error(), Err: err}
	}
	return nil
}

func (e *Engine) auditResult(ctx context.Context, r Request, o Outcome) {
	if e.opts.Auditor == nil {
		return
	}
	if err := e.opts.Auditor.Result(ctx, r, o); err != nil {
		e.log.Error("writing the audit record of an outcome", "version", o.Version, "err", err)
	}
}

func (e *Engine) target(name string) Target {
	for _, t := range e.targets {
		if t.Name() == name {
			return t
		}
	}
	return nil
}

// publishTargets refreshes the target list in Status.
func (e *Engine) publishTargets() {
	e.setStatus(func(s *Status) {
		old := s.Targets
		s.Targets = make([]TargetStatus, 0, len(e.targets))
		for _, t := range e.targets {
			ts := TargetStatus{Name: t.Name(), Kind: kindOf(t), State: "active"}
			if i := slices.IndexFunc(old, func(o TargetStatus) bool { return o.Name == ts.Name }); i >= 0 {
				ts = old[i]
			}
			if snap, ok := e.snapshots[ts.Name]; ok {
				ts.Digest = digest(snap)
			}
			s.Targets = append(s.Targets, ts)
		}
	})
}

func kindOf(t Target) Kind {
	if k, ok := t.(Kinded); ok {
		return k.Kind()
	}
	return ""
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Digest returns the hex SHA-256 of a snapshot, as history records it.
func Digest(snapshot []byte) string { return digest(snapshot) }

// prepared is one target's change within a transaction.
type prepared struct {
	target  Target
	change  Change
	summary Summary
	applied bool
}

// transact runs one transaction. It always returns an outcome and leaves
// every target either on the candidate (committed) or exactly where it was.
func (e *Engine) transact(ctx context.Context, r Request) Outcome {
	start := e.opts.Now()
	tx := &transaction{e: e, req: r, start: start, timings: map[string]time.Duration{}}
	o := tx.run(ctx)
	o.Duration = e.opts.Now().Sub(start)
	if o.Result != Committed {
		o.Active = e.activeVersion()
	}
	e.finish(r, o, tx)
	return o
}

// finish records the outcome in status, the loop breaker, events, the
// observer and the log.
func (e *Engine) finish(r Request, o Outcome, tx *transaction) {
	if o.Result == RolledBack {
		e.countRollback(o)
	}
	e.setStatus(func(s *Status) { last := o; s.Last = &last })
	if o.Result == Committed {
		e.publishTargets()
	}
	e.publish(r, o, tx)
	if e.opts.Observer != nil {
		e.opts.Observer.Observe(o)
	}
	attrs := []any{"result", o.Result, "version", o.Version, "active", o.Active, "source", r.Source,
		"duration", o.Duration.Round(time.Microsecond)}
	for step, d := range tx.timings {
		attrs = append(attrs, step, d.Round(time.Microsecond))
	}
	switch o.Result {
	case Committed, Unchanged:
		e.log.Info("reload", attrs...)
	default:
		e.log.Warn("reload", append(attrs, "reason", o.Reason)...)
	}
}

// countRollback trips the loop breaker after too many rollbacks.
func (e *Engine) countRollback(o Outcome) {
	if e.opts.MaxRollbacks < 0 {
		return
	}
	now := e.opts.Now()
	e.rollbacks = append(e.rollbacks, now)
	e.rollbacks = slices.DeleteFunc(e.rollbacks, func(t time.Time) bool { return now.Sub(t) > e.opts.RollbackWindow })
	if len(e.rollbacks) > e.opts.MaxRollbacks {
		reason := fmt.Sprintf("%d rollbacks within %s, the last: %s", len(e.rollbacks), e.opts.RollbackWindow, o.Reason)
		e.setStatus(func(s *Status) { s.Frozen, s.FrozenReason = true, reason })
		e.log.Error("freezing automatic reloads", "reason", reason)
	}
}

func (e *Engine) publish(r Request, o Outcome, tx *transaction) {
	p := e.opts.Publisher
	if p == nil {
		return
	}
	h := Header{Time: e.opts.Now(), Source: r.Source}
	for _, name := range tx.names() {
		kind := tx.kinds[name]
		var to TargetOutcome
		if i := slices.IndexFunc(o.Targets, func(t TargetOutcome) bool { return t.Target == name }); i >= 0 {
			to = o.Targets[i]
		}
		if kind == KindConfig || kind == "" {
			h.Type = TypeConfigReload
			ev := ConfigReloadEvent{Header: h, Target: name, Version: o.Version, Result: o.Result, Changes: to.Changes, Reason: o.Reason}
			if o.Result == Rejected {
				ev.Errors = o.Errors
			}
			p.Publish(ev)
			continue
		}
		h.Type = TypeCodeReload
		p.Publish(CodeReloadEvent{Header: h, Target: name, Version: o.Version, Modules: to.Modules, Result: o.Result, Reason: o.Reason})
	}
	h.Type = TypeReload
	p.Publish(ReloadEvent{Header: h, Outcome: o})
}

// transaction is the state of one run of the pipeline.
type transaction struct {
	e       *Engine
	req     Request
	start   time.Time
	timings map[string]time.Duration
	kinds   map[string]Kind
	changes []*prepared
}

// names lists the targets the transaction touched or tried to, in order.
func (tx *transaction) names() []string {
	var out []string
	for name := range tx.kinds {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (tx *transaction) step(name string, t0 time.Time) {
	tx.timings[name] = tx.e.opts.Now().Sub(t0)
}

func (tx *transaction) candidates() []Candidate {
	if len(tx.req.Candidates) > 0 {
		return tx.req.Candidates
	}
	var out []Candidate
	for _, t := range tx.e.targets {
		if len(tx.req.Targets) == 0 || slices.Contains(tx.req.Targets, t.Name()) {
			out = append(out, Candidate{Target: t.Name()})
		}
	}
	return out
}

func (tx *transaction) run(ctx context.Context) Outcome {
	e := tx.e
	tx.kinds = map[string]Kind{}
	e.publishStart(tx)

	// validate
	t0 := e.opts.Now()
	if o, ok := tx.prepare(ctx); !ok {
		return o
	}
	tx.step("validate", t0)
	if len(tx.changes) == 0 {
		active := e.activeVersion()
		if err := e.opts.History.Put(ctx, tx.record(active, Unchanged, ""), nil); err != nil {
			e.log.Error("recording an unchanged attempt in history", "err", err)
		}
		return tx.outcome(Unchanged, active, "", nil)
	}
	version := e.next
	e.next++

	// backup: the live state is durable already; record the candidate. The
	// write and its fsync overlap the apply: the record must be durable
	// before the health gate and the commit, not before the candidate goes
	// live, since a crash in between loses nothing anyone was told.
	rec := tx.record(version, Pending, "")
	candidates := tx.candidateSnapshots()
	backup := make(chan error, 1)
	var backupTook time.Duration // written before the send, read after the receive
	go func(t0 time.Time) {
		err := e.opts.History.Put(ctx, rec, candidates)
		backupTook = e.opts.Now().Sub(t0)
		backup <- err
	}(e.opts.Now())

	// apply (subscribers are notified by each target as it applies)
	t0 = e.opts.Now()
	for i, p := range tx.changes {
		if err := tx.e.bounded(ctx, "apply of "+p.target.Name(), tx.e.opts.StepTimeout, p.change.Apply, lateRollback(p.change)); err != nil {
			// A failed Apply may have done part of its work; one that
			// overran is rolled back when it returns.
			p.applied = !errors.Is(err, errStepTimeout)
			tx.discard(ctx, i+1)
			<-backup // no other history write races the backup
			return tx.rollback(ctx, version, "apply", fmt.Errorf("applying %s: %w", p.target.Name(), err))
		}
		p.applied = true
	}
	tx.step("apply", t0)
	err := <-backup
	tx.timings["backup"] = backupTook
	if err != nil {
		return tx.rollback(ctx, version, "history", fmt.Errorf("recording the candidate in history: %w", err))
	}

	// health gate: a first load has nothing to roll back to, so it is not
	// gated.
	if e.opts.Gate != nil && tx.replacesLiveState() {
		t0 = e.opts.Now()
		e.setStatus(func(s *Status) { s.Applied = version })
		gctx, cancel := context.WithTimeout(ctx, e.opts.GateTimeout)
		err := e.opts.Gate.Watch(gctx, Transaction{Version: version, Source: tx.req.Source, Targets: tx.changedNames()})
		cancel()
		e.setStatus(func(s *Status) { s.Applied = 0 })
		tx.step("health", t0)
		if err != nil {
			return tx.rollback(ctx, version, "health", err)
		}
	}

	// commit: durable first, then release the old states.
	t0 = e.opts.Now()
	snaps := maps(e.snapshots)
	for _, p := range tx.changes {
		snaps[p.target.Name()] = p.summary.Snapshot
	}
	rec = tx.record(version, Committed, "")
	if err := e.opts.History.Put(ctx, rec, snaps); err != nil {
		return tx.rollback(ctx, version, "history", fmt.Errorf("recording the commit in history: %w", err))
	}
	for _, p := range tx.changes {
		if err := p.change.Commit(ctx); err != nil {
			e.log.Error("releasing the old state after commit", "target", p.target.Name(), "err", err)
		}
	}
	e.snapshots = snaps
	tx.step("commit", t0)
	e.setStatus(func(s *Status) {
		s.Active = version
		for i := range s.Targets {
			if slices.Contains(tx.changedNames(), s.Targets[i].Name) {
				s.Targets[i].Version = version
			}
		}
	})
	o := tx.outcome(Committed, version, "", nil)
	o.Active = version
	return o
}

func maps(m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (e *Engine) publishStart(tx *transaction) {
	if e.opts.Publisher == nil {
		return
	}
	var names []string
	for _, c := range tx.candidates() {
		names = append(names, c.Target)
	}
	e.opts.Publisher.Publish(ReloadStartEvent{
		Header:  Header{Type: TypeReloadStart, Time: tx.start, Source: tx.req.Source},
		Targets: names,
	})
}

// prepare validates every candidate and lets followers join. On failure it
// discards what it prepared and returns the rejected outcome.
func (tx *transaction) prepare(ctx context.Context) (Outcome, bool) {
	e := tx.e
	// A transaction runs to its end when the engine stops, but a Prepare
	// has changed nothing yet: stopping cancels it rather than wait for a
	// decode of a large file.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(e.running, cancel)()
	var all []*prepared
	var errs []error
	for _, c := range tx.candidates() {
		t := e.target(c.Target)
		tx.kinds[c.Target] = kindOf(t)
		var ch Change
		err := e.bounded(ctx, "prepare of "+c.Target, e.opts.StepTimeout, func(ctx context.Context) error {
			var err error
			ch, err = t.Prepare(ctx, c)
			return err
		}, func() {
			if ch != nil {
				_ = ch.Rollback(context.Background())
			}
		})
		if err == nil && ch == nil {
			err = Errorf(CodeInternal, "%s: Prepare returned neither a change nor an error", c.Target)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, &prepared{target: t, change: ch, summary: ch.Summary()})
	}
	if len(errs) == 0 {
		// Drop candidates equal to the live state.
		for _, p := range all {
			if cur, ok := e.snapshots[p.target.Name()]; ok && digest(cur) == digest(p.summary.Snapshot) {
				_ = p.change.Rollback(ctx)
				continue
			}
			tx.changes = append(tx.changes, p)
			tx.kinds[p.target.Name()] = p.summary.Kind
		}
		if len(tx.changes) > 0 {
			errs = tx.follow(ctx)
		}
	} else {
		tx.changes = all
	}
	if len(errs) > 0 {
		tx.discard(ctx, 0)
		version := e.next
		e.next++
		err := errors.Join(errs...)
		o := tx.outcome(Rejected, version, "", err)
		rec := tx.record(version, Rejected, o.Reason)
		rec.Errors = o.Errors
		if perr := e.opts.History.Put(ctx, rec, nil); perr != nil {
			e.log.Error("recording a rejected candidate in history", "version", version, "err", perr)
		}
		return o, false
	}
	return Outcome{}, true
}

// follow asks every follower outside the transaction whether it joins.
func (tx *transaction) follow(ctx context.Context) []error {
	byName := map[string]Change{}
	for _, p := range tx.changes {
		byName[p.target.Name()] = p.change
	}
	var errs []error
	for _, t := range tx.e.targets {
		f, ok := t.(Follower)
		if !ok || byName[t.Name()] != nil {
			continue
		}
		ch, err := f.Follow(ctx, byName)
		if err != nil {
			tx.kinds[t.Name()] = kindOf(t)
			errs = append(errs, err)
			continue
		}
		if ch != nil {
			p := &prepared{target: t, change: ch, summary: ch.Summary()}
			tx.changes = append(tx.changes, p)
			tx.kinds[t.Name()] = p.summary.Kind
		}
	}
	return errs
}

// discard rolls back, newest first, the changes from index from on that
// were never applied, releasing what Prepare built.
func (tx *transaction) discard(ctx context.Context, from int) {
	for i := len(tx.changes) - 1; i >= from; i-- {
		if err := tx.changes[i].change.Rollback(ctx); err != nil {
			tx.e.log.Error("discarding a prepared change", "target", tx.changes[i].target.Name(), "err", err)
		}
	}
}

// rollback restores every applied change, newest first, and records why.
func (tx *transaction) rollback(ctx context.Context, version uint64, cause string, err error) Outcome {
	t0 := tx.e.opts.Now()
	var rbErrs []error
	for i := len(tx.changes) - 1; i >= 0; i-- {
		p := tx.changes[i]
		if !p.applied {
			continue
		}
		if rerr := p.change.Rollback(ctx); rerr != nil {
			rbErrs = append(rbErrs, fmt.Errorf("rolling back %s: %w", p.target.Name(), rerr))
		}
	}
	tx.step("rollback", t0)
	if len(rbErrs) > 0 {
		// A target that cannot roll back is a bug in that target; say so loudly.
		tx.e.log.Error("rollback incomplete", "version", version, "err", errors.Join(rbErrs...))
		err = errors.Join(append([]error{err}, rbErrs...)...)
	}
	if perr := tx.e.opts.History.Put(ctx, tx.record(version, RolledBack, err.Error()), nil); perr != nil {
		tx.e.log.Error("recording a rollback in history", "version", version, "err", perr)
	}
	return tx.outcome(RolledBack, version, cause, err)
}

// replacesLiveState reports whether any change replaces a state that was
// live before the transaction.
func (tx *transaction) replacesLiveState() bool {
	for _, p := range tx.changes {
		if _, ok := tx.e.snapshots[p.target.Name()]; ok {
			return true
		}
	}
	return false
}

func (tx *transaction) changedNames() []string {
	var out []string
	for _, p := range tx.changes {
		out = append(out, p.target.Name())
	}
	return out
}

func (tx *transaction) candidateSnapshots() map[string][]byte {
	out := map[string][]byte{}
	for _, p := range tx.changes {
		out[p.target.Name()] = p.summary.Snapshot
	}
	return out
}

// record describes the transaction for history: every registered target's
// state in this version.
func (tx *transaction) record(version uint64, result Result, reason string) Record {
	rec := Record{
		Version: version, Time: tx.start, Source: tx.req.Source, Author: tx.req.Author,
		Result: result, Reason: reason, RestoredFrom: tx.req.restoredFrom,
	}
	for _, t := range tx.e.targets {
		name := t.Name()
		st := TargetState{Target: name, Kind: kindOf(t)}
		if snap, ok := tx.e.snapshots[name]; ok {
			st.Digest = digest(snap)
		}
		for _, p := range tx.changes {
			if p.target.Name() == name {
				st.Kind, st.Digest, st.Changed, st.Meta = p.summary.Kind, digest(p.summary.Snapshot), true, p.summary.Meta
			}
		}
		rec.Targets = append(rec.Targets, st)
	}
	return rec
}

// outcome builds the answer for a finished transaction. It names every
// target the transaction touched or tried to, in name order.
func (tx *transaction) outcome(result Result, version uint64, cause string, err error) Outcome {
	o := Outcome{Result: result, Version: version, Cause: cause}
	if err != nil {
		o.Reason = err.Error()
		o.Errors = ErrorDetails(err)
		if len(o.Errors) > 0 {
			o.Reason = firstLine(o.Reason)
		}
	}
	for _, name := range tx.names() {
		to := TargetOutcome{Target: name, Kind: tx.kinds[name]}
		for _, p := range tx.changes {
			if p.target.Name() == name {
				to.Digest, to.Changes, to.Modules = digest(p.summary.Snapshot), p.summary.Changes, p.summary.Modules
			}
		}
		o.Targets = append(o.Targets, to)
	}
	return o
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// The default deadlines of a transaction's steps.
const (
	DefaultStepTimeout = time.Minute
	DefaultGateTimeout = 15 * time.Minute
)

// errStepTimeout marks a step that overran its deadline.
var errStepTimeout = errors.New("step deadline exceeded")

// bounded runs step with a deadline of d. If step has not returned by
// then, bounded returns an error at once and leaves it running: Status.Stuck
// names it until it returns, and then late undoes what it did.
func (e *Engine) bounded(ctx context.Context, what string, d time.Duration, step func(context.Context) error, late func()) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	done := make(chan error, 1)
	go func() { done <- step(ctx) }()
	select {
	case err := <-done:
		cancel()
		return err
	case <-ctx.Done():
	}
	since := e.opts.Now()
	e.setStatus(func(s *Status) { s.Stuck = append(s.Stuck, what) })
	e.log.Error("a transaction step overran its deadline; the transaction fails and the step is undone when it returns", "step", what, "deadline", d)
	go func() {
		<-done
		cancel()
		e.setStatus(func(s *Status) {
			if i := slices.Index(s.Stuck, what); i >= 0 {
				s.Stuck = slices.Delete(slices.Clone(s.Stuck), i, i+1)
			}
		})
		e.log.Warn("a step that overran its deadline returned; undoing it", "step", what, "after", e.opts.Now().Sub(since))
		if late != nil {
			late()
		}
	}()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Code: CodeUnavailable, Message: what + " was cancelled: the engine is stopping", Err: ctx.Err()}
	}
	return &Error{Code: CodeUnavailable, Message: fmt.Sprintf("%s did not finish within %s", what, d), Err: errStepTimeout}
}

// lateRollback undoes a change whose Apply returned after its deadline.
func lateRollback(ch Change) func() {
	return func() { _ = ch.Rollback(context.Background()) }
}
