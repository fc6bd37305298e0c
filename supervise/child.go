//go:build linux

package supervise

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cybercorp/hotreload"
)

// listenPIDShim sets LISTEN_PID to the shell's own pid, then execs the
// program in its place: exec keeps the pid, so the program finds
// LISTEN_PID == getpid() as systemd's convention requires, which os/exec
// cannot arrange because the pid is only known after the fork.
const listenPIDShim = `LISTEN_PID=$$; export LISTEN_PID; exec "$@"`

// tailSize is how much of a child's stderr is kept for crash reports.
const tailSize = 4 << 10

// spec is what one child process is started from.
type spec struct {
	binary string
	args   []string
	dir    string
	env    []string
	socket *os.File // socket mode: passed as fd 3; nil in proxy mode
	stdout io.Writer
	stderr io.Writer
	runDir string // where the child's notify socket is made
	health string // proxy mode: health URL path; "" = the port accepting
	// onExit is called, on a goroutine of its own, when the child exits.
	onExit func(*child)
}

// child is one started process: its own process group, its own notify
// socket and output pipes, watched and reaped by its Process's monitor.
type child struct {
	cmd    *exec.Cmd
	pid    int
	addr   string // proxy mode: 127.0.0.1:PORT the child listens on
	health string
	sock   string // path of the notify socket

	// Owned by the monitor once the child is added to it.
	pidfd, notifyFD, outFD, errFD int // -1 once closed
	stdout, stderr                io.Writer
	onExit                        func(*child)

	started   time.Time
	ready     chan struct{} // closed on READY=1
	readyOnce sync.Once
	exited    chan struct{} // closed once reaped; exitErr is set before
	exitErr   error
	tail      *tailBuffer
}

// startChild starts the program of s and hands it to m. The caller must
// stop the child.
func startChild(m *monitor, s spec) (c *child, err error) {
	c = &child{
		ready: make(chan struct{}), exited: make(chan struct{}), tail: &tailBuffer{},
		pidfd: -1, notifyFD: -1, outFD: -1, errFD: -1, health: s.health, onExit: s.onExit,
		stdout: s.stdout,
	}
	c.stderr = io.MultiWriter(s.stderr, c.tail)
	defer func() {
		if err != nil {
			c.closeFDs()
		}
	}()
	sock, err := os.CreateTemp(s.runDir, "notify-*.sock")
	if err != nil {
		return nil, fmt.Errorf("creating the notify socket: %w", err)
	}
	c.sock = sock.Name()
	sock.Close()
	os.Remove(c.sock)
	if c.notifyFD, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0); err != nil {
		return nil, fmt.Errorf("creating the notify socket: %w", err)
	}
	if err := unix.Bind(c.notifyFD, &unix.SockaddrUnix{Name: c.sock}); err != nil {
		return nil, fmt.Errorf("binding the notify socket %s: %w", c.sock, err)
	}
	outW, err := c.pipe(&c.outFD)
	if err != nil {
		return nil, err
	}
	defer outW.Close()
	errW, err := c.pipe(&c.errFD)
	if err != nil {
		return nil, err
	}
	defer errW.Close()

	env := cleanEnv(s.env)
	env = append(env, "NOTIFY_SOCKET="+c.sock)
	var cmd *exec.Cmd
	if s.socket != nil {
		cmd = exec.Command("/bin/sh", append([]string{"-c", listenPIDShim, "sh", s.binary}, s.args...)...)
		cmd.ExtraFiles = []*os.File{s.socket}
		env = append(env, "LISTEN_FDS=1", "LISTEN_FDNAMES=http")
	} else {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		c.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd = exec.Command(s.binary, s.args...)
		env = append(env, "PORT="+strconv.Itoa(port))
	}
	cmd.Dir = s.dir
	cmd.Env = env
	// Files, not writers: os/exec then starts no copying goroutine; the
	// monitor reads the pipes.
	cmd.Stdout, cmd.Stderr = outW, errW
	// The child leads its own process group so that stopping it reaches
	// every process it started; it is sent SIGTERM if the supervisor dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", s.binary, err)
	}
	c.cmd, c.pid, c.started = cmd, cmd.Process.Pid, time.Now()
	if c.pidfd, err = unix.PidfdOpen(c.pid, 0); err != nil {
		// Without a pidfd the monitor cannot see the exit: kill and reap
		// it here.
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return nil, fmt.Errorf("watching process %d: %w", c.pid, err)
	}
	m.add(c)
	return c, nil
}

