package hotreload_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/history"
)

// pair is a config whose two fields must always agree: a reader that sees
// them differ saw a half-applied config.
type pair struct {
	A     int    `json:"a"`
	B     int    `json:"b"`
	Check string `json:"check"`
}

const pairSchema = `{"type":"object","required":["a","b","check"],
 "properties":{"a":{"type":"integer","minimum":0},"b":{"type":"integer","minimum":0},"check":{"type":"string"}}}`

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// openPair starts an engine on a history in dir with a pair config in file.
func openPair(ctx context.Context, dir, file string) (*hotreload.Engine, *config.Config[pair], func(), error) {
	h, err := history.Open(history.Options{Dir: filepath.Join(dir, "history")})
	if err != nil {
		return nil, nil, nil, err
	}
	schema, err := config.CompileSchema("schema.json", []byte(pairSchema))
	if err != nil {
		return nil, nil, nil, err
	}
	e := hotreload.New(hotreload.Options{History: h})
	ectx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ectx) }()
	validator := func(p *pair) error {
		if p.A != p.B {
			return config.Reject("/b", "must equal /a (%d), found %d", p.A, p.B)
		}
		return nil
	}
	c, _, err := config.Open(ctx, e, config.Options[pair]{Files: []string{file}, Schema: schema, Validators: []config.Validator[pair]{validator}})
	if err != nil {
		cancel()
		<-done
		h.Close()
		return nil, nil, nil, err
	}
	return e, c, func() {
		_ = c.Close(context.Background())
		cancel()
		<-done
		_ = h.Close()
	}, nil
}

func mustOpenPair(tb testing.TB, dir, file string) (*hotreload.Engine, *config.Config[pair], func()) {
	tb.Helper()
	e, c, closeAll, err := openPair(context.Background(), dir, file)
	if err != nil {
		tb.Fatal(err)
	}
	return e, c, closeAll
}

// TestReadersNeverSeeAHalfAppliedConfig runs 8 readers checking an invariant
// across fields while 1,000 mixed valid and invalid reloads run.
func TestReadersNeverSeeAHalfAppliedConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pair.json")
	writeFile(t, file, `{"a":0,"b":0,"check":"0"}`)
	ctx := context.Background()
	e, c, closeAll := mustOpenPair(t, dir, file)
	defer closeAll()

	var stop atomic.Bool
	var reads, bad atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				p := c.Load()
				if p == nil || p.A != p.B || p.Check != strconv.Itoa(p.A) {
					bad.Add(1)
				}
				reads.Add(1)
				runtime.Gosched() // let the engine run on a small machine
			}
		}()
	}
	var committed, rejected int
	const reloads = 1000
	for i := 1; i <= reloads; i++ {
		var body string
		switch i % 4 {
		case 0: // fields disagree: the validator rejects it
			body = fmt.Sprintf(`{"a":%d,"b":%d,"check":"%d"}`, i, i+1, i)
		case 1: // schema violation
			body = fmt.Sprintf(`{"a":-%d,"b":-%d,"check":"x"}`, i, i)
		default:
			body = fmt.Sprintf(`{"a":%d,"b":%d,"check":"%d"}`, i, i, i)
		}
		o, err := e.Reload(ctx, hotreload.Request{Source: "api",
			Candidates: []hotreload.Candidate{{Target: c.Target().Name(), Content: []byte(body)}}})
		if err != nil {
			t.Fatal(err)
		}
		switch o.Result {
		case hotreload.Committed:
			committed++
		case hotreload.Rejected:
			rejected++
		default:
			t.Fatalf("reload %d: %+v", i, o)
		}
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d reads saw a half-applied or invalid config", bad.Load(), reads.Load())
	}
	if committed != reloads/2 || rejected != reloads/2 {
		t.Fatalf("committed %d, rejected %d; want %d each", committed, rejected, reloads/2)
	}
	if p := c.Load(); p.A != reloads-1 {
		t.Fatalf("final value %+v, want the last valid one, 999", p)
	}
}

