package history

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
)

// crashDirEnv names the data directory of the child process of
// TestCrashKill9; when it is set, TestCrashChild runs the child's loop.
const crashDirEnv = "HOTRELOAD_HISTORY_CRASH_DIR"

// crashRetain is the retention both processes of the crash test use.
const crashRetain = 3

// crashSegmentLines is how many lines the child's segments hold: few, so
// that the kills land in segment starts and compactions too.
const crashSegmentLines = 8

// pluginContent is the content of target "plugin" when version v changed it.
func pluginContent(v uint64) []byte {
	return fmt.Appendf(nil, "\x00asm plugin built for version %d%s", v, make([]byte, maxLineObject))
}

// TestCrashChild is the child process of TestCrashKill9: it records
// transactions the way the engine does, forever, and prints each one after
// Put acknowledged it, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child process of TestCrashKill9")
	}
	ctx := context.Background()
	ack := func(r hotreload.Result, v uint64) {
		if _, err := fmt.Fprintf(os.Stdout, "%s %d\n", r, v); err != nil {
			t.Fatal(err)
		}
	}
	ack("opening", 0)
	s, err := Open(Options{Dir: dir, Retain: crashRetain})
	if err != nil {
		t.Fatal(err)
	}
	s.opts.segmentRecords = crashSegmentLines
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var v uint64
	for _, r := range list {
		v = max(v, r.Version)
	}
	active := map[string]hotreload.TargetState{}
	lg, ok, err := s.LastGood(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		for _, ts := range lg.Targets {
			ts.Changed = false
			active[ts.Target] = ts
		}
	}
	for i := 0; ; i++ {
		if i%11 == 10 && ok {
			// An identical candidate: the active version, nothing new.
			rec := hotreload.Record{Version: lg.Version, Time: time.Now(), Source: "watch", Result: hotreload.Unchanged}
			for _, ts := range active {
				rec.Targets = append(rec.Targets, ts)
			}
			if err := s.Put(ctx, hotreload.Entry{Record: rec}); err != nil {
				t.Fatal(err)
			}
			ack(hotreload.Unchanged, rec.Version)
			continue
		}
		v++
		snaps := map[string][]byte{"app": appJSON(v)}
		if _, ok := active["plugin"]; !ok || v%3 == 0 {
			snaps["plugin"] = pluginContent(v)
		}
		rec := hotreload.Record{Version: v, Time: time.Now(), Source: "api", Author: "crash"}
		for name, ts := range active {
			if _, changed := snaps[name]; !changed {
				rec.Targets = append(rec.Targets, ts)
			}
		}
		for name, content := range snaps {
			rec.Targets = append(rec.Targets, hotreload.TargetState{Target: name, Digest: hotreload.Digest(content), Changed: true})
		}
		if v%7 == 0 {
			rec.Result, rec.Reason = hotreload.Rejected, "invalid"
			if err := s.Put(ctx, hotreload.Entry{Record: rec}); err != nil {
				t.Fatal(err)
			}
			ack(rec.Result, v)
			continue
		}
		rec.Result = hotreload.Pending
		if err := s.Put(ctx, hotreload.Entry{Record: rec, Snapshots: snaps}); err != nil {
			t.Fatal(err)
		}
		rec.Result = hotreload.Committed
		if v%5 == 0 {
			rec.Result, rec.Reason = hotreload.RolledBack, "health: check failed"
		}
		if err := s.Put(ctx, hotreload.Entry{Record: rec}); err != nil {
			t.Fatal(err)
		}
		if rec.Result == hotreload.Committed {
			lg, ok = rec, true
			for _, ts := range rec.Targets {
				ts.Changed = false
				active[ts.Target] = ts
			}
		}
		ack(rec.Result, v)
	}
}

// ack is one line the child printed after Put returned.
type ack struct {
	result  hotreload.Result
	version uint64
}

// TestCrashKill9 kills a child process that records transactions in a loop
// with SIGKILL at random moments, 100 times, and checks after each kill that
// every acknowledged record is there and that the whole history reads back.
// Every other kill lands 0-10 ms after the child began opening the store,
// often inside Open's own recovery; the others 5-50 ms after the child's
// first acknowledged record.
func TestCrashKill9(t *testing.T) {
	dir := t.TempDir()
	const kills = 100
	acks := 0
	var lastCommit uint64
	for i := range kills {
		from, d := "opening", time.Duration(rand.IntN(11))*time.Millisecond
		if i%2 == 1 {
			from, d = "acked", time.Duration(5+rand.IntN(46))*time.Millisecond
		}
		got := runChildUntilKilled(t, dir, from, d)
		acks += len(got)
		for _, a := range got {
			if a.result == hotreload.Committed {
				lastCommit = a.version
			}
		}
		checkAfterCrash(t, i, dir, got, lastCommit)
		if t.Failed() {
			return
		}
	}
	t.Logf("%d kills, %d acknowledged records, last acknowledged commit %d", kills, acks, lastCommit)
}

