package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/health"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// TestHungTargetCannotFreezeTheEngine: a target whose step hangs fails its
// transaction at the step deadline; the engine goes on with other requests,
// /readyz answers 503 naming the step until it returns, and 200 again
// afterwards, when what the step prepared is undone. The hang is
// injected: a part whose Prepare ignores its context and blocks until the
// test releases it. (The built-in parts read only regular files, so a
// named pipe cannot hang them: see TestProgramMustBeARegularFile in
// supervise and internal/inputfile.)
func TestHungTargetCannotFreezeTheEngine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(file, []byte("name: one\nrps: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hung := &hangingPart{release: make(chan struct{})}
	opts := daemonOptions{ConfigFiles: []string{file}, DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0",
		Mode: admin.Dev, Window: health.NoWindow, StepTimeout: 2 * time.Second, Stderr: io.Discard}
	serveWithPart(t, opts, ln, hung)
	t.Cleanup(func() { close(hung.release) }) // a Prepare still hung returns, whatever failed; before the daemon stops
	base := "http://" + ln.Addr().String()
	call := func(method, path, body string) (int, string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	readyz := func(want int, naming string) func() error {
		return func() error {
			if code, body := call("GET", "/readyz?verbose", ""); code != want || !strings.Contains(body, naming) {
				return fmt.Errorf("/readyz %d %s", code, body)
			}
			return nil
		}
	}
	testwait.Until(t, "/readyz ready at start", 30*time.Second, readyz(200, ""))

	hung.hang.Store(true)
	t0 := time.Now()
	code, body := call("POST", "/api/v1/reload", `{"targets": ["hung"]}`)
	if code != 422 || !strings.Contains(body, `"result":"rejected"`) || !strings.Contains(body, "prepare of hung did not finish within 2s") {
		t.Fatalf("reload of the hung target: %d %s", code, body)
	}
	t.Logf("the hung step failed its transaction after %s (step deadline 2s)", time.Since(t0))
	testwait.Until(t, "/readyz naming the hung step", 30*time.Second, readyz(503, "prepare of hung"))
	if code, body := call("PATCH", "/api/v1/config", `{"rps": 6}`); code != 200 {
		t.Fatalf("PATCH while a step hangs: %d %s", code, body)
	}

	// The hung step returns: what it prepared is undone, and /readyz is
	// ready again.
	hung.release <- struct{}{}
	testwait.Until(t, "/readyz ready again", 30*time.Second, readyz(200, ""))
	testwait.For(t, "the late change to be undone", 10*time.Second, hung.undone.Load)
	if code, body := call("GET", "/api/v1/config", ""); code != 200 || !strings.Contains(body, `"rps":6`) {
		t.Fatalf("config after the hang: %d %s", code, body)
	}
}

// hangingPart is a target whose Prepare, once hang is set, ignores its
// context and blocks until it receives from release: a hung step,
// injected.
type hangingPart struct {
	hang    atomic.Bool
	release chan struct{}
	undone  atomic.Bool
}

func (*hangingPart) Name() string { return "hung" }

func (p *hangingPart) Prepare(context.Context, hotreload.Candidate) (hotreload.Change, error) {
	if p.hang.Load() {
		<-p.release
	}
	return hangingChange{p}, nil
}

// hangingChange is what hangingPart prepares: nothing to apply, and a
// rollback that says it ran.
type hangingChange struct{ p *hangingPart }

func (hangingChange) Summary() hotreload.Summary {
	return hotreload.Summary{Kind: "text", Snapshot: []byte(`"same"`)}
}
func (hangingChange) Apply(context.Context) error      { return nil }
func (c hangingChange) Rollback(context.Context) error { c.p.undone.Store(true); return nil }
func (hangingChange) Commit(context.Context) error     { return nil }
