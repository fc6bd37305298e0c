package hotreload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// prepared is one target's change within a transaction.
type prepared struct {
	target    Target
	candidate Candidate
	change    Change
	summary   Summary
	applied   bool
	version   uint64 // the version that applied it
	digest    string // Digest(summary.Snapshot), once asked for
	// source is, for a rollback of a SourceReader, the digest of what the
	// source held when the rollback was prepared ("unreadable" when it
	// could not be read).
	source string
}

// snapshotDigest returns the digest of the change's snapshot, hashing it
// on the first call only: a large snapshot takes a millisecond a hash.
func (p *prepared) snapshotDigest() string {
	if p.digest == "" {
		p.digest = Digest(p.summary.Snapshot)
	}
	return p.digest
}

// window is a transaction applied and in its health window.
type window struct {
	tx      *transaction
	version uint64
	start   time.Time
	cancel  context.CancelFunc
	verdict chan error // the gate's answer; buffered
}

// recording is a transaction the gate does not watch, applied and waiting
// for its committed record to be durable (a durable window). It is never
// superseded, since its record may be on disk already. The next change the
// gate would not watch either applies on top of it at once, and its record
// is written in the same or the next Put (group commit); any other request
// waits for every record first (waitDurable).
type recording struct {
	tx      *transaction
	version uint64
	start   time.Time
	rec     Record
	snaps   map[string][]byte // every target's snapshot in the version
	bytes   int               // of the snapshots the version changed
}

// maxRecordings and maxRecordingBytes bound the durable windows open at
// once, in number and in the bytes of their changed snapshots (each window
// holds its state until its record is durable): past either, the next
// change waits for their records. A history write that stalls (a slow
// fsync) holds up saves only once this many have piled up behind it.
const (
	maxRecordings     = 1024
	maxRecordingBytes = 16 << 20
)

