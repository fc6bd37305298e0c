package hotreload_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/hotreloadtest"
	"github.com/cybercorp/hotreload/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// valueTarget is a Target holding one string, with faults to inject.
type valueTarget struct {
	name      string
	source    atomic.Pointer[string] // what a reload from source reads
	live      atomic.Pointer[string]
	failApply atomic.Bool
	applies   atomic.Int32
	onCommit  func() // called by each change's Commit; set before the reload
}

func newValueTarget(name, initial string) *valueTarget {
	t := &valueTarget{name: name}
	t.source.Store(&initial)
	return t
}

func (t *valueTarget) Name() string         { return t.name }
func (t *valueTarget) Kind() hotreload.Kind { return hotreload.KindConfig }
func (t *valueTarget) Live() string {
	p := t.live.Load()
	if p == nil {
		return ""
	}
	return *p
}
func (t *valueTarget) setSource(s string) { t.source.Store(&s) }

func (t *valueTarget) Prepare(_ context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	v := *t.source.Load()
	switch {
	case c.Snapshot != nil:
		v = string(c.Snapshot)
	case c.Content != nil:
		v = string(c.Content)
	}
	if strings.HasPrefix(v, "bad") {
		return nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: "invalid value",
			Details: []hotreload.FieldError{{File: t.name + ".txt", Line: 1, Column: 1, Path: "/", Message: "must not start with bad"}}}
	}
	return &valueChange{t: t, v: v}, nil
}

type valueChange struct {
	t   *valueTarget
	v   string
	old *string
}

func (c *valueChange) Summary() hotreload.Summary {
	return hotreload.Summary{Kind: hotreload.KindConfig, Snapshot: []byte(c.v),
		Changes: []hotreload.PathChange{{Path: "/", New: c.v}}}
}

func (c *valueChange) Apply(context.Context) error {
	if c.t.failApply.Load() {
		return errors.New("injected apply failure")
	}
	c.t.applies.Add(1)
	c.old = c.t.live.Swap(&c.v)
	return nil
}

func (c *valueChange) Rollback(context.Context) error {
	if c.old != nil {
		c.t.live.Store(c.old)
	}
	return nil
}

func (c *valueChange) Commit(context.Context) error {
	c.old = nil
	if c.t.onCommit != nil {
		c.t.onCommit()
	}
	return nil
}

// faultyHistory is a real history store whose writes can be made to fail.
type faultyHistory struct {
	hotreload.History
	failPut atomic.Bool
}

func newHistory(t testing.TB) *faultyHistory {
	t.Helper()
	s, err := history.Open(history.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &faultyHistory{History: s}
}

func (h *faultyHistory) Put(ctx context.Context, entries ...hotreload.Entry) error {
	if h.failPut.Load() {
		return errors.New("injected disk failure")
	}
	return h.History.Put(ctx, entries...)
}

// recorder is a Publisher and Observer that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	events   []any
	outcomes []hotreload.Outcome
}

func (r *recorder) Publish(ev any) { r.mu.Lock(); r.events = append(r.events, ev); r.mu.Unlock() }
func (r *recorder) Observe(o hotreload.Outcome) {
	r.mu.Lock()
	r.outcomes = append(r.outcomes, o)
	r.mu.Unlock()
}

type gateFunc func(context.Context, hotreload.Transaction) error

func (g gateFunc) Watch(ctx context.Context, tx hotreload.Transaction) error { return g(ctx, tx) }

