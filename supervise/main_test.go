//go:build linux

package supervise

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/proctest"
)

// sampleApp is the dev loop's sample app, linked once with the placeholder
// stamp.
var sampleApp string

func TestMain(m *testing.M) {
	proctest.Main(m, "../dev/testdata/app", func(app string) { sampleApp = app })
}

// stampedApp writes a copy of the sample app whose replies end with stamp
// to out.
func stampedApp(tb testing.TB, stamp, out string) { proctest.Stamp(tb, sampleApp, stamp, out) }

// The helpers shared with the other package's tests (internal/proctest).
var (
	listenLocal = proctest.ListenLocal
	mustGet     = proctest.MustGet
	startLoader = proctest.StartLoader
	writeFile   = proctest.WriteFile
)

// descendants returns the pids of live processes whose parent is pid, and
// of every process in one of the process groups pgids.
func descendants(tb testing.TB, pid int, pgids map[int]bool) []string {
	tb.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		if ppid == pid || pgids[pgrp] {
			out = append(out, fmt.Sprintf("pid %d state %s ppid %d pgrp %d", p, f[0], ppid, pgrp))
		}
	}
	return out
}

// openFDs counts this process's open descriptors.
func openFDs(tb testing.TB) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(ents)
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syscallKill kills pid with SIGKILL.
func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
