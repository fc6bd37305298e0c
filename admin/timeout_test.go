package admin_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/admin/auth"
)

// serveWithShortTimeouts serves the stack's handler through NewHTTPServer
// with its read and write timeouts cut to 300 ms.
func serveWithShortTimeouts(t *testing.T, s *stack) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := admin.NewHTTPServer(ln.Addr().String(), s.srv)
	srv.ReadTimeout, srv.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	go srv.Serve(ln)
	t.Cleanup(func() {
		s.srv.Close()
		srv.Close()
	})
	return "http://" + ln.Addr().String()
}

// TestLongRequestsOutliveServerTimeouts checks that an event stream and a
// reload waiting for its health gate are not cut by the server's read and
// write timeouts (which stop slow clients everywhere else).
func TestLongRequestsOutliveServerTimeouts(t *testing.T) {
	s := newStack(t, stackOptions{})
	base := serveWithShortTimeouts(t, s)

	t.Run("EventStream", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+s.tokens[auth.Viewer])
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		time.Sleep(time.Second)
		go s.do("POST", "/api/v1/reload", auth.Operator, "")
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "event: reload_start") {
				return
			}
		}
		t.Fatalf("the stream ended after the server timeouts: %v", sc.Err())
	})

	t.Run("ReloadThroughSlowGate", func(t *testing.T) {
		s.gate.delay.Store(int64(time.Second))
		defer s.gate.delay.Store(0)
		must(t, os.WriteFile(s.file, []byte(`{"counter": 9, "name": "demo"}`), 0o600))
		req, _ := http.NewRequest("POST", base+"/api/v1/reload", nil)
		req.Header.Set("Authorization", "Bearer "+s.tokens[auth.Operator])
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("reload through a 1 s gate = %d, want 200", resp.StatusCode)
		}
	})
}

// TestShutdownEndsEventStreams checks that http.Server.Shutdown of a
// NewHTTPServer does not wait for streaming clients.
func TestShutdownEndsEventStreams(t *testing.T) {
	s := newStack(t, stackOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := admin.NewHTTPServer(ln.Addr().String(), s.srv)
	go srv.Serve(ln)
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+s.tokens[auth.Viewer])
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an open event stream = %v after %v", err, time.Since(t0))
	}
}