// TestCrashKeepsEveryAcknowledgedCommit kills a child process that commits in
// a loop with SIGKILL at random moments, 100 times; every restart must find
// the last acknowledged commit live and the history readable.
func TestCrashKeepsEveryAcknowledgedCommit(t *testing.T) {
	if os.Getenv("HOTRELOAD_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	rounds := 100
	if testing.Short() {
		rounds = 10
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "pair.json")
	writeFile(t, file, `{"a":0,"b":0,"check":"0"}`)
	_, _, closeAll := mustOpenPair(t, dir, file) // version 1: a last known good to fall back on
	closeAll()
	lastAcked := 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsEveryAcknowledgedCommit$")
		cmd.Env = append(os.Environ(), "HOTRELOAD_CRASH_CHILD="+dir, fmt.Sprintf("HOTRELOAD_CRASH_START=%d", lastAcked+1))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := make(chan int, 1024)
		go func() {
			defer close(acked)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
					v, _ := strconv.Atoi(n)
					acked <- v
				}
			}
		}()
		// Let it commit a few, then kill it at a random moment.
		// The clock starts at the first acknowledgement, so the kill lands
		// while commits are running, not while the child starts.
		var deadline <-chan time.Time
		stuck := time.After(30 * time.Second)
	wait:
		for {
			select {
			case v, ok := <-acked:
				if !ok {
					break wait
				}
				lastAcked = v
				if deadline == nil {
					deadline = time.After(time.Duration(rand.IntN(30)) * time.Millisecond)
				}
			case <-deadline:
				break wait
			case <-stuck:
				_ = cmd.Process.Kill()
				t.Fatalf("round %d: the child acknowledged nothing for 30 s", round)
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for v := range acked {
			lastAcked = v
		}
		_ = cmd.Wait()

		// Reopen: the last acknowledged value must be live, history readable.
		writeFile(t, file, `{"a":-1,"b":-1,"check":"broken on disk"}`) // forces last known good
		_, c, closeAll := mustOpenPair(t, dir, file)
		p := c.Load()
		closeAll()
		if p.A < lastAcked {
			t.Fatalf("round %d: restart serves a=%d, but %d was acknowledged", round, p.A, lastAcked)
		}
		lastAcked = p.A
		// Without a gate, a commit writes one record: a kill leaves no
		// pending record behind to be read as interrupted.
		if rec, ok := interrupted(t, filepath.Join(dir, "history")); ok {
			t.Fatalf("round %d: a record was left pending by the kill: %+v", round, rec)
		}
	}
	if lastAcked < rounds/4 {
		t.Fatalf("only %d commits acknowledged in %d rounds: the kills came too early to test anything", lastAcked, rounds)
	}
	t.Logf("%d rounds, %d commits acknowledged, none lost", rounds, lastAcked)
}

// interrupted returns a record of the history in dir that a crash left
// pending (Open reads it as rolled back), if any.
func interrupted(tb testing.TB, dir string) (hotreload.Record, bool) {
	tb.Helper()
	h, err := history.Open(history.Options{Dir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	defer h.Close()
	recs, err := h.List(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range recs {
		if r.Result == hotreload.RolledBack {
			return r, true
		}
	}
	return hotreload.Record{}, false
}

// crashChild commits pair values in a loop, printing each acknowledged one.
func crashChild() {
	dir := os.Getenv("HOTRELOAD_CRASH_CHILD")
	start, _ := strconv.Atoi(os.Getenv("HOTRELOAD_CRASH_START"))
	ctx := context.Background()
	e, c, _, err := openPair(ctx, dir, filepath.Join(dir, "pair.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	for i := start; ; i++ {
		body := fmt.Sprintf(`{"a":%d,"b":%d,"check":"%d"}`, i, i, i)
		o, err := e.Reload(ctx, hotreload.Request{Source: "api",
			Candidates: []hotreload.Candidate{{Target: c.Target().Name(), Content: []byte(body)}}})
		if err != nil || o.Result != hotreload.Committed {
			fmt.Fprintln(os.Stderr, "child:", o.Result, o.Reason, err)
			os.Exit(3)
		}
		fmt.Printf("acked %d\n", i)
	}
}
