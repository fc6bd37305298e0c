package hotreload_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// heldHistory is a real history store that notes every Put and can hold
// the next committed writes until the test says how they end: the fault
// injection of a slow or failing disk.
type heldHistory struct {
	*faultyHistory
	mu      sync.Mutex
	puts    []hotreload.Record
	batches [][]uint64      // the versions of each Put, in order
	held    chan chan error // receives a release channel per held write; nil holds nothing
}

func (h *heldHistory) Put(ctx context.Context, entries ...hotreload.Entry) error {
	h.mu.Lock()
	var versions []uint64
	committed := false
	for _, en := range entries {
		h.puts = append(h.puts, en.Record)
		versions = append(versions, en.Record.Version)
		committed = committed || en.Record.Result == hotreload.Committed
	}
	h.batches = append(h.batches, versions)
	held := h.held
	h.mu.Unlock()
	if held != nil && committed {
		release := make(chan error)
		held <- release
		if err := <-release; err != nil {
			return err
		}
	}
	return h.faultyHistory.Put(ctx, entries...)
}

// startLive starts the change of target a to v, as a file watcher does,
// and waits until it is live.
func startLive(t *testing.T, e *hotreload.Engine, a *valueTarget, v string) *hotreload.Ticket {
	t.Helper()
	tk, err := e.Start(context.Background(), hotreload.Request{Source: "watch", Candidates: []hotreload.Candidate{content("a", v)}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-tk.Live():
	case <-time.After(testwait.D(10 * time.Second)):
		t.Fatalf("%s did not go live", v)
	}
	if a.Live() != v {
		t.Fatalf("live %q, want %s", a.Live(), v)
	}
	return tk
}

// lastBatch returns the versions of the last Put.
func (h *heldHistory) lastBatch() []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.batches[len(h.batches)-1]
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

// TestChangesApplyWhileTheRecordIsWritten: while the committed record of
// a change without a gate is written, the next such changes are prepared
// and applied at once (Submit returns for each), none is told "committed"
// before its own record is durable, and their records are written
// together in the next Put (group commit), after the first, so history
// stays in order. If the first record cannot be written, every change
// applied since rolls back too, newest first, to the last committed state.
func TestChangesApplyWhileTheRecordIsWritten(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result error // how the first held write ends
	}{
		{"Committed", nil},
		{"ErrWriteFailed", errors.New("injected disk failure")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rec := &recorder{}
			h := &heldHistory{faultyHistory: newHistory(t)}
			e := startEngine(t, hotreload.Options{History: h, Observer: rec, Publisher: rec, MaxRollbacks: 1})
			a := newValueTarget("a", "a1")
			mustAdd(t, e, a)
			held := h.hold()
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

			tk2 := startLive(t, e, a, "a2")
			release2 := receive("the record of version 2")
			tk3 := startLive(t, e, a, "a3")
			tk4 := startLive(t, e, a, "a4")
			for i, tk := range []*hotreload.Ticket{tk2, tk3, tk4} {
				if o, err := tk.Outcome(); err != nil || o.Result != hotreload.Pending || o.Version != uint64(i+2) {
					t.Fatalf("outcome while the records are written: %+v, %v; want pending version %d", o, err, i+2)
				}
				if told := toldCommitted(rec, uint64(i+2)); told != "" {
					t.Fatalf("before its record was durable: %s", told)
				}
			}
			if st := e.Status(); st.Active != 1 || st.Live != 4 || st.State != hotreload.StatePending {
				t.Fatalf("status while the records are written: active %d, live %d, state %s; want 1, 4, pending", st.Active, st.Live, st.State)
			}
			if got := h.lastBatch(); !slices.Equal(got, []uint64{2}) {
				t.Fatalf("records %v written while version 2's was, want only 2's", got)
			}

			release2 <- tc.result
			if tc.result != nil {
				for i, tk := range []*hotreload.Ticket{tk2, tk3, tk4} {
					o, err := tk.Wait(ctx)
					if err != nil || o.Result != hotreload.RolledBack || o.Cause != "history" {
						t.Fatalf("version %d ended %+v, %v; want rolled back for history", i+2, o, err)
					}
					if i > 0 && !strings.Contains(o.Reason, "applied on version 2, whose commit could not be recorded") {
						t.Fatalf("version %d's reason %q does not name version 2", i+2, o.Reason)
					}
				}
				if a.Live() != "a1" {
					t.Fatalf("live %q after the failed write, want a1", a.Live())
				}
				if st := e.Status(); st.Active != 1 || st.Live != 1 || st.State != hotreload.StateCommitted {
					t.Fatalf("status after the failed write: %+v", st)
				}
				if st := e.Status(); st.Frozen { // one failed Put is one rollback, however many windows it ends
					t.Fatalf("one failed write froze reloads: %s", st.FrozenReason)
				}
				for v, want := range map[uint64][]hotreload.Result{
					2: {hotreload.Committed, hotreload.RolledBack}, // the attempt, then the rollback
					3: {hotreload.RolledBack},
					4: {hotreload.RolledBack},
				} {
					if got := h.results(v); !slices.Equal(got, want) {
						t.Fatalf("version %d wrote %v, want %v", v, got, want)
					}
					if told := toldCommitted(rec, v); told != "" {
						t.Fatalf("after the failed write: %s", told)
					}
				}
				if lkg, _, _ := h.LastGood(ctx); lkg.Version != 1 {
					t.Fatalf("last known good %d, want 1", lkg.Version)
				}
				return
			}
			release34 := receive("the records of versions 3 and 4")
			if got := h.lastBatch(); !slices.Equal(got, []uint64{3, 4}) {
				t.Fatalf("the next Put wrote %v, want 3 and 4 together", got)
			}
			if o, err := tk2.Wait(ctx); err != nil || o.Result != hotreload.Committed {
				t.Fatalf("version 2 ended %+v, %v", o, err)
			}
			if st := e.Status(); st.Active != 2 || st.Live != 4 || st.State != hotreload.StatePending {
				t.Fatalf("status while 3 and 4 are written: active %d, live %d, state %s; want 2, 4, pending", st.Active, st.Live, st.State)
			}
			release34 <- nil
			for i, tk := range []*hotreload.Ticket{tk3, tk4} {
				if o, err := tk.Wait(ctx); err != nil || o.Result != hotreload.Committed || o.Version != uint64(i+3) {
					t.Fatalf("version %d ended %+v, %v", i+3, o, err)
				}
			}
			if st := e.Status(); st.Active != 4 || st.Live != 4 || st.State != hotreload.StateCommitted {
				t.Fatalf("status at the end: %+v", st)
			}
			recs, err := h.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var order []uint64
			for _, r := range recs {
				order = append(order, r.Version)
			}
			if !slices.Equal(order, []uint64{1, 2, 3, 4}) {
				t.Fatalf("history in the order %v", order)
			}
			for v, want := range map[uint64]string{3: "a3", 4: "a4"} {
				if snap, err := h.Snapshot(ctx, v, "a"); err != nil || string(snap) != want {
					t.Fatalf("snapshot of version %d: %q, %v", v, snap, err)
				}
			}
		})
	}
}

