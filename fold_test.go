package hotreload_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// heldHistory is a real history store that notes every Put and can hold
// the next committed write until the test says how it ends: the fault
// injection of a slow or failing disk.
type heldHistory struct {
	*faultyHistory
	mu   sync.Mutex
	puts []hotreload.Record
	held chan chan error // receives a release channel per held write; nil holds nothing
}

func (h *heldHistory) Put(ctx context.Context, rec hotreload.Record, snaps map[string][]byte) error {
	h.mu.Lock()
	h.puts = append(h.puts, rec)
	held := h.held
	h.mu.Unlock()
	if held != nil && rec.Result == hotreload.Committed {
		release := make(chan error)
		held <- release
		if err := <-release; err != nil {
			return err
		}
	}
	return h.faultyHistory.Put(ctx, rec, snaps)
}

// hold makes the next committed writes wait; each one sends its release
// channel on the returned channel.
func (h *heldHistory) hold() chan chan error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = make(chan chan error)
	return h.held
}

// results lists the results of the records written for version v, in order.
func (h *heldHistory) results(v uint64) []hotreload.Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hotreload.Result
	for _, r := range h.puts {
		if r.Version == v {
			out = append(out, r.Result)
		}
	}
	return out
}

// TestFoldedRecords checks which records a transaction writes: a change
// the gate does not watch writes one committed record, which holds the
// candidate's content; a gated one writes its pending record first.
func TestFoldedRecords(t *testing.T) {
	healthy := gateFunc(func(context.Context, hotreload.Transaction) error { return nil })
	for _, tc := range []struct {
		name   string
		gate   hotreload.Gate
		target func() hotreload.Target
		want   []hotreload.Result
	}{
		{"NoGate", nil, func() hotreload.Target { return newValueTarget("a", "a1") }, []hotreload.Result{hotreload.Committed}},
		{"Ungated", healthy, func() hotreload.Target { return ungatedTarget{newValueTarget("a", "a1")} }, []hotreload.Result{hotreload.Committed}},
		{"Gated", healthy, func() hotreload.Target { return newValueTarget("a", "a1") }, []hotreload.Result{hotreload.Pending, hotreload.Committed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &heldHistory{faultyHistory: newHistory(t)}
			e := startEngine(t, hotreload.Options{History: h, Gate: tc.gate})
			mustAdd(t, e, tc.target())
			if got := h.results(1); !slices.Equal(got, []hotreload.Result{hotreload.Committed}) {
				t.Fatalf("the first load wrote %v, want one committed record", got)
			}
			o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "a2")}})
			if o.Result != hotreload.Committed || o.Version != 2 {
				t.Fatalf("outcome %+v", o)
			}
			if got := h.results(2); !slices.Equal(got, tc.want) {
				t.Fatalf("version 2 wrote %v, want %v", got, tc.want)
			}
			if snap, err := h.Snapshot(context.Background(), 2, "a"); err != nil || string(snap) != "a2" {
				t.Fatalf("snapshot of version 2: %q, %v", snap, err)
			}
		})
	}
}

