package history

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
)

// mustOpen opens a Store on dir and closes it when the test ends.
func mustOpen(tb testing.TB, dir string, opts Options) *Store {
	tb.Helper()
	opts.Dir = dir
	s, err := Open(opts)
	if err != nil {
		tb.Fatalf("Open(%s): %v", dir, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// appJSON is the content of target "app" at version v.
func appJSON(v uint64) []byte {
	return fmt.Appendf(nil, `{"version":%d,"limits":{"rps":%d},"name":"app"}`, v, 100+v)
}

// attempt builds a record of version v with result r, whose snapshots are
// given by target name; every target listed is marked changed.
func attempt(v uint64, r hotreload.Result, snapshots map[string][]byte) hotreload.Record {
	rec := hotreload.Record{
		Version: v,
		Time:    time.Date(2026, 11, 26, 1, 0, int(v), 0, time.UTC),
		Source:  "api",
		Author:  "tester",
		Result:  r,
	}
	for _, name := range slices.Sorted(maps.Keys(snapshots)) {
		rec.Targets = append(rec.Targets, hotreload.TargetState{
			Target: name, Kind: hotreload.KindConfig, Digest: hotreload.Digest(snapshots[name]), Changed: true,
			Meta: map[string]string{"etcd_revision": fmt.Sprint(v * 10)},
		})
	}
	return rec
}

// recordFileOf renders rec as a record file, the format written before
// the records log (Open still reads it).
func recordFileOf(tb testing.TB, rec hotreload.Record) []byte {
	tb.Helper()
	body, err := json.Marshal(rec)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := json.Marshal(recordFile{Format: recordFormat, SHA256: lineSum(recordFormat, 0, body), Record: body})
	if err != nil {
		tb.Fatal(err)
	}
	return append(out, '\n')
}

// recordFiles lists the names of the files in dir's records directory.
func recordFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	des, err := os.ReadDir(filepath.Join(dir, "records"))
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// largeContent is content of version v too large to be a line of the
// records log: it is stored as an object file.
func largeContent(v uint64) []byte {
	return fmt.Appendf(nil, `{"version":%d,"pad":"%s"}`, v, strings.Repeat("x", maxLineObject))
}

// contentOnDisk counts the content stored in dir by digest: its object
// files, and the object lines of its log segments, except segment skip.
func contentOnDisk(tb testing.TB, dir, skip string) map[string]int {
	tb.Helper()
	found := map[string]int{}
	objs, err := os.ReadDir(filepath.Join(dir, "objects"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range objs {
		found[o.Name()]++
	}
	for _, name := range recordFiles(tb, dir) {
		if name == skip || !strings.HasSuffix(name, ".log") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "records", name))
		if err != nil {
			tb.Fatal(err)
		}
		for line := range bytes.Lines(data) {
			if l, err := decodeLine(line[:len(line)-1]); err == nil && l.object != "" {
				found[l.object]++
			}
		}
	}
	return found
}

// digestsOf returns the count of each content's digest, as contentOnDisk
// does.
func digestsOf(contents ...[]byte) map[string]int {
	m := map[string]int{}
	for _, c := range contents {
		m[hotreload.Digest(c)]++
	}
	return m
}

// mustPut puts rec with snapshots and fails the test on error.
func mustPut(tb testing.TB, s *Store, rec hotreload.Record, snapshots map[string][]byte) {
	tb.Helper()
	if err := s.Put(context.Background(), hotreload.Entry{Record: rec, Snapshots: snapshots}); err != nil {
		tb.Fatalf("Put(version %d, %s): %v", rec.Version, rec.Result, err)
	}
}

// mustCommit records version v of target "app" as pending, then committed,
// the way the engine does.
func mustCommit(tb testing.TB, s *Store, v uint64) {
	tb.Helper()
	snaps := map[string][]byte{"app": appJSON(v)}
	mustPut(tb, s, attempt(v, hotreload.Pending, snaps), snaps)
	mustPut(tb, s, attempt(v, hotreload.Committed, snaps), nil)
}

// mustCommitFolded commits version v in one Put, its committed record
// carrying the snapshot, as the engine does without a health window.
func mustCommitFolded(tb testing.TB, s *Store, v uint64) {
	tb.Helper()
	snaps := map[string][]byte{"app": appJSON(v)}
	mustPut(tb, s, attempt(v, hotreload.Committed, snaps), snaps)
}

// wantCode fails the test unless err carries code and mentions every part.
func wantCode(tb testing.TB, err error, code hotreload.Code, parts ...string) {
	tb.Helper()
	if got := hotreload.ErrorCode(err); got != code {
		tb.Fatalf("error %v: code %q, want %q", err, got, code)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			tb.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestOpenOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"ErrRetainNegative", Options{Retain: -1}, "retain must be at least 1, got -1"},
		{"ErrMaxRecordsBelowRetain", Options{Retain: 5, MaxRecords: 4}, "max records (4) must be at least retain (5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Dir = t.TempDir()
			_, err := Open(tc.opts)
			wantCode(t, err, hotreload.CodeInvalid, tc.want)
		})
	}
	t.Run("ErrNoDir", func(t *testing.T) {
		_, err := Open(Options{})
		wantCode(t, err, hotreload.CodeInvalid, "no data directory given")
	})
}

func TestPut(t *testing.T) {
	ctx := context.Background()
	a1 := map[string][]byte{"app": appJSON(1)}
	for _, tc := range []struct {
		name string
		// puts runs before the checked Put on a fresh store.
		puts     func(t *testing.T, s *Store)
		rec      hotreload.Record
		snaps    map[string][]byte
		cancel   bool
		wantCode hotreload.Code
		wantErr  string
		// want is the result Get(rec.Version) returns afterwards.
		want hotreload.Result
		// wantList is the results List returns afterwards.
		wantList []hotreload.Result
	}{
		{
			name: "OK", rec: attempt(1, hotreload.Committed, a1), snaps: a1,
			want: hotreload.Committed, wantList: []hotreload.Result{hotreload.Committed},
		},
		{
			name: "FinalReplacesPending",
			puts: func(t *testing.T, s *Store) { mustPut(t, s, attempt(1, hotreload.Pending, a1), a1) },
			rec:  attempt(1, hotreload.Committed, a1),
			want: hotreload.Committed, wantList: []hotreload.Result{hotreload.Committed},
		},
		{
			name: "RolledBackReplacesPending",
			puts: func(t *testing.T, s *Store) { mustPut(t, s, attempt(1, hotreload.Pending, a1), a1) },
			rec:  attempt(1, hotreload.RolledBack, a1),
			want: hotreload.RolledBack, wantList: []hotreload.Result{hotreload.RolledBack},
		},
		{
			name: "UnchangedIsAppended",
			puts: func(t *testing.T, s *Store) { mustCommit(t, s, 1) },
			rec:  attempt(1, hotreload.Unchanged, nil),
			want: hotreload.Committed, wantList: []hotreload.Result{hotreload.Committed, hotreload.Unchanged},
		},
		{
			name: "RejectedWithoutContent",
			rec:  attempt(1, hotreload.Rejected, nil),
			want: hotreload.Rejected, wantList: []hotreload.Result{hotreload.Rejected},
		},
		{
			name: "EmptyDigestIsFilled",
			rec: hotreload.Record{Version: 1, Result: hotreload.Committed,
				Targets: []hotreload.TargetState{{Target: "app"}}},
			snaps: a1,
			want:  hotreload.Committed, wantList: []hotreload.Result{hotreload.Committed},
		},
		{
			name: "ErrUnknownResult", rec: attempt(1, "done", nil),
			wantCode: hotreload.CodeInvalid, wantErr: `unknown result "done"`,
		},
		{
			name: "ErrBadDigest",
			rec: hotreload.Record{Version: 1, Result: hotreload.Rejected,
				Targets: []hotreload.TargetState{{Target: "app", Digest: "../../etc/passwd"}}},
			wantCode: hotreload.CodeInvalid, wantErr: `target "app": digest "../../etc/passwd" is not a lower-case hex SHA-256`,
		},
		{
			name: "ErrDigestMismatch", rec: attempt(1, hotreload.Committed, a1),
			snaps:    map[string][]byte{"app": []byte("other")},
			wantCode: hotreload.CodeInvalid, wantErr: `the snapshot of target "app" hashes to sha256 ` + hotreload.Digest([]byte("other")),
		},
		{
			name: "ErrSnapshotOfUnlistedTarget", rec: attempt(1, hotreload.Committed, a1),
			snaps:    map[string][]byte{"app": appJSON(1), "ui": []byte("x")},
			wantCode: hotreload.CodeInvalid, wantErr: `a snapshot is given for target "ui", which the record does not list`,
		},
		{
			name: "ErrCommittedContentNeverStored", rec: attempt(1, hotreload.Committed, a1),
			wantCode: hotreload.CodeInvalid, wantErr: "was never stored: a committed version must be restorable",
		},
		{
			name: "ErrCancelled", rec: attempt(1, hotreload.Committed, a1), snaps: a1, cancel: true,
			wantCode: hotreload.CodeUnavailable, wantErr: "context canceled",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t, t.TempDir(), Options{})
			if tc.puts != nil {
				tc.puts(t, s)
			}
			ctx := ctx
			if tc.cancel {
				c, cancel := context.WithCancel(ctx)
				cancel()
				ctx = c
			}
			err := s.Put(ctx, hotreload.Entry{Record: tc.rec, Snapshots: tc.snaps})
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, tc.wantErr)
				if list, _ := s.List(ctx); len(list) != 0 && tc.puts == nil {
					t.Errorf("a failed Put left records: %+v", list)
				}
				return
			}
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			got, err := s.Get(ctx, tc.rec.Version)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.Result != tc.want {
				t.Errorf("Get(%d).Result = %s, want %s", tc.rec.Version, got.Result, tc.want)
			}
			list, err := s.List(ctx)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			var results []hotreload.Result
			for _, r := range list {
				results = append(results, r.Result)
			}
			if !slices.Equal(results, tc.wantList) {
				t.Errorf("List results = %v, want %v", results, tc.wantList)
			}
		})
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	mustCommit(t, s, 1)
	rej := attempt(2, hotreload.Rejected, nil)
	rej.Reason = "schema"
	rej.Errors = []hotreload.FieldError{{File: "app.yaml", Path: "/limits/rps", Line: 7, Column: 12, Message: "must be >= 1 but found 0"}}
	mustPut(t, s, rej, nil)
	mustCommit(t, s, 3)
	before, _ := s.List(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, dir, Options{})
	after, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("reopened List has %d records, want %d", len(after), len(before))
	}
	for i := range before {
		b, a := before[i], after[i]
		if !a.Time.Equal(b.Time) || a.Version != b.Version || a.Result != b.Result || a.Reason != b.Reason ||
			!slices.Equal(a.Errors, b.Errors) || len(a.Targets) != len(b.Targets) ||
			(len(a.Targets) > 0 && a.Targets[0].Meta["etcd_revision"] != b.Targets[0].Meta["etcd_revision"]) {
			t.Errorf("record %d changed across reopen:\n got %+v\nwant %+v", i, a, b)
		}
	}
	for _, v := range []uint64{1, 3} {
		got, err := s.Snapshot(ctx, v, "app")
		if err != nil || string(got) != string(appJSON(v)) {
			t.Errorf("Snapshot(%d) = %q, %v; want %q", v, got, err, appJSON(v))
		}
	}
	if p := s.Problems(); len(p) != 0 {
		t.Errorf("Problems() = %v, want none", p)
	}
}

