package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/cybercorp/hotreload"
)

// Options configure a Host. Only Dir is required.
type Options struct {
	// Dir is the plugin directory: NAME.wasm modules with optional
	// NAME.json manifests.
	Dir string
	// DataDir keeps the content-addressed module store (DataDir/modules)
	// and wazero's compilation cache (DataDir/compiled) across restarts.
	// Empty keeps both in memory.
	DataDir string
	// Name is the target's name in the engine; default "plugins".
	Name string
	// Config returns the live main configuration document; a plugin's
	// configuration is its section at ConfigPointer/NAME. Nil means every
	// plugin gets "{}".
	Config func() any
	// Reveal, when set, turns a plugin's settings as the config holds them
	// (secrets encrypted: Config then returns, and a followed change's
	// Encrypted method gives, the document with its secrets encrypted)
	// into what the plugin gets, such as secret.Decrypter.Reveal.
	// Snapshots and history keep only the encrypted form.
	Reveal func(doc any) (any, error)
	// ConfigPointer is the JSON Pointer of the plugins' sections in the
	// main configuration; default "/plugins".
	ConfigPointer string
	// ConfigTarget names the config target whose changes the host follows;
	// empty follows any target whose change is a hotreload.DataChange.
	ConfigTarget string
	// Submit runs a transaction: the engine's Reload, the only runner.
	// Sync, Watch, Load, Reload, Unload, the HTTP handler and the
	// quarantine's return to the last good module use it; without it they
	// fail with CodeUnavailable (the host still serves as a target).
	Submit func(ctx context.Context, r hotreload.Request) (hotreload.Outcome, error)
	// Debounce is the quiet time Watch waits after a change in Dir; zero
	// means watch.DefaultDebounce.
	Debounce time.Duration
	// Author, when set, names who made a request to the routes (from the
	// mounting server's authentication), for history and audit.
	Author func(*http.Request) string
	// ReportException, when set, is told every failed call of a loaded
	// plugin: a crash, a timeout, or a call refused by the quarantine (not
	// an error the plugin itself returned, nor the caller's cancellation).
	// health.Traffic.ReportException fits: the health gate then counts
	// plugin call failures in the exception rate, so a module that fails
	// its calls during the window is rolled back.
	ReportException func(error)
	// QuarantineAfter is how many consecutive failures quarantine a
	// plugin; default 3.
	QuarantineAfter int
	// QuarantineBackoff is the first quarantine's length, doubled for
	// each further one in a row up to 5 minutes; default 1s.
	QuarantineBackoff time.Duration
	// CompilationCache, when set, is shared with other hosts and not
	// closed by this one. Nil makes one: in DataDir/compiled, or in memory.
	CompilationCache wazero.CompilationCache
	// DisableCompilationCache compiles every module from scratch (for
	// measurements).
	DisableCompilationCache bool
	// Logger logs loads, unloads and failures; nil discards.
	Logger *slog.Logger
	// Publisher receives a hotreload.ProgressEvent while a module compiles
	// (at its start, every 15 s, then done); nil publishes none.
	Publisher hotreload.Publisher
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Host hosts the Wasm plugins of one directory. It is a hotreload.Target
// (and Follower): every load, unload, reload and reconfiguration is a
// transaction. Call is safe for concurrent use and never blocks on a reload.
type Host struct {
	opts  Options
	log   *slog.Logger
	rc    wazero.RuntimeConfig
	cache wazero.CompilationCache // owned: closed by Close
	store blobStore
	wd    *watchdog // stops every overdue call of the host's instances

	// slots maps names to plugins; copy on write, read without a lock.
	slots   atomic.Pointer[map[string]*slot]
	slotsMu sync.Mutex

	// bg runs the transactions that return quarantined plugins to their
	// last good module; Close cancels bgCtx and waits for them.
	bg     sync.WaitGroup
	bgCtx  context.Context
	bgStop context.CancelFunc

	closed atomic.Bool
}

// slot is one plugin name: its live version and its counters. It outlives
// the versions that pass through it.
type slot struct {
	name   string
	live   atomic.Pointer[version]
	calls  atomic.Uint64
	errors atomic.Uint64

	// blockedUntil mirrors callFaults.until (Unix nanoseconds, 0 for
	// none) and troubled says a failure awaits a success to clear it, so
	// that the call path reads two atomics instead of taking mu.
	blockedUntil atomic.Int64
	troubled     atomic.Bool

	mu         sync.Mutex // guards the fields below
	callFaults breaker
	loadFaults breaker
	lastErr    string
	lastAt     time.Time
	degraded   bool // the last call failed
	loading    bool
	disabled   string // sha256 of a module kept out while its file stays: unloaded on request, or quarantined after commit
	good       *entry // the module committed before the live one, to return to if the live one fails
}

// healthy clears every failure of s after a success.
func (s *slot) healthy() {
	s.loadFaults.reset()
	s.callsHealthy()
}

// callsHealthy clears the call failures of s. s.mu is held.
func (s *slot) callsHealthy() {
	s.callFaults.reset()
	s.degraded = false
	s.blockedUntil.Store(0)
	s.troubled.Store(false)
}

// setLastError records err as the plugin's last error. s.mu is held.
func (s *slot) setLastError(err error, now time.Time) { s.lastErr, s.lastAt = err.Error(), now }

// New returns a host for opts.Dir with no plugin loaded: add it to the
// engine to load the directory.
func New(opts Options) (*Host, error) {
	if opts.Dir == "" {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "plugin host: Options.Dir is required")
	}
	if opts.Name == "" {
		opts.Name = "plugins"
	}
	if opts.ConfigPointer == "" {
		opts.ConfigPointer = "/plugins"
	}
	if opts.QuarantineAfter <= 0 {
		opts.QuarantineAfter = 3
	}
	if opts.QuarantineBackoff <= 0 {
		opts.QuarantineBackoff = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Host{opts: opts, log: opts.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.rc = wazero.NewRuntimeConfig()
	switch {
	case opts.DisableCompilationCache:
	case opts.CompilationCache != nil:
		h.rc = h.rc.WithCompilationCache(opts.CompilationCache)
	default:
		if opts.DataDir != "" {
			c, err := wazero.NewCompilationCacheWithDir(filepath.Join(opts.DataDir, "compiled"))
			if err != nil {
				return nil, fmt.Errorf("opening the compilation cache: %w", err)
			}
			h.cache = c
		} else {
			h.cache = wazero.NewCompilationCache()
		}
		h.rc = h.rc.WithCompilationCache(h.cache)
	}
	if opts.DataDir != "" {
		h.store.dir = filepath.Join(opts.DataDir, "modules")
	}
	empty := map[string]*slot{}
	h.slots.Store(&empty)
	h.bgCtx, h.bgStop = context.WithCancel(context.Background())
	h.wd = newWatchdog()
	return h, nil
}

// Close unloads every plugin (calling cleanup) and releases the
// compilation cache. Calls after Close fail. It always succeeds.
func (h *Host) Close(ctx context.Context) error {
	if h.closed.Swap(true) {
		return nil
	}
	h.bgStop()
	h.bg.Wait()
	for _, s := range *h.slots.Load() {
		if v := s.live.Swap(nil); v != nil {
			if err := v.close(ctx); err != nil {
				h.log.Warn("plugin cleanup failed on close", "plugin", s.name, "err", err)
			}
		}
	}
	if h.cache != nil {
		_ = h.cache.Close(context.WithoutCancel(ctx))
	}
	h.wd.close()
	return nil
}

// slot returns the slot of name, creating it when create is set.
func (h *Host) slot(name string, create bool) *slot {
	if s := (*h.slots.Load())[name]; s != nil || !create {
		return s
	}
	h.slotsMu.Lock()
	defer h.slotsMu.Unlock()
	cur := *h.slots.Load()
	if s := cur[name]; s != nil {
		return s
	}
	next := make(map[string]*slot, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	s := &slot{name: name}
	next[name] = s
	h.slots.Store(&next)
	return s
}

// Call runs plugin name's call export with input (JSON) and returns its
// output. A call that starts during a reload finishes on the version it
// started on. Errors are *hotreload.Error: not_found when the plugin is not
// loaded, unavailable when it is quarantined or timed out, internal when it
// crashed, invalid when the plugin returned an error.
func (h *Host) Call(ctx context.Context, name string, input []byte) ([]byte, error) {
	s := h.slot(name, false)
	if s == nil || h.closed.Load() {
		return nil, hotreload.Errorf(hotreload.CodeNotFound, "plugin %q is not loaded", name)
	}
	if until := s.blockedUntil.Load(); until != 0 && h.opts.Now().UnixNano() < until {
		s.mu.Lock()
		msg := quarantineError(name, s.callFaults, s.lastErr)
		s.mu.Unlock()
		err := &hotreload.Error{Code: hotreload.CodeUnavailable, Message: msg}
		h.exception(err)
		return nil, err
	}
	for {
		v := s.live.Load()
		if v == nil {
			return nil, hotreload.Errorf(hotreload.CodeNotFound, "plugin %q is not loaded", name)
		}
		if !v.enter() {
			continue // swapped and closed meanwhile: take the new live version
		}
		out, err := v.call(ctx, input)
		v.leave()
		return out, h.record(s, v, err)
	}
}

// record counts a call and turns its error into a *hotreload.Error.
func (h *Host) record(s *slot, v *version, err error) error {
	s.calls.Add(1)
	if err == nil {
		if s.troubled.Load() {
			s.mu.Lock()
			s.callsHealthy()
			s.mu.Unlock()
		}
		return nil
	}
	var c *crash
	var pe *pluginError
	code := hotreload.CodeInternal
	switch {
	case errors.As(err, &c) && c.cancelled:
		return hotreload.Errorf(hotreload.CodeUnavailable, "plugin %q: call %w", s.name, err)
	case errors.As(err, &c) && c.timeout:
		code = hotreload.CodeUnavailable
	case errors.As(err, &pe):
		code = hotreload.CodeInvalid
	case errors.As(err, &c):
	default: // no instance could be had: ctx ended while waiting
		return hotreload.Errorf(hotreload.CodeUnavailable, "plugin %q: %w", s.name, err)
	}
	s.errors.Add(1)
	e := hotreload.Errorf(code, "plugin %q %s: call: %w", s.name, v.label(), err)
	if pe == nil {
		h.exception(e)
	}
	now := h.opts.Now()
	s.mu.Lock()
	s.degraded = true
	s.troubled.Store(true)
	s.setLastError(e, now)
	opened := pe == nil && s.callFaults.fail(now, h.opts.QuarantineAfter, h.opts.QuarantineBackoff)
	if opened {
		s.blockedUntil.Store(s.callFaults.until.UnixNano())
		h.log.Error("plugin quarantined: its calls fail at once until the backoff ends", "plugin", s.name, "until", s.callFaults.until, "err", e)
	}
	s.mu.Unlock()
	if opened && v.committed.Load() {
		h.returnToGood(s, v, e)
	}
	return e
}

// exception tells Options.ReportException about a failed call.
func (h *Host) exception(err error) {
	if h.opts.ReportException != nil {
		h.opts.ReportException(err)
	}
}

// label names a version in messages: "v1.2.0 (sha256 0123456789ab)".
func (v *version) label() string {
	short := v.sha256
	if len(short) > 12 {
		short = short[:12]
	}
	if v.manifest.Version == "" {
		return fmt.Sprintf("(sha256 %s)", short)
	}
	return fmt.Sprintf("v%s (sha256 %s)", v.manifest.Version, short)
}

// State is a plugin's state in a listing.
type State string

// The states of a plugin.
const (
	StateLoading     State = "loading"     // a new version is being prepared
	StateReady       State = "ready"       // loaded and healthy
	StateDegraded    State = "degraded"    // loaded; its last call failed
	StateQuarantined State = "quarantined" // failing repeatedly (calls or loads); see Info.QuarantinedUntil
	StateUnloaded    State = "unloaded"    // not loaded
)

// Info describes one plugin.
type Info struct {
	Name        string `json:"name"`
	Version     string `json:"version,omitempty"`
	Description string `json:"description,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	State       State  `json:"state"`
	// Calls and Errors count calls since the host started.
	Calls  uint64 `json:"calls"`
	Errors uint64 `json:"errors"`
	// LastError is the last failure: a failed call or load.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	// QuarantinedUntil is when a quarantine ends.
	QuarantinedUntil *time.Time `json:"quarantined_until,omitempty"`
	// MemoryBytes is the linear memory of all live instances.
	MemoryBytes uint64 `json:"memory_bytes"`
	// Instances is how many instances are open; Limits.PoolSize at most.
	Instances int        `json:"instances"`
	Limits    *Limits    `json:"limits,omitempty"`
	LoadedAt  *time.Time `json:"loaded_at,omitempty"`
}

// Info returns the state of one plugin: a loaded one, one that failed, or
// a module in the directory that is not loaded.
func (h *Host) Info(name string) (Info, error) {
	if s := h.slot(name, false); s != nil {
		return h.info(s), nil
	}
	if _, err := os.Stat(filepath.Join(h.opts.Dir, name+".wasm")); err == nil {
		return Info{Name: name, State: StateUnloaded}, nil
	}
	return Info{}, hotreload.Errorf(hotreload.CodeNotFound, "no plugin %q", name)
}

// List returns every plugin the host knows and every module in its
// directory, by name.
func (h *Host) List() ([]Info, error) {
	var out []Info
	seen := map[string]bool{}
	for _, s := range *h.slots.Load() {
		out = append(out, h.info(s))
		seen[s.name] = true
	}
	files, err := h.scan()
	for name := range files {
		if !seen[name] {
			out = append(out, Info{Name: name, State: StateUnloaded})
		}
	}
	slices.SortFunc(out, func(a, b Info) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, err
}

func (h *Host) info(s *slot) Info {
	i := Info{Name: s.name, Calls: s.calls.Load(), Errors: s.errors.Load(), State: StateUnloaded}
	v := s.live.Load()
	if v != nil {
		i.Version, i.Description, i.SHA256 = v.manifest.Version, v.manifest.Description, v.sha256
		i.MemoryBytes, i.Instances = v.memory()
		l := v.manifest.Limits
		i.Limits = &l
		at := v.loadedAt
		i.LoadedAt = &at
		i.State = StateReady
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastErr != "" {
		i.LastError = s.lastErr
		at := s.lastAt
		i.LastErrorAt = &at
	}
	now := h.opts.Now()
	var until time.Time
	for _, b := range []breaker{s.callFaults, s.loadFaults} {
		if b.open(now) && b.until.After(until) {
			until = b.until
		}
	}
	switch {
	case s.loading:
		i.State = StateLoading
	case !until.IsZero():
		i.State = StateQuarantined
		i.QuarantinedUntil = &until
	case v != nil && s.degraded:
		i.State = StateDegraded
	}
	return i
}
