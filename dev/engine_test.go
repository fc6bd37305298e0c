//go:build linux

package dev

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
)

// TestSupervisorThroughEngine: each edit is a version in the engine's
// history, a failed build is a rejected transaction, and rolling the engine
// back to the first version starts its binary again from BinDir, while
// clients are served throughout.
func TestSupervisorThroughEngine(t *testing.T) {
	e := startEngine(t)
	root := t.TempDir()
	src := filepath.Join(root, "version.go")
	writeFile(t, src, "package main\n\nconst version = \"v1\"\n")
	ln := listenLocal(t)
	url := "http://" + ln.Addr().String() + "/"
	_, rep := startSupervisor(t, Options{
		Engine: e, Dirs: []string{root}, Debounce: 20 * time.Millisecond,
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
	})
	// The engine's start transaction built and started v1.
	if r := rep.next(t, "program"); r.Err != nil || r.Result != hotreload.Committed {
		t.Fatalf("start: %+v", r)
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
	if v := e.Status().Active; v != first+1 {
		t.Fatalf("active version %d after the edit, want %d", v, first+1)
	}
	writeFile(t, src, "package main\n\nconst version = v3\n")
	r := rep.next(t, "program")
	if r.Result != hotreload.Rejected || len(hotreload.ErrorDetails(r.Err)) == 0 {
		t.Fatalf("broken edit: %+v", r)
	}

	o, err := e.Rollback(context.Background(), first, hotreload.Request{Source: "test"})
	if err != nil || o.Result != hotreload.Committed {
		t.Fatalf("rollback to version %d: %+v, %v", first, o, err)
	}
	if got := mustGet(t, url); !strings.HasPrefix(got, "v0v1") {
		t.Fatalf("reply %q after the rollback, want v1", got)
	}
}