// TestFoldedCommitIsToldOnlyWhenDurable holds the one record of a change
// without a gate: until it is written, no one hears "committed" (ticket,
// observer, events, status); when the write fails, the candidate is rolled
// back and history says so.
func TestFoldedCommitIsToldOnlyWhenDurable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result error // how the held write ends
	}{
		{"Committed", nil},
		{"ErrWriteFailed", errors.New("injected disk failure")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rec := &recorder{}
			h := &heldHistory{faultyHistory: newHistory(t)}
			e := startEngine(t, hotreload.Options{History: h, Publisher: rec, Observer: rec})
			a := newValueTarget("a", "a1")
			mustAdd(t, e, a)
			held := h.hold()
			tk, err := e.Start(ctx, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "a2")}})
			if err != nil {
				t.Fatal(err)
			}
			var release chan error
			select {
			case release = <-held:
			case <-time.After(testwait.D(10 * time.Second)):
				t.Fatal("the committed record was never written")
			}

			// The candidate is live, its record is not durable.
			if a.Live() != "a2" {
				t.Fatalf("live %q while the record is written, want the candidate a2", a.Live())
			}
			if st := e.Status(); st.Active != 1 || st.Live != 2 || st.State != hotreload.StatePending {
				t.Fatalf("status while the record is written: active %d, live %d, state %s; want 1, 2, pending", st.Active, st.Live, st.State)
			}
			select {
			case <-tk.Done():
				t.Fatal("the ticket ended before the record was durable")
			default:
			}
			if told := toldCommitted(rec, 2); told != "" {
				t.Fatalf("before the record was durable: %s", told)
			}

			release <- tc.result
			o, err := tk.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			stored, gerr := h.Get(ctx, 2)
			if tc.result == nil {
				if o.Result != hotreload.Committed || a.Live() != "a2" || e.Status().Active != 2 || gerr != nil || stored.Result != hotreload.Committed {
					t.Fatalf("outcome %+v, live %q, active %d, history %+v %v", o, a.Live(), e.Status().Active, stored, gerr)
				}
				return
			}
			if o.Result != hotreload.RolledBack || o.Cause != "history" || a.Live() != "a1" {
				t.Fatalf("outcome %+v, live %q; want rolled back for history, a1 live", o, a.Live())
			}
			if st := e.Status(); st.Active != 1 || st.Live != 1 || st.State != hotreload.StateCommitted {
				t.Fatalf("status after the failed write: %+v", st)
			}
			if told := toldCommitted(rec, 2); told != "" {
				t.Fatalf("after the failed write: %s", told)
			}
			if gerr != nil || stored.Result != hotreload.RolledBack {
				t.Fatalf("history of version 2: %+v, %v; want rolled back", stored, gerr)
			}
			if _, err := h.Snapshot(ctx, 2, "a"); hotreload.ErrorCode(err) != hotreload.CodeNotFound {
				t.Fatalf("snapshot of the rolled back version: %v, want not found", err)
			}
			if lkg, _, _ := h.LastGood(ctx); lkg.Version != 1 {
				t.Fatalf("last known good %d, want 1", lkg.Version)
			}
		})
	}
}

// toldCommitted says how the observer or an event announced version v as
// committed, or "" when none did.
func toldCommitted(rec *recorder, v uint64) string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, o := range rec.outcomes {
		if o.Version == v && o.Result == hotreload.Committed {
			return fmt.Sprintf("the observer was told %+v", o)
		}
	}
	for _, ev := range rec.events {
		switch ev := ev.(type) {
		case hotreload.ReloadEvent:
			if ev.Outcome.Version == v && ev.Outcome.Result == hotreload.Committed {
				return fmt.Sprintf("event %+v", ev)
			}
		case hotreload.ConfigReloadEvent:
			if ev.Version == v && ev.Result == hotreload.Committed {
				return fmt.Sprintf("event %+v", ev)
			}
		}
	}
	return ""
}

// preparingTarget tells each Prepare it runs on prepared, then prepares as
// its valueTarget does.
type preparingTarget struct {
	*valueTarget
	prepared chan hotreload.Candidate
}

func (t preparingTarget) Prepare(ctx context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	t.prepared <- c
	return t.valueTarget.Prepare(ctx, c)
}

