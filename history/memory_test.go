package history

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/cybercorp/hotreload"
)

// TestMemoryAnswersLikeDisk runs the same attempts on a Store on disk and
// one in memory and requires the same answers from both.
func TestMemoryAnswersLikeDisk(t *testing.T) {
	ctx := context.Background()
	disk := mustOpen(t, t.TempDir(), Options{Retain: 3, MaxRecords: 8})
	mem, err := Memory(Options{Retain: 3, MaxRecords: 8})
	if err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= 8; v++ {
		snaps := map[string][]byte{"app": appJSON(v)}
		for _, s := range []*Store{disk, mem} {
			mustPut(t, s, attempt(v, hotreload.Pending, snaps), snaps)
			result := hotreload.Committed
			if v%3 == 0 {
				result = hotreload.RolledBack
			}
			mustPut(t, s, attempt(v, result, snaps), nil)
			mustPut(t, s, attempt(v*100, hotreload.Rejected, nil), nil)
		}
	}
	answer := func(s *Store) string {
		list, err := s.List(ctx)
		out := fmt.Sprintf("list %+v %v\n", list, err)
		lkg, ok, err := s.LastGood(ctx)
		out += fmt.Sprintf("last good %+v %v %v\n", lkg, ok, err)
		for v := uint64(0); v <= 9; v++ {
			rec, err := s.Get(ctx, v)
			snap, serr := s.Snapshot(ctx, v, "app")
			out += fmt.Sprintf("%d: %+v %v | %q %v\n", v, rec, err, snap, serr)
		}
		return out
	}
	if d, m := answer(disk), answer(mem); d != m {
		t.Errorf("answers differ\ndisk:\n%s\nmemory:\n%s", d, m)
	}
	// Retention bounds memory: the content of 3 committed versions.
	if n := len(mem.held); n != 3 {
		t.Errorf("memory holds %d objects, want 3", n)
	}
	if err := mem.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = mem.Snapshot(ctx, 8, "app")
	wantCode(t, err, hotreload.CodeUnavailable, "closed")

	_, err = Memory(Options{Retain: -1})
	wantCode(t, err, hotreload.CodeInvalid, "retain must be at least 1")
}

func TestMemorySnapshotsAreCopies(t *testing.T) {
	ctx := context.Background()
	s, err := Memory(Options{})
	if err != nil {
		t.Fatal(err)
	}
	content := appJSON(1)
	snaps := map[string][]byte{"app": content}
	mustPut(t, s, attempt(1, hotreload.Committed, snaps), snaps)
	content[0] = 'X'
	got, err := s.Snapshot(ctx, 1, "app")
	if err != nil || !reflect.DeepEqual(got, appJSON(1)) {
		t.Fatalf("Snapshot = %q, %v; want %q", got, err, appJSON(1))
	}
	got[0] = 'Y'
	if again, _ := s.Snapshot(ctx, 1, "app"); !reflect.DeepEqual(again, appJSON(1)) {
		t.Errorf("modifying a returned snapshot changed the store: %q", again)
	}
}
