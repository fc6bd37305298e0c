//go:build linux

package supervise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/inputfile"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// Mode says how a Process hands its clients to the program.
type Mode string

// The modes.
const (
	// ModeSocket passes the listening socket to every child as fd 3
	// (LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES=http). Old and new child
	// accept from the same socket while both run, so the socket never
	// refuses a connection. The child must send READY=1 (listen.Ready).
	ModeSocket Mode = "socket"
	// ModeProxy starts every child on a fresh loopback port in $PORT and
	// serves a reverse proxy on the listener that switches to the new child
	// atomically. For programs that cannot take a socket.
	ModeProxy Mode = "proxy"
)

// Defaults for zero Options fields.
const (
	DefaultReadyTimeout = 30 * time.Second
	DefaultDrainTimeout = 10 * time.Second
	DefaultKeep         = 5
)

// The delays before a crashed live child's binary is started again: the
// first is minRestartDelay, each crash of a child that ran less than
// stableRun doubles it, up to maxRestartDelay.
const (
	minRestartDelay = 100 * time.Millisecond
	maxRestartDelay = 5 * time.Second
	stableRun       = 10 * time.Second
)

// Options configure a Process.
type Options struct {
	// Name is the target's name; default "process".
	Name string
	// Binary is the program to run when Build is nil (hotreload serve
	// --exec): it is read on every Prepare from source, so replacing the
	// file then reloading upgrades the program.
	Binary string
	// Build, when set, builds the program from source into out (a path in
	// BinDir); Prepare from source calls it instead of reading Binary. Its
	// error should carry FieldErrors (see BuildError).
	Build func(ctx context.Context, out string) error
	// Args are the program's arguments.
	Args []string
	// Dir is the program's working directory; empty is the current one.
	Dir string
	// Env is the program's environment; nil means os.Environ(). The
	// socket and notify variables are set by the Process.
	Env []string
	// Listener is the socket clients connect to. The Process owns it from
	// New on and closes it in Close.
	Listener net.Listener
	// Mode is ModeSocket (default) or ModeProxy.
	Mode Mode
	// HealthPath, in proxy mode, is a URL path that must answer 2xx on the
	// child's port before the child is ready; empty means the port accepting
	// a connection (or READY=1, whichever comes first).
	HealthPath string
	// ReadyTimeout bounds how long a new child may take to be ready;
	// default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// DrainTimeout is how long an old child has after SIGTERM to finish
	// its requests before its process group is killed; default
	// DefaultDrainTimeout.
	DrainTimeout time.Duration
	// BinDir keeps the binaries, named by their SHA-256, so that a
	// rollback or a snapshot from history can start them again. Empty
	// makes a temporary directory, removed by Close.
	BinDir string
	// Keep is how many binaries BinDir keeps besides the live one; default
	// DefaultKeep.
	Keep int
	// Stdout and Stderr receive the children's output; nil means the
	// supervisor's own.
	Stdout, Stderr io.Writer
	// OnExit, when set, is called on its own goroutine when the live child
	// exits by itself (a crash after it was swapped in), with the exit
	// error and the end of its stderr, and the delay before its binary is
	// started again. Children the Process stops are not reported.
	OnExit func(pid int, err error, restartIn time.Duration)
	// OnRestart, when set, is called after each attempt to start the
	// binary of a crashed live child again: with the new pid, or the
	// error (another attempt follows, after a longer delay).
	OnRestart func(pid int, err error)
	// Ungated makes the Process's transactions skip the health gate (the
	// dev loop: a save must not wait a window, and a crash restarts the
	// program); serve --exec gates them.
	Ungated bool
	// Logger logs starts, swaps and stops; nil discards.
	Logger *slog.Logger
}