// TestNextPrepareOverlapsTheRecord: while the committed record of a change
// without a gate is written, the change is live and Submit has returned
// (Pending), and the engine prepares the next candidate; it applies that
// candidate only once the record is durable, so history stays in order and
// a save never waits for the previous record before being validated. If
// the record cannot be written, that version is rolled back and the next
// candidate is prepared again on the state before it.
func TestNextPrepareOverlapsTheRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result error // how the first held write ends
	}{
		{"Committed", nil},
		{"ErrWriteFailed", errors.New("injected disk failure")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := &heldHistory{faultyHistory: newHistory(t)}
			e := startEngine(t, hotreload.Options{History: h})
			a := preparingTarget{newValueTarget("a", "a1"), make(chan hotreload.Candidate, 4)}
			mustAdd(t, e, a)
			<-a.prepared
			held := h.hold()
			within := func(what string, ch <-chan struct{}) {
				t.Helper()
				select {
				case <-ch:
				case <-time.After(testwait.D(10 * time.Second)):
					t.Fatalf("%s did not happen", what)
				}
			}
			receive := func(what string) chan error {
				t.Helper()
				select {
				case r := <-held:
					return r
				case <-time.After(testwait.D(10 * time.Second)):
					t.Fatalf("%s was never written", what)
					return nil
				}
			}

			// Submit is Start, then a wait for Live.
			tk2, err := e.Start(ctx, hotreload.Request{Source: "watch", Candidates: []hotreload.Candidate{content("a", "a2")}})
			if err != nil {
				t.Fatal(err)
			}
			release2 := receive("the record of version 2")
			within("version 2 going live while its record is written", tk2.Live())
			if o, err := tk2.Outcome(); err != nil || o.Result != hotreload.Pending || o.Version != 2 {
				t.Fatalf("outcome while the record is written: %+v, %v; want pending version 2", o, err)
			}
			if a.Live() != "a2" {
				t.Fatalf("live %q, want a2", a.Live())
			}
			<-a.prepared
			tk3, err := e.Start(ctx, hotreload.Request{Source: "watch", Candidates: []hotreload.Candidate{content("a", "a3")}})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-a.prepared:
				if string(c.Content) != "a3" {
					t.Fatalf("prepared %q, want a3", c.Content)
				}
			case <-time.After(testwait.D(10 * time.Second)):
				t.Fatal("the next candidate was not prepared while the record was written")
			}
			if a.Live() != "a2" || len(h.results(3)) > 0 {
				t.Fatalf("the next candidate applied (live %q) or recorded (%v) before the previous record was durable", a.Live(), h.results(3))
			}
			select {
			case <-tk3.Live():
				t.Fatal("the next candidate is live before the previous record was durable")
			default:
			}

			release2 <- tc.result
			if tc.result != nil {
				select {
				case c := <-a.prepared:
					if string(c.Content) != "a3" {
						t.Fatalf("prepared again %q, want a3", c.Content)
					}
				case <-time.After(testwait.D(10 * time.Second)):
					t.Fatal("the next candidate was not prepared again after the rollback beneath it")
				}
			}
			o2, err := tk2.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]hotreload.Result{true: hotreload.Committed, false: hotreload.RolledBack}[tc.result == nil]; o2.Result != want {
				t.Fatalf("version 2 ended %+v, want %s", o2, want)
			}
			release3 := receive("the record of the next candidate")
			within("the next candidate going live", tk3.Live())
			if a.Live() != "a3" {
				t.Fatalf("live %q, want a3", a.Live())
			}
			release3 <- nil
			o3, err := tk3.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if o3.Result != hotreload.Committed || o3.Version != 3 || e.Status().Active != 3 {
				t.Fatalf("next outcome %+v, active %d; want version 3 committed", o3, e.Status().Active)
			}
			want2 := []hotreload.Result{hotreload.Committed}
			if tc.result != nil {
				want2 = []hotreload.Result{hotreload.Committed, hotreload.RolledBack}
			}
			if got := h.results(2); !slices.Equal(got, want2) {
				t.Fatalf("version 2 wrote %v, want %v", got, want2)
			}
			h.mu.Lock()
			last := h.puts[len(h.puts)-1]
			h.mu.Unlock()
			if last.Version != 3 || last.Result != hotreload.Committed {
				t.Fatalf("the last record written is %d %s, want 3 committed: history out of order", last.Version, last.Result)
			}
			if snap, err := h.Snapshot(ctx, 3, "a"); err != nil || string(snap) != "a3" {
				t.Fatalf("snapshot of version 3: %q, %v", snap, err)
			}
		})
	}
}

// TestStopWaitsForTheRecord stops the engine while the committed record of
// a change without a gate is written: Run returns only once the write
// ended, and the change ends as the write did, committed.
func TestStopWaitsForTheRecord(t *testing.T) {
	h := &heldHistory{faultyHistory: newHistory(t)}
	e := hotreload.New(hotreload.Options{History: h})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- e.Run(ctx) }()
	a := newValueTarget("a", "a1")
	mustAdd(t, e, a)
	held := h.hold()
	tk, err := e.Start(context.Background(), hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "a2")}})
	if err != nil {
		t.Fatal(err)
	}
	var release chan error
	select {
	case release = <-held:
	case <-time.After(testwait.D(10 * time.Second)):
		t.Fatal("the committed record was never written")
	}
	cancel()
	select {
	case err := <-ran:
		t.Fatalf("Run returned (%v) while the record was written", err)
	case <-time.After(100 * time.Millisecond): // a return would come at once
	}
	release <- nil
	select {
	case <-ran:
	case <-time.After(testwait.D(10 * time.Second)):
		t.Fatal("Run did not return after the write")
	}
	o, err := tk.Outcome()
	if err != nil || o.Result != hotreload.Committed || o.Version != 2 || a.Live() != "a2" {
		t.Fatalf("outcome %+v, %v, live %q; want version 2 committed", o, err, a.Live())
	}
}
