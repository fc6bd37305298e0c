package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/events"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// listen opens a datagram socket the way systemd does and returns it with
// the NOTIFY_SOCKET value that names it.
func listen(t *testing.T, abstract bool) (*net.UnixConn, string) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify.sock")
	if abstract {
		name = "@hotreload-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, name
}

func receive(t *testing.T, conn *net.UnixConn) map[string]string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading a notification: %v", err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(buf[:n]), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("malformed line %q in %q", line, buf[:n])
		}
		fields[k] = v
	}
	return fields
}

func TestReloadProtocol(t *testing.T) {
	for _, tc := range []struct {
		name     string
		abstract bool
	}{{"PathSocket", false}, {"AbstractSocket", true}} {
		t.Run(tc.name, func(t *testing.T) {
			conn, name := listen(t, tc.abstract)
			t.Setenv("NOTIFY_SOCKET", name)
			n, err := New()
			if err != nil {
				t.Fatal(err)
			}
			if !n.Enabled() {
				t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
			}

			if err := n.Ready("serving version 3"); err != nil {
				t.Fatal(err)
			}
			got := receive(t, conn)
			if got["READY"] != "1" || got["STATUS"] != "serving version 3" {
				t.Fatalf("ready message = %v", got)
			}

			before := monotonicUsec()
			n.Publish(hotreload.ReloadStartEvent{Header: hotreload.Header{Source: "signal"}, Targets: []string{"app"}})
			got = receive(t, conn)
			if got["RELOADING"] != "1" {
				t.Fatalf("reload start message = %v, want RELOADING=1", got)
			}
			usec, err := strconv.ParseInt(got["MONOTONIC_USEC"], 10, 64)
			if err != nil || usec < before || usec > monotonicUsec() {
				t.Fatalf("MONOTONIC_USEC=%q is not the monotonic clock now (%d)", got["MONOTONIC_USEC"], before)
			}

			n.Publish(&hotreload.ReloadEvent{Outcome: hotreload.Outcome{Result: hotreload.Committed, Version: 4, Active: 4}})
			got = receive(t, conn)
			if got["READY"] != "1" || !strings.Contains(got["STATUS"], "version 4") {
				t.Fatalf("reload end message = %v, want READY=1 and the active version", got)
			}

			if err := n.Stopping(); err != nil {
				t.Fatal(err)
			}
			if got = receive(t, conn); got["STOPPING"] != "1" {
				t.Fatalf("stopping message = %v", got)
			}
		})
	}
}

func TestMonotonicMatchesKernelClock(t *testing.T) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	if d := monotonicUsec() - ts.Nano()/1000; d < 0 || d > int64(time.Second/time.Microsecond) {
		t.Fatalf("monotonicUsec differs from CLOCK_MONOTONIC by %dµs", d)
	}
}

func TestDisabledIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if n.Enabled() {
		t.Fatal("Enabled() = true without NOTIFY_SOCKET")
	}
	if err := n.Ready("x"); err != nil {
		t.Fatal(err)
	}
	n.Publish(hotreload.ReloadStartEvent{})
}

func TestErrors(t *testing.T) {
	if _, err := Dial("relative.sock"); err == nil {
		t.Fatal("Dial accepted a relative path")
	}
	n, err := Dial(filepath.Join(t.TempDir(), "missing.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Ready("x"); err == nil || !strings.Contains(err.Error(), "missing.sock") {
		t.Fatalf("Ready to a missing socket = %v, want an error naming it", err)
	}
}

func TestFollowBus(t *testing.T) {
	conn, name := listen(t, false)
	n, err := Dial(name)
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	defer bus.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	sub := events.Subscribe[any](bus)
	go func() { defer close(done); n.Follow(ctx, sub) }()
	bus.Publish(hotreload.ReloadStartEvent{Targets: []string{"config"}})
	bus.Publish(hotreload.ConfigReloadEvent{}) // ignored
	bus.Publish(hotreload.ReloadEvent{Outcome: hotreload.Outcome{Result: hotreload.RolledBack, Active: 7, Reason: "health"}})
	if got := receive(t, conn); got["RELOADING"] != "1" {
		t.Fatalf("first message = %v", got)
	}
	if got := receive(t, conn); got["READY"] != "1" || got["STATUS"] != "serving version 7; last reload rolled_back: health" {
		t.Fatalf("second message = %v", got)
	}
	cancel()
	<-done
}
