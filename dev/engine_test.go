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

	"github.com/cybercorp/hotreload/internal/testwait"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/supervise"
)

// TestSupervisorThroughEngine: each edit is a version in the engine's
// history, a failed build is a rejected transaction, and rolling the engine
// back to the first version starts its binary again from BinDir, while
// clients are served throughout.
func TestSupervisorThroughEngine(t *testing.T) {
	e := startEngine(t, hotreload.Options{})
	root := t.TempDir()
	src := filepath.Join(root, "version.go")
	writeFile(t, src, "package main\n\nconst version = \"v1\"\n")
	ln := listenLocal(t)
	url := "http://" + ln.Addr().String() + "/"
	_, rep := startSupervisor(t, Options{
		Engine: e, Dirs: []string{root}, Debounce: 20 * time.Millisecond,
		Process: supervise.Options{Name: "app", Listener: ln, Build: func(ctx context.Context, out string) error {
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
	})
	// The engine's start transaction built and started v1.
	if r := rep.next(t, "program"); r.Err != nil || r.Result != hotreload.Committed {
		t.Fatalf("start: %+v", r)
	}
	first := e.Status().Active
	l := startLoader(url, 4, 2*time.Minute)
	defer l.Finish(t)

	writeFile(t, src, "package main\n\nconst version = \"v2\"\n")
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("edit v2: %+v", r)
	}
	if got := mustGet(t, url); !strings.HasPrefix(got, "v0v2") {
		t.Fatalf("reply %q, want v2", got)
	}
	if v := e.Status().Active; v != first+1 {
		t.Fatalf("active version %d after the edit, want %d", v, first+1)
	}
	writeFile(t, src, "package main\n\nconst version = v3\n")
	r := rep.next(t, "program")
	if r.Result != hotreload.Rejected || len(hotreload.ErrorDetails(r.Err)) == 0 {
		t.Fatalf("broken edit: %+v", r)
	}

	o, err := e.Rollback(context.Background(), first, hotreload.Actor{Source: "test"})
	if err != nil || o.Result != hotreload.Committed {
		t.Fatalf("rollback to version %d: %+v, %v", first, o, err)
	}
	if got := mustGet(t, url); !strings.HasPrefix(got, "v0v1") {
		t.Fatalf("reply %q after the rollback, want v1", got)
	}
}

// gateFunc is a health gate from a function: the test injects a failing
// health check with it.
type gateFunc func(context.Context, hotreload.Transaction) error

func (g gateFunc) Watch(ctx context.Context, tx hotreload.Transaction) error { return g(ctx, tx) }

// TestSupervisorReportsRollback: a build that is swapped in and then fails
// the engine's health gate is rolled back; the report says RolledBack (not
// Rejected), the terminal says the previous version serves again, and it
// does, with no request failed.
func TestSupervisorReportsRollback(t *testing.T) {
	e := startEngine(t, hotreload.Options{Gate: gateFunc(func(_ context.Context, tx hotreload.Transaction) error {
		if tx.Source == "builder" {
			return errors.New("injected: the new build is unhealthy")
		}
		return nil
	})})
	root := t.TempDir()
	src := filepath.Join(root, "version.go")
	writeFile(t, src, "package main\n\nconst version = \"v1\"\n")
	ln := listenLocal(t)
	url := "http://" + ln.Addr().String() + "/"
	var term testwait.Output
	_, rep := startSupervisor(t, Options{
		Engine: e, Dirs: []string{root}, Debounce: 20 * time.Millisecond, Terminal: &term,
		Process: supervise.Options{Name: "app", Listener: ln, Build: func(ctx context.Context, out string) error {
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			stampedApp(t, string(versionConst.FindSubmatch(b)[1]), out)
			return nil
		}},
	})
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("start: %+v", r)
	}
	l := startLoader(url, 4, 2*time.Minute)
	writeFile(t, src, "package main\n\nconst version = \"v2\"\n")
	r := rep.next(t, "program")
	if r.Result != hotreload.RolledBack || r.Err == nil || !strings.Contains(r.Err.Error(), "unhealthy") {
		t.Fatalf("report %+v, want rolled back for the injected failure", r)
	}
	l.Finish(t)
	if got := mustGet(t, url); !strings.HasPrefix(got, "v0v1") {
		t.Fatalf("reply %q after the rollback, want v1", got)
	}
	if !strings.Contains(term.String(), "(rolled back: the previous version serves again)") {
		t.Errorf("terminal:\n%s", term.String())
	}
}