// startEngine runs an engine until the test ends.
func startEngine(t *testing.T, opts hotreload.Options) *hotreload.Engine {
	t.Helper()
	if opts.History == nil {
		opts.History = newHistory(t)
	}
	e := hotreload.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func mustAdd(t *testing.T, e *hotreload.Engine, targets ...hotreload.Target) {
	t.Helper()
	for _, tg := range targets {
		o, err := e.Add(context.Background(), tg)
		if err != nil {
			t.Fatalf("Add(%s): %v", tg.Name(), err)
		}
		if o.Result != hotreload.Committed {
			t.Fatalf("Add(%s): %s %s", tg.Name(), o.Result, o.Reason)
		}
	}
}

func reload(t *testing.T, e *hotreload.Engine, r hotreload.Request) hotreload.Outcome {
	t.Helper()
	o, err := e.Reload(context.Background(), r)
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	return o
}

func content(target, v string) hotreload.Candidate {
	return hotreload.Candidate{Target: target, Content: []byte(v)}
}

// Whoever reads a version's record committed reads it active in Status
// too: the engine makes it active before the targets release their old
// state (hotreload rollback reads the record, then the status).
func TestCommittedRecordMeansActive(t *testing.T) {
	h := newHistory(t)
	e := startEngine(t, hotreload.Options{History: h})
	a := newValueTarget("a", "one")
	mustAdd(t, e, a)
	var rec hotreload.Record
	var active uint64
	a.onCommit = func() {
		rec, _ = h.Get(context.Background(), 2)
		active = e.Status().Active
	}
	if o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "two")}}); o.Result != hotreload.Committed {
		t.Fatalf("outcome %+v", o)
	}
	if rec.Result != hotreload.Committed || active != 2 {
		t.Fatalf("while the target released its old state: record 2 %q, Status().Active %d, want committed and 2", rec.Result, active)
	}
}

