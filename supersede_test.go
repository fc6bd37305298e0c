package hotreload_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cybercorp/hotreload"
)

// heldGate is a health gate that holds every window until the test
// releases it with a verdict, or the window is cancelled.
type heldGate struct {
	release chan error
	seen    chan hotreload.Transaction
}

func newHeldGate() *heldGate {
	return &heldGate{release: make(chan error), seen: make(chan hotreload.Transaction, 10)}
}

func (g *heldGate) Watch(ctx context.Context, tx hotreload.Transaction) error {
	g.seen <- tx
	select {
	case err := <-g.release:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pending starts a transaction and waits until it is in its window.
func pending(t *testing.T, e *hotreload.Engine, c hotreload.Candidate) *hotreload.Ticket {
	t.Helper()
	tk, err := e.Start(context.Background(), hotreload.Request{Source: "watch", Candidates: []hotreload.Candidate{c}})
	if err != nil {
		t.Fatal(err)
	}
	<-tk.Live()
	if o, err := tk.Outcome(); err != nil || o.Result != hotreload.Pending {
		t.Fatalf("outcome %+v, err %v, want pending", o, err)
	}
	return tk
}

func wait(t *testing.T, tk *hotreload.Ticket) hotreload.Outcome {
	t.Helper()
	o, err := tk.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestNewerCandidateSupersedesPending(t *testing.T) {
	t.Run("Commits", func(t *testing.T) {
		g := newHeldGate()
		h := newHistory(t)
		e := startEngine(t, hotreload.Options{Gate: g, History: h})
		a := newValueTarget("a", "a1")
		mustAdd(t, e, a)

		t2 := pending(t, e, content("a", "a2"))
		e.View(func(st hotreload.Status) {
			if st.Live != 2 || st.State != hotreload.StatePending || st.Active != 1 || a.Live() != "a2" {
				t.Errorf("in the window: %+v with a=%q", st, a.Live())
			}
		})
		<-g.seen
		t3 := pending(t, e, content("a", "a3"))
		if o := wait(t, t2); o.Result != hotreload.Superseded || o.SupersededBy != 3 || o.Active != 1 {
			t.Fatalf("the first candidate: %+v", o)
		}
		if tx := <-g.seen; tx.Version != 3 || !slices.Equal(tx.Targets, []string{"a"}) {
			t.Fatalf("the gate watches %+v", tx)
		}
		if st := e.Status(); st.Live != 3 || a.Live() != "a3" {
			t.Fatalf("status %+v, a=%q", st, a.Live())
		}
		g.release <- nil
		if o := wait(t, t3); o.Result != hotreload.Committed || o.Version != 3 || o.Active != 3 {
			t.Fatalf("the second candidate: %+v", o)
		}
		if st := e.Status(); st.Live != 3 || st.Active != 3 || st.State != hotreload.StateCommitted || st.Applied != 0 {
			t.Fatalf("status after the commit %+v", st)
		}
		if r, _ := h.Get(context.Background(), 2); r.Result != hotreload.Superseded {
			t.Fatalf("version 2 in history: %+v", r)
		}
		if snap, err := h.Snapshot(context.Background(), 3, "a"); err != nil || string(snap) != "a3" {
			t.Fatalf("version 3 of a: %q %v", snap, err)
		}
	})
	t.Run("FailureRestoresTheCommittedVersion", func(t *testing.T) {
		g := newHeldGate()
		e := startEngine(t, hotreload.Options{Gate: g})
		a, b := newValueTarget("a", "a1"), newValueTarget("b", "b1")
		mustAdd(t, e, a, b)
		t3 := pending(t, e, content("a", "a3"))
		<-g.seen
		t4 := pending(t, e, content("b", "b4"))
		if tx := <-g.seen; !slices.Equal(tx.Targets, []string{"a", "b"}) {
			t.Fatalf("the window of the second candidate covers %v, want both", tx.Targets)
		}
		g.release <- errors.New("critical check failing")
		if o := wait(t, t4); o.Result != hotreload.RolledBack || o.Active != 2 {
			t.Fatalf("the second candidate: %+v", o)
		}
		if o := wait(t, t3); o.Result != hotreload.Superseded {
			t.Fatalf("the first candidate: %+v", o)
		}
		if st := e.Status(); a.Live() != "a1" || b.Live() != "b1" || st.Live != 2 || st.State != hotreload.StateCommitted {
			t.Fatalf("after the rollback a=%q b=%q, status %+v", a.Live(), b.Live(), st)
		}
	})
	t.Run("RejectedLeavesThePendingOneAlone", func(t *testing.T) {
		g := newHeldGate()
		e := startEngine(t, hotreload.Options{Gate: g})
		a := newValueTarget("a", "a1")
		mustAdd(t, e, a)
		t2 := pending(t, e, content("a", "a2"))
		<-g.seen
		if o := reload(t, e, hotreload.Request{Source: "watch", Candidates: []hotreload.Candidate{content("a", "bad")}}); o.Result != hotreload.Rejected {
			t.Fatalf("outcome %+v", o)
		}
		if o := reload(t, e, hotreload.Request{Source: "watch", Candidates: []hotreload.Candidate{content("a", "a2")}}); o.Result != hotreload.Unchanged || o.Version != 2 {
			t.Fatalf("the live candidate again: %+v, want unchanged at the pending version 2", o)
		}
		g.release <- nil
		if o := wait(t, t2); o.Result != hotreload.Committed || o.Version != 2 || a.Live() != "a2" {
			t.Fatalf("the pending candidate: %+v", o)
		}
	})
	t.Run("StopRollsBack", func(t *testing.T) {
		g := newHeldGate()
		e := hotreload.New(hotreload.Options{Gate: g, History: newHistory(t)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = e.Run(ctx) }()
		a := newValueTarget("a", "a1")
		mustAdd(t, e, a)
		t2 := pending(t, e, content("a", "a2"))
		<-g.seen
		cancel()
		<-done
		if o := wait(t, t2); o.Result != hotreload.RolledBack || a.Live() != "a1" {
			t.Fatalf("stopped in the window: %+v, a=%q", o, a.Live())
		}
	})
}

// sourcedTarget is a valueTarget that can read its source.
type sourcedTarget struct{ *valueTarget }

func (t sourcedTarget) ReadSource(context.Context) ([]byte, error) {
	return []byte(*t.source.Load()), nil
}

func TestRollbackPinsAnUnwrittenSource(t *testing.T) {
	h := newHistory(t)
	e := startEngine(t, hotreload.Options{History: h})
	a := sourcedTarget{newValueTarget("a", "s1")}
	mustAdd(t, e, a)
	a.setSource("s2")
	reload(t, e, hotreload.Request{Source: "watch"})
	if o, err := e.Rollback(context.Background(), 0, hotreload.Actor{}); err != nil || o.Result != hotreload.Committed {
		t.Fatalf("rollback %+v %v", o, err)
	}
	pinned := func(e *hotreload.Engine) bool {
		st := e.Status()
		return st.Targets[0].Pinned && st.Targets[0].State == "pinned"
	}
	if a.Live() != "s1" || !pinned(e) {
		t.Fatalf("after the rollback a=%q, status %+v", a.Live(), e.Status())
	}
	if o := reload(t, e, hotreload.Request{Source: "signal"}); o.Result != hotreload.Unchanged || a.Live() != "s1" {
		t.Fatalf("a reload of the pinned source: %+v, a=%q", o, a.Live())
	}

	// A new engine on the same history (a restart) keeps the pin.
	e2 := startEngine(t, hotreload.Options{History: h})
	a2 := sourcedTarget{newValueTarget("a", "s2")}
	if o, err := e2.Add(context.Background(), a2); err != nil || o.Result != hotreload.Unchanged || a2.Live() != "s1" || !pinned(e2) {
		t.Fatalf("restart: %+v %v, a=%q, status %+v", o, err, a2.Live(), e2.Status())
	}
	a2.setSource("s3")
	if o := reload(t, e2, hotreload.Request{Source: "watch"}); o.Result != hotreload.Committed || a2.Live() != "s3" || pinned(e2) {
		t.Fatalf("a change of the source: %+v, a=%q, status %+v", o, a2.Live(), e2.Status())
	}
}

// TestRollbackPinsWhatTheSourceHeldBefore: the pin is what the source
// held when the rollback was prepared. An edit saved in the rollback's
// health window is a change of the source, read next and not pinned.
func TestRollbackPinsWhatTheSourceHeldBefore(t *testing.T) {
	g := newHeldGate()
	e := startEngine(t, hotreload.Options{Gate: g})
	a := sourcedTarget{newValueTarget("a", "s1")}
	mustAdd(t, e, a)
	a.setSource("s2")
	tk, err := e.Start(context.Background(), hotreload.Request{Source: "watch"})
	if err != nil {
		t.Fatal(err)
	}
	<-g.seen
	g.release <- nil
	if o := wait(t, tk); o.Result != hotreload.Committed || a.Live() != "s2" {
		t.Fatalf("the edit s2: %+v, a=%q", o, a.Live())
	}
	rolled := make(chan hotreload.Outcome, 1)
	go func() {
		o, _ := e.Rollback(context.Background(), 0, hotreload.Actor{})
		rolled <- o
	}()
	<-g.seen
	a.setSource("s3") // saved in the rollback's window
	g.release <- nil
	if o := <-rolled; o.Result != hotreload.Committed || a.Live() != "s1" {
		t.Fatalf("rollback %+v, a=%q", o, a.Live())
	}
	if !e.Status().Targets[0].Pinned {
		t.Fatalf("the source held s2 when the rollback was prepared, yet no pin: %+v", e.Status())
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // from here on, the gate passes every window
		for {
			select {
			case <-g.seen:
				g.release <- nil
			case <-stop:
				return
			}
		}
	}()
	if o := reload(t, e, hotreload.Request{Source: "watch"}); o.Result != hotreload.Committed || a.Live() != "s3" || e.Status().Targets[0].Pinned {
		t.Fatalf("the edit saved in the window: %+v, a=%q, status %+v", o, a.Live(), e.Status())
	}
}

// writingTarget writes each committed value back to its source, as
// config.Target does to a single file (hotreload.SourceWriter).
type writingTarget struct{ sourcedTarget }

type writingChange struct {
	hotreload.Change
	t     *valueTarget
	v     string
	wrote bool
}

func (t writingTarget) Prepare(ctx context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	ch, err := t.valueTarget.Prepare(ctx, c)
	if err != nil {
		return nil, err
	}
	return &writingChange{Change: ch, t: t.valueTarget, v: string(ch.Summary().Snapshot)}, nil
}

func (c *writingChange) Commit(ctx context.Context) error {
	c.t.setSource(c.v)
	c.wrote = true
	return c.Change.Commit(ctx)
}

func (c *writingChange) WroteSource() bool { return c.wrote }

// TestRollbackWrittenBackPinsNothing: a rollback whose change wrote the
// restored state to the source pins nothing, so saving the rolled-back
// state again applies it.
func TestRollbackWrittenBackPinsNothing(t *testing.T) {
	e := startEngine(t, hotreload.Options{})
	a := writingTarget{sourcedTarget{newValueTarget("a", "s1")}}
	mustAdd(t, e, a)
	a.setSource("s2")
	reload(t, e, hotreload.Request{Source: "watch"})
	if o, err := e.Rollback(context.Background(), 0, hotreload.Actor{}); err != nil || o.Result != hotreload.Committed {
		t.Fatalf("rollback %+v %v", o, err)
	}
	if st := e.Status(); st.Targets[0].Pinned || a.Live() != "s1" {
		t.Fatalf("after a rollback written back: a=%q, status %+v", a.Live(), st)
	}
	a.setSource("s2")
	if o := reload(t, e, hotreload.Request{Source: "watch"}); o.Result != hotreload.Committed || a.Live() != "s2" {
		t.Fatalf("s2 saved again: %+v, a=%q", o, a.Live())
	}
}
