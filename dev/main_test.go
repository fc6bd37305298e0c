//go:build linux

package dev

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/internal/proctest"
)

var (
	repoRoot  string // the module's root, for temporary modules' replace
	sampleApp string // the sample app, linked once with the placeholder stamp
)

func TestMain(m *testing.M) {
	var err error
	if repoRoot, err = filepath.Abs(".."); err != nil {
		panic(err)
	}
	proctest.Main(m, "./testdata/app", func(app string) { sampleApp = app })
}

// stampedApp writes a copy of the sample app whose replies end with stamp
// to out.
func stampedApp(tb testing.TB, stamp, out string) { proctest.Stamp(tb, sampleApp, stamp, out) }

// startEngine runs an engine with opts on history kept in memory until the
// test ends.
func startEngine(t *testing.T, opts hotreload.Options) *hotreload.Engine {
	t.Helper()
	store, err := history.Memory(history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts.History = store
	e := hotreload.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("engine: %v", err)
		}
		store.Close()
	})
	return e
}

// The helpers shared with the other package's tests (internal/proctest).
var (
	listenLocal = proctest.ListenLocal
	mustGet     = proctest.MustGet
	startLoader = proctest.StartLoader
	writeFile   = proctest.WriteFile
)

// reports collects a Supervisor's reports.
type reports chan Report

func (r reports) add(rep Report) { r <- rep }

// next waits for the next report of unit.
func (r reports) next(tb testing.TB, unit string) Report {
	tb.Helper()
	timeout := time.After(90 * time.Second)
	for {
		select {
		case rep := <-r:
			if rep.Unit == unit {
				return rep
			}
		case <-timeout:
			tb.Fatalf("no report for %s after 90s", unit)
		}
	}
}

// tempModule copies the testdata package dirs into a fresh module that
// requires this repository through a replace directive, so tests can edit
// and build them without touching the repository.
func tempModule(tb testing.TB, dirs ...string) string {
	tb.Helper()
	root := tb.TempDir()
	for _, d := range dirs {
		ents, err := os.ReadDir(filepath.Join("testdata", d))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("testdata", d, e.Name()))
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, d, e.Name()), b, 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
	gomod := "module example.com/sample\n\ngo 1.26.0\n\nrequire github.com/cybercorp/hotreload v0.0.0\n\nreplace github.com/cybercorp/hotreload => " + strconv.Quote(repoRoot) + "\n"
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte(gomod), 0o644); err != nil {
		tb.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(repoRoot, "go.sum"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.sum"), sum, 0o644); err != nil {
		tb.Fatal(err)
	}
	// Completes the temporary module's go.mod from the module cache.
	cmd := exec.Command("go", "list", "-mod=mod", "-deps", "./...")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("preparing the temporary module: %v\n%s", err, out)
	}
	return root
}

// syscallKill kills pid with SIGKILL.
func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