func TestEngine(t *testing.T) {
	t.Run("Committed", func(t *testing.T) {
		rec := &recorder{}
		h := newHistory(t)
		e := startEngine(t, hotreload.Options{History: h, Publisher: rec, Observer: rec})
		a := newValueTarget("a", "one")
		mustAdd(t, e, a)
		o := reload(t, e, hotreload.Request{Source: "api", Author: "ann", Candidates: []hotreload.Candidate{content("a", "two")}})
		if o.Result != hotreload.Committed || o.Version != 2 || o.Active != 2 || a.Live() != "two" {
			t.Fatalf("outcome %+v, live %q", o, a.Live())
		}
		if st := e.Status(); st.Active != 2 || st.Targets[0].Version != 2 || st.Targets[0].Digest != hotreload.Digest([]byte("two")) {
			t.Fatalf("status %+v", st)
		}
		got, _ := h.Get(context.Background(), 2)
		if got.Result != hotreload.Committed || got.Author != "ann" || got.Source != "api" || !got.Targets[0].Changed {
			t.Fatalf("history record %+v", got)
		}
		snap, _ := h.Snapshot(context.Background(), 2, "a")
		if string(snap) != "two" {
			t.Fatalf("snapshot %q", snap)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var types []string
		for _, ev := range rec.events {
			types = append(types, fmt.Sprintf("%T", ev))
		}
		want := []string{"hotreload.ReloadStartEvent", "hotreload.ConfigReloadEvent", "hotreload.ReloadEvent"}
		if !slices.Equal(types[len(types)-3:], want) {
			t.Fatalf("events %v, want suffix %v", types, want)
		}
		if len(rec.outcomes) != 2 {
			t.Fatalf("observer saw %d outcomes, want 2", len(rec.outcomes))
		}
	})
	t.Run("Unchanged", func(t *testing.T) {
		e := startEngine(t, hotreload.Options{})
		a := newValueTarget("a", "one")
		mustAdd(t, e, a)
		o := reload(t, e, hotreload.Request{Source: "watch"})
		if o.Result != hotreload.Unchanged || o.Version != 1 || a.applies.Load() != 1 {
			t.Fatalf("outcome %+v, applies %d", o, a.applies.Load())
		}
	})
	t.Run("Rejected", func(t *testing.T) {
		h := newHistory(t)
		e := startEngine(t, hotreload.Options{History: h})
		a := newValueTarget("a", "one")
		mustAdd(t, e, a)
		a.setSource("bad value")
		o := reload(t, e, hotreload.Request{Source: "watch"})
		if o.Result != hotreload.Rejected || a.Live() != "one" || o.Active != 1 {
			t.Fatalf("outcome %+v, live %q", o, a.Live())
		}
		if len(o.Errors) != 1 || o.Errors[0].String() != "a.txt:1:1: /: must not start with bad" {
			t.Fatalf("errors %+v", o.Errors)
		}
		got, err := h.Get(context.Background(), o.Version)
		if err != nil || got.Result != hotreload.Rejected || len(got.Errors) != 1 {
			t.Fatalf("history %+v, %v", got, err)
		}
	})
	t.Run("ApplyFailureRollsBackEarlierTargets", func(t *testing.T) {
		rec := &recorder{}
		e := startEngine(t, hotreload.Options{Observer: rec})
		a, b, c := newValueTarget("a", "a1"), newValueTarget("b", "b1"), newValueTarget("c", "c1")
		mustAdd(t, e, a, b, c)
		c.failApply.Store(true)
		o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{
			content("a", "a2"), content("b", "b2"), content("c", "c2")}})
		if o.Result != hotreload.RolledBack || o.Cause != "apply" {
			t.Fatalf("outcome %+v", o)
		}
		if a.Live() != "a1" || b.Live() != "b1" || c.Live() != "c1" {
			t.Fatalf("live a=%q b=%q c=%q, want all on version 1", a.Live(), b.Live(), c.Live())
		}
		if e.Status().Active != 3 {
			t.Fatalf("active %d, want 3", e.Status().Active)
		}
	})
	t.Run("GateRollsBack", func(t *testing.T) {
		var fail atomic.Bool
		var seen atomic.Value
		var e *hotreload.Engine
		gate := gateFunc(func(_ context.Context, tx hotreload.Transaction) error {
			if st := e.Status(); st.Applied != tx.Version || st.Active == tx.Version {
				return fmt.Errorf("status during the gate: %+v, want applied %d", st, tx.Version)
			}
			seen.Store(tx)
			if fail.Load() {
				return errors.New("critical check \"upstream\" failing")
			}
			return nil
		})
		e = startEngine(t, hotreload.Options{Gate: gate})
		a, b := newValueTarget("a", "a1"), newValueTarget("b", "b1")
		mustAdd(t, e, a, b)
		fail.Store(true)
		o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "a2"), content("b", "b2")}})
		if o.Result != hotreload.RolledBack || o.Cause != "health" || !strings.Contains(o.Reason, "upstream") || e.Status().Applied != 0 {
			t.Fatalf("outcome %+v", o)
		}
		if a.Live() != "a1" || b.Live() != "b1" {
			t.Fatalf("live a=%q b=%q", a.Live(), b.Live())
		}
		if tx := seen.Load().(hotreload.Transaction); !slices.Equal(tx.Targets, []string{"a", "b"}) {
			t.Fatalf("gate saw %+v", tx)
		}
		fail.Store(false)
		if o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "a2")}}); o.Result != hotreload.Committed {
			t.Fatalf("outcome %+v", o)
		}
	})
	t.Run("FirstLoadIsNotGated", func(t *testing.T) {
		gate := gateFunc(func(context.Context, hotreload.Transaction) error { return errors.New("never healthy") })
		e := startEngine(t, hotreload.Options{Gate: gate})
		a := newValueTarget("a", "a1")
		mustAdd(t, e, a) // nothing was live before: nothing to roll back to
		if o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "a2")}}); o.Result != hotreload.RolledBack {
			t.Fatalf("outcome %+v", o)
		}
	})
	t.Run("HistoryFailureRollsBack", func(t *testing.T) {
		h := newHistory(t)
		e := startEngine(t, hotreload.Options{History: h})
		a := newValueTarget("a", "a1")
		mustAdd(t, e, a)
		h.failPut.Store(true)
		// The backup overlaps the apply; its failure rolls the apply back.
		o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "a2")}})
		if o.Result != hotreload.RolledBack || o.Cause != "history" || a.Live() != "a1" {
			t.Fatalf("outcome %+v, live %q", o, a.Live())
		}
	})
	t.Run("Check", func(t *testing.T) {
		e := startEngine(t, hotreload.Options{})
		a := newValueTarget("a", "a1")
		mustAdd(t, e, a)
		_, err := e.Reload(context.Background(), hotreload.Request{Source: "api",
			Candidates: []hotreload.Candidate{content("a", "a2")},
			Check: func(active uint64) error {
				return hotreload.Errorf(hotreload.CodePrecondition, "stale: active is %d", active)
			}})
		if hotreload.ErrorCode(err) != hotreload.CodePrecondition || a.Live() != "a1" {
			t.Fatalf("err %v, live %q", err, a.Live())
		}
	})
	t.Run("UnknownTarget", func(t *testing.T) {
		e := startEngine(t, hotreload.Options{})
		_, err := e.Reload(context.Background(), hotreload.Request{Targets: []string{"nope"}})
		if hotreload.ErrorCode(err) != hotreload.CodeNotFound {
			t.Fatalf("err %v", err)
		}
	})
}