// TestDurableWindowsAreBounded: at most hotreload.MaxRecordings changes,
// holding less than hotreload.MaxRecordingBytes of snapshots, apply on
// records still being written; the next waits for them.
func TestDurableWindowsAreBounded(t *testing.T) {
	big := strings.Repeat("x", hotreload.MaxRecordingBytes/2)
	for _, tc := range []struct {
		name  string
		value func(i int) string // the i-th change's value
		bound int                // changes that go live while the first record is held
	}{
		{"InNumber", func(i int) string { return fmt.Sprint("v", i+1) }, hotreload.MaxRecordings},
		{"InBytes", func(i int) string { return fmt.Sprint(i+1, big) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := &heldHistory{faultyHistory: newHistory(t)}
			e := startEngine(t, hotreload.Options{History: h})
			a := newValueTarget("a", "v0")
			mustAdd(t, e, a)
			held := h.hold()
			var tickets []*hotreload.Ticket
			for i := range tc.bound + 1 {
				tk, err := e.Start(ctx, hotreload.Request{Source: "watch", Candidates: []hotreload.Candidate{content("a", tc.value(i))}})
				if err != nil {
					t.Fatal(err)
				}
				tickets = append(tickets, tk)
			}
			release := <-held // the first change's record
			var once sync.Once
			free := func() {
				once.Do(func() {
					h.mu.Lock()
					h.held = nil
					h.mu.Unlock()
					release <- nil
				})
			}
			t.Cleanup(free) // before the engine stops, should the test fail
			for _, tk := range tickets[:tc.bound] {
				select {
				case <-tk.Live():
				case <-time.After(testwait.D(10 * time.Second)):
					t.Fatal("a change within the bound did not go live")
				}
			}
			last := tickets[tc.bound]
			select {
			case <-last.Live():
				t.Fatal("a change beyond the bound went live before the records were written")
			case <-time.After(100 * time.Millisecond): // it would go live at once
			}
			free()
			o, err := last.Wait(ctx)
			if err != nil || o.Result != hotreload.Committed || a.Live() != tc.value(tc.bound) {
				t.Fatalf("the change beyond the bound ended %+v, %v", o, err)
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

// TestGatheredRecordsAreWritten: records that piled up behind a Put wait
// for more before the next one (here for an hour), and those of changes
// made meanwhile join them; a stop, or a request that must wait for the
// records (here an unchanged one, whose own record comes after theirs),
// writes them at once, as one Put, and each change ends committed.
func TestGatheredRecordsAreWritten(t *testing.T) {
	for _, tc := range []struct {
		name string
		// end makes the engine write the gathered records, and returns the
		// index in h.batches of the Put that should hold them.
		end func(t *testing.T, e *hotreload.Engine, h *heldHistory, cancel func(), ran chan error) int
	}{
		{"AtStop", func(t *testing.T, _ *hotreload.Engine, h *heldHistory, cancel func(), ran chan error) int {
			cancel()
			select {
			case <-ran:
			case <-time.After(testwait.D(10 * time.Second)):
				t.Fatal("Run did not return: the gathered records wait for their delay")
			}
			return len(h.batches) - 1
		}},
		{"BeforeAWaitingRequest", func(t *testing.T, e *hotreload.Engine, h *heldHistory, _ func(), _ chan error) int {
			ctx, cancel := context.WithTimeout(context.Background(), testwait.D(10*time.Second))
			defer cancel()
			o, err := e.Reload(ctx, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("a", "a5")}})
			if err != nil || o.Result != hotreload.Unchanged {
				t.Fatalf("the unchanged request ended %+v, %v; it waits for the gathered records' delay", o, err)
			}
			if got := h.lastBatch(); !slices.Equal(got, []uint64{5}) {
				t.Fatalf("the last Put wrote %v, want the unchanged attempt's record, 5", got)
			}
			return len(h.batches) - 2
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hotreload.SetGroupDelay(t, time.Hour)
			h := &heldHistory{faultyHistory: newHistory(t)}
			e := hotreload.New(hotreload.Options{History: h})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ran := make(chan error, 1)
			go func() { ran <- e.Run(ctx) }()
			a := newValueTarget("a", "a1")
			mustAdd(t, e, a)
			held := h.hold()
			tk2 := startLive(t, e, a, "a2")
			var release chan error
			select {
			case release = <-held:
			case <-time.After(testwait.D(10 * time.Second)):
				t.Fatal("the record of version 2 was never written")
			}
			tk3, tk4 := startLive(t, e, a, "a3"), startLive(t, e, a, "a4")
			h.mu.Lock()
			h.held = nil
			h.mu.Unlock()
			release <- nil
			if o, err := tk2.Wait(context.Background()); err != nil || o.Result != hotreload.Committed {
				t.Fatalf("version 2 ended %+v, %v", o, err)
			}
			tk5 := startLive(t, e, a, "a5")
			if got := h.lastBatch(); !slices.Equal(got, []uint64{2}) {
				t.Fatalf("records %v written while 3 and 4 gather, want only 2's", got)
			}
			if o, err := tk3.Outcome(); err != nil || o.Result != hotreload.Pending {
				t.Fatalf("version 3 while its record gathers: %+v, %v; want pending", o, err)
			}
			i := tc.end(t, e, h, cancel, ran)
			h.mu.Lock()
			got := h.batches[i]
			h.mu.Unlock()
			if !slices.Equal(got, []uint64{3, 4, 5}) {
				t.Fatalf("the gathered records were written as %v, want 3, 4 and 5 together", got)
			}
			for i, tk := range []*hotreload.Ticket{tk3, tk4, tk5} {
				if o, err := tk.Outcome(); err != nil || o.Result != hotreload.Committed || o.Version != uint64(i+3) {
					t.Fatalf("version %d ended %+v, %v", i+3, o, err)
				}
			}
			if lkg, _, _ := h.LastGood(context.Background()); lkg.Version != 5 || a.Live() != "a5" {
				t.Fatalf("last known good %d, live %q; want 5, a5", lkg.Version, a.Live())
			}
		})
	}
}
