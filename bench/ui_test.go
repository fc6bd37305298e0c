package bench

// The UI broadcast benchmark: N WebSocket clients on loopback, one
// broadcast per iteration, measured from the trigger to each client's
// receipt. The hotreload hub (./uiserver) and the npm livereload server run
// side by side, each as its own process driven the same way (a line on its
// standard input), so latencies and memory compare like for like. They take
// turns (uiRounds rounds, the order swapped every round), so both see the
// same machine; each reports its metrics under its own name, the CPU its
// swarm of clients took included.
//
//	cd bench && go test -run '^$' -bench BenchmarkUIBroadcast -benchtime 20x -timeout 30m
//	cd bench && go test -run '^$' -bench BenchmarkUIBroadcast -benchtime 20x -timeout 40m . -args -ui.peertwice

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// uiClientCounts are the swarm sizes measured.
var uiClientCounts = []int{1000, 5000, 10000}

// uiRounds is how many times each server is started and connected per
// swarm size; the servers take turns, so that both see the same load on a
// shared machine.
const uiRounds = 4

const livereloadVersion = "0.10.3"

// uiPeerTwice adds a second livereload to each round: the spread between
// the two is the measure's own noise.
var uiPeerTwice = flag.Bool("ui.peertwice", false, "start npm livereload twice in each round, as livereload-npm and livereload-npm-again, to measure how far the peer strays from itself")

func BenchmarkUIBroadcast(b *testing.B) {
	raiseFileLimit(b, uint64(2*uiClientCounts[len(uiClientCounts)-1]+1000))
	servers := []uiServer{
		{"hotreload", startHubProcess},
		{"livereload-npm", startLiveReloadProcess},
	}
	if *uiPeerTwice {
		servers = append(servers, uiServer{"livereload-npm-again", startLiveReloadProcess})
	}
	for _, n := range uiClientCounts {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			lat := map[string][]time.Duration{}
			mem := map[string][]float64{}
			cpu := map[string]time.Duration{}
			swarmCPU := map[string]time.Duration{}
			rounds := min(uiRounds, b.N)
			for r := range rounds {
				order := slices.Clone(servers)
				if r%2 == 1 {
					slices.Reverse(order)
				}
				for _, s := range order {
					// b.N broadcasts per server, spread over the rounds.
					count := b.N/rounds + boolInt(r < b.N%rounds)
					l, m, c, sc := s.round(b, n, count)
					lat[s.name] = append(lat[s.name], l...)
					mem[s.name] = append(mem[s.name], m)
					cpu[s.name] += c
					swarmCPU[s.name] += sc
				}
			}
			for _, s := range servers {
				l := lat[s.name]
				slices.Sort(l)
				slices.Sort(mem[s.name])
				b.ReportMetric(ms(l[len(l)/2]), s.name+"-p50-ms")
				b.ReportMetric(ms(l[len(l)*99/100]), s.name+"-p99-ms")
				b.ReportMetric(mem[s.name][len(mem[s.name])/2]/1024, s.name+"-KiB/client")
				b.ReportMetric(ms(cpu[s.name])/float64(b.N), s.name+"-cpu-ms/broadcast")
				b.ReportMetric(ms(swarmCPU[s.name])/float64(b.N), s.name+"-swarm-cpu-ms/broadcast")
			}
		})
	}
}

// uiServer is one server of the comparison.
type uiServer struct {
	name  string
	start func(b *testing.B) *uiProcess
}

// round starts the server, connects n clients, measures count broadcasts
// and stops it. It returns every client's latency, the server's memory per
// client, the CPU time the server spent on the broadcasts and the CPU time
// the benchmark's own process, the swarm's, spent on them: on a machine
// whose cores the server shares with the swarm, the sum bounds how soon
// the last client can read a broadcast.
func (s uiServer) round(b *testing.B, n, count int) ([]time.Duration, float64, time.Duration, time.Duration) {
	p := s.start(b)
	defer p.stop()
	base := p.mem(b)
	swarm := connectSwarm(b, p, n)
	defer swarm.close()
	perClient := float64(p.mem(b)-base) / float64(n)
	var lat []time.Duration
	cpu, own := p.cpu(b), selfCPU(b)
	for range count {
		lat = append(lat, swarm.broadcast(b, p)...)
	}
	return lat, perClient, p.cpu(b) - cpu, selfCPU(b) - own
}

// selfCPU returns the user and system CPU time this process has used.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// raiseFileLimit lifts the soft descriptor limit towards want (the child
// servers inherit it) and skips when the hard limit is too low.
func raiseFileLimit(b *testing.B, want uint64) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		b.Fatal(err)
	}
	if l.Cur < want {
		l.Cur = min(want, l.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			b.Fatal(err)
		}
	}
	if l.Cur < want/2+500 {
		b.Skipf("open file limit %d is too low for %d clients; raise it with ulimit -n", l.Cur, want/2)
	}
}

// uiProcess is a server under test: a child process that prints its
// address, then takes "broadcast" and "mem" lines.
type uiProcess struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr string
	path string // WebSocket path
	lr   bool   // speaks LiveReload 7 rather than hotreload/1
}

func startProcess(b *testing.B, p *uiProcess, name string, args ...string) *uiProcess {
	b.Helper()
	p.cmd = exec.Command(name, args...)
	p.cmd.Stderr = os.Stderr
	var err error
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p.out = bufio.NewScanner(stdout)
	p.addr = p.line(b)
	return p
}

