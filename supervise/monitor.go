//go:build linux

package supervise

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// monitor watches every child of one Process from a single goroutine with
// poll(2): each child's exit (its pidfd), its READY=1 datagrams (its notify
// socket) and its output (two pipes). A Process therefore keeps one
// goroutine however many children it starts, and a child leaves nothing
// behind once it is reaped and its pipes are drained.
type monitor struct {
	wakeR, wakeW int // self-pipe: add and close wake the poll

	mu       sync.Mutex
	children map[*child]bool
	closed   bool
	done     chan struct{}
}

func newMonitor() (*monitor, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("supervise: creating the monitor's pipe: %w", err)
	}
	m := &monitor{wakeR: p[0], wakeW: p[1], children: map[*child]bool{}, done: make(chan struct{})}
	go m.run()
	return m, nil
}

// add starts watching c; after a close, c is killed and reaped at once.
func (m *monitor) add(c *child) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		_ = unix.Kill(-c.pid, unix.SIGKILL)
		m.reap(c)
		c.closeFDs()
		return
	}
	m.children[c] = true
	m.mu.Unlock()
	m.wake()
}

func (m *monitor) wake() { _, _ = unix.Write(m.wakeW, []byte{0}) }

// close stops the goroutine and closes every descriptor. Children still
// running are killed and reaped.
func (m *monitor) close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.done
		return
	}
	m.closed = true
	m.mu.Unlock()
	m.wake()
	<-m.done
	unix.Close(m.wakeR)
	unix.Close(m.wakeW)
}

// watched is one polled descriptor and what it belongs to.
type watched struct {
	c    *child
	kind int
}

const (
	watchExit = iota
	watchNotify
	watchOut
	watchErr
)

func (m *monitor) run() {
	defer close(m.done)
	buf := make([]byte, 64<<10)
	for {
		m.mu.Lock()
		if m.closed {
			for c := range m.children {
				if c.pidfd >= 0 {
					_ = unix.Kill(-c.pid, unix.SIGKILL)
					m.drain(c, buf)
					m.reap(c)
				}
				c.closeFDs()
			}
			m.mu.Unlock()
			return
		}
		fds := []unix.PollFd{{Fd: int32(m.wakeR), Events: unix.POLLIN}}
		whats := []watched{{}}
		for c := range m.children {
			for kind, fd := range []int{c.pidfd, c.notifyFD, c.outFD, c.errFD} {
				if fd >= 0 {
					fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
					whats = append(whats, watched{c, kind})
				}
			}
		}
		m.mu.Unlock()
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			panic(fmt.Sprintf("supervise: poll: %v", err)) // only EINTR, EFAULT, EINVAL, ENOMEM: bugs
		}
		for i, pfd := range fds {
			if pfd.Revents == 0 {
				continue
			}
			if i == 0 {
				for {
					if n, _ := unix.Read(m.wakeR, buf); n <= 0 {
						break
					}
				}
				continue
			}
			w := whats[i]
			switch w.kind {
			case watchNotify:
				m.readNotify(w.c, buf)
			case watchOut:
				m.readOutput(w.c, &w.c.outFD, w.c.stdout, buf)
			case watchErr:
				m.readOutput(w.c, &w.c.errFD, w.c.stderr, buf)
			case watchExit:
				// The whole group at once, before the leader is reaped (its
				// pid, the group's id, cannot be reused until then): what it
				// started must not outlive it, hold its pipes or its socket.
				_ = unix.Kill(-w.c.pid, unix.SIGKILL)
				m.drain(w.c, buf)
				m.reap(w.c)
				if w.c.onExit != nil {
					go w.c.onExit(w.c)
				}
			}
		}
		m.mu.Lock()
		for c := range m.children {
			if c.pidfd < 0 && c.outFD < 0 && c.errFD < 0 {
				delete(m.children, c)
			}
		}
		m.mu.Unlock()
	}
}

// readNotify reads the queued sd_notify datagrams.
func (m *monitor) readNotify(c *child, buf []byte) {
	for {
		n, _, err := unix.Recvfrom(c.notifyFD, buf, unix.MSG_DONTWAIT)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if line == "READY=1" {
				c.markReady()
			}
		}
	}
}

// readOutput copies what the pipe holds to w, closing it at end of file.
func (m *monitor) readOutput(c *child, fd *int, w interface{ Write([]byte) (int, error) }, buf []byte) {
	for *fd >= 0 {
		n, err := unix.Read(*fd, buf)
		if n > 0 {
			_, _ = w.Write(buf[:n])
			continue
		}
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return
		}
		unix.Close(*fd) // end of file: every writer closed it
		*fd = -1
	}
}

// drain copies the output an exited child left in its pipes, so that its
// last words are in the tail before it is reported reaped.
func (m *monitor) drain(c *child, buf []byte) {
	m.readOutput(c, &c.outFD, c.stdout, buf)
	m.readOutput(c, &c.errFD, c.stderr, buf)
}

// reap waits for the exited child (at once: it has exited or was killed),
// closes its pidfd and notify socket and marks it exited.
func (m *monitor) reap(c *child) {
	c.exitErr = c.cmd.Wait()
	for _, fd := range []*int{&c.pidfd, &c.notifyFD} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	close(c.exited)
}