func TestConcurrentRequestsEachAnswered(t *testing.T) {
	h := newHistory(t)
	e := startEngine(t, hotreload.Options{History: h})
	a := newValueTarget("a", "v0")
	mustAdd(t, e, a)
	const n = 100
	var wg sync.WaitGroup
	outs := make(chan hotreload.Outcome, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := fmt.Sprintf("v%d", i+1)
			if i%10 == 0 {
				v = "bad" + v
			}
			outs <- reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", v)}})
		}()
	}
	wg.Wait()
	close(outs)
	seen := map[uint64]hotreload.Result{}
	for o := range outs {
		if _, dup := seen[o.Version]; dup {
			t.Fatalf("version %d answered twice", o.Version)
		}
		seen[o.Version] = o.Result
	}
	if len(seen) != n {
		t.Fatalf("%d distinct versions, want %d", len(seen), n)
	}
	recs, _ := h.List(context.Background())
	if len(recs) != n+1 {
		t.Fatalf("history has %d records, want %d", len(recs), n+1)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Version <= recs[i-1].Version {
			t.Fatalf("history versions not increasing: %d after %d", recs[i].Version, recs[i-1].Version)
		}
		if recs[i].Result != seen[recs[i].Version] {
			t.Fatalf("version %d: history %s, answer %s", recs[i].Version, recs[i].Result, seen[recs[i].Version])
		}
	}
}

func TestRollback(t *testing.T) {
	e := startEngine(t, hotreload.Options{})
	a, b := newValueTarget("a", "a1"), newValueTarget("b", "b1")
	mustAdd(t, e, a, b) // versions 1 and 2
	reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "a3")}})
	reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "a4"), content("b", "b4")}})

	t.Run("Previous", func(t *testing.T) {
		o, err := e.Rollback(context.Background(), 0, hotreload.Actor{Source: "api", Author: "ann"})
		if err != nil || o.Result != hotreload.Committed || o.Version != 5 {
			t.Fatalf("outcome %+v, err %v", o, err)
		}
		if a.Live() != "a3" || b.Live() != "b1" {
			t.Fatalf("live a=%q b=%q, want version 3's", a.Live(), b.Live())
		}
	})
	t.Run("ToVersion", func(t *testing.T) {
		o, err := e.Rollback(context.Background(), 2, hotreload.Actor{Source: "api", Author: "ann"})
		if err != nil || o.Result != hotreload.Committed {
			t.Fatalf("outcome %+v, err %v", o, err)
		}
		if a.Live() != "a1" || b.Live() != "b1" {
			t.Fatalf("live a=%q b=%q, want version 2's", a.Live(), b.Live())
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := e.Rollback(context.Background(), 99, hotreload.Actor{Source: "api"}); hotreload.ErrorCode(err) != hotreload.CodeNotFound {
			t.Fatalf("err %v", err)
		}
	})
}