func TestGetAndSnapshotErrors(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, t.TempDir(), Options{})
	mustCommit(t, s, 1)
	snaps := map[string][]byte{"app": appJSON(2)}
	mustPut(t, s, attempt(2, hotreload.RolledBack, snaps), snaps)
	mustPut(t, s, attempt(3, hotreload.Unchanged, nil), nil)

	if _, err := s.Get(ctx, 9); true {
		wantCode(t, err, hotreload.CodeNotFound, "version 9: no such version")
	}
	if r, err := s.Get(ctx, 3); err != nil || r.Result != hotreload.Unchanged {
		t.Errorf("Get(3) = %+v, %v; want the unchanged attempt", r, err)
	}
	for _, tc := range []struct {
		name    string
		version uint64
		target  string
		want    string
	}{
		{"ErrUnknownVersion", 9, "app", "version 9: no such version"},
		{"ErrNotCommitted", 2, "app", "version 2 was rolled_back, not committed"},
		{"ErrOnlyUnchanged", 3, "app", "version 3: no such version"},
		{"ErrUnknownTarget", 1, "ui", `version 1 has no target "ui"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Snapshot(ctx, tc.version, tc.target)
			wantCode(t, err, hotreload.CodeNotFound, tc.want)
		})
	}
}

func TestLastGoodMovesOnlyOnCommit(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, t.TempDir(), Options{})
	if _, ok, err := s.LastGood(ctx); ok || err != nil {
		t.Fatalf("LastGood of an empty store = ok %v, %v; want none", ok, err)
	}
	wantLastGood := func(v uint64) {
		t.Helper()
		r, ok, err := s.LastGood(ctx)
		if err != nil || !ok || r.Version != v || r.Result != hotreload.Committed {
			t.Fatalf("LastGood = version %d %s (ok %v, %v); want committed version %d", r.Version, r.Result, ok, err, v)
		}
	}
	mustCommit(t, s, 1)
	wantLastGood(1)

	snaps := map[string][]byte{"app": appJSON(2)}
	mustPut(t, s, attempt(2, hotreload.Pending, snaps), snaps)
	wantLastGood(1)
	mustPut(t, s, attempt(2, hotreload.RolledBack, snaps), nil)
	wantLastGood(1)
	mustPut(t, s, attempt(3, hotreload.Rejected, nil), nil)
	wantLastGood(1)
	mustPut(t, s, attempt(1, hotreload.Unchanged, nil), nil)
	wantLastGood(1)

	// A rollback to version 1 is a new committed version restoring it.
	back := attempt(4, hotreload.Committed, map[string][]byte{"app": appJSON(1)})
	back.Source, back.RestoredFrom = "rollback", 1
	mustPut(t, s, back, nil)
	wantLastGood(4)
	if got, err := s.Snapshot(ctx, 4, "app"); err != nil || string(got) != string(appJSON(1)) {
		t.Errorf("Snapshot(4) = %q, %v; want the content of version 1", got, err)
	}

	// An engine whose Commit fails after recording replaces the record:
	// last known good goes back to the previous commit.
	mustCommit(t, s, 5)
	wantLastGood(5)
	mustPut(t, s, attempt(5, hotreload.RolledBack, map[string][]byte{"app": appJSON(5)}), nil)
	wantLastGood(4)
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Retain: 3})
	s.opts.segmentRecords = 1 // each Put in a segment of its own: compacted once the next Put appends elsewhere
	plugin := append([]byte("\x00wasm module, never changed"), make([]byte, maxLineObject)...)
	for v := uint64(1); v <= 6; v++ {
		snaps := map[string][]byte{"app": appJSON(v)}
		rec := attempt(v, hotreload.Committed, snaps)
		// The plugin target is untouched after version 1: same digest, no
		// snapshot given again.
		rec.Targets = append(rec.Targets, hotreload.TargetState{Target: "plugin", Kind: hotreload.KindPlugin, Digest: hotreload.Digest(plugin), Changed: v == 1})
		if v == 1 {
			snaps["plugin"] = plugin
		}
		mustPut(t, s, rec, snaps)
		mustPut(t, s, attempt(v*100, hotreload.Rejected, nil), nil)
	}
	check := func(s *Store) {
		t.Helper()
		for v := uint64(1); v <= 3; v++ {
			_, err := s.Snapshot(ctx, v, "app")
			wantCode(t, err, hotreload.CodeNotFound, fmt.Sprintf("the content of version %d was pruned (the last 3 committed versions are kept)", v))
		}
		for v := uint64(4); v <= 6; v++ {
			if got, err := s.Snapshot(ctx, v, "app"); err != nil || string(got) != string(appJSON(v)) {
				t.Errorf("Snapshot(%d, app) = %q, %v; want %q", v, got, err, appJSON(v))
			}
			if got, err := s.Snapshot(ctx, v, "plugin"); err != nil || string(got) != string(plugin) {
				t.Errorf("Snapshot(%d, plugin) = %q, %v; want the version 1 content", v, got, err)
			}
		}
		if list, _ := s.List(ctx); len(list) != 12 {
			t.Errorf("List has %d records, want all 12 attempts", len(list))
		}
		if objs, _ := os.ReadDir(filepath.Join(dir, "objects")); len(objs) != 1 {
			t.Errorf("objects/ holds %d files, want the plugin's alone", len(objs))
		}
		if got, want := contentOnDisk(t, dir, ""), digestsOf(appJSON(4), appJSON(5), appJSON(6), plugin); !maps.Equal(got, want) {
			t.Errorf("content on disk %v, want %v (3 app versions, 1 plugin)", got, want)
		}
	}
	check(s)
	s.Close()
	check(mustOpen(t, dir, Options{Retain: 3}))
}

// TestDroppedContentLeavesTheLog: content that retention drops leaves the
// log when its segment is compacted, once Put appends elsewhere, and again
// at Open when a crash brought the old segment back.
func TestDroppedContentLeavesTheLog(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Retain: 1})
	s.opts.segmentRecords = 2 // a committed version's content and record fill a segment
	mustCommitFolded(t, s, 1)
	first := filepath.Join(dir, "records", segmentName(1))
	before, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	mustCommitFolded(t, s, 2) // version 1's content is dropped: its segment is compacted
	want := digestsOf(appJSON(2))
	if got := contentOnDisk(t, dir, ""); !maps.Equal(got, want) {
		t.Errorf("content on disk %v, want %v", got, want)
	}
	if list, _ := s.List(context.Background()); len(list) != 2 {
		t.Errorf("List has %d records, want 2: compaction keeps the records", len(list))
	}
	s.Close()
	// A crash undid the rename: the segment holds version 1's content again.
	if err := os.WriteFile(first, before, 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{Retain: 1})
	if got := contentOnDisk(t, dir, ""); !maps.Equal(got, want) {
		t.Errorf("after Open, content on disk %v, want %v", got, want)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("Problems() = %v", p)
	}
	if list, _ := s.List(context.Background()); len(list) != 2 {
		t.Errorf("after Open, List has %d records, want 2", len(list))
	}
}

// TestKeptContentIsCarriedOver: a segment left behind that holds content
// still kept and content dropped gets the kept content appended again at
// the end of the log, so that it is compacted once, not once per version
// dropped.
func TestKeptContentIsCarriedOver(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := mustOpen(t, dir, Options{Retain: 2, Logger: logger})
	s.opts.segmentRecords = 4 // two committed versions, content and record each
	for v := uint64(1); v <= 6; v++ {
		mustCommitFolded(t, s, v)
	}
	first := filepath.Join(dir, "records", segmentName(1))
	if n := strings.Count(logs.String(), `compacted a log segment" path=`+first+" "); n != 1 {
		t.Errorf("%s compacted %d times, want once:\n%s", first, n, logs.String())
	}
	if got := contentOnDisk(t, dir, s.logName); len(got) != 0 {
		t.Errorf("content outside the segment appended to: %v, want none", got)
	}
	for v := uint64(5); v <= 6; v++ {
		if got, err := s.Snapshot(context.Background(), v, "app"); err != nil || !bytes.Equal(got, appJSON(v)) {
			t.Errorf("Snapshot(%d) = %q, %v", v, got, err)
		}
	}
	s.Close()
	s = mustOpen(t, dir, Options{Retain: 2})
	for v := uint64(5); v <= 6; v++ {
		if got, err := s.Snapshot(context.Background(), v, "app"); err != nil || !bytes.Equal(got, appJSON(v)) {
			t.Errorf("after a reopen, Snapshot(%d) = %q, %v", v, got, err)
		}
	}
	if list, _ := s.List(context.Background()); len(list) != 6 {
		t.Errorf("after a reopen, %d records, want 6", len(list))
	}
}

