// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)) for Type=notify and Type=notify-reload units: READY=1 once
// serving, RELOADING=1 with MONOTONIC_USEC at the start of every reload,
// READY=1 after it, and STATUS= lines naming the active version.
//
// Concurrency: a Notifier is safe for concurrent use; like sd_notify(3),
// each call opens a socket, sends one datagram and closes it, waiting at most
// SendTimeout for room in the manager's queue, so a stalled manager can never
// stall a reload. With NOTIFY_SOCKET unset every call is a no-op that
// returns nil.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/events"
)

// SendTimeout bounds how long one notification may wait for the manager.
const SendTimeout = time.Second

// Notifier sends state changes to the service manager's socket. The zero
// value is a no-op Notifier.
type Notifier struct {
	addr *net.UnixAddr // nil when not run under a notifying manager
}

// New returns a Notifier for the socket named by NOTIFY_SOCKET, or a no-op
// Notifier when the variable is unset. A name starting with "@" is a Linux
// abstract socket.
func New() (*Notifier, error) { return Dial(os.Getenv("NOTIFY_SOCKET")) }

// Dial returns a Notifier for the unix datagram socket at path; an empty
// path gives a no-op Notifier.
func Dial(path string) (*Notifier, error) {
	if path == "" {
		return &Notifier{}, nil
	}
	if path[0] != '/' && path[0] != '@' {
		return nil, fmt.Errorf("sdnotify: NOTIFY_SOCKET %q is neither an absolute path nor an abstract socket", path)
	}
	return &Notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}, nil
}

// Enabled reports whether messages go anywhere.
func (n *Notifier) Enabled() bool { return n.addr != nil }

// Send sends one message made of the given KEY=VALUE lines.
func (n *Notifier) Send(lines ...string) error {
	if n.addr == nil {
		return nil
	}
	msg := strings.Join(lines, "\n")
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: connecting to %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(SendTimeout)); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	if _, err := conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sdnotify: sending %q: %w", msg, err)
	}
	return nil
}

// Ready tells the manager the service is serving, with a status line.
func (n *Notifier) Ready(status string) error {
	return n.Send("READY=1", "STATUS="+status)
}

// Reloading tells the manager a reload began, stamped with CLOCK_MONOTONIC
// as systemd requires for Type=notify-reload.
func (n *Notifier) Reloading(status string) error {
	return n.Send("RELOADING=1", fmt.Sprintf("MONOTONIC_USEC=%d", monotonicUsec()), "STATUS="+status)
}

// Stopping tells the manager the service is shutting down.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1", "STATUS=stopping") }

// Publish turns engine events into notifications, so that a Notifier can
// sit on the event bus or be given to the engine as a hotreload.Publisher:
// a ReloadStartEvent sends RELOADING=1, a ReloadEvent sends READY=1 with
// the active version. Other events are ignored; send errors are dropped
// (notification is advisory and must never fail a reload).
func (n *Notifier) Publish(event any) {
	switch e := event.(type) {
	case hotreload.ReloadStartEvent:
		_ = n.Reloading(fmt.Sprintf("reloading %s (%s)", strings.Join(e.Targets, ", "), e.Source))
	case *hotreload.ReloadStartEvent:
		n.Publish(*e)
	case hotreload.ReloadEvent:
		_ = n.Ready(StatusLine(e.Outcome))
	case *hotreload.ReloadEvent:
		n.Publish(*e)
	}
}

// Follow passes the events of sub to Publish until ctx is done or the bus
// closes, then closes sub; run it on its own goroutine. Subscribe before
// starting it (events.Subscribe[any](bus)) so that no reload is missed.
func (n *Notifier) Follow(ctx context.Context, sub *events.Subscription[any]) {
	defer sub.Close()
	sub.Each(ctx, func(ev any) bool { n.Publish(ev); return true })
}

// StatusLine renders the STATUS= text after a transaction.
func StatusLine(o hotreload.Outcome) string {
	s := fmt.Sprintf("serving version %d; last reload %s", o.Active, o.Result)
	if o.Reason != "" {
		s += ": " + o.Reason
	}
	return s
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}