func TestLoopBreakerFreezesAutomaticReloads(t *testing.T) {
	var fail atomic.Bool
	gate := gateFunc(func(context.Context, hotreload.Transaction) error {
		if fail.Load() {
			return errors.New("unhealthy")
		}
		return nil
	})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Second); return now }
	e := startEngine(t, hotreload.Options{Gate: gate, Now: clock})
	a := newValueTarget("a", "a0")
	mustAdd(t, e, a)
	fail.Store(true)
	for i := range 4 {
		a.setSource(fmt.Sprintf("a%d", i+1))
		if o := reload(t, e, hotreload.Request{Source: "watch"}); o.Result != hotreload.RolledBack {
			t.Fatalf("reload %d: %+v", i, o)
		}
		if frozen := e.Status().Frozen; frozen != (i == 3) {
			t.Fatalf("after %d rollbacks frozen=%v", i+1, frozen)
		}
	}
	fail.Store(false)
	if _, err := e.Reload(context.Background(), hotreload.Request{Source: "watch"}); hotreload.ErrorCode(err) != hotreload.CodeUnavailable {
		t.Fatalf("automatic reload while frozen: err %v", err)
	}
	if o := reload(t, e, hotreload.Request{Source: "api"}); o.Result != hotreload.Committed {
		t.Fatalf("manual reload while frozen: %+v", o)
	}
	if err := e.Unfreeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.setSource("a9")
	if o := reload(t, e, hotreload.Request{Source: "watch"}); o.Result != hotreload.Committed {
		t.Fatalf("after unfreeze: %+v", o)
	}
}

func TestAddServesLastGoodWhenSourceIsInvalid(t *testing.T) {
	h := newHistory(t)
	func() {
		e := hotreload.New(hotreload.Options{History: h})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = e.Run(ctx) }()
		defer func() { cancel(); <-done }()
		a := newValueTarget("a", "good")
		if _, err := e.Add(ctx, a); err != nil {
			t.Fatal(err)
		}
	}()
	e := startEngine(t, hotreload.Options{History: h})
	a := newValueTarget("a", "bad on disk")
	o, err := e.Add(context.Background(), a)
	if err != nil || o.Result != hotreload.Rejected || a.Live() != "good" || o.Active != 1 {
		t.Fatalf("outcome %+v, err %v, live %q", o, err, a.Live())
	}
	t.Run("NothingToServe", func(t *testing.T) {
		e := startEngine(t, hotreload.Options{})
		if _, err := e.Add(context.Background(), newValueTarget("x", "bad")); hotreload.ErrorCode(err) != hotreload.CodeInvalid {
			t.Fatalf("err %v", err)
		}
		if len(e.Status().Targets) != 0 {
			t.Fatal("a target with nothing to serve was registered")
		}
	})
}

// follower joins any transaction in which "config" changes and takes the
// config's new value.
type follower struct{ *valueTarget }

func (f follower) Follow(_ context.Context, prepared map[string]hotreload.Change) (hotreload.Change, error) {
	ch, ok := prepared["config"].(*valueChange)
	if !ok {
		return nil, nil
	}
	return &valueChange{t: f.valueTarget, v: "follows " + ch.v}, nil
}

func TestFollowerSharesTheTransaction(t *testing.T) {
	e := startEngine(t, hotreload.Options{})
	cfg := newValueTarget("config", "c1")
	f := follower{newValueTarget("plugin", "p1")}
	mustAdd(t, e, cfg, f)
	o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("config", "c2")}})
	if o.Result != hotreload.Committed || f.Live() != "follows c2" || len(o.Targets) != 2 {
		t.Fatalf("outcome %+v, follower %q", o, f.Live())
	}
	f.failApply.Store(true)
	o = reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("config", "c3")}})
	if o.Result != hotreload.RolledBack || cfg.Live() != "c2" || f.Live() != "follows c2" {
		t.Fatalf("outcome %+v, config %q, follower %q", o, cfg.Live(), f.Live())
	}
}