// TestFailedCompactionLosesNothing: a segment that cannot be rewritten is
// reported and left as it is; Put succeeds, every kept version reads back,
// and the next Put compacts it once it can, then a reopen finds only the
// kept content, once each.
func TestFailedCompactionLosesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Retain: 3})
	s.opts.segmentRecords = 4 // two committed versions, content and record each
	for v := uint64(1); v <= 3; v++ {
		mustCommitFolded(t, s, v)
	}
	// The records directory gone: the segment being appended to is still
	// open, but no new file can be made beside it.
	records, aside := filepath.Join(dir, "records"), filepath.Join(dir, "records-aside")
	if err := os.Rename(records, aside); err != nil {
		t.Fatal(err)
	}
	mustCommitFolded(t, s, 4) // version 1 is dropped: its segment can be neither carried over from (the next segment cannot start) nor compacted
	p := s.Problems()
	if len(p) != 2 || !strings.Contains(p[0].Error(), "carrying the content kept in "+filepath.Join(records, segmentName(1))) ||
		!strings.Contains(p[1].Error(), "compacting "+filepath.Join(records, segmentName(1))) {
		t.Fatalf("Problems() = %v, want the failed carry-over and compaction", p)
	}
	if err := os.Rename(aside, records); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store, records int) {
		t.Helper()
		for v := uint64(2); v <= 4; v++ {
			if got, err := s.Snapshot(ctx, v, "app"); err != nil || !bytes.Equal(got, appJSON(v)) {
				t.Errorf("Snapshot(%d) = %q, %v", v, got, err)
			}
		}
		if list, _ := s.List(ctx); len(list) != records {
			t.Errorf("List has %d records, want %d", len(list), records)
		}
	}
	check(s, 4)
	// The next Put, which drops nothing, compacts the segment: version 1's
	// content leaves it, and version 2's is carried over, not copied.
	mustPut(t, s, attempt(5, hotreload.Rejected, nil), nil)
	if got, want := contentOnDisk(t, dir, ""), digestsOf(appJSON(2), appJSON(3), appJSON(4)); !maps.Equal(got, want) {
		t.Errorf("after the next Put, content on disk %v, want %v (versions 2 to 4 once each)", got, want)
	}
	if p := s.Problems(); len(p) != 2 {
		t.Errorf("Problems() = %v, want only the two failures before", p)
	}
	check(s, 5)
	s.Close()
	s = mustOpen(t, dir, Options{Retain: 3})
	check(s, 5)
	if got, want := contentOnDisk(t, dir, ""), digestsOf(appJSON(2), appJSON(3), appJSON(4)); !maps.Equal(got, want) {
		t.Errorf("after a reopen, content on disk %v, want %v", got, want)
	}
}

func TestMaxRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Retain: 1, MaxRecords: 5})
	s.opts.segmentRecords = 2
	mustCommit(t, s, 1)
	for v := uint64(2); v <= 20; v++ {
		mustPut(t, s, attempt(v, hotreload.Rejected, nil), nil)
	}
	var versions []uint64
	list, _ := s.List(ctx)
	for _, r := range list {
		versions = append(versions, r.Version)
	}
	// The last known good is never pruned, whatever its age.
	if want := []uint64{1, 17, 18, 19, 20}; !slices.Equal(versions, want) {
		t.Errorf("List versions = %v, want %v", versions, want)
	}
	if got, err := s.Snapshot(ctx, 1, "app"); err != nil || string(got) != string(appJSON(1)) {
		t.Errorf("Snapshot(1) = %q, %v; want the last known good content", got, err)
	}
	if _, err := s.Get(ctx, 5); err == nil {
		t.Error("Get(5) found a record beyond the limit")
	}
	// Segments of two records each: the segments left hold the kept
	// records, the others were deleted.
	if files := recordFiles(t, dir); len(files) != 4 {
		t.Errorf("records/ holds %v, want the 4 segments of the kept records", files)
	}
	s.Close()
	s = mustOpen(t, dir, Options{Retain: 1, MaxRecords: 5})
	list, _ = s.List(ctx)
	if len(list) != 5 || list[0].Version != 1 || list[4].Version != 20 {
		t.Errorf("after a reopen, List = %v, want the same 5 records", list)
	}
	// A new last known good: version 1 goes, the oldest first, then the
	// records after the new one.
	mustCommit(t, s, 21)
	for v := uint64(22); v <= 26; v++ {
		mustPut(t, s, attempt(v, hotreload.Rejected, nil), nil)
	}
	versions = nil
	list, _ = s.List(ctx)
	for _, r := range list {
		versions = append(versions, r.Version)
	}
	if want := []uint64{21, 23, 24, 25, 26}; !slices.Equal(versions, want) {
		t.Errorf("List versions = %v, want %v", versions, want)
	}
}

func TestPendingAtOpenIsRolledBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	mustCommit(t, s, 1)
	snaps := map[string][]byte{"app": appJSON(2)}
	mustPut(t, s, attempt(2, hotreload.Pending, snaps), snaps)
	s.Close() // as if the process died mid-transaction

	for range 2 { // the second open reads what the first rewrote
		s = mustOpen(t, dir, Options{})
		r, err := s.Get(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if r.Result != hotreload.RolledBack || !strings.Contains(r.Reason, "interrupted") {
			t.Errorf("Get(2) = %s %q, want rolled_back with an interrupted reason", r.Result, r.Reason)
		}
		if lg, _, _ := s.LastGood(ctx); lg.Version != 1 {
			t.Errorf("LastGood = %d, want 1", lg.Version)
		}
		s.Close()
	}
	files := recordFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("records/ holds %v, want one segment", files)
	}
	data, err := os.ReadFile(filepath.Join(dir, "records", files[0]))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if last := lines[len(lines)-1]; err != nil || len(lines) != 6 || !strings.Contains(last, `"version":2`) || !strings.Contains(last, `"result":"rolled_back"`) {
		t.Errorf("segment = %s, %v; want version 2 appended once, as rolled back", data, err)
	}
}

func TestCorruptFilesAreSkippedAndReported(t *testing.T) {
	ctx := context.Background()
	valid := recordFileOf(t, attempt(2, hotreload.Rejected, nil))
	badDigest := attempt(2, hotreload.Committed, map[string][]byte{"app": nil})
	badDigest.Targets[0].Digest = "../LOCK"
	escaping := recordFileOf(t, badDigest)
	for _, tc := range []struct {
		name    string
		file    string // in records/
		content string
		want    string
	}{
		{"ErrEmpty", recordName(2), "", "not a record: unexpected end of JSON input"},
		{"ErrTruncated", recordName(2), string(valid[:len(valid)/2]), "not a record"},
		{"ErrGarbage", recordName(2), "\x00\x01garbage", "not a record: invalid character"},
		{"ErrChecksum", recordName(2), strings.Replace(string(valid), `"api"`, `"apx"`, 1), "checksum mismatch"},
		{"ErrFormat", recordName(2), strings.Replace(string(valid), `"format":1`, `"format":9`, 1), "unknown record format 9 (want 1)"},
		{"ErrNoRecord", recordName(2), `{"format":1,"sha256":""}`, "record is missing"},
		{"ErrDigestEscapes", recordName(2), string(escaping), `target "app": digest "../LOCK" is not a lower-case hex SHA-256`},
		{"ErrUnexpectedName", "notes.txt", "hello", "unexpected file in the records directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{})
			mustCommit(t, s, 1)
			s.Close()
			path := filepath.Join(dir, "records", tc.file)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}

			s = mustOpen(t, dir, Options{})
			problems := s.Problems()
			if len(problems) != 1 {
				t.Fatalf("Problems() = %v, want one", problems)
			}
			wantCode(t, problems[0], hotreload.CodeInternal, path, tc.want)
			if got, err := s.Snapshot(ctx, 1, "app"); err != nil || string(got) != string(appJSON(1)) {
				t.Errorf("the valid version is unreadable: %q, %v", got, err)
			}
			// New records never overwrite the skipped file.
			mustCommit(t, s, 3)
			if got, _ := os.ReadFile(path); string(got) != tc.content {
				t.Errorf("the corrupt file was overwritten")
			}
		})
	}

	t.Run("ErrCorruptObjectLine", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{})
		mustCommit(t, s, 1)
		s.Close()
		segment := filepath.Join(dir, "records", segmentName(1))
		data, err := os.ReadFile(segment)
		if err != nil {
			t.Fatal(err)
		}
		corrupt := strings.Replace(string(data), `"data":"ey`, `"data":"ez`, 1) // the content of version 1, changed
		if err := os.WriteFile(segment, []byte(corrupt), 0o600); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, dir, Options{})
		problems := s.Problems()
		if len(problems) != 1 {
			t.Fatalf("Problems() = %v, want one", problems)
		}
		wantCode(t, problems[0], hotreload.CodeInternal, segment+":1: skipped: object "+hotreload.Digest(appJSON(1))+" is corrupt")
		_, err = s.Snapshot(ctx, 1, "app")
		wantCode(t, err, hotreload.CodeInternal, "no such file")
		// The segment is kept as it is, for inspection.
		mustCommit(t, s, 2)
		if got, _ := os.ReadFile(segment); string(got) != corrupt {
			t.Errorf("the damaged segment was rewritten")
		}
	})

	t.Run("ErrCorruptObject", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{})
		snaps := map[string][]byte{"app": largeContent(1)}
		mustPut(t, s, attempt(1, hotreload.Committed, snaps), snaps)
		obj := filepath.Join(dir, "objects", hotreload.Digest(largeContent(1)))
		if err := os.WriteFile(obj, []byte(`{"version":666}`), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.Snapshot(ctx, 1, "app")
		wantCode(t, err, hotreload.CodeInternal, obj+" is corrupt: its content hashes to sha256 "+hotreload.Digest([]byte(`{"version":666}`)))
		os.Remove(obj)
		_, err = s.Snapshot(ctx, 1, "app")
		wantCode(t, err, hotreload.CodeInternal, "no such file")
	})
}

func TestTornTempFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	mustCommit(t, s, 1)
	s.Close()
	torn := []string{
		filepath.Join(dir, "records", tempPrefix+"123456"),
		filepath.Join(dir, "objects", tempPrefix+"abcdef"),
	}
	for _, p := range torn {
		if err := os.WriteFile(p, []byte(`{"format":1,"sha`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// An object no record names: written just before a crash.
	orphan := filepath.Join(dir, "objects", hotreload.Digest([]byte("orphan")))
	os.WriteFile(orphan, []byte("orphan"), 0o600)

	s = mustOpen(t, dir, Options{})
	for _, p := range append(torn, orphan) {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after Open (%v)", p, err)
		}
	}
	if p := s.Problems(); len(p) != 0 {
		t.Errorf("Problems() = %v, want none", p)
	}
	if list, _ := s.List(context.Background()); len(list) != 1 {
		t.Errorf("List has %d records, want 1", len(list))
	}
}

func TestOneStorePerDirectory(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	_, err := Open(Options{Dir: dir})
	wantCode(t, err, hotreload.CodeUnavailable, "held by another process")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dir, Options{}).Close()
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, t.TempDir(), Options{})
	mustCommit(t, s, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	_, err := s.Get(ctx, 1)
	wantCode(t, err, hotreload.CodeUnavailable, "closed")
	_, err = s.List(ctx)
	wantCode(t, err, hotreload.CodeUnavailable, "closed")
	_, _, err = s.LastGood(ctx)
	wantCode(t, err, hotreload.CodeUnavailable, "closed")
	_, err = s.Snapshot(ctx, 1, "app")
	wantCode(t, err, hotreload.CodeUnavailable, "closed")
	err = s.Put(ctx, hotreload.Entry{Record: attempt(2, hotreload.Rejected, nil)})
	wantCode(t, err, hotreload.CodeUnavailable, "closed")
}

func TestReturnedRecordsAreCopies(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, t.TempDir(), Options{})
	mustCommit(t, s, 1)
	r, _ := s.Get(ctx, 1)
	r.Targets[0].Digest = "x"
	r.Targets[0].Meta["etcd_revision"] = "x"
	again, _ := s.Get(ctx, 1)
	if again.Targets[0].Digest == "x" || again.Targets[0].Meta["etcd_revision"] == "x" {
		t.Errorf("modifying a returned record changed the store: %+v", again)
	}
}

// TestConcurrentReadersDuringWrites runs readers against a writer that
// commits, rejects and prunes; run it with -race.
func TestConcurrentReadersDuringWrites(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, t.TempDir(), Options{Retain: 3, MaxRecords: 50})
	const versions = 80
	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads [4]int
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(50 * time.Microsecond): // leave the writer some CPU on a small machine
				}
				list, err := s.List(ctx)
				if err != nil {
					errs <- err
					return
				}
				for j := 1; j < len(list); j++ {
					if list[j].Version <= list[j-1].Version {
						errs <- fmt.Errorf("List out of order: version %d after %d", list[j].Version, list[j-1].Version)
						return
					}
				}
				lg, ok, err := s.LastGood(ctx)
				if err != nil || (ok && lg.Result != hotreload.Committed) {
					errs <- fmt.Errorf("LastGood = %+v, %v", lg, err)
					return
				}
				if !ok {
					continue
				}
				got, err := s.Snapshot(ctx, lg.Version, "app")
				switch {
				case hotreload.ErrorCode(err) == hotreload.CodeNotFound:
					// pruned since LastGood answered
				case err != nil:
					errs <- err
					return
				case string(got) != string(appJSON(lg.Version)):
					errs <- fmt.Errorf("Snapshot(%d) = %q", lg.Version, got)
					return
				default:
					reads[i]++
				}
				if _, err := Diff(ctx, s, lg.Version, lg.Version); err != nil && hotreload.ErrorCode(err) != hotreload.CodeNotFound {
					errs <- err
					return
				}
			}
		})
	}
	for v := uint64(1); v <= versions; v++ {
		if v%4 == 0 {
			mustPut(t, s, attempt(v, hotreload.Rejected, nil), nil)
			continue
		}
		mustCommit(t, s, v)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for _, n := range reads {
		total += n
	}
	if total == 0 {
		t.Error("no reader ever read a snapshot")
	}
	t.Logf("%d snapshot reads during %d versions", total, versions)
}

func TestFailedPutLeavesNoContentBehind(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	snaps := map[string][]byte{"a": []byte("stored first"), "b": []byte("b")}
	rec := attempt(1, hotreload.Pending, snaps)
	rec.Targets[1].Digest = hotreload.Digest([]byte("something else"))
	err := s.Put(context.Background(), hotreload.Entry{Record: rec, Snapshots: snaps})
	wantCode(t, err, hotreload.CodeInvalid, `the snapshot of target "b" hashes to`)

	mustCommit(t, s, 2)
	if got, want := contentOnDisk(t, dir, ""), digestsOf(appJSON(2)); !maps.Equal(got, want) {
		t.Errorf("content on disk %v, want only the committed content %v", got, want)
	}
}

// TestFailedObjectWriteLeavesNoRecord: the records of a Put are appended
// once its object files are durable; when one cannot be written, the
// records are not appended.
func TestFailedObjectWriteLeavesNoRecord(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	mustCommit(t, s, 1)
	objects := filepath.Join(dir, "objects")
	aside := filepath.Join(dir, "objects-aside")
	if err := os.Rename(objects, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(objects, nil, 0o600); err != nil { // not a directory: every write in it fails
		t.Fatal(err)
	}
	snaps := map[string][]byte{"app": largeContent(2)}
	err := s.Put(context.Background(), hotreload.Entry{Record: attempt(2, hotreload.Committed, snaps), Snapshots: snaps})
	wantCode(t, err, hotreload.CodeInternal, `storing the snapshot of target "app"`)
	files, _ := os.ReadDir(filepath.Join(dir, "records"))
	if len(files) != 1 {
		t.Fatalf("records/ holds %v after the failed Put, want the first record alone", files)
	}
	if _, err := s.Get(context.Background(), 2); hotreload.ErrorCode(err) != hotreload.CodeNotFound {
		t.Fatalf("Get(2) after the failed Put: %v, want not found", err)
	}
	if err := os.Remove(objects); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(aside, objects); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, 2)
}

