package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"
)

// cpuTime returns the CPU time a running process has used so far.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 per second).
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return time.Duration(u+s) * 10 * time.Millisecond
}

// slowConfig writes a TOML file of 200,000 tables (3 MB) that takes seconds
// to decode, and returns its path.
func slowConfig(t *testing.T) string {
	var b strings.Builder
	for i := range 200_000 {
		fmt.Fprintf(&b, "[t%d]\na = %d\n", i, i)
	}
	path := filepath.Join(t.TempDir(), "big.toml")
	writeFile(t, path, b.String())
	return path
}

// runUntilSignal starts the binary with args, sends sig once it has been
// busy for a while (mid-decode), and returns how long it took to exit, its
// exit status and its standard error.
func runUntilSignal(t *testing.T, sig syscall.Signal, args ...string) (time.Duration, int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stderr testwait.Output
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	testwait.For(t, "hotreload to be busy decoding", testwait.D(30*time.Second), func() bool {
		return cpuTime(cmd.Process.Pid) >= 300*time.Millisecond
	})
	sent := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(testwait.D(time.Second)):
		t.Fatalf("still running %s after %s", testwait.D(time.Second), sig)
	}
	return time.Since(sent), cmd.ProcessState.ExitCode(), stderr.String()
}

// TestServeStopsOnSignalDuringStart sends SIGTERM to hotreload serve while
// it decodes its config at start: it stops within a second (scaled).
func TestServeStopsOnSignalDuringStart(t *testing.T) {
	config := slowConfig(t)
	took, code, stderr := runUntilSignal(t, syscall.SIGTERM, "serve", "--config", config, "--data-dir", filepath.Join(t.TempDir(), "data"),
		"--mode", "dev", "--listen", "127.0.0.1:0")
	t.Logf("stopped %s after SIGTERM, exit %d", took, code)
	if !strings.Contains(stderr, "engine is stopping") {
		t.Fatalf("stderr does not say the start was cancelled:\n%s", stderr)
	}
}

// TestValidateStopsOnSignal sends SIGTERM (and SIGINT) to hotreload
// validate while it decodes large files: it stops within a second (scaled)
// with exit status 130 instead of finishing the work.
func TestValidateStopsOnSignal(t *testing.T) {
	big := slowConfig(t)
	args := []string{"validate"}
	for range 40 { // a minute of work or more in all
		args = append(args, big)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			took, code, stderr := runUntilSignal(t, sig, args...)
			t.Logf("stopped %s after %s", took, sig)
			if code != 130 || !strings.Contains(stderr, "interrupted") {
				t.Fatalf("exit %d, stderr %q; want 130 and interrupted", code, stderr)
			}
		})
	}
}