// Process is a supervised program as a hotreload.Target of kind process.
// Its state is the binary it runs. Prepare builds (or reads) the candidate
// binary and starts it beside the live child, waiting until it is ready;
// the live child keeps serving. Apply routes clients to the new child and
// stops the old one (SIGTERM, DrainTimeout, SIGKILL of its group). Rollback
// before Apply stops the new child; Rollback after Apply starts the old
// binary again, waits until it is ready, routes to it and stops the new
// child, so clients are served throughout. Commit forgets the old binary.
//
// A live child that exits by itself (a crash, a kill -9) is not a new
// state: its whole process group is killed at once, and the same binary is
// started again after a delay that grows while it keeps crashing. In socket
// mode clients wait meanwhile: the socket stays open and queues their
// connections.
//
// Concurrency: Prepare, Apply, Rollback and Commit are called by one
// transaction at a time (the engine's loop). A restart after a crash runs
// on its own goroutine and swaps under the same lock as Apply. Live, Close
// and the proxy are safe for concurrent use.
type Process struct {
	opts   Options
	log    *slog.Logger
	mon    *monitor
	socket *os.File // socket mode: the dup passed to children
	runDir string
	ctx    context.Context // cancelled by Close: ends restarts
	cancel context.CancelFunc

	swap     sync.Mutex     // held while the live child is replaced
	restarts sync.WaitGroup // restarts after crashes

	mu      sync.Mutex
	live    *child
	liveID  string // binary digest of the live child
	closed  bool
	crashes int // consecutive crashes of children that ran less than stableRun

	route   atomic.Pointer[proxyRoute] // proxy mode
	routed  chan struct{}              // proxy mode: closed once a child serves
	routeMu sync.Once
	srv     *http.Server // proxy mode
	srvWG   sync.WaitGroup
}

// proxyRoute is where the proxy sends requests. A request counts itself in
// inflight before it checks retired, so promote, which sets retired after
// the swap, waits for exactly the requests that use the old route.
type proxyRoute struct {
	proxy     *httputil.ReverseProxy
	transport *http.Transport
	inflight  atomic.Int64
	retired   atomic.Bool
}

// retire waits until no request uses the route, at most timeout.
func (rt *proxyRoute) retire(timeout time.Duration) {
	rt.retired.Store(true)
	deadline := time.Now().Add(timeout)
	for rt.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	rt.transport.CloseIdleConnections()
}

// New checks opts and takes the listener. No child runs until the
// first Prepare and Apply (Start does both).
func New(opts Options) (*Process, error) {
	if opts.Name == "" {
		opts.Name = "process"
	}
	if opts.Mode == "" {
		opts.Mode = ModeSocket
	}
	if opts.Mode != ModeSocket && opts.Mode != ModeProxy {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "supervise: unknown mode %q (want socket or proxy)", opts.Mode)
	}
	if opts.Listener == nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "supervise: a Process needs a Listener")
	}
	if opts.Build == nil && opts.Binary == "" {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "supervise: a Process needs a Binary or a Build function")
	}
	if opts.HealthPath != "" && opts.Mode != ModeProxy {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "supervise: a health path needs proxy mode: in socket mode a request may reach the old child; send READY=1 instead")
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.Keep <= 0 {
		opts.Keep = DefaultKeep
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	opts.Args = slices.Clone(opts.Args)
	p := &Process{opts: opts, log: opts.Logger}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if p.runDir, err = os.MkdirTemp("", "hotreload-process-"); err != nil {
		return nil, fmt.Errorf("supervise: %w", err)
	}
	if p.mon, err = newMonitor(); err != nil {
		os.RemoveAll(p.runDir)
		return nil, err
	}
	if opts.BinDir == "" {
		p.opts.BinDir = filepath.Join(p.runDir, "bin")
	}
	if err := os.MkdirAll(p.opts.BinDir, 0o755); err != nil {
		p.mon.close()
		os.RemoveAll(p.runDir)
		return nil, fmt.Errorf("supervise: creating the binary directory: %w", err)
	}
	if opts.Mode == ModeSocket {
		if p.socket, err = listenerFile(opts.Listener); err != nil {
			p.mon.close()
			os.RemoveAll(p.runDir)
			return nil, err
		}
		return p, nil
	}
	p.routed = make(chan struct{})
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serveProxy), ReadHeaderTimeout: 10 * time.Second}
	p.srvWG.Add(1)
	go func() {
		defer p.srvWG.Done()
		_ = p.srv.Serve(opts.Listener)
	}()
	return p, nil
}

// Name returns the target's name.
func (p *Process) Name() string { return p.opts.Name }

// BinDir is the directory the Process keeps its binaries in; a build
// written there is renamed into place without a copy.
func (p *Process) BinDir() string { return p.opts.BinDir }

// Ungated implements hotreload.Ungated: Options.Ungated.
func (p *Process) Ungated() bool { return p.opts.Ungated }

// Kind returns hotreload.KindProcess.
func (p *Process) Kind() hotreload.Kind { return hotreload.KindProcess }

// Addr is the address clients connect to.
func (p *Process) Addr() net.Addr { return p.opts.Listener.Addr() }

// Live returns the pid and binary digest of the live child, or 0 and "".
func (p *Process) Live() (pid int, binary string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live == nil {
		return 0, ""
	}
	return p.live.pid, p.liveID
}