// TestPutBatch: entries put together are recorded in the order given, each
// with its content (content shared by two is stored once), and survive a
// reopen like entries put one by one.
// TestLargeBatchBoundsItsThreads writes a batch of a thousand records:
// the files it fsyncs at once, each holding an OS thread, stay bounded.
func TestLargeBatchBoundsItsThreads(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	mustCommit(t, s, 1)
	var batch []hotreload.Entry
	for v := uint64(2); v < 1002; v++ {
		snaps := map[string][]byte{"app": appJSON(v)}
		batch = append(batch, hotreload.Entry{Record: attempt(v, hotreload.Committed, snaps), Snapshots: snaps})
	}
	threads := pprof.Lookup("threadcreate")
	before := threads.Count()
	if err := s.Put(context.Background(), batch...); err != nil {
		t.Fatal(err)
	}
	if created := threads.Count() - before; created > 2*maxWritesInFlight {
		t.Fatalf("a batch of %d records created %d threads, want at most %d", len(batch), created, 2*maxWritesInFlight)
	}
	if recs, err := s.List(context.Background()); err != nil || len(recs) != 1001 {
		t.Fatalf("%d records, %v; want 1001", len(recs), err)
	}
}

// TestLargeBatchKeepsSegmentsReadable: a batch bringing more small content
// than a segment should hold appends the first 8 MiB of it as lines and
// writes the rest as files, the segments stay within 16 MiB, and every
// version reads back after a reopen.
func TestLargeBatchKeepsSegmentsReadable(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Retain: 300})
	mustCommit(t, s, 1)
	content := func(v uint64) []byte { return append(appJSON(v), make([]byte, 60<<10)...) }
	var batch []hotreload.Entry
	for v := uint64(2); v <= 300; v++ {
		snaps := map[string][]byte{"app": content(v)}
		batch = append(batch, hotreload.Entry{Record: attempt(v, hotreload.Committed, snaps), Snapshots: snaps})
	}
	if err := s.Put(context.Background(), batch...); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, dir, Options{Retain: 300})
	if p := s.Problems(); len(p) > 0 {
		t.Fatalf("Problems() = %v", p)
	}
	for v := uint64(2); v <= 300; v++ {
		if got, err := s.Snapshot(context.Background(), v, "app"); err != nil || !bytes.Equal(got, content(v)) {
			t.Fatalf("Snapshot(%d): %d bytes, %v", v, len(got), err)
		}
	}
	objs, _ := os.ReadDir(filepath.Join(dir, "objects"))
	if lines := 299 - len(objs); lines*(60<<10) > maxLineObjects || len(objs) == 0 || len(objs) == 299 {
		t.Errorf("%d of 299 snapshots in files, want the ones beyond %d bytes of lines", len(objs), maxLineObjects)
	}
	for _, name := range recordFiles(t, dir) {
		if fi, err := os.Stat(filepath.Join(dir, "records", name)); err != nil || fi.Size() > segmentBytes {
			t.Errorf("segment %s: %v, %v; want at most %d bytes", name, fi.Size(), err, segmentBytes)
		}
	}
}

