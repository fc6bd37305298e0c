//go:build linux

package dev

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/supervise"
	"github.com/cybercorp/hotreload/ui"
)

// browserMessage is the part of the UI channel's messages the test reads.
type browserMessage struct {
	Type   string                 `json:"type"`
	Kind   string                 `json:"kind"`
	Errors []hotreload.FieldError `json:"errors"`
}

// TestSupervisorTellsTheBrowser: a browser on the UI channel gets the
// overlay with the compiler's file:line:col for a failed build (the file
// relative to the watched folder), and once the
// fixed build serves, the overlay is cleared and the page reloads (never
// before the new process is ready).
func TestSupervisorTellsTheBrowser(t *testing.T) {
	root := t.TempDir()
	hub := ui.NewHub(ui.Options{Roots: []string{root}}) // as hotreload dev wires it
	defer hub.Close()
	mux := http.NewServeMux()
	hub.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	src := filepath.Join(root, "version.go")
	writeFile(t, src, "package main\n\nconst version = \"v0\"\n")
	ln := listenLocal(t)
	url := "http://" + ln.Addr().String() + "/"
	s, rep := startSupervisor(t, Options{
		Dirs: []string{root}, Debounce: 20 * time.Millisecond, UI: hub,
		Process: supervise.Options{Listener: ln, Build: func(ctx context.Context, out string) error {
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			if m := versionConst.FindSubmatch(b); m != nil {
				stampedApp(t, string(m[1]), out)
				return nil
			}
			return BuildError(root, "go build", []byte("./version.go:3:17: undefined: v1\n"), fmt.Errorf("exit status 1"))
		}},
	})
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("first start: %+v", r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"hello","protocol":"hotreload/1"}`)); err != nil {
		t.Fatal(err)
	}
	read := func(want string) browserMessage {
		t.Helper()
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			var m browserMessage
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			if m.Type == want || m.Type+":"+m.Kind == want {
				return m
			}
		}
	}
	read("welcome")

	writeFile(t, src, "package main\n\nconst version = v1\n")
	if r := rep.next(t, "program"); r.Result != hotreload.Rejected {
		t.Fatalf("broken edit: %+v", r)
	}
	m := read("error")
	if len(m.Errors) != 1 || m.Errors[0].File != "version.go" || m.Errors[0].Line != 3 || m.Errors[0].Column != 17 {
		t.Fatalf("overlay errors %+v", m.Errors)
	}

	writeFile(t, src, "package main\n\nconst version = \"v1\"\n")
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("fixed edit: %+v", r)
	}
	read("clear")
	read("update:page")
	// The page reloads only after the swap: the new version answers now.
	if got := mustGet(t, url); !strings.HasPrefix(got, "v0v1") {
		t.Fatalf("reply %q when the browser was told to reload", got)
	}

	// A crash of the live program: the overlay says so, and once the same
	// build serves again it clears and the page reloads.
	pid, _ := s.Process().Live()
	if err := syscallKill(pid); err != nil {
		t.Fatal(err)
	}
	if r := rep.next(t, "program"); !r.Crashed || r.PID != pid {
		t.Fatalf("report %+v, want the crash of %d", r, pid)
	}
	if m := read("error"); len(m.Errors) == 0 || !strings.Contains(fmt.Sprint(m.Errors), "killed") {
		t.Fatalf("overlay errors %+v, want the crash", m.Errors)
	}
	if r := rep.next(t, "program"); !r.Restarted || r.Err != nil {
		t.Fatalf("report %+v, want the restart", r)
	}
	read("clear")
	read("update:page")
	if got := mustGet(t, url); !strings.HasPrefix(got, "v0v1") {
		t.Fatalf("reply %q after the restart", got)
	}
	conn.Close(websocket.StatusNormalClosure, "")
}