// recordingsFull reports whether the durable windows reached a bound.
func (e *Engine) recordingsFull() bool {
	if len(e.recordings) >= maxRecordings {
		return true
	}
	n := 0
	for _, r := range e.recordings {
		n += r.bytes
	}
	return n >= maxRecordingBytes
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
	tx := &transaction{e: e, req: r, ticket: t, start: e.opts.Now(), kinds: map[string]Kind{}}
	e.publishStart(tx)

	// validate
	t0 := e.opts.Now()
	if o, ok := tx.prepare(ctx); !ok {
		e.complete(ctx, tx, o)
		return true
	}
	tx.step("validate", t0)
	// A change the gate would not watch applies on top of the durable
	// windows; anything else waits for their records.
	onTop := len(tx.changes) > 0 && e.pending == nil && !tx.gated() && !e.recordingsFull()
	if !onTop && !e.waitDurable(ctx) {
		tx.discard(ctx, 0)
		return false
	}
	if len(tx.changes) == 0 {
		live := e.liveVersion()
		if err := e.opts.History.Put(ctx, Entry{Record: tx.record(live, Unchanged, "")}); err != nil {
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
	gated := tx.gated()

	// backup: the live state is durable already; record the candidate. The
	// write and its fsync overlap the apply: the record must be durable
	// before the health gate and the commit, not before the candidate goes
	// live, since a crash in between loses nothing anyone was told.
	//
	// A change the gate will not watch is folded: it writes no pending
	// record, only the committed one, which carries the candidates'
	// snapshots (recordCommit), while the engine takes the next request. A
	// crash before that record is durable leaves no trace of the version in
	// history, and start-up restores the last committed version, which is
	// all anyone was told.
	backup := make(chan error, 1)
	var backupTook time.Duration // written before the send, read after the receive
	if gated {
		rec := tx.record(version, Pending, "")
		candidates := tx.candidateSnapshots()
		go func(t0 time.Time) {
			err := e.opts.History.Put(ctx, Entry{Record: rec, Snapshots: candidates})
			backupTook = e.opts.Now().Sub(t0)
			backup <- err
		}(e.opts.Now())
	}

	// apply (subscribers are notified by each target as it applies)
	t0 = e.opts.Now()
	for i, p := range tx.changes {
		t1 := e.opts.Now()
		err := e.apply(ctx, p, version)
		tx.step("apply."+p.target.Name(), t1)
		if err != nil {
			// A failed Apply may have done part of its work; one that
			// overran is rolled back when it returns.
			p.applied = !errors.Is(err, errStepTimeout)
			tx.discard(ctx, i+1)
			if gated {
				<-backup // no other history write races the backup
			}
			e.complete(ctx, tx, tx.rollback(ctx, version, "apply", fmt.Errorf("applying %s: %w", p.target.Name(), err)))
			return true
		}
	}
	e.setLive(version, StatePending)
	tx.step("apply", t0)
	if !gated {
		e.recordCommit(ctx, tx, version)
		return true
	}
	err := <-backup
	tx.took("backup", backupTook)
	if err != nil {
		e.complete(ctx, tx, tx.rollback(ctx, version, "history", fmt.Errorf("recording the candidate in history: %w", err)))
		return true
	}

	// health gate: on its own goroutine; Run concludes the transaction
	// when it answers, or a newer candidate supersedes it.
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opts.GateTimeout)
	w := &window{tx: tx, version: version, start: e.opts.Now(), cancel: cancel, verdict: make(chan error, 1)}
	gt := Transaction{Version: version, Source: tx.req.Source, Targets: tx.changedNames()}
	e.pending = w
	e.setStatus(func(s *Status) { s.Applied = version }) // before the gate can look
	go func() { w.verdict <- e.opts.Gate.Watch(gctx, gt) }()
	o := tx.outcome(Pending, version, "", nil)
	o.Active = e.activeVersion()
	e.publishPending(tx, o)
	if tx.ticket != nil {
		tx.ticket.pend(o)
	}
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

// recordCommit opens a durable window for a transaction the gate does not
// watch: its committed record, which carries every target's snapshot, is
// written by the Put in flight's successor, or by a new Put when none is in
// flight. Its ticket is live at once (Submit returns), and the engine takes
// the next request.
func (e *Engine) recordCommit(ctx context.Context, tx *transaction, version uint64) {
	r := &recording{tx: tx, version: version, start: e.opts.Now(), snaps: tx.snapshots(), rec: tx.record(version, Committed, "")}
	for _, p := range tx.all() {
		r.bytes += len(p.summary.Snapshot)
	}
	e.recordings = append(e.recordings, r)
	if e.written == nil && e.gather == nil {
		e.writeRecords(ctx)
	}
	if tx.ticket != nil {
		o := tx.outcome(Pending, version, "", nil)
		o.Active = e.activeVersion()
		tx.ticket.pend(o)
	}
}

// groupDelay is how long records that piled up behind a Put wait for
// more before the next Put: during a burst of saves, one fsync then makes
// several versions durable, and the disk is left to the saves in between.
// Each version is live before its record is written, so the wait delays
// only its commit. A record that finds no Put in flight is written at once.
var groupDelay = 2 * time.Millisecond

// writeRecords starts one Put of the records of every durable window not
// being written yet; its verdict arrives on e.written.
func (e *Engine) writeRecords(ctx context.Context) {
	e.gather = nil
	entries := make([]Entry, 0, len(e.recordings)-e.writing)
	for _, r := range e.recordings[e.writing:] {
		entries = append(entries, Entry{Record: r.rec, Snapshots: r.snaps})
	}
	e.writing = len(e.recordings)
	written := make(chan error, 1)
	e.written = written
	go func() { written <- e.opts.History.Put(ctx, entries...) }()
}

// recorded ends the Put in flight with its verdict. On nil, the durable
// windows it wrote commit, oldest first, and the next Put starts for those
// opened since. Otherwise every durable window rolls back, newest first:
// those opened since were applied on top of the ones it failed to write.
func (e *Engine) recorded(ctx context.Context, err error) {
	n := e.writing
	e.writing, e.written = 0, nil
	if err != nil {
		failed := e.recordings[0].version
		for i := len(e.recordings) - 1; i >= 0; i-- {
			r := e.recordings[i]
			e.recordings = e.recordings[:i] // the windows still beneath r
			cause := fmt.Errorf("recording the commit in history: %w", err)
			if i >= n {
				cause = fmt.Errorf("applied on version %d, whose commit could not be recorded in history: %w", failed, err)
			}
			r.tx.step("commit", r.start)
			r.tx.uncounted = i > 0 // the loop breaker counts one failed Put once
			e.complete(ctx, r.tx, r.tx.rollback(ctx, r.version, "history", cause))
		}
		return
	}
	for range n {
		r := e.recordings[0]
		e.recordings = e.recordings[1:]
		r.tx.step("commit", r.start)
		e.complete(ctx, r.tx, r.tx.committed(ctx, r.version, r.snaps))
	}
	if len(e.recordings) == 0 {
		e.recordings = nil
		return
	}
	e.gather = time.After(groupDelay)
}

// waitDurable waits until every durable window has ended: before a request
// that writes history other than by recordCommit, or that applies on a
// committed state. It reports false when a record could not be written:
// those versions were rolled back, and a candidate prepared on top of them
// must be prepared again.
func (e *Engine) waitDurable(ctx context.Context) bool {
	ok := true
	for e.written != nil || e.gather != nil {
		if e.written == nil {
			e.writeRecords(ctx)
		}
		err := <-e.written
		ok = ok && err == nil
		e.recorded(ctx, err)
	}
	return ok
}

// conclude ends the pending transaction with its gate's verdict: it
// commits on nil, else rolls back for cause.
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
	if err := e.opts.History.Put(ctx, Entry{Record: w.tx.record(w.version, Superseded, reason)}); err != nil {
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
	if o.Result == RolledBack && !tx.uncounted {
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
	for _, t := range tx.timings {
		attrs = append(attrs, t.step, t.took.Round(time.Microsecond))
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
	timings []timing // in the order the steps ended
	kinds   map[string]Kind
	changes []*prepared
	// inherited are the applied changes of the superseded transactions
	// beneath this one, oldest first; they commit or roll back with it.
	inherited []*prepared
	// pinned names the targets whose candidate was dropped because it is
	// the source a rollback pinned against.
	pinned []string
	// uncounted marks a rollback the loop breaker does not count: a
	// durable window rolled back with older ones by the same failed Put.
	uncounted bool
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

// timing is how long one step took, for the log: "validate", "apply",
// "backup", "health", "commit", "rollback", and per target
// "validate.NAME", "apply.NAME".
type timing struct {
	step string
	took time.Duration
}

func (tx *transaction) step(name string, t0 time.Time) { tx.took(name, tx.e.opts.Now().Sub(t0)) }

// took records how long a step took; a step that ends twice keeps its
// last time and its first place.
func (tx *transaction) took(name string, d time.Duration) {
	for i := range tx.timings {
		if tx.timings[i].step == name {
			tx.timings[i].took = d
			return
		}
	}
	tx.timings = append(tx.timings, timing{name, d})
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
// known good: durable first, then the old states are released. Its record
// carries every target's snapshot, so a transaction that was not gated
// needs no other (no pending record before it). Nothing says the version
// is committed (outcome, events, status, pins) before the record is
// durable; if it cannot be written, the transaction is rolled back.
func (tx *transaction) commit(ctx context.Context, version uint64) Outcome {
	e := tx.e
	t0 := e.opts.Now()
	snaps := tx.snapshots()
	rec := tx.record(version, Committed, "")
	if err := e.opts.History.Put(ctx, Entry{Record: rec, Snapshots: snaps}); err != nil {
		return tx.rollback(ctx, version, "history", fmt.Errorf("recording the commit in history: %w", err))
	}
	o := tx.committed(ctx, version, snaps)
	tx.step("commit", t0)
	return o
}

// snapshots returns every target's snapshot in the transaction's version:
// those it applied on (base), with those it changes replaced.
func (tx *transaction) snapshots() map[string][]byte {
	snaps := maps.Clone(tx.e.base())
	for _, p := range tx.all() {
		snaps[p.target.Name()] = p.summary.Snapshot
	}
	return snaps
}

// committed finishes a commit whose record, carrying snaps, is durable.
// The version is active from there on, in Status too, before the targets
// release their old state and a rollback's pins are set: whoever reads
// the record committed reads the version active. The live version stays
// that of a durable window opened on top of it.
func (tx *transaction) committed(ctx context.Context, version uint64, snaps map[string][]byte) Outcome {
	e := tx.e
	changed := tx.changedNames()
	e.view.Lock()
	e.snapshots = snaps
	e.setStatus(func(s *Status) {
		s.Active, s.Live, s.State = version, version, StateCommitted
		if n := len(e.recordings); n > 0 {
			s.Live, s.State = e.recordings[n-1].version, StatePending
		}
		for i := range s.Targets {
			if slices.Contains(changed, s.Targets[i].Name) {
				s.Targets[i].Version = version
			}
		}
	})
	e.view.Unlock()
	for _, p := range tx.all() {
		if tx.endsPin(p.target.Name()) {
			delete(e.pins, p.target.Name())
		}
	}
	for _, p := range tx.all() {
		if err := p.change.Commit(ctx); err != nil {
			e.log.Error("releasing the old state after commit", "target", p.target.Name(), "err", err)
		}
	}
	if tx.req.restoredFrom != 0 && tx.pin() {
		if err := e.opts.History.Put(ctx, Entry{Record: tx.record(version, Committed, "")}); err != nil {
			e.log.Error("recording the pin of a rollback in history", "version", version, "err", err)
		}
	}
	o := tx.outcome(Committed, version, "", nil)
	o.Active = version
	return o
}

// readSources records, for an explicit rollback, what the source of each
// changed target that can read it (SourceReader) holds before anything is
// applied: pin compares it with the restored state once committed.
func (tx *transaction) readSources(ctx context.Context) {
	e := tx.e
	for _, p := range tx.changes {
		sr, ok := p.target.(SourceReader)
		if !ok {
			continue
		}
		var src []byte
		err := e.bounded(ctx, "reading the source of "+p.target.Name(), e.opts.StepTimeout, func(ctx context.Context) error {
			var err error
			src, err = sr.ReadSource(ctx)
			return err
		}, nil)
		p.source = "unreadable"
		if err == nil {
			p.source = Digest(src)
		}
	}
}

// pin sets, after an explicit rollback committed, the pin of each restored
// target whose source was read (readSources): where the source held
// another state than the restored one and the change did not write the
// restored state back (SourceWriter), the target is pinned to the rollback
// until its source changes; else its pin ends. It reports whether any pin
// changed.
func (tx *transaction) pin() bool {
	e := tx.e
	changed := false
	for _, p := range tx.changes {
		if p.source == "" {
			continue
		}
		name := p.target.Name()
		old, had := e.pins[name]
		sw, writes := p.change.(SourceWriter)
		if writes && sw.WroteSource() || p.source == p.snapshotDigest() {
			delete(e.pins, name)
			changed = changed || had
			continue
		}
		e.pins[name] = p.source
		changed = changed || old != p.source
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
// transaction's candidate while one is in its window, else base's.
func (e *Engine) liveSnapshot(name string) ([]byte, bool) {
	if w := e.pending; w != nil {
		all := w.tx.all()
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].target.Name() == name {
				return all[i].summary.Snapshot, true
			}
		}
	}
	snap, ok := e.base()[name]
	return snap, ok
}

// base returns every target's snapshot in the newest version applied
// outside a health window: the newest durable window's, else the committed
// ones.
func (e *Engine) base() map[string][]byte {
	if n := len(e.recordings); n > 0 {
		return e.recordings[n-1].snaps
	}
	return e.snapshots
}

// beneath returns the version live and its state once every change above
// the durable windows is undone: the newest durable window's (pending), or
// the active one.
func (e *Engine) beneath() (uint64, string) {
	if n := len(e.recordings); n > 0 {
		return e.recordings[n-1].version, StatePending
	}
	return e.activeVersion(), StateCommitted
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
		t1 := e.opts.Now()
		err := e.bounded(ctx, "prepare of "+c.Target, e.opts.StepTimeout, func(ctx context.Context) error {
			var err error
			ch, err = t.Prepare(ctx, c)
			return err
		}, func() {
			if ch != nil {
				_ = ch.Rollback(context.Background())
			}
		})
		tx.step("validate."+c.Target, t1)
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
			name := p.target.Name()
			cur, ok := e.liveSnapshot(name)
			live := ok && bytes.Equal(cur, p.summary.Snapshot)
			pin, hasPin := e.pins[name]
			pinned := hasPin && fromSource(p.candidate) && pin == p.snapshotDigest()
			if live || pinned {
				_ = p.change.Rollback(ctx)
				if pinned && !live {
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
		if len(errs) == 0 && tx.req.restoredFrom != 0 {
			tx.readSources(ctx)
		}
	} else {
		tx.changes = all
	}
	if len(errs) > 0 {
		tx.discard(ctx, 0)
		e.waitDurable(ctx) // history in order
		version := e.next
		e.next++
		err := errors.Join(errs...)
		o := tx.outcome(Rejected, version, "", err)
		rec := tx.record(version, Rejected, o.Reason)
		rec.Errors = o.Errors
		if perr := e.opts.History.Put(ctx, Entry{Record: rec}); perr != nil {
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
	e.setLive(e.beneath())
	tx.step("rollback", t0)
	if len(rbErrs) > 0 {
		// A target that cannot roll back is a bug in that target; say so loudly.
		e.log.Error("rollback incomplete", "version", version, "err", errors.Join(rbErrs...))
		err = errors.Join(append([]error{err}, rbErrs...)...)
	}
	if perr := e.opts.History.Put(ctx, Entry{Record: tx.record(version, RolledBack, err.Error())}); perr != nil {
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
	live, state := e.beneath()
	for _, q := range below {
		if q.applied && q.version > live {
			live, state = q.version, StatePending
		}
	}
	e.setStatus(func(s *Status) { s.Live, s.State = live, state })
	return err
}

// gated reports whether the health gate watches the transaction: a first
// load has nothing to roll back to, and an ungated change has nothing to
// watch, so neither is gated.
func (tx *transaction) gated() bool {
	return tx.e.opts.Gate != nil && tx.replacesLiveState() && !tx.ungated()
}

// replacesLiveState reports whether any change replaces a state that was
// live before the transaction.
func (tx *transaction) replacesLiveState() bool {
	if len(tx.inherited) > 0 {
		return true
	}
	for _, p := range tx.changes {
		if _, ok := tx.e.base()[p.target.Name()]; ok {
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

// endsPin reports whether committing the transaction ends the pin of the
// target name: a change other than a rollback does.
func (tx *transaction) endsPin(name string) bool {
	return tx.req.restoredFrom == 0 && slices.ContainsFunc(tx.all(), func(p *prepared) bool { return p.target.Name() == name })
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
		if snap, ok := tx.e.base()[name]; ok {
			st.Digest = Digest(snap)
		}
		for _, p := range tx.all() {
			if p.target.Name() == name {
				st.Kind, st.Digest, st.Changed, st.Meta = p.summary.Kind, p.snapshotDigest(), true, p.summary.Meta
			}
		}
		if pin, ok := tx.e.pins[name]; ok && result == Committed && !tx.endsPin(name) {
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
			o.Reason = FirstLine(o.Reason)
		}
	}
	for _, name := range tx.names() {
		to := TargetOutcome{Target: name, Kind: tx.kinds[name]}
		for _, p := range tx.changes {
			if p.target.Name() == name {
				to.Digest, to.Changes, to.Modules = p.snapshotDigest(), p.summary.Changes, p.summary.Modules
			}
		}
		o.Targets = append(o.Targets, to)
	}
	return o
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
