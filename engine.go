package hotreload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
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
	// Source names the trigger. Automatic sources freeze after too many
	// rollbacks; see Options.MaxRollbacks.
	Source Source
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

// Actor is who asked for a transaction: the trigger, the person, and from
// where.
type Actor struct {
	Source Source
	Author string
	Remote string
}

// Automatic reports whether the request comes from an automatic trigger
// (a watcher, etcd, the builder) rather than a person.
func (r Request) Automatic() bool {
	switch r.Source {
	case SourceWatch, SourceEtcd, SourceBuilder:
		return true
	}
	return false
}

// Options configure an Engine. Only History is required.
type Options struct {
	// History stores every transaction durably.
	History History
	// Gate is the health gate; nil commits at once after apply. A
	// transaction whose every target is Ungated skips it.
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
	// until Unfreeze. The versions one failed history write rolls back
	// together count as one.
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
	snapshots map[string][]byte // committed durable form per target
	next      uint64            // next version to assign
	rollbacks []time.Time       // rollbacks within the window
	pending   *window           // the transaction in its health window
	pins      map[string]string // pinned target -> digest of its source's snapshot
	// recordings are the durable windows, oldest first; the first writing
	// of them are those of the Put in flight, whose verdict arrives on
	// written (nil when no Put is in flight). gather fires when the next
	// Put is due, after groupDelay (nil when none waits).
	recordings []*recording
	writing    int
	written    chan error
	gather     <-chan time.Time

	// view is held for writing while a config change is applied or rolled
	// back together with the status's live version, so View never sees a
	// config's data beside another version's number.
	view   sync.RWMutex
	mu     sync.RWMutex // guards status
	status Status
}

// The states of the live version in Status.State.
const (
	StateCommitted = "committed" // the live version is the last known good
	StatePending   = "pending"   // the live version is in its health window
)

// Status is a consistent view of the engine, safe to read at any time.
type Status struct {
	// Active is the last committed (last known good) version; 0 before
	// the first commit.
	Active uint64 `json:"active"`
	// Live is the version whose state is live: Active, or a pending version
	// while it is in its health window. GET /api/v1/config answers Live's
	// data with Live's number.
	Live uint64 `json:"live"`
	// State is StatePending while Live is in its health window, else
	// StateCommitted.
	State string `json:"state"`
	// Targets lists each target and the version that last changed it.
	Targets []TargetStatus `json:"targets"`
	// Applied is the version applied and inside its health window, 0 when
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
	// Pinned is set while an explicit rollback holds the target on its
	// version although its source, which hotreload cannot write, still
	// holds what was rolled back; the next change of the source ends it.
	Pinned bool `json:"pinned,omitempty"`
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
		pins:      map[string]string{},
		status:    Status{State: StateCommitted},
	}
}

var errStopped = &Error{Code: CodeUnavailable, Message: "the reload engine is stopped"}

// Run executes transactions until ctx is done, one at a time, then returns
// ctx's error. While a transaction is in its health window Run takes the
// next request at once (a newer candidate supersedes the pending one; see
// Start). When ctx ends during a window, the pending transaction is rolled
// back before Run returns; one whose committed record is being written
// ends as that write does. Requests made after Run returns fail with
// CodeUnavailable.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.done)
	e.running = ctx
	if err := e.open(ctx); err != nil {
		return err
	}
	bg := context.WithoutCancel(ctx)
	for {
		var verdict <-chan error
		if e.pending != nil {
			verdict = e.pending.verdict
		}
		select {
		case <-ctx.Done():
			e.waitDurable(bg)
			if w := e.pending; w != nil {
				w.cancel()
				<-w.verdict
				e.conclude(bg, errors.New("the engine stopped during the health window"), "stopped")
			}
			return ctx.Err()
		case err := <-verdict:
			e.conclude(bg, err, "health")
		case err := <-e.written:
			e.recorded(bg, err)
		case <-e.gather:
			e.writeRecords(bg)
		case fn := <-e.reqs:
			fn(bg)
		}
	}
}

