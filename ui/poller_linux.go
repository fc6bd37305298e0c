package ui

import (
	"errors"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller reads every client's socket from one goroutine: an epoll
// instance of its own says which sockets have bytes (the runtime's
// poller keeps its registration too, unused), and the bytes are read
// without blocking. So an idle client holds no goroutine and no stack,
// the largest part of its memory when each had a reader goroutine
// (docs/benchmarks.md#ui). Each socket is armed one-shot and re-armed
// after its bytes are handled, so one client is read by one goroutine at
// a time.
type poller struct {
	epfd int
	wake int // eventfd that ends run

	mu      sync.Mutex
	clients map[uint64]*client // by token
	next    uint64
	done    chan struct{}
}

// newPoller starts a poller, or returns an error where epoll is not
// available.
func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	p := &poller{epfd: epfd, wake: wake, clients: map[uint64]*client{}, next: 1, done: make(chan struct{})}
	go p.run()
	return p, nil
}

const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

func eventOf(token uint64) unix.EpollEvent {
	return unix.EpollEvent{Events: pollEvents, Fd: int32(uint32(token)), Pad: int32(uint32(token >> 32))}
}

// add starts reading c.
func (p *poller) add(c *client) error {
	rc, err := c.conn.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	token := p.next
	p.next++
	c.raw, c.fd, c.token = rc, fd, token
	p.clients[token] = c
	ev := eventOf(token)
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		delete(p.clients, token)
		return err
	}
	return nil
}

// remove stops reading c and closes its socket. Sockets the poller reads
// are closed only here, under p.mu, so that a re-arm never reaches a
// descriptor number the kernel gave to a newer socket.
func (p *poller) remove(c *client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clients[c.token] == c {
		delete(p.clients, c.token)
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	}
	c.conn.Close()
}

// rearm waits for c's next bytes.
func (p *poller) rearm(c *client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clients[c.token] == c {
		ev := eventOf(c.token)
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
	}
}

func (p *poller) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if token == 0 {
				return // close
			}
			p.mu.Lock()
			c := p.clients[token]
			p.mu.Unlock()
			if c == nil {
				continue
			}
			if c.readFrom(buf) {
				p.rearm(c)
			}
		}
	}
}

// readFrom reads what c sent, without blocking, and handles it; it
// reports whether c stays open.
func (c *client) readFrom(buf []byte) bool {
	var n int
	var rerr error
	if err := c.raw.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), buf)
		return true // never wait: epoll said there are bytes
	}); err != nil {
		rerr = err
	}
	switch {
	case errors.Is(rerr, unix.EAGAIN):
		return true
	case rerr == nil && n == 0:
		rerr = errEOF
	}
	if rerr == nil {
		rerr = c.received(buf[:n])
	}
	if rerr != nil {
		c.readEnd(rerr)
		return false
	}
	return true
}

// close ends the poller; the sockets are closed by their clients.
func (p *poller) close() {
	var one [8]byte
	one[7] = 1
	_, _ = unix.Write(p.wake, one[:])
	<-p.done
	unix.Close(p.epfd)
	unix.Close(p.wake)
}