// runChildUntilKilled starts the child on dir, kills it with SIGKILL d after
// the moment from ("opening": it began opening the store; "acked": its first
// record was acknowledged) and returns what it acknowledged.
func runChildUntilKilled(t *testing.T, dir, from string, d time.Duration) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	marks := map[string]chan struct{}{"opening": make(chan struct{}), "acked": make(chan struct{})}
	mark := func(name string) {
		select {
		case <-marks[name]:
		default:
			close(marks[name])
		}
	}
	exited := make(chan struct{})
	var acks []ack
	go func() {
		defer close(exited)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil { // EOF after the kill; a line without its newline was never acknowledged
				io.Copy(io.Discard, r)
				return
			}
			result, num, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
			if result == "opening" {
				mark("opening")
				continue
			}
			v, err := strconv.ParseUint(num, 10, 64)
			if err != nil {
				continue // go test's own output
			}
			acks = append(acks, ack{hotreload.Result(result), v})
			mark("acked")
		}
	}()
	select {
	case <-marks[from]:
		time.Sleep(d)
	case <-exited:
		cmd.Wait()
		t.Fatalf("the child exited by itself; stderr:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Errorf("the child printed no %q line in 30 s", from)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child ended with %v, not killed; stderr:\n%s", err, stderr.String())
	}
	return acks
}

// checkAfterCrash reopens the store and checks it against what the child
// acknowledged before run i was killed.
func checkAfterCrash(t *testing.T, i int, dir string, acks []ack, lastCommit uint64) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(Options{Dir: dir, Retain: crashRetain})
	if err != nil {
		t.Fatalf("run %d: reopening after the kill: %v", i, err)
	}
	defer s.Close()
	if p := s.Problems(); len(p) != 0 {
		t.Errorf("run %d: problems after the kill: %v", i, p)
	}
	for _, a := range acks {
		if a.result == hotreload.Unchanged {
			continue
		}
		r, err := s.Get(ctx, a.version)
		if err != nil || r.Result != a.result {
			t.Errorf("run %d: acknowledged %s %d, found %s (%v)", i, a.result, a.version, r.Result, err)
		}
	}
	if lastCommit > 0 {
		lg, ok, err := s.LastGood(ctx)
		if err != nil || !ok || lg.Version < lastCommit {
			t.Errorf("run %d: LastGood = %d (ok %v, %v), want at least the acknowledged commit %d", i, lg.Version, ok, err, lastCommit)
		}
	}

	list, err := s.List(ctx)
	if err != nil {
		t.Fatalf("run %d: List: %v", i, err)
	}
	var prev uint64
	var committed []hotreload.Record
	for _, r := range list {
		switch r.Result {
		case hotreload.Pending:
			t.Errorf("run %d: version %d still pending after reopening", i, r.Version)
		case hotreload.Unchanged:
			continue
		case hotreload.Committed:
			committed = append(committed, r)
		}
		if r.Version <= prev {
			t.Errorf("run %d: version %d listed after %d", i, r.Version, prev)
		}
		prev = r.Version
	}
	// Every retained version reads back, verified, and nothing else is
	// left on disk but in the segment appended to next.
	live := map[string]bool{}
	for _, r := range committed[max(0, len(committed)-crashRetain):] {
		for _, ts := range r.Targets {
			content, err := s.Snapshot(ctx, r.Version, ts.Target)
			if err != nil {
				t.Errorf("run %d: Snapshot(%d, %s): %v", i, r.Version, ts.Target, err)
			}
			if ts.Target == "app" && string(content) != string(appJSON(r.Version)) {
				t.Errorf("run %d: Snapshot(%d, app) = %q", i, r.Version, content)
			}
			live[ts.Digest] = true
		}
	}
	for _, sub := range []string{"records", "objects"} {
		des, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range des {
			if strings.HasPrefix(de.Name(), tempPrefix) {
				t.Errorf("run %d: %s/%s left after reopening", i, sub, de.Name())
			}
		}
	}
	for d, n := range contentOnDisk(t, dir, s.logName) {
		if !live[d] || n != 1 {
			t.Errorf("run %d: content sha256 %s is on disk %d times outside the segment appended to; the retained versions name it: %v", i, d, n, live[d])
		}
	}
}