// open reads the last known good version, the pins it carries and the next
// version number.
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
		for _, st := range lkg.Targets {
			if pin := st.Meta[metaPinned]; pin != "" {
				e.pins[st.Target] = pin
			}
		}
		e.setStatus(func(s *Status) { s.Active, s.Live = lkg.Version, lkg.Version })
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

// settle waits for the pending transaction's health gate, if any, and
// commits or rolls it back: requests other than transactions (Add, Remove)
// run on a settled engine.
func (e *Engine) settle(ctx context.Context) {
	e.waitDurable(ctx)
	if w := e.pending; w != nil {
		e.conclude(ctx, <-w.verdict, "health")
	}
}

// Add registers a target. If history holds the target's state in the last
// known good version, that state is restored first; then the target loads
// from its own source as a transaction with source "start", and Add waits
// for its end, health window included. When the source is invalid but a
// last known good state was restored, Add returns the rejected outcome and
// a nil error: the target serves last known good. When there is nothing to
// serve, Add returns the error and the target is not added.
func (e *Engine) Add(ctx context.Context, t Target) (Outcome, error) {
	return do(ctx, e, func(ctx context.Context) (Outcome, error) {
		e.settle(ctx)
		name := t.Name()
		if e.target(name) != nil {
			return Outcome{}, Errorf(CodeConflict, "target %q is already registered", name)
		}
		restored, err := e.restoreLastGood(ctx, t)
		if err != nil {
			return Outcome{}, err
		}
		r := Request{Source: SourceStart, Targets: []string{name}}
		if err := e.audit(ctx, r); err != nil {
			return Outcome{}, err
		}
		e.targets = append(e.targets, t)
		e.publishTargets()
		tk := newTicket()
		e.transact(ctx, r, tk)
		e.settle(ctx)
		o, _ := tk.Outcome()
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
			// The live state is that version's: say so, not last known good's.
			e.setStatus(func(s *Status) { s.Active, s.Live = min(s.Active, rec.Version), min(s.Live, rec.Version) })
			delete(e.pins, t.Name()) // the pin was of the last known good state
		}
		e.snapshots[t.Name()] = snap
		return true, nil
	}
	delete(e.pins, t.Name())
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
	_, err := do(ctx, e, func(ctx context.Context) (struct{}, error) {
		e.settle(ctx)
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
	delete(e.pins, name)
	e.publishTargets()
}

// Reload runs one transaction and waits for its outcome, health window
// included. The error is non-nil only when the request could not run at
// all (stopped engine, cancelled wait, unknown target, frozen automatic
// reloads, audit failure, a failed Check); rejected, rolled-back and
// superseded transactions are outcomes, not errors.
func (e *Engine) Reload(ctx context.Context, r Request) (Outcome, error) {
	t, err := e.Start(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	return t.Wait(ctx)
}

// Submit runs one transaction and waits until its candidate is live: it
// returns the final outcome, or one with Result Pending while the candidate
// is in its health window or, for a change the gate does not watch, while
// its record is being made durable. Triggers that must not wait a window
// (file watchers) use it, so that their next change reaches the engine at
// once: it supersedes a pending change, and it is prepared while the
// previous record is written.
func (e *Engine) Submit(ctx context.Context, r Request) (Outcome, error) {
	t, err := e.Start(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	select {
	case <-t.Live():
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
	return t.Outcome()
}

// Start hands one transaction to the engine and returns as soon as the
// engine has taken it; the Ticket follows it to its end.
//
// A transaction that arrives while another one is in its health window is
// validated against the live (pending) state. If it is rejected or
// unchanged, the pending one goes on. Otherwise it supersedes the pending
// one: that window ends, the pending version is recorded as Superseded, and
// the new candidate is applied on top at once and gets its own window,
// which covers both; if it fails, every target goes back to the last
// committed version, and if it commits, it is committed with what it
// superseded.
func (e *Engine) Start(ctx context.Context, r Request) (*Ticket, error) {
	return e.start(ctx, func(context.Context) (Request, error) { return r, nil })
}

// Rollback restores every target to its state at a committed version, as a
// new transaction (which the health gate checks like any other), and waits
// for its outcome. Version 0 means the committed version before the live
// one: the last committed version while a change is pending, else the one
// before it. who's Source is SourceRollback when empty.
//
// A target that can write its source (a single config file) writes the
// restored state back to it; for any other target that can read its source
// (SourceReader), the rollback pins the version: the engine ignores what the
// source holds until it changes, across restarts, and TargetStatus.Pinned
// says so.
func (e *Engine) Rollback(ctx context.Context, version uint64, who Actor) (Outcome, error) {
	t, err := e.StartRollback(ctx, version, who)
	if err != nil {
		return Outcome{}, err
	}
	return t.Wait(ctx)
}

// StartRollback is Rollback that returns as soon as the engine has taken the
// request, as Start does.
func (e *Engine) StartRollback(ctx context.Context, version uint64, who Actor) (*Ticket, error) {
	return e.start(ctx, func(ctx context.Context) (Request, error) {
		r := Request{Source: who.Source, Author: who.Author, Remote: who.Remote}
		if r.Source == "" {
			r.Source = SourceRollback
		}
		to, err := e.rollbackTarget(ctx, version)
		if err != nil {
			return Request{}, err
		}
		for _, st := range to.Targets {
			if e.target(st.Target) == nil {
				continue // no longer registered
			}
			snap, err := e.opts.History.Snapshot(ctx, to.Version, st.Target)
			if err != nil {
				return Request{}, fmt.Errorf("reading %s at version %d: %w", st.Target, to.Version, err)
			}
			r.Candidates = append(r.Candidates, Candidate{Target: st.Target, Snapshot: snap, Rollback: true})
		}
		r.restoredFrom = to.Version
		return r, nil
	})
}

// start sends a transaction request to the engine goroutine; build makes
// the request there.
func (e *Engine) start(ctx context.Context, build func(context.Context) (Request, error)) (*Ticket, error) {
	t := newTicket()
	job := func(ctx context.Context) {
		r, err := build(ctx)
		if err == nil {
			err = e.admit(r)
		}
		if err != nil {
			t.end(Outcome{}, err)
			return
		}
		audited := false
		for {
			if r.Check != nil {
				if err := r.Check(e.liveVersion()); err != nil {
					t.end(Outcome{}, err)
					return
				}
			}
			if !audited {
				if err := e.audit(ctx, r); err != nil {
					t.end(Outcome{}, err)
					return
				}
				audited = true
			}
			if e.transact(ctx, r, t) {
				return
			}
		}
	}
	select {
	case e.reqs <- job:
		return t, nil
	case <-e.done:
		return nil, errStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
	live := e.liveVersion()
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Result == Committed && recs[i].Version < live {
			return recs[i], nil
		}
	}
	return Record{}, Errorf(CodeNotFound, "no committed version before the live version %d", live)
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

// Check is a health check of the engine itself: it fails while a step that
// overran its deadline has not returned (Status.Stuck), so a readiness
// probe says so until the step is undone.
func (e *Engine) Check(context.Context) error {
	if stuck := e.Status().Stuck; len(stuck) > 0 {
		return fmt.Errorf("a transaction step overran its deadline and has not returned: %s", strings.Join(stuck, ", "))
	}
	return nil
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

// liveVersion is the version whose state is live: the pending one during a
// health window, else the active one.
func (e *Engine) liveVersion() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.status.Live
}

// View calls fn with the engine's status while no config change is being
// applied or rolled back, so that what fn reads of a config target's live
// state belongs to the status's Live version (the admin API's GET
// /api/v1/config and its ETag). fn must not call the engine.
func (e *Engine) View(fn func(Status)) {
	e.view.RLock()
	defer e.view.RUnlock()
	fn(e.Status())
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
				ts.Digest = Digest(snap)
			}
			_, ts.Pinned = e.pins[ts.Name]
			ts.State = "active"
			if ts.Pinned {
				ts.State = "pinned"
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
