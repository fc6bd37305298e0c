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

// TestValidateStopsOnSignal sends SIGTERM (and SIGINT) to hotreload
// validate while it decodes large files: it stops within a second (scaled)
// with exit status 130 instead of finishing the work.
func TestValidateStopsOnSignal(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&b, "[t%d]\na = %d\n", i, i)
	}
	big := filepath.Join(dir, "big.toml")
	writeFile(t, big, b.String())
	var files []string
	for range 40 { // a minute of work or more in all
		files = append(files, big)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(binary, append([]string{"validate"}, files...)...)
			var stderr lockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			t.Cleanup(func() {
				select {
				case <-done:
				default:
					cmd.Process.Kill()
					<-done
				}
			})
			// Mid-decode: it has been busy for a while.
			testwait.For(t, "validate to be busy decoding", testwait.D(30*time.Second), func() bool {
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
			t.Logf("stopped %s after %s", time.Since(sent), sig)
			if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "interrupted") {
				t.Fatalf("exit %d, stderr %q; want 130 and interrupted", code, stderr.String())
			}
		})
	}
}
