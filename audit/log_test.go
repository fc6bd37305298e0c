package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// MustOpen opens a Log in dir and closes it when the test ends.
func MustOpen(tb testing.TB, opts Options) *Log {
	tb.Helper()
	l, err := Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// writeRecords appends n denied records to a fresh log in a new directory.
func writeRecords(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	l := MustOpen(t, Options{Dir: dir})
	for i := range n {
		if err := l.Append(context.Background(), Entry{Kind: KindDenied, Source: "api", Actor: "mallory", Action: "patch", Result: "forbidden", Reason: strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readLines(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, LogName))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func writeLines(t *testing.T, dir string, lines []string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, LogName), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustVerify(t *testing.T, dir string) Report {
	t.Helper()
	rep, err := VerifyDir(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestIntactAcrossReopen(t *testing.T) {
	dir := writeRecords(t, 3)
	l := MustOpen(t, Options{Dir: dir})
	if err := l.Append(context.Background(), Entry{Kind: KindAction, Source: "cli", Action: "token add"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	rep := mustVerify(t, dir)
	if !rep.OK() || rep.Records != 4 {
		t.Fatalf("report = %+v, want 4 intact records", rep)
	}
	lines := readLines(t, dir)
	var last Entry
	if err := json.Unmarshal([]byte(lines[3]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Seq != 4 || last.Prev == "" || len(last.MAC) != 64 {
		t.Fatalf("the reopened log did not continue the chain: %+v", last)
	}
	for _, name := range []string{LogName, KeyName, HeadName} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

func TestTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string, lines []string)
		want   []string // "LINE: message fragment", one per problem
	}{
		{"Edited", func(t *testing.T, dir string, lines []string) {
			lines[2] = strings.Replace(lines[2], `"actor":"mallory"`, `"actor":"alice"`, 1)
			writeLines(t, dir, lines)
		}, []string{"3: HMAC mismatch: the line was edited"}},
		{"EditedUnparsable", func(t *testing.T, dir string, lines []string) {
			lines[1] = lines[1][:20]
			writeLines(t, dir, lines)
		}, []string{"2: not an audit record"}},
		{"Deleted", func(t *testing.T, dir string, lines []string) {
			writeLines(t, dir, append(lines[:2:2], lines[3:]...))
		}, []string{"3: record 3 is missing before this line: it was deleted"}},
		{"DeletedSeveral", func(t *testing.T, dir string, lines []string) {
			writeLines(t, dir, append(lines[:1:1], lines[4:]...))
		}, []string{"2: records 2 to 4 are missing"}},
		{"DeletedLast", func(t *testing.T, dir string, lines []string) {
			writeLines(t, dir, lines[:4])
		}, []string{"4: the log ends at record 4 but the head says 5"}},
		{"InsertedForged", func(t *testing.T, dir string, lines []string) {
			forged := strings.Replace(lines[1], `"actor":"mallory"`, `"actor":"root"`, 1)
			writeLines(t, dir, append(lines[:2:2], append([]string{forged}, lines[2:]...)...))
		}, []string{"3: the line was inserted"}},
		{"InsertedReplay", func(t *testing.T, dir string, lines []string) {
			writeLines(t, dir, append(lines[:3:3], append([]string{lines[1]}, lines[3:]...)...))
		}, []string{"4: sequence 2 comes after 3: the line was reordered or replayed"}},
		{"Reordered", func(t *testing.T, dir string, lines []string) {
			lines[1], lines[2] = lines[2], lines[1]
			writeLines(t, dir, lines)
		}, []string{"2: sequence 3 comes before 2 (line 3): lines were reordered", "3: sequence 2 comes after 3"}},
		{"HeadEdited", func(t *testing.T, dir string, lines []string) {
			if err := os.WriteFile(filepath.Join(dir, HeadName), []byte(`{"seq":2,"mac":"x","hmac":"y"}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"0: the head record was edited"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRecords(t, 5)
			tc.tamper(t, dir, readLines(t, dir))
			rep := mustVerify(t, dir)
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.String())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems = %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				line, msg, _ := strings.Cut(w, ": ")
				prefix := LogName + ":" + line + ": "
				if line == "0" {
					prefix = HeadName + ": "
				}
				if !strings.HasPrefix(got[i], prefix) || !strings.Contains(got[i], msg) {
					t.Errorf("problem %d = %q, want %q then %q", i, got[i], prefix, msg)
				}
			}
		})
	}
}

func TestWrongKey(t *testing.T) {
	dir := writeRecords(t, 2)
	other := filepath.Join(t.TempDir(), "other.key")
	if _, err := LoadKey(other, true); err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyDir(dir, other)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("a log verified with another key")
	}
}

// TestTornLineToldApartFromRemovedRecord: a partial last line that the
// head never acknowledged is a write a crash cut short: verify says the
// log is intact (and torn), and Open cuts it. The same partial line where
// the head names a whole record is an acknowledged record cut off: verify
// names both problems and Open refuses mutations (TestRemovedTail...).
func TestTornLineToldApartFromRemovedRecord(t *testing.T) {
	t.Run("unacknowledged", func(t *testing.T) {
		dir := writeRecords(t, 2)
		f, err := os.OpenFile(filepath.Join(dir, LogName), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(`{"seq":3,"time":"20`) // a crash mid-write
		f.Close()
		if rep := mustVerify(t, dir); !rep.OK() || !rep.Torn {
			t.Fatalf("verify of a torn unacknowledged line = %+v, want intact and torn", rep)
		}
		l := MustOpen(t, Options{Dir: dir})
		if err := l.Check(context.Background()); err != nil {
			t.Fatalf("Check after a crash mid-write = %v", err)
		}
		if err := l.Append(context.Background(), Entry{Kind: KindAction, Action: "x"}); err != nil {
			t.Fatal(err)
		}
		l.Close()
		if rep := mustVerify(t, dir); !rep.OK() || rep.Torn || rep.Records != 3 {
			t.Fatalf("after repair: %+v", rep)
		}
	})
	t.Run("acknowledged", func(t *testing.T) {
		dir := writeRecords(t, 3)
		lines := readLines(t, dir)
		cut := strings.Join(lines[:2], "\n") + "\n" + lines[2][:len(lines[2])/2]
		if err := os.WriteFile(filepath.Join(dir, LogName), []byte(cut), 0o600); err != nil {
			t.Fatal(err)
		}
		rep := mustVerify(t, dir)
		var got []string
		for _, p := range rep.Problems {
			got = append(got, p.String())
		}
		if rep.Torn || len(got) != 2 || !strings.Contains(got[0], "audit.log:2: the log ends at record 2 but the head says 3") ||
			!strings.Contains(got[1], "audit.log:3: the line is cut off mid-record") {
			t.Fatalf("verify of a cut acknowledged record = %q (torn %v)", got, rep.Torn)
		}
	})
}

// TestEditedLastLineRefusesMutations: the last record edited in place
// (its mac field kept) is no valid record; Open does not continue the
// chain after it as if nothing happened.
func TestEditedLastLineRefusesMutations(t *testing.T) {
	dir := writeRecords(t, 3)
	lines := readLines(t, dir)
	lines[2] = strings.Replace(lines[2], `"actor":"mallory"`, `"actor":"alice"`, 1)
	writeLines(t, dir, lines)
	l := MustOpen(t, Options{Dir: dir})
	err := l.Append(context.Background(), Entry{Kind: KindAttempt, Source: "api", Action: "patch"})
	if hotreload.ErrorCode(err) != hotreload.CodeUnavailable || !strings.Contains(err.Error(), "not a valid record") {
		t.Fatalf("Append after an edited last line: %v", err)
	}
	l.Close()
	e, err := AcceptGap(dir, "", "test")
	if err != nil || e.Seq != 3 {
		t.Fatalf("AcceptGap = %+v, %v; want record 3 after the last valid one", e, err)
	}
	// The edit stays visible; the gap record links to the record before it.
	rep := mustVerify(t, dir)
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].String(), "audit.log:3: HMAC mismatch") {
		t.Fatalf("verify after AcceptGap: %+v", rep.Problems)
	}
}

// faultySink wraps a file and fails or blocks on demand.
type faultySink struct {
	*os.File
	mu       sync.Mutex
	failNext error         // returned by the next Write, after writing half
	block    chan struct{} // when not nil, Sync waits for it to close
}

func (s *faultySink) Write(p []byte) (int, error) {
	s.mu.Lock()
	err := s.failNext
	s.failNext = nil
	s.mu.Unlock()
	if err != nil {
		n, _ := s.File.Write(p[:len(p)/2])
		return n, err
	}
	return s.File.Write(p)
}

func (s *faultySink) Sync() error {
	s.mu.Lock()
	b := s.block
	s.mu.Unlock()
	if b != nil {
		<-b
	}
	return s.File.Sync()
}

func openFaulty(t *testing.T, timeout time.Duration) (*Log, *faultySink, string) {
	t.Helper()
	dir := t.TempDir()
	key, err := LoadKey(filepath.Join(dir, KeyName), true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, LogName), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s := &faultySink{File: f}
	h, err := openHead(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := start(Options{Dir: dir, Timeout: timeout, Now: time.Now}, key, s, h, 0, "", 0)
	t.Cleanup(func() { l.Close() })
	return l, s, dir
}

func TestFailClosedOnWriteError(t *testing.T) {
	l, s, dir := openFaulty(t, time.Second)
	ctx := context.Background()
	if err := l.Append(ctx, Entry{Kind: KindAction, Action: "one"}); err != nil {
		t.Fatal(err)
	}
	s.failNext = errors.New("no space left on device")
	err := l.Append(ctx, Entry{Kind: KindAction, Action: "two"})
	if hotreload.ErrorCode(err) != hotreload.CodeUnavailable || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Append on a failing disk = %v, want unavailable naming the cause", err)
	}
	if err := l.Check(ctx); err == nil {
		t.Fatal("Check reports healthy after a failed write")
	}
	// The next write repairs the half-written line and succeeds.
	if err := l.Append(ctx, Entry{Kind: KindAction, Action: "three"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(ctx); err != nil {
		t.Fatalf("Check after recovery = %v", err)
	}
	if rep := mustVerify(t, dir); !rep.OK() || rep.Records != 2 {
		t.Fatalf("after repair: %+v", rep)
	}
}

func TestFailClosedWithinTimeoutWhenDiskHangs(t *testing.T) {
	l, s, _ := openFaulty(t, 200*time.Millisecond)
	ctx := context.Background()
	unblock := make(chan struct{})
	s.block = unblock
	t0 := time.Now()
	err := l.Append(ctx, Entry{Kind: KindAction, Action: "hangs"})
	if hotreload.ErrorCode(err) != hotreload.CodeUnavailable {
		t.Fatalf("Append on a hung disk = %v, want unavailable", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("Append took %v, want about the 200ms timeout", d)
	}
	if err := l.Check(ctx); err == nil {
		t.Fatal("Check reports healthy while a write hangs")
	}
	t0 = time.Now()
	if _, _, err := l.Read(ctx, 10); err == nil || time.Since(t0) > 2*time.Second {
		t.Fatalf("Read while a write hangs = %v after %v, want an error after the timeout", err, time.Since(t0))
	}
	t0 = time.Now()
	if err := l.Append(ctx, Entry{Kind: KindAction, Action: "queued"}); err == nil || time.Since(t0) > 100*time.Millisecond {
		t.Fatalf("Append while stuck = %v after %v, want a fast failure", err, time.Since(t0))
	}
	s.mu.Lock()
	s.block = nil
	s.mu.Unlock()
	close(unblock)
	deadline := time.Now().Add(5 * time.Second)
	for l.Check(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the log did not recover after the disk came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := l.Append(ctx, Entry{Kind: KindAction, Action: "after"}); err != nil {
		t.Fatal(err)
	}
}

func TestAuditorRecordsAttemptAndResult(t *testing.T) {
	dir := t.TempDir()
	state := hotreload.Status{Active: 7, Targets: []hotreload.TargetStatus{{Name: "app", Digest: "aaa"}, {Name: "ui", Digest: "bbb"}}}
	l := MustOpen(t, Options{Dir: dir, State: func() hotreload.Status { return state },
		Redact: func(s string) string { return strings.ReplaceAll(s, "hunter2", "[REDACTED]") }})
	ctx := context.Background()
	req := hotreload.Request{Source: "api", Author: "ci", Remote: "10.0.0.5:4242",
		Candidates: []hotreload.Candidate{{Target: "app", Patch: []byte(`{"a":1}`)}}}
	if err := l.Attempt(ctx, req); err != nil {
		t.Fatal(err)
	}
	out := hotreload.Outcome{Result: hotreload.RolledBack, Version: 8, Active: 7, Reason: "health: password hunter2 rejected",
		Targets: []hotreload.TargetOutcome{{Target: "app", Digest: "ccc"}}}
	if err := l.Result(ctx, req, out); err != nil {
		t.Fatal(err)
	}
	if err := l.Attempt(ctx, hotreload.Request{Source: "watch"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	lines := readLines(t, dir)
	var got []Entry
	for _, line := range lines {
		var e Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		e.Time, e.Prev, e.MAC = time.Time{}, "", ""
		got = append(got, e)
	}
	want := []Entry{
		{Seq: 1, Kind: KindAttempt, Source: "api", Actor: "ci", Remote: "10.0.0.5:4242", Action: "patch", VersionBefore: 7,
			Targets: []Target{{Name: "app", Before: "aaa"}}},
		{Seq: 2, Kind: KindResult, Source: "api", Actor: "ci", Remote: "10.0.0.5:4242", Action: "patch", VersionBefore: 7, Version: 8, VersionAfter: 7,
			Result: "rolled_back", Reason: "health: password [REDACTED] rejected", Targets: []Target{{Name: "app", Before: "aaa", After: "ccc"}}},
		{Seq: 3, Kind: KindAttempt, Source: "watch", Action: "reload", VersionBefore: 7,
			Targets: []Target{{Name: "app", Before: "aaa"}, {Name: "ui", Before: "bbb"}}},
	}
	gj, _ := json.MarshalIndent(got, "", " ")
	wj, _ := json.MarshalIndent(want, "", " ")
	if !bytes.Equal(gj, wj) {
		t.Fatalf("records:\n%s\nwant:\n%s", gj, wj)
	}
	if bytes.Contains([]byte(strings.Join(lines, "\n")), []byte("hunter2")) {
		t.Fatal("the audit log holds a secret")
	}
}

func FuzzVerify(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	e := Entry{Seq: 1, Kind: KindAction, Action: "x"}
	line, _ := seal(key, &e)
	f.Add(string(line) + "\n")
	f.Add("{}\n\n" + `{"seq":1,"mac":"00"}` + "\n")
	f.Fuzz(func(t *testing.T, log string) {
		if _, err := Verify(strings.NewReader(log), key, &Head{Seq: 1}); err != nil && !strings.Contains(err.Error(), "reading the log") {
			t.Fatal(err)
		}
		// The fast path that reads sealed lines by position never panics,
		// whatever it is given.
		for line := range strings.SplitSeq(log, "\n") {
			decode([]byte(line), true)
		}
	})
}

// TestRemovedTailRefusesMutations: a log whose acknowledged last record was
// deleted, or cut mid-line, does not match its head. Open does not repair
// it: mutations are refused (fail closed) and Check says why, until
// AcceptGap records the gap as a signed record of its own.
func TestRemovedTailRefusesMutations(t *testing.T) {
	for _, cut := range []string{"whole line", "mid-line"} {
		t.Run(strings.ReplaceAll(cut, " ", "_"), func(t *testing.T) {
			dir := writeRecords(t, 3)
			path := filepath.Join(dir, LogName)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(data), "\n")
			kept := strings.Join(lines[:2], "")
			if cut == "mid-line" {
				kept += lines[2][:len(lines[2])/2]
			}
			if err := os.WriteFile(path, []byte(kept), 0o600); err != nil {
				t.Fatal(err)
			}
			l := MustOpen(t, Options{Dir: dir})
			err = l.Append(context.Background(), Entry{Kind: KindAttempt, Source: "api", Action: "patch"})
			if hotreload.ErrorCode(err) != hotreload.CodeUnavailable || !strings.Contains(err.Error(), "the log ends at record 2 but the head says 3") {
				t.Fatalf("Append over a removed tail: %v", err)
			}
			if err := l.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "accept-gap") {
				t.Fatalf("Check = %v", err)
			}
			if err := l.Append(context.Background(), Entry{Kind: KindAttempt, Source: "start", Action: "reload"}); err != nil {
				t.Fatalf("the start is refused: %v", err)
			}
			l.Close()
			if got, _ := os.ReadFile(path); string(got) != kept {
				t.Fatal("Open or the start changed the tampered log")
			}
			if rep := mustVerify(t, dir); rep.OK() {
				t.Fatalf("verify says intact: %+v", rep)
			}

			e, err := AcceptGap(dir, "", "operator alice: restored from backup")
			if err != nil || e.Seq != 3 || e.Kind != KindGap || !strings.Contains(e.Reason, "acknowledged records were removed") {
				t.Fatalf("AcceptGap = %+v, %v", e, err)
			}
			if _, err := AcceptGap(dir, "", "again"); err == nil {
				t.Fatal("a second AcceptGap found a gap")
			}
			l = MustOpen(t, Options{Dir: dir})
			if err := l.Append(context.Background(), Entry{Kind: KindAttempt, Source: "api", Action: "patch"}); err != nil {
				t.Fatal(err)
			}
			l.Close()
			if rep := mustVerify(t, dir); !rep.OK() || rep.Records != 4 {
				t.Fatalf("after AcceptGap: %+v", rep)
			}
		})
	}
}

// appendN appends n records of about 200 bytes to l.
func appendN(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := range n {
		if err := l.Append(context.Background(), Entry{Kind: KindDenied, Source: "api", Action: "reload", Reason: fmt.Sprintf("record %d %s", i, strings.Repeat("y", 100))}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRotationContinuesTheChain: audit.log is closed as audit.log.N when
// full, the chain runs on into the new file, the oldest files beyond Keep
// are removed with a signed record saying where the kept chain begins, and
// verify checks every file as one chain. Removing any other file, or the
// current one, is found.
func TestRotationContinuesTheChain(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, MaxSize: 2 << 10, Keep: 3}
	l := MustOpen(t, opts)
	appendN(t, l, 60) // about 12 KiB: 6 rotations, 3 files removed
	rep, recs, err := l.Read(context.Background(), 5)
	if err != nil || !rep.OK() || rep.Files != 4 || len(recs) != 5 {
		t.Fatalf("Read = %+v, %d records, %v; want an intact chain in 4 files", rep, len(recs), err)
	}
	l.Close()
	closed, err := closedFiles(dir)
	if err != nil || len(closed) != 3 {
		t.Fatalf("closed files %v, %v; want 3 kept", closed, err)
	}
	rep = mustVerify(t, dir)
	if !rep.OK() || rep.Files != 4 {
		t.Fatalf("verify after rotation = %+v", rep)
	}
	first := readLines(t, dir)[0]
	var e Entry
	if err := json.Unmarshal([]byte(first), &e); err != nil || e.Kind != KindRotate || e.StartSeq == 0 || !strings.Contains(e.Reason, "removed") {
		t.Fatalf("audit.log starts with %s, want a rotate record naming the kept start and what was removed", first)
	}

	// Reopened, the log continues the chain across files.
	l = MustOpen(t, opts)
	appendN(t, l, 20)
	l.Close()
	if rep := mustVerify(t, dir); !rep.OK() {
		t.Fatalf("verify after reopening = %+v", rep.Problems)
	}

	for _, tc := range []struct {
		name, want string
		remove     func(dir string, closed []closedFile) string
	}{
		{"oldest kept file", "are missing before this line: they were deleted", func(_ string, c []closedFile) string { return c[0].path }},
		{"middle file", "are missing before this line: they were deleted", func(_ string, c []closedFile) string { return c[1].path }},
		{"current file", "acknowledged records after this line were deleted", func(dir string, _ []closedFile) string { return filepath.Join(dir, LogName) }},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			dir := copyDir(t, dir)
			closed, _ := closedFiles(dir)
			if err := os.Remove(tc.remove(dir, closed)); err != nil {
				t.Fatal(err)
			}
			rep := mustVerify(t, dir)
			if rep.OK() || !strings.Contains(fmt.Sprint(rep.Problems), tc.want) {
				t.Fatalf("verify without the %s = %+v, want %q", tc.name, rep.Problems, tc.want)
			}
			// The daemon's next rotation does not make the removal
			// legitimate (it stays visible until retention would have
			// removed that file anyway).
			l := MustOpen(t, Options{Dir: dir, MaxSize: 2 << 10, Keep: 3})
			if tc.name == "current file" {
				if err := l.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "acknowledged records were removed") {
					t.Fatalf("Open without audit.log: Check = %v", err)
				}
				return
			}
			newest := func() uint64 { c, _ := closedFiles(dir); return c[len(c)-1].last }
			for before := newest(); newest() == before; {
				appendN(t, l, 1)
			}
			l.Close()
			if rep := mustVerify(t, dir); rep.OK() {
				t.Fatalf("verify after the next rotation says intact")
			}
		})
	}
}

func copyDir(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	if err := os.CopyFS(out, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCrashRightAfterRotation: audit.log renamed, the new one not yet
// written: the chain's end is read from the newest closed file.
func TestCrashRightAfterRotation(t *testing.T) {
	dir := writeRecords(t, 4)
	if err := os.Rename(filepath.Join(dir, LogName), filepath.Join(dir, LogName+".4")); err != nil {
		t.Fatal(err)
	}
	l := MustOpen(t, Options{Dir: dir})
	if err := l.Append(context.Background(), Entry{Kind: KindAction, Action: "after"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if rep := mustVerify(t, dir); !rep.OK() || rep.Records != 5 || rep.Files != 2 {
		t.Fatalf("verify = %+v", rep)
	}
}

// TestOpenVerifiesTheWholeLog: a line edited in the middle is reported by
// Opened; the log still takes records (the edit stays visible to verify).
func TestOpenVerifiesTheWholeLog(t *testing.T) {
	dir := writeRecords(t, 4)
	lines := readLines(t, dir)
	lines[1] = strings.Replace(lines[1], `"actor":"mallory"`, `"actor":"alice"`, 1)
	writeLines(t, dir, lines)
	l := MustOpen(t, Options{Dir: dir})
	if rep := l.Opened(); rep.OK() || !strings.Contains(rep.Problems[0].String(), "audit.log:2: HMAC mismatch") {
		t.Fatalf("Opened = %+v", rep)
	}
	if err := l.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(context.Background(), Entry{Kind: KindAction, Action: "x"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if rep := mustVerify(t, dir); len(rep.Problems) != 1 {
		t.Fatalf("verify = %+v", rep.Problems)
	}
}

// TestRemovedLogAndHead: a new log has a signed head from the start, so
// removing or emptying both the log and its head (keeping the key) is not
// taken for a new log.
func TestRemovedLogAndHead(t *testing.T) {
	for _, how := range []string{"removed", "emptied"} {
		t.Run(how, func(t *testing.T) {
			dir := writeRecords(t, 2)
			for _, name := range []string{LogName, HeadName} {
				p := filepath.Join(dir, name)
				if how == "removed" {
					must(t, os.Remove(p))
				} else {
					must(t, os.WriteFile(p, nil, 0o600))
				}
			}
			l := MustOpen(t, Options{Dir: dir})
			if err := l.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "the log and its head were removed") {
				t.Fatalf("Check = %v", err)
			}
			l.Close()
			if rep := mustVerify(t, dir); rep.OK() {
				t.Fatal("verify says intact")
			}
		})
	}
	// A new log verifies intact before its first record.
	dir := t.TempDir()
	MustOpen(t, Options{Dir: dir}).Close()
	if rep := mustVerify(t, dir); !rep.OK() {
		t.Fatalf("a new log: %+v", rep)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
