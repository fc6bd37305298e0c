// Package hotreloadtest holds the contract test every hotreload.Target must
// pass: validate without touching live state, apply, rollback restores
// exactly, commit releases, snapshots restore, concurrent reloads through an
// engine, no goroutine leaks. Every Target in this project runs it; run it on
// your own targets too:
//
//	func TestContract(t *testing.T) {
//		hotreloadtest.Run(t, hotreloadtest.Harness{New: ..., Valid: ..., Invalid: ..., Live: ...})
//	}
package hotreloadtest

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
)

// Harness tells the contract test how to drive one kind of Target.
type Harness struct {
	// New returns a fresh target with no live state yet.
	New func(t testing.TB) hotreload.Target
	// Valid returns at least three valid, pairwise different candidates.
	// The contract applies Valid[0] first as the initial state.
	Valid func(t testing.TB) []hotreload.Candidate
	// Invalid returns candidates that Prepare must reject.
	Invalid func(t testing.TB) []hotreload.Candidate
	// Live returns a comparable view of what the target serves now.
	Live func(t testing.TB, target hotreload.Target) any
	// History returns a fresh history store for the engine subtest.
	History func(t testing.TB) hotreload.History
}

// Run runs the contract's subtests.
func Run(t *testing.T, h Harness) {
	t.Run("PrepareDoesNotTouchLiveState", func(t *testing.T) { prepareIsolated(t, h) })
	t.Run("InvalidIsRejected", func(t *testing.T) { invalidRejected(t, h) })
	t.Run("RollbackRestoresExactly", func(t *testing.T) { rollbackRestores(t, h) })
	t.Run("DiscardBeforeApply", func(t *testing.T) { discard(t, h) })
	t.Run("CommitKeepsCandidate", func(t *testing.T) { commit(t, h) })
	t.Run("SnapshotRestoresExactly", func(t *testing.T) { snapshot(t, h) })
	t.Run("ConcurrentReloads", func(t *testing.T) { concurrent(t, h) })
	t.Run("NoLeaks", func(t *testing.T) { noLeaks(t, h) })
}

// MustApply prepares, applies and commits c on target, failing tb on error.
func MustApply(tb testing.TB, target hotreload.Target, c hotreload.Candidate) hotreload.Summary {
	tb.Helper()
	ctx := context.Background()
	ch, err := target.Prepare(ctx, c)
	if err != nil {
		tb.Fatalf("Prepare(%s): %v", c.Target, err)
	}
	if err := ch.Apply(ctx); err != nil {
		tb.Fatalf("Apply: %v", err)
	}
	if err := ch.Commit(ctx); err != nil {
		tb.Fatalf("Commit: %v", err)
	}
	return ch.Summary()
}

func setup(t *testing.T, h Harness) (hotreload.Target, []hotreload.Candidate) {
	t.Helper()
	valid := h.Valid(t)
	if len(valid) < 3 {
		t.Fatalf("Harness.Valid returned %d candidates, want at least 3", len(valid))
	}
	target := h.New(t)
	MustApply(t, target, valid[0])
	return target, valid
}

func mustPrepare(t *testing.T, target hotreload.Target, c hotreload.Candidate) hotreload.Change {
	t.Helper()
	ch, err := target.Prepare(context.Background(), c)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return ch
}

func sameLive(t *testing.T, h Harness, target hotreload.Target, want any, what string) {
	t.Helper()
	if got := h.Live(t, target); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: live state = %v, want %v", what, got, want)
	}
}