// snapshotDoc is the durable form of a process state.
type snapshotDoc struct {
	Binary string `json:"binary"` // SHA-256 of the program, its name in BinDir
}

// Prepare builds the candidate (from source: Build, or a copy of Binary;
// from a Snapshot: the binary kept in BinDir) and starts it beside the live
// child, returning once it is ready. A build failure, a crash or a timeout
// before ready stops the new child and returns the error; the live child
// never noticed. A binary identical to the live one (build IDs aside, see
// binaryDigest) starts nothing: its Change does nothing, and the engine
// drops it as unchanged by its snapshot.
// A candidate's Meta["packages"], a comma-separated list of the changed
// packages, becomes the Summary's Modules.
func (p *Process) Prepare(ctx context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	if len(c.Content) > 0 || len(c.Patch) > 0 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "%s: a process takes no content or patch; reload it from source or restore a snapshot", p.Name())
	}
	id, err := p.binary(ctx, c.Snapshot)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	oldID, closed := p.liveID, p.closed
	unchanged := p.live != nil && p.live.alive() && oldID == id
	p.mu.Unlock()
	if closed {
		return nil, hotreload.Errorf(hotreload.CodeUnavailable, "%s: closed", p.Name())
	}
	summary := hotreload.Summary{
		Kind:     hotreload.KindProcess,
		Snapshot: jsondiff.MustMarshal(snapshotDoc{Binary: id}),
		Changes:  []hotreload.PathChange{{Path: "/binary", Old: nullable(oldID), New: id}},
		Modules:  packagesOf(c.Meta),
		Meta:     c.Meta,
	}
	if unchanged {
		return unchangedChange{summary: summary}, nil
	}
	ch, err := p.launch(ctx, id)
	if err != nil {
		return nil, err
	}
	return &processChange{p: p, new: ch, newID: id, oldID: oldID, summary: summary}, nil
}

// unchangedChange is a candidate identical to the live binary: the engine
// drops it by its snapshot digest and discards it.
type unchangedChange struct{ summary hotreload.Summary }

func (c unchangedChange) Summary() hotreload.Summary   { return c.summary }
func (unchangedChange) Apply(context.Context) error    { return nil }
func (unchangedChange) Rollback(context.Context) error { return nil }
func (unchangedChange) Commit(context.Context) error   { return nil }

// MetaPackages is the Candidate.Meta key naming the changed packages,
// comma-separated.
const MetaPackages = "packages"

