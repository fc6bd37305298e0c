// Package listen gives a server the listening socket its supervisor owns, in
// one line, and tells the supervisor when it serves.
//
// A supervisor (`hotreload dev`, `hotreload serve --exec`, systemd) passes
// sockets with systemd's socket-activation convention: file descriptors 3,
// 4, ... are listening sockets, LISTEN_FDS says how many, LISTEN_PID names
// the process they are meant for and LISTEN_FDNAMES their names. Listener
// takes the first one; without one it listens on 127.0.0.1:$PORT (the
// supervisor's proxy mode), or on a fallback address. Ready sends READY=1 to
// NOTIFY_SOCKET. Serve does all of it for an *http.Server and shuts it down
// gracefully on SIGTERM, which is what a zero-drop swap needs from an app.
//
// Concurrency: Listener and Ready may be called from any goroutine; the
// environment variables are read and cleared once, under a lock, so a second
// Listener call never takes the same descriptor twice.
package listen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cybercorp/hotreload/internal/sdnotify"
)

// firstFD is the first passed descriptor (sd_listen_fds(3): SD_LISTEN_FDS_START).
const firstFD = 3

// DefaultAddr is where Listener listens when no socket is passed and PORT is
// unset.
const DefaultAddr = "127.0.0.1:8080"

// DrainTimeout bounds how long Serve waits for in-flight requests after
// SIGTERM before it closes the remaining connections.
var DrainTimeout = 10 * time.Second

var (
	mu     sync.Mutex
	taken  bool
	passed []*os.File
	names  []string
)

// Listener returns the first listening socket passed by the supervisor, or
// a new listener on 127.0.0.1:$PORT, or on DefaultAddr.
func Listener() (net.Listener, error) { return Listen(DefaultAddr) }

// Listen returns the first listening socket passed by the supervisor, or a
// new listener on 127.0.0.1:$PORT, or on fallback.
func Listen(fallback string) (net.Listener, error) {
	files, _, err := Files()
	if err != nil {
		return nil, err
	}
	if len(files) > 0 {
		ln, err := net.FileListener(files[0])
		if err != nil {
			return nil, fmt.Errorf("listen: using passed descriptor %d: %w", firstFD, err)
		}
		files[0].Close() // FileListener dup'ed it
		return ln, nil
	}
	addr := fallback
	if port := os.Getenv("PORT"); port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, fmt.Errorf("listen: PORT=%q is not a port number", port)
		}
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return ln, nil
}

// Files returns the descriptors passed with LISTEN_FDS and their names from
// LISTEN_FDNAMES, the first time it is called; later calls return no files.
// Descriptors meant for another process (LISTEN_PID is not this process) are
// not taken. The variables are removed from the environment so that the
// app's own children do not take them again, and the descriptors are made
// close-on-exec. The caller owns the files.
func Files() ([]*os.File, []string, error) {
	mu.Lock()
	defer mu.Unlock()
	if taken {
		return nil, nil, nil
	}
	taken = true
	files, fdNames, err := parseEnv(os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDNAMES"), os.Getpid())
	for _, k := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	if err != nil || files == 0 {
		return nil, nil, err
	}
	passed, names = make([]*os.File, files), fdNames
	for i := range files {
		fd := firstFD + i
		syscall.CloseOnExec(fd)
		passed[i] = os.NewFile(uintptr(fd), names[i])
	}
	return passed, names, nil
}

// parseEnv checks the socket-activation variables and returns how many
// descriptors are meant for pid, and their names (LISTEN_FDNAMES, or
// "unknown" as systemd says when it is unset).
func parseEnv(fds, listenPID, fdNames string, pid int) (int, []string, error) {
	if fds == "" {
		return 0, nil, nil
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 || n > 1<<16 {
		return 0, nil, fmt.Errorf("listen: LISTEN_FDS=%q is not a descriptor count", fds)
	}
	if listenPID == "" {
		return 0, nil, errors.New("listen: LISTEN_FDS is set without LISTEN_PID; the supervisor must name the process the sockets are for")
	}
	p, err := strconv.Atoi(listenPID)
	if err != nil || p <= 0 {
		return 0, nil, fmt.Errorf("listen: LISTEN_PID=%q is not a process id", listenPID)
	}
	if p != pid {
		return 0, nil, nil // meant for another process (our parent passed its environment on)
	}
	out := make([]string, n)
	parts := strings.Split(fdNames, ":")
	for i := range out {
		out[i] = "unknown"
		if fdNames != "" && i < len(parts) && parts[i] != "" {
			out[i] = parts[i]
		}
	}
	return n, out, nil
}

// Ready tells the supervisor the program serves (READY=1 on NOTIFY_SOCKET).
// It is a no-op when NOTIFY_SOCKET is unset.
func Ready() error {
	n, err := sdnotify.New()
	if err != nil {
		return err
	}
	return n.Ready("serving")
}

// Serve serves srv on Listener, sends Ready once it accepts, and on SIGTERM
// or SIGINT drains without dropping a request: it stops accepting (the
// socket stays open in the supervisor and the new process), turns
// keep-alives off so that every connection closes after its current
// request, waits up to DrainTimeout for the connections to close, then
// shuts the server down. It returns nil after a clean drain.
//
// Serve does not call http.Server.Shutdown first because Shutdown drops a
// request read on a connection after it began (net/http checks
// shuttingDown after reading each request), and a client cannot retry a
// request that got no answer on a fresh connection. Serve sets
// srv.ConnState, calling the one already set.
func Serve(srv *http.Server) error {
	ln, err := Listener()
	if err != nil {
		return err
	}
	var open atomic.Int64
	hook := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
		if hook != nil {
			hook(c, st)
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(stop)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if err := Ready(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	select {
	case err := <-served:
		return err
	case <-stop:
	}
	ctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	defer cancel()
	ln.Close()
	// Serve tracks every connection it accepted before it returns.
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	srv.SetKeepAlivesEnabled(false) // also closes the idle connections
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for open.Load() > 0 && ctx.Err() == nil {
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
		return fmt.Errorf("listen: draining: %w", err)
	}
	return nil
}
