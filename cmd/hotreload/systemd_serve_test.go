package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/admin/auth"
)

// TestServeNotifiesSystemd runs "hotreload serve" under a fake service
// manager: a unix datagram socket named by NOTIFY_SOCKET. serve must send
// READY=1 once serving, then RELOADING=1 with MONOTONIC_USEC at the start
// of a reload and READY=1 with the new active version after it.
func TestServeNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	must(t, err)
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	next := func() map[string]string {
		t.Helper()
		buf := make([]byte, 4096)
		must(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		n, err := conn.Read(buf)
		must(t, err)
		m := map[string]string{}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			k, v, _ := strings.Cut(line, "=")
			m[k] = v
		}
		return m
	}
	d := startServe(t)
	if m := next(); m["READY"] != "1" || !strings.Contains(m["STATUS"], "version 1") {
		t.Fatalf("first notification = %v, want READY=1 with version 1", m)
	}
	must(t, os.WriteFile(d.config, []byte(`{"name": "demo", "limits": {"rps": 30}}`), 0o600))
	if _, stderr, code := run(t, "", "reload", "--addr", d.addr, "--token", d.tokens[auth.Operator]); code != 0 {
		t.Fatalf("reload: %s", stderr)
	}
	if m := next(); m["RELOADING"] != "1" || m["MONOTONIC_USEC"] == "" {
		t.Fatalf("reload start = %v, want RELOADING=1 and MONOTONIC_USEC", m)
	}
	if m := next(); m["READY"] != "1" || !strings.Contains(m["STATUS"], "version 2") {
		t.Fatalf("reload end = %v, want READY=1 with version 2", m)
	}
}