func prepareIsolated(t *testing.T, h Harness) {
	target, valid := setup(t, h)
	before := h.Live(t, target)
	ch := mustPrepare(t, target, valid[1])
	sameLive(t, h, target, before, "after Prepare")
	if err := ch.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func invalidRejected(t *testing.T, h Harness) {
	target, _ := setup(t, h)
	before := h.Live(t, target)
	for i, c := range h.Invalid(t) {
		ch, err := target.Prepare(context.Background(), c)
		if err == nil {
			_ = ch.Rollback(context.Background())
			t.Fatalf("invalid candidate %d was accepted", i)
		}
		if hotreload.ErrorCode(err) == "" {
			t.Fatalf("invalid candidate %d: no error code", i)
		}
		sameLive(t, h, target, before, "after a rejected candidate")
	}
}

func rollbackRestores(t *testing.T, h Harness) {
	target, valid := setup(t, h)
	ctx := context.Background()
	before := h.Live(t, target)
	ch := mustPrepare(t, target, valid[1])
	if err := ch.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(h.Live(t, target), before) {
		t.Fatal("Apply did not change the live state")
	}
	if err := ch.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	sameLive(t, h, target, before, "after Rollback")
}

func discard(t *testing.T, h Harness) {
	target, valid := setup(t, h)
	before := h.Live(t, target)
	ch := mustPrepare(t, target, valid[1])
	if err := ch.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameLive(t, h, target, before, "after discarding an unapplied change")
	// The target still works afterwards.
	MustApply(t, target, valid[2])
}

func commit(t *testing.T, h Harness) {
	target, valid := setup(t, h)
	MustApply(t, target, valid[1])
	want := h.Live(t, target)
	MustApply(t, target, valid[2])
	MustApply(t, target, valid[1])
	sameLive(t, h, target, want, "after re-applying a candidate")
}

func snapshot(t *testing.T, h Harness) {
	target, valid := setup(t, h)
	s1 := MustApply(t, target, valid[1])
	want := h.Live(t, target)
	MustApply(t, target, valid[2])
	s := MustApply(t, target, hotreload.Candidate{Target: valid[1].Target, Snapshot: s1.Snapshot})
	sameLive(t, h, target, want, "after restoring a snapshot")
	if hotreload.Digest(s.Snapshot) != hotreload.Digest(s1.Snapshot) {
		t.Fatal("restoring a snapshot did not reproduce the same snapshot")
	}
}

func concurrent(t *testing.T, h Harness) {
	ctx, cancel := context.WithCancel(context.Background())
	e := hotreload.New(hotreload.Options{History: h.History(t)})
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()

	valid := h.Valid(t)
	target := h.New(t)
	c0 := valid[0]
	c0.Target = target.Name()
	if _, err := e.Add(ctx, target); err != nil {
		// A target that needs a candidate to start: load Valid[0] first.
		MustApply(t, target, c0)
		if _, err := e.Add(ctx, target); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	const n = 20
	var wg sync.WaitGroup
	outs := make([]hotreload.Outcome, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := valid[i%len(valid)]
			c.Target = target.Name()
			outs[i], errs[i] = e.Reload(ctx, hotreload.Request{Source: "test", Candidates: []hotreload.Candidate{c}})
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("reload %d: %v", i, errs[i])
		}
		o := outs[i]
		switch o.Result {
		case hotreload.Committed:
			if seen[o.Version] {
				t.Fatalf("version %d committed twice", o.Version)
			}
			seen[o.Version] = true
		case hotreload.Unchanged:
		default:
			t.Fatalf("reload %d: %s: %s", i, o.Result, o.Reason)
		}
	}
	if len(seen) == 0 {
		t.Fatal("no concurrent reload committed")
	}
}

func noLeaks(t *testing.T, h Harness) {
	target, valid := setup(t, h)
	ctx := context.Background()
	// Goroutines the target keeps for its whole life are not leaks; growth
	// across reload cycles is.
	MustApply(t, target, valid[1])
	opt := goleak.IgnoreCurrent()
	for i := range 30 {
		ch := mustPrepare(t, target, valid[1+i%2])
		if err := ch.Apply(ctx); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			_ = ch.Rollback(ctx)
		} else {
			_ = ch.Commit(ctx)
		}
	}
	goleak.VerifyNone(t, opt)
}
