//go:build linux

package supervise

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// stampBuilds returns a Build function that writes the sample app stamped
// with the next number on every call, and the counter.
func stampBuilds(t *testing.T) (func(context.Context, string) error, *atomic.Int64) {
	var n atomic.Int64
	return func(_ context.Context, out string) error {
		stampedApp(t, fmt.Sprintf("build-%d", n.Add(1)), out)
		return nil
	}, &n
}

func newProcess(t *testing.T, opts Options) *Process {
	t.Helper()
	if opts.Listener == nil {
		opts.Listener = listenLocal(t)
	}
	if opts.Stdout == nil {
		opts.Stdout, opts.Stderr = testWriter{t}, testWriter{t}
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// reload runs Prepare, Apply and Commit from source, as the engine's
// transaction does.
func reload(t *testing.T, p *Process) {
	t.Helper()
	ch, err := p.Prepare(context.Background(), hotreload.Candidate{Target: p.Name()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ch.(unchangedChange); ok {
		t.Fatal("Prepare saw no change")
	}
	if err := ch.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := ch.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Test50RestartsLeakNothing swaps the program 50 times in socket mode (and
// 15 times in proxy mode) under load, then closes it: no request failed, no
// child, zombie or process of a child's group is left, and this process
// holds no more descriptors than before.
// testWriter sends output to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func Test50RestartsLeakNothing(t *testing.T) {
	for mode, restarts := range map[Mode]int{ModeSocket: 50, ModeProxy: 15} {
		t.Run(string(mode), func(t *testing.T) {
			fds := openFDs(t)
			build, _ := stampBuilds(t)
			ln := listenLocal(t)
			p, err := New(Options{Listener: ln, Mode: mode, Build: build, Stdout: testWriter{t}, Stderr: testWriter{t}, Keep: 2})
			if err != nil {
				t.Fatal(err)
			}
			url := "http://" + ln.Addr().String() + "/"
			l := startLoader(url, 4, 2*time.Minute)
			pgids := map[int]bool{}
			for i := 1; i <= restarts; i++ {
				reload(t, p)
				pid, _ := p.Live()
				pgids[pid] = true
				if got := mustGet(t, url); !strings.Contains(got, fmt.Sprintf("build-%d.", i)) {
					t.Fatalf("restart %d: reply %q", i, got)
				}
			}
			l.Finish(t)
			if left := descendants(t, os.Getpid(), nil); len(left) != 1 {
				t.Errorf("children before Close: %q, want the live one only", left)
			}
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if left := descendants(t, os.Getpid(), pgids); len(left) > 0 {
				t.Errorf("processes left after Close: %q", left)
			}
			if kept, _ := os.ReadDir(p.opts.BinDir); len(kept) > 0 {
				t.Errorf("Close left %d files in the temporary binary directory", len(kept))
			}
			waitFor(t, "descriptors to be closed", func() bool { return openFDs(t) <= fds })
		})
	}
}

// TestSocketStaysNonBlocking: starting a child must not switch the shared
// socket to blocking mode, or the live child's accept could no longer be
// interrupted when it drains (a stop would then wait for DrainTimeout).
func TestSocketStaysNonBlocking(t *testing.T) {
	build, _ := stampBuilds(t)
	p := newProcess(t, Options{Build: build, DrainTimeout: time.Minute})
	for range 3 {
		reload(t, p)
		flags, err := unix.FcntlInt(p.socket.Fd(), unix.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		if flags&unix.O_NONBLOCK == 0 {
			t.Fatal("the listening socket is in blocking mode")
		}
	}
	t0 := time.Now()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 20*time.Second {
		t.Fatalf("stopping the live child took %s: it did not drain", d)
	}
}

// TestProcessGrandchildrenKilled: a program that started helpers in its
// process group leaves none of them behind when it is stopped.
func TestProcessGrandchildrenKilled(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "spawner")
	// Starts a helper that ignores SIGTERM, then serves through the real
	// app (which takes the socket and sends READY=1).
	body := fmt.Sprintf("#!/bin/sh\n(trap '' TERM; sleep 300) &\nexec %s\n", sampleApp)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	p := newProcess(t, Options{Binary: script, DrainTimeout: 2 * time.Second})
	reload(t, p)
	pid, _ := p.Live()
	waitFor(t, "the helper to start", func() bool { return len(descendants(t, -1, map[int]bool{pid: true})) == 2 })
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the process group to be empty", func() bool { return len(descendants(t, -1, map[int]bool{pid: true})) == 0 })
}

// TestProcessRollback: Rollback before Apply stops the candidate; Rollback
// after Apply brings the old binary back in a new process, and clients are
// served throughout.
func TestProcessRollback(t *testing.T) {
	build, _ := stampBuilds(t)
	p := newProcess(t, Options{Build: build})
	url := "http://" + p.Addr().String() + "/"
	reload(t, p)
	pid1, bin1 := p.Live()
	l := startLoader(url, 4, time.Minute)
	defer l.Finish(t)

	t.Run("BeforeApply", func(t *testing.T) {
		ch, err := p.Prepare(context.Background(), hotreload.Candidate{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Rollback(context.Background()); err != nil {
			t.Fatal(err)
		}
		if pid, bin := p.Live(); pid != pid1 || bin != bin1 {
			t.Fatalf("live %d %s, want %d %s", pid, bin, pid1, bin1)
		}
		if got := mustGet(t, url); !strings.Contains(got, "build-1.") {
			t.Fatalf("reply %q", got)
		}
	})
	t.Run("AfterApply", func(t *testing.T) {
		ch, err := p.Prepare(context.Background(), hotreload.Candidate{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Apply(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, url); !strings.Contains(got, "build-3.") {
			t.Fatalf("reply %q after Apply", got)
		}
		if err := ch.Rollback(context.Background()); err != nil {
			t.Fatal(err)
		}
		pid, bin := p.Live()
		if bin != bin1 || pid == pid1 {
			t.Fatalf("live %d %s after Rollback, want a new process of %s", pid, bin, bin1)
		}
		if got := mustGet(t, url); !strings.Contains(got, "build-1.") {
			t.Fatalf("reply %q after Rollback", got)
		}
	})
	t.Run("Snapshot", func(t *testing.T) {
		// A snapshot from history restores exactly that binary.
		ch, err := p.Prepare(context.Background(), hotreload.Candidate{Snapshot: []byte(`{"binary":"` + bin1 + `"}`)})
		if _, ok := ch.(unchangedChange); err != nil || !ok {
			t.Fatalf("Prepare of the live snapshot: %v, %v; want unchanged", ch, err)
		}
		_, err = p.Prepare(context.Background(), hotreload.Candidate{Snapshot: []byte(`{"binary":"` + strings.Repeat("0", 64) + `"}`)})
		if hotreload.ErrorCode(err) != hotreload.CodeNotFound {
			t.Fatalf("unknown binary: %v, want not found", err)
		}
		_, err = p.Prepare(context.Background(), hotreload.Candidate{Snapshot: []byte(`{"binary":"../x"}`)})
		if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
			t.Fatalf("bad snapshot: %v, want invalid", err)
		}
	})
}

// TestProcessFailedCandidates: a build error, a crash before ready and a
// program that never says READY=1 leave the live process serving.
func TestProcessFailedCandidates(t *testing.T) {
	dir := t.TempDir()
	crash := filepath.Join(dir, "crash")
	silent := filepath.Join(dir, "silent")
	os.WriteFile(crash, []byte("#!/bin/sh\necho 'fatal: config missing' >&2\nexit 3\n"), 0o755)
	os.WriteFile(silent, []byte("#!/bin/sh\nexec sleep 300\n"), 0o755)
	var next atomic.Value
	next.Store("app")
	p := newProcess(t, Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)), ReadyTimeout: time.Second, Build: func(ctx context.Context, out string) error {
		switch next.Load() {
		case "app":
			stampedApp(t, "good", out)
		case "broken":
			e := hotreload.Errorf(hotreload.CodeInvalid, "go build: exit status 1")
			e.Details = []hotreload.FieldError{{Path: "main.go", Line: 3, Column: 7, Message: "undefined: x"}}
			return e
		default:
			return copyFile(filepath.Join(dir, next.Load().(string)), out)
		}
		return nil
	}})
	reload(t, p)
	pid, _ := p.Live()
	url := "http://" + p.Addr().String() + "/"
	for _, tc := range []struct{ name, next, want string }{
		{"ErrBuild", "broken", "undefined: x"},
		{"ErrCrash", "crash", "fatal: config missing"},
		{"ErrNeverReady", "silent", "not ready after 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next.Store(tc.next)
			ch, err := p.Prepare(context.Background(), hotreload.Candidate{})
			if err == nil || ch != nil {
				t.Fatalf("Prepare: %v, %v; want an error", ch, err)
			}
			if msg := err.Error() + fmt.Sprint(hotreload.ErrorDetails(err)); !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not say %q", msg, tc.want)
			}
			if now, _ := p.Live(); now != pid {
				t.Fatalf("live pid %d, want %d", now, pid)
			}
			if got := mustGet(t, url); !strings.Contains(got, "good") {
				t.Fatalf("reply %q", got)
			}
			if left := descendants(t, os.Getpid(), nil); len(left) != 1 {
				t.Fatalf("children %q, want the live one only", left)
			}
		})
	}
}

// TestProcessRestartsAfterCrash kills the live program with SIGKILL under
// load: the helper it started in its process group is killed at once,
// the crash is reported once, the same binary is started again, and every
// request is answered (the socket queues them meanwhile).
func TestProcessRestartsAfterCrash(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "spawner")
	body := fmt.Sprintf("#!/bin/sh\n(trap '' TERM; sleep 300) &\nexec %s\n", sampleApp)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	exits := make(chan error, 2)
	restarts := make(chan int, 2)
	p := newProcess(t, Options{
		Binary: script,
		OnExit: func(pid int, err error, in time.Duration) {
			if in != minRestartDelay {
				t.Errorf("first restart in %s, want %s", in, minRestartDelay)
			}
			exits <- err
		},
		OnRestart: func(pid int, err error) {
			if err != nil {
				t.Errorf("restart: %v", err)
			}
			restarts <- pid
		},
	})
	reload(t, p)
	pid, bin := p.Live()
	url := "http://" + p.Addr().String() + "/"
	testwait.For(t, "the helper to start", testwait.D(10*time.Second), func() bool {
		return len(descendants(t, -1, map[int]bool{pid: true})) == 2
	})
	l := startLoader(url, 4, 2*time.Minute)
	testwait.For(t, "requests before the kill", testwait.D(10*time.Second), func() bool { return l.OK() > 50 })
	if err := syscallKill(pid); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exits:
		if !strings.Contains(err.Error(), "killed") {
			t.Fatalf("exit error %v", err)
		}
	case <-time.After(testwait.D(10 * time.Second)):
		t.Fatal("no exit report")
	}
	// SIGKILL went to the whole group before the report; the helper is
	// gone (or a zombie waiting for init) within moments.
	testwait.For(t, "the crashed group to be killed", testwait.D(2*time.Second), func() bool {
		for _, p := range descendants(t, -1, map[int]bool{pid: true}) {
			if !strings.Contains(p, " state Z ") {
				return false
			}
		}
		return true
	})
	var now int
	select {
	case now = <-restarts:
	case <-time.After(testwait.D(30 * time.Second)):
		t.Fatal("no restart")
	}
	if live, liveBin := p.Live(); live != now || now == pid || liveBin != bin {
		t.Fatalf("live %d %s after the restart, want a new process %d of %s", live, liveBin, now, bin)
	}
	served := l.OK()
	testwait.For(t, "requests after the restart", testwait.D(10*time.Second), func() bool { return l.OK() > served+50 })
	l.Finish(t)
	if got := mustGet(t, url); !strings.Contains(got, fmt.Sprintf("pid=%d", now)) {
		t.Fatalf("reply %q, want pid %d", got, now)
	}
	select {
	case err := <-exits:
		t.Fatalf("a second exit report: %v", err)
	default:
	}
}

// TestProcessCrashLoopBacksOff: a program that keeps crashing soon after it
// started is restarted after growing delays, never beyond maxRestartDelay,
// and Close ends the restarts.
func TestProcessCrashLoopBacksOff(t *testing.T) {
	delays := make(chan time.Duration, 10)
	p := newProcess(t, Options{
		Binary: sampleApp, Env: append(os.Environ(), "APP_EXIT_AFTER=300ms"),
		OnExit: func(_ int, _ error, in time.Duration) { delays <- in },
	})
	reload(t, p)
	var got []time.Duration
	for len(got) < 3 {
		select {
		case d := <-delays:
			got = append(got, d)
		case <-time.After(testwait.D(30 * time.Second)):
			t.Fatalf("crashes reported with delays %v, want 3", got)
		}
	}
	if got[0] != minRestartDelay || got[2] <= got[0] || got[2] > maxRestartDelay {
		t.Fatalf("restart delays %v: want %s first, growing, at most %s", got, minRestartDelay, maxRestartDelay)
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("restart delays %v shrink", got)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := descendants(t, os.Getpid(), nil); len(left) > 0 {
		t.Fatalf("processes left after Close: %q", left)
	}
}

// TestProxyModeHealthPath: in proxy mode a child is ready once its health
// URL answers, and requests go through the proxy.
func TestProxyModeHealthPath(t *testing.T) {
	p := newProcess(t, Options{Binary: sampleApp, Mode: ModeProxy, HealthPath: "/healthz"})
	reload(t, p)
	if got := mustGet(t, "http://"+p.Addr().String()+"/x"); !strings.HasPrefix(got, "v0") {
		t.Fatalf("reply %q", got)
	}
}

func TestNewProcessErrors(t *testing.T) {
	ln := listenLocal(t)
	defer ln.Close()
	for name, opts := range map[string]Options{
		"ErrNoListener":       {Binary: "x"},
		"ErrNoBinary":         {Listener: ln},
		"ErrMode":             {Listener: ln, Binary: "x", Mode: "magic"},
		"ErrHealthSocketMode": {Listener: ln, Binary: "x", HealthPath: "/healthz"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(opts); hotreload.ErrorCode(err) != hotreload.CodeInvalid {
				t.Fatalf("got %v, want an invalid error", err)
			}
		})
	}
}

// TestProgramMustBeARegularFile: serve --exec reads its program on every
// reload from source. A named pipe put in its place is refused at once
// (reading it would hang the step until a writer came), and so is a
// device such as /dev/zero (copying it would fill the disk); the live
// program keeps serving.
func TestProgramMustBeARegularFile(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	stampedApp(t, "good", bin)
	p := newProcess(t, Options{Binary: bin})
	reload(t, p)
	pid, _ := p.Live()
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ binary, want string }{
		{bin, "is a named pipe (FIFO), not a regular file"},
		{zero, "is a character device, not a regular file"},
	} {
		p.opts.Binary = tc.binary
		done := make(chan error, 1)
		go func() {
			_, err := p.Prepare(context.Background(), hotreload.Candidate{})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Prepare with the program at %s: %v; want an error saying it %s", tc.binary, err, tc.want)
			}
		case <-time.After(testwait.D(10 * time.Second)):
			t.Fatalf("Prepare with the program at %s did not return", tc.binary)
		}
		if now, _ := p.Live(); now != pid {
			t.Fatalf("live pid %d, want %d", now, pid)
		}
	}
	if got := mustGet(t, "http://"+p.Addr().String()+"/"); !strings.Contains(got, "good") {
		t.Fatalf("reply %q, want the live program's", got)
	}
}