func TestStoppedEngine(t *testing.T) {
	e := hotreload.New(hotreload.Options{History: newHistory(t)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if _, err := e.Reload(context.Background(), hotreload.Request{}); hotreload.ErrorCode(err) != hotreload.CodeUnavailable {
		t.Fatalf("Reload after stop: %v", err)
	}
}

func TestValueTargetContract(t *testing.T) {
	hotreloadtest.Run(t, hotreloadtest.Harness{
		New: func(testing.TB) hotreload.Target { return newValueTarget("v", "v0") },
		Valid: func(testing.TB) []hotreload.Candidate {
			return []hotreload.Candidate{content("v", "one"), content("v", "two"), content("v", "three")}
		},
		Invalid: func(testing.TB) []hotreload.Candidate { return []hotreload.Candidate{content("v", "bad")} },
		Live:    func(_ testing.TB, tg hotreload.Target) any { return tg.(*valueTarget).Live() },
		History: func(tb testing.TB) hotreload.History { return newHistory(tb) },
	})
}

// hangingTarget is a valueTarget whose Prepare or Apply blocks, ignoring
// its context, until release is closed: a wedged target.
type hangingTarget struct {
	*valueTarget
	hangPrepare, hangApply atomic.Bool
	release                chan struct{}
}

func (t *hangingTarget) Prepare(ctx context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	if t.hangPrepare.Load() {
		<-t.release
	}
	ch, err := t.valueTarget.Prepare(ctx, c)
	if err != nil {
		return nil, err
	}
	return &hangingChange{ch.(*valueChange), t}, nil
}

type hangingChange struct {
	*valueChange
	t *hangingTarget
}

func (c *hangingChange) Apply(ctx context.Context) error {
	if c.t.hangApply.Load() {
		<-c.t.release
	}
	return c.valueChange.Apply(ctx)
}

// TestStepDeadlines: a Prepare or an Apply that never returns fails its
// transaction at the deadline instead of freezing the engine; Status.Stuck
// names it until it returns, and then its work is undone.
func TestStepDeadlines(t *testing.T) {
	for _, step := range []string{"prepare", "apply"} {
		t.Run(step, func(t *testing.T) {
			e := startEngine(t, hotreload.Options{StepTimeout: testwait.D(200 * time.Millisecond)})
			slow := &hangingTarget{valueTarget: newValueTarget("slow", "v1"), release: make(chan struct{})}
			other := newValueTarget("other", "o1")
			mustAdd(t, e, slow, other)
			if step == "prepare" {
				slow.hangPrepare.Store(true)
			} else {
				slow.hangApply.Store(true)
			}
			o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("other", "o2"), content("slow", "v2")}})
			want := map[string]hotreload.Result{"prepare": hotreload.Rejected, "apply": hotreload.RolledBack}[step]
			if o.Result != want || !strings.Contains(o.Reason, step+" of slow did not finish within") {
				t.Fatalf("outcome %s %q, want %s at the deadline", o.Result, o.Reason, want)
			}
			if got := e.Status().Stuck; !slices.Equal(got, []string{step + " of slow"}) {
				t.Fatalf("Status.Stuck = %v", got)
			}
			if err := e.Check(context.Background()); err == nil || !strings.Contains(err.Error(), step+" of slow") {
				t.Fatalf("Check while the step hangs = %v", err)
			}
			// The engine goes on with other work while the step hangs.
			if o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("other", "o3")}}); o.Result != hotreload.Committed {
				t.Fatalf("the next transaction: %s %s", o.Result, o.Reason)
			}
			close(slow.release)
			testwait.For(t, "the stuck step to return and be undone", 5*time.Second, func() bool {
				return len(e.Status().Stuck) == 0 && slow.Live() == "v1"
			})
			if err := e.Check(context.Background()); err != nil {
				t.Fatalf("Check after the step returned = %v", err)
			}
			if other.Live() != "o3" {
				t.Fatalf("other = %q", other.Live())
			}
		})
	}
}
