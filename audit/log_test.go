package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

func TestPartialLastLineRepairedOnOpen(t *testing.T) {
	dir := writeRecords(t, 2)
	f, err := os.OpenFile(filepath.Join(dir, LogName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":3,"time":"20`) // a crash mid-write
	f.Close()
	l := MustOpen(t, Options{Dir: dir})
	if err := l.Append(context.Background(), Entry{Kind: KindAction, Action: "x"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if rep := mustVerify(t, dir); !rep.OK() || rep.Records != 3 {
		t.Fatalf("after repair: %+v", rep)
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
