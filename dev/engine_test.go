//go:build linux

package dev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
)

// TestSupervisorThroughEngine runs the program's reloads as engine
// transactions, the way `hotreload serve --exec` does: each edit is a
// committed version in history, a failed build is a rejected transaction,
// and rolling the engine back to the first version starts its binary again
// from BinDir, while clients are served throughout.
func TestSupervisorThroughEngine(t *testing.T) {
	store, err := history.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e := hotreload.New(hotreload.Options{History: store})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	engineDone := make(chan error, 1)
	go func() { engineDone <- e.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-engineDone; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("engine: %v", err)
		}
	}()

	root := t.TempDir()
	src := filepath.Join(root, "version.go")
	writeFile(t, src, "package main\n\nconst version = \"v1\"\n")
	ln := listenLocal(t)
	url := "http://" + ln.Addr().String() + "/"
	_, rep := startSupervisor(t, Options{
		Dirs: []string{root}, Debounce: 20 * time.Millisecond,
		Submit: e.Reload,
		Process: ProcessOptions{Name: "app", Listener: ln, Build: func(ctx context.Context, out string) error {
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			if m := versionConst.FindSubmatch(b); m != nil {
				stampedApp(t, string(m[1]), out)
				return nil
			}
			return BuildError(root, "go build", []byte("./version.go:3:17: undefined: v3\n"), fmt.Errorf("exit status 1"))
		}},
	}, func(s *Supervisor) {
		if _, err := e.Add(ctx, s.Process()); err != nil {
			t.Fatal(err)
		}
	})
	// The engine's start transaction built v1; the supervisor's first
	// reload finds the same binary.
	if r := rep.next(t, "program"); r.Err != nil || r.Result != hotreload.Unchanged {
		t.Fatalf("first reload: %+v", r)
	}
	first := e.Status().Active
	l := startLoader(url, 4, 2*time.Minute)
	defer l.finish(t)

	writeFile(t, src, "package main\n\nconst version = \"v2\"\n")
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("edit v2: %+v", r)
	}
	if got := mustGet(t, url); !strings.HasPrefix(got, "v0v2") {
		t.Fatalf("reply %q, want v2", got)
	}
	writeFile(t, src, "package main\n\nconst version = v3\n")
	r := rep.next(t, "program")
	if r.Result != hotreload.Rejected || len(hotreload.ErrorDetails(r.Err)) == 0 {
		t.Fatalf("broken edit: %+v", r)
	}

	o, err := e.Rollback(ctx, first, hotreload.Request{Source: "test"})
	if err != nil || o.Result != hotreload.Committed {
		t.Fatalf("rollback to version %d: %+v, %v", first, o, err)
	}
	if got := mustGet(t, url); !strings.HasPrefix(got, "v0v1") {
		t.Fatalf("reply %q after the rollback, want v1", got)
	}
}