func (p *uiProcess) line(b *testing.B) string {
	b.Helper()
	if !p.out.Scan() {
		b.Fatalf("%s ended: %v", p.cmd.Path, p.out.Err())
	}
	return p.out.Text()
}

func (p *uiProcess) send(b *testing.B, cmd string) {
	if _, err := io.WriteString(p.in, cmd+"\n"); err != nil {
		b.Fatal(err)
	}
}

// mem returns the server's resident set size in bytes.
func (p *uiProcess) mem(b *testing.B) int64 {
	p.send(b, "mem")
	time.Sleep(200 * time.Millisecond) // let the server settle after a GC
	p.send(b, "mem")
	p.line(b)
	v, err := strconv.ParseInt(p.line(b), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// cpu returns the user and system CPU time the server has used, from
// /proc/PID/stat (in clock ticks of 10 ms).
func (p *uiProcess) cpu(b *testing.B) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which ends with the last ')'.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("reading the CPU time of %d: %q", p.cmd.Process.Pid, data)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func (p *uiProcess) stop() {
	p.in.Close()
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

func startHubProcess(b *testing.B) *uiProcess {
	bin := filepath.Join(b.TempDir(), "uiserver")
	build := exec.Command("go", "build", "-o", bin, "./uiserver")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("building uiserver: %v", err)
	}
	return startProcess(b, &uiProcess{path: "/ws"}, bin)
}

// livereloadScript drives the npm livereload server the same way.
const livereloadScript = `
const livereload = require('livereload');
const readline = require('readline');
const server = livereload.createServer({ port: 0, host: '127.0.0.1', noListen: false }, () => {
  console.log('127.0.0.1:' + server.config.server.address().port);
});
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'broadcast') server.refresh('/ui/app.css');
  if (line === 'mem') { if (global.gc) global.gc(); console.log(process.memoryUsage().rss); }
});
`

var npmOnce struct {
	sync.Once
	dir string
	err error
}

// startLiveReloadProcess installs the npm livereload package once into a
// temporary folder and runs it under node.
func startLiveReloadProcess(b *testing.B) *uiProcess {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				b.Fatalf("%s is required: %v", tool, err)
			}
			b.Skipf("%s not found; install it with: apt-get install nodejs npm", tool)
		}
	}
	npmOnce.Do(func() {
		npmOnce.dir, npmOnce.err = os.MkdirTemp("", "hotreload-bench-livereload-")
		if npmOnce.err != nil {
			return
		}
		install := exec.Command("npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", npmOnce.dir, "livereload@"+livereloadVersion)
		if out, err := install.CombinedOutput(); err != nil {
			npmOnce.err = fmt.Errorf("npm install livereload: %v\n%s", err, out)
			return
		}
		npmOnce.err = os.WriteFile(filepath.Join(npmOnce.dir, "server.js"), []byte(livereloadScript), 0o644)
	})
	if npmOnce.err != nil {
		b.Fatal(npmOnce.err)
	}
	return startProcess(b, &uiProcess{path: "/livereload", lr: true}, "node", "--expose-gc", filepath.Join(npmOnce.dir, "server.js"))
}

// swarm is n connected clients, each stamping when it gets a message.
type swarm struct {
	conns    []*websocket.Conn
	recv     []atomic.Int64 // unix nanos of each client's last message
	received atomic.Int64
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func connectSwarm(b *testing.B, p *uiProcess, n int) *swarm {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &swarm{conns: make([]*websocket.Conn, n), recv: make([]atomic.Int64, n), cancel: cancel}
	url := "ws://" + p.addr + p.path
	hello := []byte(`{"type":"hello","protocol":"hotreload/1"}`)
	if p.lr {
		hello = []byte(`{"command":"hello","protocols":["http://livereload.com/protocols/official-7"]}`)
	}
	sem := make(chan struct{}, 64) // connects in flight
	errs := make(chan error, n)
	var dialing sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		dialing.Add(1)
		go func() {
			defer func() { <-sem; dialing.Done() }()
			dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
			defer dcancel()
			c, _, err := websocket.Dial(dctx, url, nil)
			if err == nil {
				err = c.Write(dctx, websocket.MessageText, hello)
			}
			if err == nil {
				_, _, err = c.Read(dctx) // welcome or hello
			}
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			s.conns[i] = c
		}()
	}
	dialing.Wait()
	close(errs)
	for err := range errs {
		s.close()
		b.Fatal(err)
	}
	for i, c := range s.conns {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
				s.recv[i].Store(time.Now().UnixNano())
				s.received.Add(1)
			}
		}()
	}
	return s
}

// broadcast triggers one broadcast and returns each client's latency.
func (s *swarm) broadcast(b *testing.B, p *uiProcess) []time.Duration {
	b.Helper()
	want := s.received.Load() + int64(len(s.conns))
	t0 := time.Now()
	p.send(b, "broadcast")
	deadline := t0.Add(60 * time.Second)
	for s.received.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("after 60 s only %d of %d clients got the broadcast", int64(len(s.conns))-(want-s.received.Load()), len(s.conns))
		}
		time.Sleep(200 * time.Microsecond)
	}
	out := make([]time.Duration, len(s.conns))
	for i := range s.conns {
		out[i] = time.Duration(s.recv[i].Load() - t0.UnixNano())
	}
	time.Sleep(20 * time.Millisecond) // let the loops go idle between iterations
	return out
}

func (s *swarm) close() {
	s.cancel()
	for _, c := range s.conns {
		if c != nil {
			c.CloseNow()
		}
	}
	s.wg.Wait()
}