func TestPutBatch(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	mustCommit(t, s, 1)
	var batch []hotreload.Entry
	for _, v := range []uint64{2, 3, 4} {
		snaps := map[string][]byte{"app": appJSON(v)}
		if v == 4 {
			snaps["app"] = appJSON(2) // back to version 2's content
		}
		batch = append(batch, hotreload.Entry{Record: attempt(v, hotreload.Committed, snaps), Snapshots: snaps})
	}
	batch = append(batch, hotreload.Entry{Record: attempt(4, hotreload.Unchanged, nil)})
	if err := s.Put(context.Background(), batch...); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store) {
		t.Helper()
		recs, err := s.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, fmt.Sprint(r.Version, " ", r.Result))
		}
		if want := []string{"1 committed", "2 committed", "3 committed", "4 committed", "4 unchanged"}; !slices.Equal(got, want) {
			t.Fatalf("records %v, want %v", got, want)
		}
		for v, want := range map[uint64][]byte{2: appJSON(2), 3: appJSON(3), 4: appJSON(2)} {
			if snap, err := s.Snapshot(context.Background(), v, "app"); err != nil || !bytes.Equal(snap, want) {
				t.Fatalf("Snapshot(%d) = %s, %v; want %s", v, snap, err, want)
			}
		}
		if lkg, _, _ := s.LastGood(context.Background()); lkg.Version != 4 {
			t.Fatalf("last known good %d, want 4", lkg.Version)
		}
	}
	check(s)
	if got, want := contentOnDisk(t, dir, ""), digestsOf(appJSON(1), appJSON(2), appJSON(3)); !maps.Equal(got, want) {
		t.Fatalf("content on disk %v, want versions 1, 2 and 3's content once each %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(mustOpen(t, dir, Options{}))
}

// TestFailedBatchLeavesNoRecord: when the records of a batch cannot be
// appended to the log, the segment is cut back: none of the batch is in
// the store, now or after a reopen, and the next Put starts a new segment.
func TestFailedBatchLeavesNoRecord(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	mustCommit(t, s, 1)
	segment := filepath.Join(dir, "records", s.logName)
	before, err := os.ReadFile(segment)
	if err != nil {
		t.Fatal(err)
	}
	// The fault: the segment is open for reading only, so the append fails.
	s.log.Close()
	if s.log, err = os.Open(segment); err != nil {
		t.Fatal(err)
	}
	var batch []hotreload.Entry
	for _, v := range []uint64{2, 3} {
		snaps := map[string][]byte{"app": appJSON(v)}
		batch = append(batch, hotreload.Entry{Record: attempt(v, hotreload.Committed, snaps), Snapshots: snaps})
	}
	err = s.Put(context.Background(), batch...)
	wantCode(t, err, hotreload.CodeInternal, "recording version 2", "appending to "+segment)
	for _, v := range []uint64{2, 3} {
		if _, err := s.Get(context.Background(), v); hotreload.ErrorCode(err) != hotreload.CodeNotFound {
			t.Fatalf("Get(%d) after the failed Put: %v, want not found", v, err)
		}
	}
	if after, _ := os.ReadFile(segment); !bytes.Equal(after, before) {
		t.Fatalf("the segment changed after the failed Put:\n%s", after)
	}
	mustPut(t, s, attempt(2, hotreload.Rejected, nil), nil)
	if files := recordFiles(t, dir); len(files) != 2 {
		t.Fatalf("records/ holds %v, want the first segment and a new one", files)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{})
	if lkg, _, _ := s.LastGood(context.Background()); lkg.Version != 1 {
		t.Fatalf("last known good after a reopen: %d, want 1", lkg.Version)
	}
	if r, err := s.Get(context.Background(), 2); err != nil || r.Result != hotreload.Rejected {
		t.Fatalf("Get(2) after a reopen: %v, %v; want the rejected attempt", r.Result, err)
	}
}

// TestTornLogTailIsCut: the end of the newest segment that a crash tore
// (a line without its newline, or a last line that does not read back) is
// an interrupted Put: Open cuts it off without a problem, and the next Put
// appends to the same segment.
func TestTornLogTailIsCut(t *testing.T) {
	for _, tc := range []struct{ name, tail string }{
		{"NoNewline", `{"format":2,"seq":9,"sha256":"`},
		{"Garbage", "\x00\x00\x00\x00\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{})
			mustCommit(t, s, 1)
			mustCommit(t, s, 2)
			segment := filepath.Join(dir, "records", s.logName)
			s.Close()
			before, err := os.ReadFile(segment)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(segment, append(slices.Clone(before), tc.tail...), 0o600); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, dir, Options{})
			if p := s.Problems(); len(p) != 0 {
				t.Fatalf("Problems() = %v, want none for a torn tail", p)
			}
			if after, _ := os.ReadFile(segment); !bytes.Equal(after, before) {
				t.Fatalf("segment after Open:\n%s\nwant the torn tail cut off", after)
			}
			mustCommit(t, s, 3)
			if files := recordFiles(t, dir); len(files) != 1 {
				t.Fatalf("records/ holds %v, want the one segment appended to", files)
			}
			s.Close()
			s = mustOpen(t, dir, Options{})
			if list, _ := s.List(ctx); len(list) != 3 || list[2].Version != 3 || list[2].Result != hotreload.Committed {
				t.Fatalf("List = %v, want versions 1 to 3 committed", list)
			}
		})
	}
}

// TestDamagedLogLineIsReported: a line that does not read back within a
// segment is reported with its file and line, the other lines are kept,
// and the segment stays on disk even once it holds no live record.
func TestDamagedLogLineIsReported(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Retain: 1, MaxRecords: 2})
	s.opts.segmentRecords = 3
	mustPut(t, s, attempt(1, hotreload.Rejected, nil), nil)
	mustPut(t, s, attempt(2, hotreload.Rejected, nil), nil)
	mustPut(t, s, attempt(3, hotreload.Rejected, nil), nil)
	first := filepath.Join(dir, "records", s.logName)
	s.Close()
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Replace(data, []byte(`"version":2`), []byte(`"version":5`), 1)
	if err := os.WriteFile(first, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{Retain: 1, MaxRecords: 2})
	s.opts.segmentRecords = 3
	problems := s.Problems()
	if len(problems) != 1 {
		t.Fatalf("Problems() = %v, want one", problems)
	}
	wantCode(t, problems[0], hotreload.CodeInternal, first+":2: skipped: checksum mismatch")
	if list, _ := s.List(ctx); len(list) != 2 || list[0].Version != 1 || list[1].Version != 3 {
		t.Fatalf("List = %v, want versions 1 and 3", list)
	}
	// Newer records push the segment's out: it stays, for inspection.
	for v := uint64(4); v <= 8; v++ {
		mustPut(t, s, attempt(v, hotreload.Rejected, nil), nil)
	}
	if got, err := os.ReadFile(first); err != nil || !bytes.Equal(got, damaged) {
		t.Fatalf("the damaged segment was changed or removed: %v", err)
	}
}

// TestRecordFilesAreRead: record files, the layout before the records log,
// are read as records; one left pending is appended to the log as rolled
// back and its file removed, and new records take the next seq.
func TestRecordFilesAreRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	mustCommit(t, s, 1)
	s.Close()
	for seq, rec := range map[uint64]hotreload.Record{
		5: attempt(2, hotreload.Rejected, nil),
		6: attempt(3, hotreload.Pending, nil),
	} {
		if err := os.WriteFile(filepath.Join(dir, "records", recordName(seq)), recordFileOf(t, rec), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s = mustOpen(t, dir, Options{})
	if p := s.Problems(); len(p) != 0 {
		t.Fatalf("Problems() = %v", p)
	}
	mustPut(t, s, attempt(4, hotreload.Rejected, nil), nil)
	want := []string{"1 committed", "2 rejected", "3 rolled_back", "4 rejected"}
	check := func(s *Store) {
		t.Helper()
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range list {
			got = append(got, fmt.Sprint(r.Version, " ", r.Result))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("List = %v, want %v", got, want)
		}
	}
	check(s)
	if files := recordFiles(t, dir); !slices.Contains(files, recordName(5)) || slices.Contains(files, recordName(6)) || len(files) != 2 {
		t.Fatalf("records/ holds %v, want the segment and the file of seq 5", files)
	}
	s.Close()
	check(mustOpen(t, dir, Options{}))
}
