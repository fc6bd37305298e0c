// Package hotreload changes a service's configuration, plugins, UI and code
// while it keeps serving. Every change runs through one reload transaction:
// validate, back up, apply, notify, health gate, commit — or roll back to the
// last known good state.
//
// The Engine runs transactions one at a time on a single goroutine (Run).
// Every trigger — a file watcher, the admin API, SIGHUP, etcd, the dev-loop
// builder — sends a request with a reply channel; concurrent requests queue
// in arrival order and each gets its own answer (a Ticket). The health gate
// runs beside the engine: a candidate that arrives while another is in its
// window supersedes it (see Engine.Start). Targets (config.Target,
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
	"maps"
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
	snapshots map[string][]byte // committed durable form per target
	next      uint64            // next version to assign
	rollbacks []time.Time       // rollbacks within the window
	pending   *window           // the transaction in its health window
	pins      map[string]string // pinned target -> digest of its source's snapshot

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
// back before Run returns. Requests made after Run returns fail with
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
			if w := e.pending; w != nil {
				w.cancel()
				<-w.verdict
				e.conclude(bg, errors.New("the engine stopped during the health window"), "stopped")
			}
			return ctx.Err()
		case err := <-verdict:
			e.conclude(bg, err, "health")
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
		r := Request{Source: "start", Targets: []string{name}}
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
			e.setStatus(func(s *Status) { s.Active = min(s.Active, rec.Version) })
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
// is in its health window. Triggers that must not wait a window (file
// watchers) use it, so that their next change reaches the engine at once
// and supersedes the pending one.
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
// before it. Of r, only Source ("rollback" when empty), Author and Remote
// are used.
//
// A target that can write its source (a single config file) writes the
// restored state back to it; for any other target that can read its source
// (SourceReader), the rollback pins the version: the engine ignores what the
// source holds until it changes, across restarts, and TargetStatus.Pinned
// says so.
func (e *Engine) Rollback(ctx context.Context, version uint64, r Request) (Outcome, error) {
	t, err := e.StartRollback(ctx, version, r)
	if err != nil {
		return Outcome{}, err
	}
	return t.Wait(ctx)
}

