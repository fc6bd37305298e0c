// Package etcdtest starts real etcd clusters for tests: Debian's etcd-server
// (/usr/bin/etcd) as child processes on free 127.0.0.1 ports, each member in
// its own temporary data dir. Members can be killed, paused and restarted to
// inject faults. A Cluster is used from one test goroutine.
package etcdtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Binary returns the path of the etcd server. When it is missing the test
// fails under CI=true and is skipped otherwise, with how to install it.
func Binary(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("etcd")
	if err != nil {
		const hint = "etcd is not installed (apt-get install etcd-server)"
		if os.Getenv("CI") == "true" {
			tb.Fatal(hint)
		}
		tb.Skip(hint)
	}
	return path
}

// Cluster is a running etcd cluster.
type Cluster struct {
	Members []*Member
}

// Member is one etcd process.
type Member struct {
	// Name is the member's name (m0, m1, ...).
	Name string
	// Addr is its client address, host:port.
	Addr string
	bin  string
	args []string
	log  *testwait.Output

	mu  sync.Mutex
	cmd *exec.Cmd
	ret chan struct{} // closed when cmd exited
}

// Start runs an n-member cluster and waits until it answers. The members
// are killed when the test ends; their logs are printed if it failed.
func Start(tb testing.TB, n int) *Cluster {
	tb.Helper()
	bin := Binary(tb)
	c := &Cluster{}
	var initial []string
	peers := make([]string, n)
	for i := range n {
		peers[i] = "http://" + freeAddr(tb)
		initial = append(initial, fmt.Sprintf("m%d=%s", i, peers[i]))
	}
	token := fmt.Sprintf("hotreload-test-%d", time.Now().UnixNano())
	for i := range n {
		m := &Member{Name: fmt.Sprintf("m%d", i), Addr: freeAddr(tb), bin: bin, log: &testwait.Output{}}
		m.args = []string{
			"--name", m.Name,
			"--data-dir", tb.TempDir(),
			"--listen-client-urls", "http://" + m.Addr,
			"--advertise-client-urls", "http://" + m.Addr,
			"--listen-peer-urls", peers[i],
			"--initial-advertise-peer-urls", peers[i],
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", token,
			"--heartbeat-interval", "50",
			"--election-timeout", "500",
		}
		c.Members = append(c.Members, m)
	}
	tb.Cleanup(func() {
		for _, m := range c.Members {
			m.Kill()
		}
		if tb.Failed() {
			for _, m := range c.Members {
				tb.Logf("etcd %s log (last 3000 bytes):\n%s", m.Name, m.log.Tail(3000))
			}
		}
	})
	for _, m := range c.Members {
		m.start(tb)
	}
	c.WaitReady(tb)
	return c
}

// Endpoints returns every member's client address.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.Addr
	}
	return eps
}

// Client returns a client of every member, closed when the test ends.
func (c *Cluster) Client(tb testing.TB) *clientv3.Client {
	tb.Helper()
	return Client(tb, c.Endpoints()...)
}

// Client returns a client of the endpoints, closed when the test ends.
func Client(tb testing.TB, endpoints ...string) *clientv3.Client {
	tb.Helper()
	cl, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cl.Close() })
	return cl
}

// WaitReady waits (up to 30 s) until a quorum write succeeds.
func (c *Cluster) WaitReady(tb testing.TB) {
	tb.Helper()
	cl := c.Client(tb)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cl.Put(ctx, "/etcdtest/ready", "1")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("etcd cluster not ready after 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *Member) start(tb testing.TB) {
	tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	cmd := exec.Command(m.bin, m.args...)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting etcd %s: %v", m.Name, err)
	}
	ret := make(chan struct{})
	go func() { _ = cmd.Wait(); close(ret) }()
	m.cmd, m.ret = cmd, ret
}

// Kill kills the member (SIGKILL) and waits for it to exit.
func (m *Member) Kill() {
	m.mu.Lock()
	cmd, ret := m.cmd, m.ret
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a paused member dies too
	_ = cmd.Process.Kill()
	<-ret
}

// Restart starts a killed member again on its data dir and waits until
// the cluster answers.
func (m *Member) Restart(tb testing.TB) {
	tb.Helper()
	m.start(tb)
	deadline := time.Now().Add(30 * time.Second)
	cl := Client(tb, m.Addr)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cl.Get(ctx, "/etcdtest/ready")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("etcd %s not serving 30 s after its restart: %v", m.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Pause stops the member with SIGSTOP: its connections stay open but it
// answers nothing, as behind a network partition.
func (m *Member) Pause() { m.signal(syscall.SIGSTOP) }

// Resume continues a paused member.
func (m *Member) Resume() { m.signal(syscall.SIGCONT) }

func (m *Member) signal(s syscall.Signal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		_ = m.cmd.Process.Signal(s)
	}
}

// freeAddr returns a 127.0.0.1 address with a port free right now.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