func packagesOf(meta map[string]string) []string {
	if meta[MetaPackages] == "" {
		return nil
	}
	return strings.Split(meta[MetaPackages], ",")
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// binary puts the candidate's program into BinDir and returns its digest.
func (p *Process) binary(ctx context.Context, snapshot []byte) (string, error) {
	if len(snapshot) > 0 {
		var d snapshotDoc
		if err := json.Unmarshal(snapshot, &d); err != nil || !hotreload.IsDigest(d.Binary) {
			return "", hotreload.Errorf(hotreload.CodeInvalid, "%s: snapshot %q does not name a binary digest", p.Name(), snapshot)
		}
		if _, err := os.Stat(p.binPath(d.Binary)); err != nil {
			return "", hotreload.Errorf(hotreload.CodeNotFound, "%s: binary %s is no longer kept in %s", p.Name(), d.Binary[:12], p.opts.BinDir)
		}
		return d.Binary, nil
	}
	tmp, err := os.CreateTemp(p.opts.BinDir, "build-*")
	if err != nil {
		return "", hotreload.Errorf(hotreload.CodeInternal, "%s: %w", p.Name(), err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if p.opts.Build != nil {
		if err := p.opts.Build(ctx, tmp.Name()); err != nil {
			return "", err
		}
	} else if err := copyFile(p.opts.Binary, tmp.Name()); err != nil {
		return "", hotreload.Errorf(hotreload.CodeInvalid, "%s: reading the program: %w", p.Name(), err)
	}
	id, err := binaryDigest(tmp.Name())
	if err != nil {
		return "", hotreload.Errorf(hotreload.CodeInternal, "%s: %w", p.Name(), err)
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return "", hotreload.Errorf(hotreload.CodeInternal, "%s: %w", p.Name(), err)
	}
	if err := os.Rename(tmp.Name(), p.binPath(id)); err != nil {
		return "", hotreload.Errorf(hotreload.CodeInternal, "%s: keeping the binary: %w", p.Name(), err)
	}
	return id, nil
}

func (p *Process) binPath(id string) string { return filepath.Join(p.opts.BinDir, id) }

// copyFile copies the program at from into to, which exists.
func copyFile(from, to string) error {
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	// A program is read only when it is a regular file of at most
	// maxBinary bytes: a named pipe in its place would hang the step, and
	// a device such as /dev/zero would fill the disk.
	if err := inputfile.Copy(dst, from, inputfile.Options{MaxBytes: maxBinary, AllowOutsideLinks: true}); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// launch starts the binary id and waits until it is ready. On failure the
// child is stopped and reaped.
func (p *Process) launch(ctx context.Context, id string) (*child, error) {
	t0 := time.Now()
	c, err := startChild(p.mon, spec{
		binary: p.binPath(id), args: p.opts.Args, dir: p.opts.Dir, env: p.opts.Env,
		socket: p.socket, stdout: p.opts.Stdout, stderr: p.opts.Stderr,
		runDir: p.runDir, health: p.opts.HealthPath, onExit: p.exited,
	})
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInternal, "%s: %w", p.Name(), err)
	}
	if err := c.waitReady(ctx, p.opts.ReadyTimeout); err != nil {
		c.stop(0)
		return nil, fmt.Errorf("%s: %w", p.Name(), err)
	}
	p.log.Info("process ready", "target", p.Name(), "pid", c.pid, "binary", id[:12], "took", time.Since(t0))
	return c, nil
}

// promote routes clients to c and stops the child it replaces, if any.
func (p *Process) promote(c *child, id string) {
	p.swap.Lock()
	defer p.swap.Unlock()
	p.mu.Lock()
	p.crashes = 0 // a new state: its crashes count afresh
	p.mu.Unlock()
	p.promoteLocked(c, id)
}

func (p *Process) promoteLocked(c *child, id string) {
	if p.opts.Mode == ModeProxy {
		u := &url.URL{Scheme: "http", Host: c.addr}
		tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
		rp := httputil.NewSingleHostReverseProxy(u)
		rp.Transport = tr
		rp.ErrorLog = slog.NewLogLogger(p.log.Handler(), slog.LevelWarn)
		old := p.route.Swap(&proxyRoute{proxy: rp, transport: tr})
		p.routeMu.Do(func() { close(p.routed) })
		if old != nil {
			// Requests that took the old route before the swap finish
			// before the old child stops listening on its port.
			old.retire(p.opts.DrainTimeout)
		}
	}
	p.mu.Lock()
	old := p.live
	p.live, p.liveID = c, id
	p.mu.Unlock()
	if old != nil {
		p.stopChild(old)
	}
}

// exited handles the exit of child c (its process group is already
// killed, see monitor). If c was live, it crashed: that is reported
// through OnExit and its binary started again.
func (p *Process) exited(c *child) {
	p.mu.Lock()
	crashed := p.live == c && !p.closed
	id := p.liveID
	if crashed {
		if time.Since(c.started) < stableRun {
			p.crashes++
		} else {
			p.crashes = 1
		}
		p.restarts.Add(1)
	}
	delay := min(minRestartDelay<<min(max(p.crashes-1, 0), 10), maxRestartDelay)
	p.mu.Unlock()
	if !crashed {
		return
	}
	defer p.restarts.Done()
	err := c.crashError("exited")
	p.log.Warn("the live process exited; restarting its binary", "target", p.Name(), "pid", c.pid, "err", err, "in", delay)
	if p.opts.OnExit != nil {
		p.opts.OnExit(c.pid, err, delay)
	}
	p.restart(c, id, delay)
}

// restart starts the binary id of the crashed live child dead again, after
// delay and then after doubling delays until one is ready, and makes it
// live. It gives up when Close is called or a transaction replaced dead.
func (p *Process) restart(dead *child, id string, delay time.Duration) {
	for {
		t := time.NewTimer(delay)
		select {
		case <-p.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !p.isLive(dead) {
			return
		}
		c, err := p.launch(p.ctx, id)
		if p.ctx.Err() != nil {
			if err == nil {
				p.stopChild(c)
			}
			return
		}
		if err == nil {
			p.swap.Lock()
			still := p.isLive(dead)
			if still {
				p.promoteLocked(c, id)
			}
			p.swap.Unlock()
			if !still {
				p.stopChild(c)
				return
			}
			p.log.Info("process restarted", "target", p.Name(), "pid", c.pid, "binary", id[:12])
		}
		if p.opts.OnRestart != nil {
			pid := 0
			if err == nil {
				pid = c.pid
			}
			p.opts.OnRestart(pid, err)
		}
		if err == nil {
			return
		}
		delay = min(2*delay, maxRestartDelay)
	}
}

// isLive reports whether c is the live child and the Process is open.
func (p *Process) isLive(c *child) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live == c && !p.closed
}

func (p *Process) stopChild(c *child) {
	t0 := time.Now()
	c.stop(p.opts.DrainTimeout)
	p.log.Info("process stopped", "target", p.Name(), "pid", c.pid, "took", time.Since(t0))
}

// serveProxy forwards a request to the live child (proxy mode). Before the
// first child is ready, a request waits for it up to ReadyTimeout.
func (p *Process) serveProxy(w http.ResponseWriter, r *http.Request) {
	rt := p.route.Load()
	if rt == nil {
		t := time.NewTimer(p.opts.ReadyTimeout)
		select {
		case <-p.routed:
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
		rt = p.route.Load()
	}
	for rt != nil {
		rt.inflight.Add(1)
		if !rt.retired.Load() {
			defer rt.inflight.Add(-1)
			rt.proxy.ServeHTTP(w, r)
			return
		}
		rt.inflight.Add(-1)
		rt = p.route.Load()
	}
	http.Error(w, "hotreload: no process is serving yet", http.StatusServiceUnavailable)
}

// prune removes kept binaries beyond Keep, oldest first, never the live
// one.
func (p *Process) prune() {
	ents, err := os.ReadDir(p.opts.BinDir)
	if err != nil {
		return
	}
	type kept struct {
		name string
		mod  time.Time
	}
	var bins []kept
	p.mu.Lock()
	live := p.liveID
	p.mu.Unlock()
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !hotreload.IsDigest(e.Name()) || e.Name() == live {
			continue
		}
		bins = append(bins, kept{e.Name(), info.ModTime()})
	}
	slices.SortFunc(bins, func(a, b kept) int { return b.mod.Compare(a.mod) })
	for _, b := range bins[min(len(bins), p.opts.Keep):] {
		os.Remove(p.binPath(b.name))
	}
}

// Close stops the live child (SIGTERM, drain, SIGKILL of its group), stops
// the proxy, closes the listener and removes temporary files. It succeeds
// with a cancelled context and may be called more than once.
func (p *Process) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	live := p.live
	p.live, p.liveID = nil, ""
	p.mu.Unlock()
	p.cancel()
	p.restarts.Wait()
	if live != nil {
		p.stopChild(live)
	}
	var errs []error
	if p.srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.DrainTimeout)
		if err := p.srv.Shutdown(sctx); err != nil {
			p.srv.Close()
		}
		cancel()
		p.srvWG.Wait()
		if rt := p.route.Load(); rt != nil {
			rt.transport.CloseIdleConnections()
		}
	} else if err := p.opts.Listener.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, err)
	}
	if p.socket != nil {
		p.socket.Close()
	}
	p.mon.close()
	if err := os.RemoveAll(p.runDir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// processChange is a started candidate child.
type processChange struct {
	p       *Process
	new     *child
	newID   string
	oldID   string
	summary hotreload.Summary
	applied bool
	done    bool
}

func (c *processChange) Summary() hotreload.Summary { return c.summary }

// Apply routes clients to the new child and stops the old one. If the new
// child died since Prepare, Apply fails and the old one keeps serving.
func (c *processChange) Apply(ctx context.Context) error {
	if !c.new.alive() {
		return c.new.crashError("exited before it was swapped in")
	}
	c.p.promote(c.new, c.newID)
	c.applied = true
	return nil
}

// Rollback stops the new child. After Apply it first starts the old binary
// again and waits until it is ready, so clients are served throughout; if
// that fails the new child keeps serving and the error is returned.
func (c *processChange) Rollback(ctx context.Context) error {
	if c.done {
		return nil
	}
	c.done = true
	if !c.applied {
		c.p.stopChild(c.new)
		return nil
	}
	if c.oldID == "" {
		c.p.mu.Lock()
		if c.p.live == c.new {
			c.p.live, c.p.liveID = nil, ""
		}
		c.p.mu.Unlock()
		c.p.stopChild(c.new)
		return nil
	}
	old, err := c.p.launch(context.WithoutCancel(ctx), c.oldID)
	if err != nil {
		return fmt.Errorf("rolling back to binary %s: %w", c.oldID[:12], err)
	}
	c.p.promote(old, c.oldID)
	return nil
}

// Commit forgets the old binary beyond what BinDir keeps.
func (c *processChange) Commit(context.Context) error {
	c.done = true
	c.p.prune()
	return nil
}
