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
	"testing"
	"time"

	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/examples/textpart"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// TestToyPartThroughServe adds the toy part of examples/textpart to serve's
// list: the daemon adds it to the engine, runs its trigger and mounts its
// route, with nothing else to change. An edit of its file is a version in
// history and is served; an invalid edit is rejected and the last good
// text keeps serving.
func TestToyPartThroughServe(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "motd.txt")
	for file, content := range map[string]string{"app.yaml": "greeting: hello\n", "motd.txt": "first"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := daemonOptions{ConfigFiles: []string{filepath.Join(dir, "app.yaml")}, DataDir: filepath.Join(dir, "data"),
		Listen: "127.0.0.1:0", Mode: admin.Dev, Watch: true, Stderr: io.Discard}
	p, err := textpart.New("motd", text)
	if err != nil {
		t.Fatal(err)
	}
	serveWithPart(t, opts, ln, p)
	get := func(path string) string {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get("/api/v1/motd"); got != "first" {
		t.Fatalf("GET /api/v1/motd: %q, want first", got)
	}
	if err := os.WriteFile(text, []byte("second"), 0o644); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "the edit to be served", 10*time.Second, func() error {
		if got := get("/api/v1/motd"); got != "second" {
			return fmt.Errorf("serving %q", got)
		}
		return nil
	})
	if err := os.WriteFile(text, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "the empty file to be rejected in history", 10*time.Second, func() error {
		if h := get("/api/v1/history"); !strings.Contains(h, `"rejected"`) || !strings.Contains(h, `"motd"`) {
			return fmt.Errorf("history: %s", h)
		}
		return nil
	})
	if got := get("/api/v1/motd"); got != "second" {
		t.Fatalf("after an invalid edit: serving %q, want the last good text", got)
	}
}

// serveWithPart runs serve's parts and part, as a command whose list has
// one more entry would, on ln until the test ends.
func serveWithPart(t *testing.T, opts daemonOptions, ln net.Listener, part any) {
	t.Helper()
	withPart := func(ctx context.Context, s *services) ([]any, error) {
		parts, err := serveParts(nil)(ctx, s)
		return append(parts, part), err
	}
	d, err := startDaemon(context.Background(), opts, ln, withPart)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}