// pipe makes a pipe whose non-blocking read end the monitor reads (its
// descriptor is stored in *read) and returns the write end for the child.
func (c *child) pipe(read *int) (*os.File, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("creating an output pipe: %w", err)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, fmt.Errorf("creating an output pipe: %w", err)
	}
	*read = p[0]
	return os.NewFile(uintptr(p[1]), "output"), nil
}

// closeFDs closes the child's descriptors and removes its notify socket.
func (c *child) closeFDs() {
	for _, fd := range []*int{&c.pidfd, &c.notifyFD, &c.outFD, &c.errFD} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	if c.sock != "" {
		os.Remove(c.sock)
	}
}

// cleanEnv drops the variables the supervisor sets for each child from env
// (the supervisor's own environment may carry its manager's).
func cleanEnv(env []string) []string {
	out := make([]string, 0, len(env)+4)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "PORT":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (c *child) markReady() { c.readyOnce.Do(func() { close(c.ready) }) }

// probeOnce marks a proxy-mode child ready when its port accepts a
// connection or, with a health path, when that URL answers 2xx.
func (c *child) probeOnce() {
	if c.health == "" {
		conn, err := net.DialTimeout("tcp", c.addr, time.Second)
		if err == nil {
			conn.Close()
			c.markReady()
		}
		return
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + c.addr + c.health)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			c.markReady()
		}
	}
}

// waitReady waits until the child is ready, exits, or timeout passes.
func (c *child) waitReady(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	var probe <-chan time.Time // proxy mode: poll the child's port
	if c.addr != "" {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		probe = tick.C
	}
	for {
		select {
		case <-c.ready:
			return nil
		case <-c.exited:
			return c.crashError("exited before it was ready")
		case <-t.C:
			return hotreload.Errorf(hotreload.CodeUnavailable, "process %d was not ready after %s (no READY=1 on NOTIFY_SOCKET)", c.pid, timeout)
		case <-ctx.Done():
			return hotreload.Errorf(hotreload.CodeUnavailable, "waiting for process %d to be ready: %w", c.pid, ctx.Err())
		case <-probe:
			c.probeOnce()
		}
	}
}

// crashError describes an exited child with the end of its stderr.
func (c *child) crashError(what string) error {
	msg := fmt.Sprintf("process %d %s: %v", c.pid, what, c.exitErr)
	if c.exitErr == nil {
		msg = fmt.Sprintf("process %d %s: exit status 0", c.pid, what)
	}
	e := hotreload.Errorf(hotreload.CodeInvalid, "%s", msg)
	for _, line := range c.tail.lines() {
		e.Details = append(e.Details, hotreload.FieldError{Message: line})
	}
	if len(e.Details) == 0 {
		e.Details = []hotreload.FieldError{{Message: msg}}
	}
	return e
}

// alive reports whether the child has not exited.
func (c *child) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the child's process group, waits up to drain for
// the child to exit, then sends SIGKILL to the whole group and waits for
// the child to be reaped. It finally kills whatever the child left in its
// group. It always returns with the child reaped.
func (c *child) stop(drain time.Duration) {
	pgid := c.pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(drain)
	select {
	case <-c.exited:
		t.Stop()
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-c.exited
	}
	// Processes the child started and left behind share its group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last tailSize bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = t.buf[len(t.buf)-tailSize:]
	}
	return len(p), nil
}

// lines returns the kept output's last complete lines (at most 20).
func (t *tailBuffer) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(t.buf))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	if len(out) > 20 {
		out = out[len(out)-20:]
	}
	return out
}

// errNoSocket reports a socket-mode Process without a listener.
var errNoSocket = errors.New("supervise: socket mode needs a TCP or Unix listener")

// listenerFile returns a close-on-exec dup of ln's descriptor to pass to
// children. It is made with dup(2) and os.NewFile rather than ln.File():
// os/exec calls Fd on every passed file, and Fd of a file from ln.File()
// switches the descriptor to blocking mode, which, the open file
// description being shared, would leave the live child's accept blocked
// beyond the reach of its listener's Close (it could no longer drain).
func listenerFile(ln net.Listener) (*os.File, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, errNoSocket
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("supervise: the listening socket: %w", err)
	}
	var fd int
	var dupErr error
	if err := rc.Control(func(s uintptr) { fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, fmt.Errorf("supervise: the listening socket: %w", err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("supervise: duplicating the listening socket: %w", dupErr)
	}
	return os.NewFile(uintptr(fd), "listener"), nil
}