// StartRollback is Rollback that returns as soon as the engine has taken the
// request, as Start does.
func (e *Engine) StartRollback(ctx context.Context, version uint64, r Request) (*Ticket, error) {
	return e.start(ctx, func(ctx context.Context) (Request, error) {
		r := Request{Source: r.Source, Author: r.Author, Remote: r.Remote}
		if r.Source == "" {
			r.Source = "rollback"
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
				ts.Digest = digest(snap)
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

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Digest returns the hex SHA-256 of a snapshot, as history records it.
func Digest(snapshot []byte) string { return digest(snapshot) }

// prepared is one target's change within a transaction.
type prepared struct {
	target    Target
	candidate Candidate
	change    Change
	summary   Summary
	applied   bool
	version   uint64 // the version that applied it
}

// window is a transaction applied and in its health window.
type window struct {
	tx      *transaction
	version uint64
	start   time.Time
	cancel  context.CancelFunc
	verdict chan error // the gate's answer, buffered
}

// transact runs one transaction up to its health window, or to its end
// when it is not gated; conclude ends a gated one. Every target ends either
// on the candidate (committed) or exactly where it was before.
//
// A pending transaction is first validated against; then, if its gate has
// already answered, it is concluded, and transact reports false when that
// rolled it back: the new candidate was prepared against a state that is
// gone and must be prepared again. Otherwise it is superseded.
func (e *Engine) transact(ctx context.Context, r Request, t *Ticket) bool {
	tx := &transaction{e: e, req: r, ticket: t, start: e.opts.Now(), timings: map[string]time.Duration{}, kinds: map[string]Kind{}}
	e.publishStart(tx)

	// validate
	t0 := e.opts.Now()
	if o, ok := tx.prepare(ctx); !ok {
		e.complete(ctx, tx, o)
		return true
	}
	tx.step("validate", t0)
	if len(tx.changes) == 0 {
		live := e.liveVersion()
		if err := e.opts.History.Put(ctx, tx.record(live, Unchanged, ""), nil); err != nil {
			e.log.Error("recording an unchanged attempt in history", "err", err)
		}
		o := tx.outcome(Unchanged, live, "", nil)
		if len(tx.pinned) > 0 {
			o.Reason = fmt.Sprintf("%s pinned by a rollback: the source still holds what was rolled back", strings.Join(tx.pinned, ", "))
		}
		e.complete(ctx, tx, o)
		return true
	}
	if w := e.pending; w != nil {
		select {
		case err := <-w.verdict:
			e.conclude(ctx, err, "health")
			if e.activeVersion() != w.version {
				tx.discard(ctx, 0)
				return false
			}
		default:
			e.supersede(ctx, w, tx)
		}
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
		if err := e.apply(ctx, p, version); err != nil {
			// A failed Apply may have done part of its work; one that
			// overran is rolled back when it returns.
			p.applied = !errors.Is(err, errStepTimeout)
			tx.discard(ctx, i+1)
			<-backup // no other history write races the backup
			e.complete(ctx, tx, tx.rollback(ctx, version, "apply", fmt.Errorf("applying %s: %w", p.target.Name(), err)))
			return true
		}
	}
	e.setLive(version, StatePending)
	tx.step("apply", t0)
	err := <-backup
	tx.timings["backup"] = backupTook
	if err != nil {
		e.complete(ctx, tx, tx.rollback(ctx, version, "history", fmt.Errorf("recording the candidate in history: %w", err)))
		return true
	}

	// health gate: a first load has nothing to roll back to, and an
	// ungated change has nothing to watch, so neither is gated. The gate runs on its own goroutine; Run concludes the
	// transaction when it answers, or a newer candidate supersedes it.
	if e.opts.Gate != nil && tx.replacesLiveState() && !tx.ungated() {
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.GateTimeout)
		w := &window{tx: tx, version: version, start: e.opts.Now(), cancel: cancel, verdict: make(chan error, 1)}
		gt := Transaction{Version: version, Source: tx.req.Source, Targets: tx.changedNames()}
		go func() { w.verdict <- e.opts.Gate.Watch(gctx, gt) }()
		e.pending = w
		e.setStatus(func(s *Status) { s.Applied = version })
		o := tx.outcome(Pending, version, "", nil)
		o.Active = e.activeVersion()
		e.publishPending(tx, o)
		if tx.ticket != nil {
			tx.ticket.pend(o)
		}
		return true
	}
	e.complete(ctx, tx, tx.commit(ctx, version))
	return true
}

// apply makes one change live with its deadline. A config change is
// applied under the view lock together with the live version, so that
// View never pairs its data with another version.
func (e *Engine) apply(ctx context.Context, p *prepared, version uint64) error {
	if p.summary.Kind == KindConfig {
		e.view.Lock()
		defer e.view.Unlock()
	}
	err := e.bounded(ctx, "apply of "+p.target.Name(), e.opts.StepTimeout, p.change.Apply, lateRollback(p.change))
	if err == nil {
		p.applied, p.version = true, version
		e.setStatus(func(s *Status) { s.Live, s.State = version, StatePending })
	}
	return err
}

// setLive sets the live version and its state under the view lock.
func (e *Engine) setLive(version uint64, state string) {
	e.view.Lock()
	e.setStatus(func(s *Status) { s.Live, s.State = version, state })
	e.view.Unlock()
}

// conclude ends the pending transaction with its gate's verdict: commit on
// nil, else roll back for cause.
func (e *Engine) conclude(ctx context.Context, verdict error, cause string) {
	w := e.pending
	e.pending = nil
	w.cancel()
	w.tx.step("health", w.start)
	e.setStatus(func(s *Status) { s.Applied = 0 })
	if verdict != nil {
		e.complete(ctx, w.tx, w.tx.rollback(ctx, w.version, cause, verdict))
		return
	}
	e.complete(ctx, w.tx, w.tx.commit(ctx, w.version))
}

// supersede ends the window of the pending transaction w in favour of next,
// which is prepared and takes w's applied changes (and those w had taken)
// beneath its own: they commit or roll back with it.
func (e *Engine) supersede(ctx context.Context, w *window, next *transaction) {
	e.pending = nil
	w.cancel()
	<-w.verdict
	w.tx.step("health", w.start)
	e.setStatus(func(s *Status) { s.Applied = 0 })
	by := e.next // the version next gets
	reason := fmt.Sprintf("superseded by version %d before its health window ended", by)
	if err := e.opts.History.Put(ctx, w.tx.record(w.version, Superseded, reason), nil); err != nil {
		e.log.Error("recording a superseded version in history", "version", w.version, "err", err)
	}
	next.inherited = append(slices.Clone(w.tx.inherited), w.tx.changes...)
	o := w.tx.outcome(Superseded, w.version, "", nil)
	o.Reason, o.SupersededBy = reason, by
	e.complete(ctx, w.tx, o)
}

// complete records a finished transaction's outcome everywhere (status,
// loop breaker, events, observer, log, audit) and answers its ticket.
func (e *Engine) complete(ctx context.Context, tx *transaction, o Outcome) {
	o.Duration = e.opts.Now().Sub(tx.start)
	if o.Result != Committed {
		o.Active = e.activeVersion()
	}
	e.finish(tx.req, o, tx)
	e.auditResult(ctx, tx.req, o)
	if tx.ticket != nil {
		tx.ticket.end(o, nil)
	}
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
	case Committed, Unchanged, Superseded:
		e.log.Info("reload", append(attrs, "reason", o.Reason)...)
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

// publishPending tells subscribers that a candidate is live and in its
// health window.
func (e *Engine) publishPending(tx *transaction, o Outcome) {
	if e.opts.Publisher == nil {
		return
	}
	e.opts.Publisher.Publish(PendingEvent{
		Header:  Header{Type: TypePending, Time: e.opts.Now(), Source: tx.req.Source},
		Version: o.Version, Active: o.Active, Targets: tx.changedNames(),
	})
}

// transaction is the state of one run of the pipeline.
type transaction struct {
	e       *Engine
	req     Request
	ticket  *Ticket // nil for none
	start   time.Time
	timings map[string]time.Duration
	kinds   map[string]Kind
	changes []*prepared
	// inherited are the applied changes of the superseded transactions
	// beneath this one, oldest first; they commit or roll back with it.
	inherited []*prepared
	// pinned names the targets whose candidate was dropped because it is
	// the source a rollback pinned against.
	pinned []string
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

// all lists the inherited changes, then the transaction's own.
func (tx *transaction) all() []*prepared {
	return append(slices.Clone(tx.inherited), tx.changes...)
}

// commit makes the transaction's version, with what it inherited, last
// known good: durable first, then the old states are released.
func (tx *transaction) commit(ctx context.Context, version uint64) Outcome {
	e := tx.e
	t0 := e.opts.Now()
	snaps := maps.Clone(e.snapshots)
	for _, p := range tx.all() {
		snaps[p.target.Name()] = p.summary.Snapshot
		if tx.req.restoredFrom == 0 {
			delete(e.pins, p.target.Name()) // a change other than a rollback ends a pin
		}
	}
	rec := tx.record(version, Committed, "")
	if err := e.opts.History.Put(ctx, rec, snaps); err != nil {
		return tx.rollback(ctx, version, "history", fmt.Errorf("recording the commit in history: %w", err))
	}
	for _, p := range tx.all() {
		if err := p.change.Commit(ctx); err != nil {
			e.log.Error("releasing the old state after commit", "target", p.target.Name(), "err", err)
		}
	}
	e.snapshots = snaps
	if tx.req.restoredFrom != 0 && tx.pin(ctx) {
		if err := e.opts.History.Put(ctx, tx.record(version, Committed, ""), nil); err != nil {
			e.log.Error("recording the pin of a rollback in history", "version", version, "err", err)
		}
	}
	tx.step("commit", t0)
	changed := tx.changedNames()
	e.view.Lock()
	e.setStatus(func(s *Status) {
		s.Active, s.Live, s.State = version, version, StateCommitted
		for i := range s.Targets {
			if slices.Contains(changed, s.Targets[i].Name) {
				s.Targets[i].Version = version
			}
		}
	})
	e.view.Unlock()
	o := tx.outcome(Committed, version, "", nil)
	o.Active = version
	return o
}

// pin compares, after an explicit rollback committed, the source of each
// restored target that can read it (SourceReader) with the restored state:
// where they differ (a source hotreload does not write), the target is
// pinned to the rollback until its source changes. It reports whether any
// pin changed.
func (tx *transaction) pin(ctx context.Context) bool {
	e := tx.e
	changed := false
	for _, p := range tx.changes {
		sr, ok := p.target.(SourceReader)
		if !ok {
			continue
		}
		name := p.target.Name()
		var src []byte
		err := e.bounded(ctx, "reading the source of "+name, e.opts.StepTimeout, func(ctx context.Context) error {
			var err error
			src, err = sr.ReadSource(ctx)
			return err
		}, nil)
		pin := "unreadable"
		if err == nil {
			pin = digest(src)
		}
		old, had := e.pins[name]
		if pin == digest(p.summary.Snapshot) {
			delete(e.pins, name)
			changed = changed || had
			continue
		}
		e.pins[name] = pin
		changed = changed || old != pin
		e.log.Info("rollback pinned: the source still holds another state; it is ignored until it changes",
			"target", name, "version", tx.req.restoredFrom)
	}
	return changed
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

// liveSnapshot returns the snapshot of a target's live state: the pending
// transaction's candidate while one is in its window, else the committed
// one.
func (e *Engine) liveSnapshot(name string) ([]byte, bool) {
	if w := e.pending; w != nil {
		all := w.tx.all()
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].target.Name() == name {
				return all[i].summary.Snapshot, true
			}
		}
	}
	snap, ok := e.snapshots[name]
	return snap, ok
}

// fromSource reports whether a candidate comes from the target's source
// (its files, an etcd value) rather than from a patch or history.
func fromSource(c Candidate) bool { return len(c.Patch) == 0 && len(c.Snapshot) == 0 }

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
		all = append(all, &prepared{target: t, candidate: c, change: ch, summary: ch.Summary()})
	}
	if len(errs) == 0 {
		// Drop candidates equal to the live state, and a source's that a
		// rollback pinned against.
		for _, p := range all {
			name, d := p.target.Name(), digest(p.summary.Snapshot)
			cur, ok := e.liveSnapshot(name)
			pinned := fromSource(p.candidate) && e.pins[name] == d
			if ok && digest(cur) == d || pinned {
				_ = p.change.Rollback(ctx)
				if pinned && !(ok && digest(cur) == d) {
					tx.pinned = append(tx.pinned, name)
				}
				continue
			}
			tx.changes = append(tx.changes, p)
			tx.kinds[name] = p.summary.Kind
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

// rollback restores every applied change, its own then the inherited ones,
// newest first, so every target is back on the last committed version, and
// records why.
func (tx *transaction) rollback(ctx context.Context, version uint64, cause string, err error) Outcome {
	e := tx.e
	t0 := e.opts.Now()
	var rbErrs []error
	all := tx.all()
	for i := len(all) - 1; i >= 0; i-- {
		p := all[i]
		if !p.applied {
			continue
		}
		if rerr := e.undo(ctx, p, all[:i]); rerr != nil {
			rbErrs = append(rbErrs, fmt.Errorf("rolling back %s: %w", p.target.Name(), rerr))
		}
	}
	e.setLive(e.activeVersion(), StateCommitted)
	tx.step("rollback", t0)
	if len(rbErrs) > 0 {
		// A target that cannot roll back is a bug in that target; say so loudly.
		e.log.Error("rollback incomplete", "version", version, "err", errors.Join(rbErrs...))
		err = errors.Join(append([]error{err}, rbErrs...)...)
	}
	if perr := e.opts.History.Put(ctx, tx.record(version, RolledBack, err.Error()), nil); perr != nil {
		e.log.Error("recording a rollback in history", "version", version, "err", perr)
	}
	return tx.outcome(RolledBack, version, cause, err)
}

// undo rolls one applied change back. A config change is rolled back under
// the view lock, with the live version set to that of the newest change
// still applied beneath it (below), or the active one.
func (e *Engine) undo(ctx context.Context, p *prepared, below []*prepared) error {
	if p.summary.Kind != KindConfig {
		p.applied = false
		return p.change.Rollback(ctx)
	}
	e.view.Lock()
	defer e.view.Unlock()
	p.applied = false
	err := p.change.Rollback(ctx)
	live, state := e.activeVersion(), StateCommitted
	for _, q := range below {
		if q.applied && q.version > live {
			live, state = q.version, StatePending
		}
	}
	e.setStatus(func(s *Status) { s.Live, s.State = live, state })
	return err
}

// replacesLiveState reports whether any change replaces a state that was
// live before the transaction.
func (tx *transaction) replacesLiveState() bool {
	if len(tx.inherited) > 0 {
		return true
	}
	for _, p := range tx.changes {
		if _, ok := tx.e.snapshots[p.target.Name()]; ok {
			return true
		}
	}
	return false
}

// ungated reports whether every target the transaction changes is
// Ungated.
func (tx *transaction) ungated() bool {
	all := tx.all()
	return len(all) > 0 && !slices.ContainsFunc(all, func(p *prepared) bool { return !ungated(p.target) })
}

// changedNames lists the targets the transaction changes, with those its
// inherited changes changed, once each.
func (tx *transaction) changedNames() []string {
	var out []string
	for _, p := range tx.all() {
		if !slices.Contains(out, p.target.Name()) {
			out = append(out, p.target.Name())
		}
	}
	return out
}

func (tx *transaction) candidateSnapshots() map[string][]byte {
	out := map[string][]byte{}
	for _, p := range tx.all() {
		out[p.target.Name()] = p.summary.Snapshot
	}
	return out
}

// metaPinned is the TargetState.Meta key that carries a pin: the digest of
// the source's snapshot that a rollback pinned against.
const metaPinned = "pinned_source"

// record describes the transaction for history: every registered target's
// state in this version, and the pins in force.
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
		for _, p := range tx.all() {
			if p.target.Name() == name {
				st.Kind, st.Digest, st.Changed, st.Meta = p.summary.Kind, digest(p.summary.Snapshot), true, p.summary.Meta
			}
		}
		if pin, ok := tx.e.pins[name]; ok && result == Committed {
			st.Meta = maps.Clone(st.Meta)
			if st.Meta == nil {
				st.Meta = map[string]string{}
			}
			st.Meta[metaPinned] = pin
		}
		rec.Targets = append(rec.Targets, st)
	}
	return rec
}

// outcome builds the answer for a transaction. It names every target the
// transaction touched or tried to, in name order.
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
