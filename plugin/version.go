package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/plugin/internal/wasmloop"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// version is one loaded build of a plugin: its own wazero runtime (which
// carries the memory limit), the compiled module and a pool of instances.
//
// Calls hold mu for reading while they run; reconfigure and close take it
// for writing, so they wait for running calls and no call sees them half
// done. The pool hands each instance to one caller at a time.
type version struct {
	name     string
	sha256   string
	manifest Manifest
	schema   *config.Schema
	loadedAt time.Time

	rt   wazero.Runtime
	code wazero.CompiledModule
	wd   *watchdog // the host's: stops overdue calls

	// config is the canonical JSON each new instance is initialized with.
	config atomic.Pointer[[]byte]

	// committed is set when the transaction that loaded the version
	// committed: from then on a quarantine returns to the last good
	// module (once: returning).
	committed, returning atomic.Bool

	mu     sync.RWMutex
	closed bool

	// tokens bounds the instances in use; idle holds the free ones.
	tokens chan struct{}
	idle   chan *instance

	instMu sync.Mutex
	insts  map[*instance]struct{} // every open instance, for memory figures
}

// newVersion compiles wasm in a runtime of its own and starts the pool's
// instances with config. On error nothing stays open.
func newVersion(ctx context.Context, rc wazero.RuntimeConfig, wd *watchdog, name, sha string, wasm []byte, m Manifest, config []byte) (_ *version, err error) {
	schema, err := m.schema()
	if err != nil {
		return nil, err
	}
	v := &version{
		name: name, sha256: sha, manifest: m, schema: schema, loadedAt: time.Now(), wd: wd,
		tokens: make(chan struct{}, m.Limits.PoolSize),
		idle:   make(chan *instance, m.Limits.PoolSize),
		insts:  map[*instance]struct{}{},
	}
	v.config.Store(&config)
	v.rt = wazero.NewRuntimeWithConfig(ctx, rc.WithMemoryLimitPages(m.Limits.MemoryPages))
	defer func() {
		if err != nil {
			_ = v.rt.Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, v.rt); err != nil {
		return nil, fmt.Errorf("preparing WASI: %w", err)
	}
	if v.code, err = compile(ctx, v.rt, wasm); err != nil {
		return nil, fmt.Errorf("compiling: %w", err)
	}
	if err := checkExports(v.code); err != nil {
		return nil, err
	}
	for range m.Limits.PoolSize {
		in, err := v.newInstance(ctx)
		if err != nil {
			return nil, err
		}
		v.idle <- in
	}
	return v, nil
}

// compile instruments wasm so that the watchdog can stop its calls at any
// loop (wasmloop) and compiles it in rt. Every compile of a module goes
// through here, so the compilation cache keeps instrumented modules only.
func compile(ctx context.Context, rt wazero.Runtime, wasm []byte) (wazero.CompiledModule, error) {
	wasm, err := wasmloop.Instrument(wasm)
	if err != nil {
		return nil, err
	}
	return rt.CompileModule(ctx, wasm)
}

func (v *version) callTimeout() time.Duration { return time.Duration(v.manifest.Limits.CallTimeout) }
func (v *version) initTimeout() time.Duration { return time.Duration(v.manifest.Limits.InitTimeout) }

// newInstance instantiates and initializes one instance with the current
// config.
func (v *version) newInstance(ctx context.Context) (*instance, error) {
	in, err := instantiate(ctx, v.wd, v.rt, v.code, v.manifest.Limits)
	if err != nil {
		return nil, err
	}
	if err := in.start(ctx, *v.config.Load(), v.initTimeout()); err != nil {
		in.close(ctx)
		return nil, err
	}
	v.instMu.Lock()
	v.insts[in] = struct{}{}
	v.instMu.Unlock()
	return in, nil
}

// enter admits a call; false means the version was closed and the caller
// must look up the live version again. A true result must be paired with
// leave.
func (v *version) enter() bool {
	v.mu.RLock()
	if v.closed {
		v.mu.RUnlock()
		return false
	}
	return true
}

func (v *version) leave() { v.mu.RUnlock() }

// call runs the call export on a pooled instance. The caller has entered.
func (v *version) call(ctx context.Context, input []byte) ([]byte, error) {
	in, err := v.acquire(ctx)
	if err != nil {
		return nil, err
	}
	out, err := in.invoke(ctx, exportCall, input, v.callTimeout())
	v.release(ctx, in, err)
	return out, err
}

// acquire takes a free instance, creating one when a crashed instance left
// room, or waits for one until ctx ends.
func (v *version) acquire(ctx context.Context) (*instance, error) {
	select {
	case v.tokens <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free instance: %w", ctx.Err())
	}
	select {
	case in := <-v.idle:
		return in, nil
	default:
	}
	in, err := v.newInstance(ctx)
	if err != nil {
		<-v.tokens
		return nil, fmt.Errorf("replacing a crashed instance: %w", err)
	}
	return in, nil
}

// release returns an instance to the pool, or closes it when err says it
// crashed.
func (v *version) release(ctx context.Context, in *instance, err error) {
	if in.dead || (err != nil && isCrash(err)) {
		v.drop(ctx, in)
	} else {
		v.idle <- in
	}
	<-v.tokens
}

func (v *version) drop(ctx context.Context, in *instance) {
	v.instMu.Lock()
	delete(v.insts, in)
	v.instMu.Unlock()
	in.close(ctx)
}

// memory is the linear memory of every open instance, in bytes.
func (v *version) memory() (bytes uint64, instances int) {
	v.instMu.Lock()
	defer v.instMu.Unlock()
	for in := range v.insts {
		bytes += uint64(in.pages.Load()) * 65536
	}
	return bytes, len(v.insts)
}

// idleInstances takes every instance out of the pool. The caller holds mu
// for writing, so no call holds one.
func (v *version) idleInstances() []*instance {
	var out []*instance
	for {
		select {
		case in := <-v.idle:
			out = append(out, in)
		default:
			return out
		}
	}
}

// reconfigure calls update_config with config on every instance, after the
// running calls finish and before any new one starts; new instances start
// with config too. An instance that fails is closed (the pool replaces it)
// and the error returned: the caller reconfigures back.
func (v *version) reconfigure(ctx context.Context, config []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.config.Store(&config)
	var errs []error
	for _, in := range v.idleInstances() {
		if _, err := in.invoke(ctx, exportUpdateConfig, config, v.initTimeout()); err != nil {
			errs = append(errs, fmt.Errorf("update_config: %w", err))
			v.drop(ctx, in)
			continue
		}
		if in.dead { // stopped as update_config returned: the pool replaces it
			v.drop(ctx, in)
			continue
		}
		v.idle <- in
	}
	return errors.Join(errs...)
}

// close waits for running calls, calls cleanup on every instance and closes
// the runtime. It always closes everything; the error reports cleanups that
// failed. It is safe to call twice.
func (v *version) close(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	var errs []error
	for _, in := range v.idleInstances() {
		if _, err := in.invoke(ctx, exportCleanup, nil, v.initTimeout()); err != nil {
			errs = append(errs, fmt.Errorf("cleanup: %w", err))
		}
		v.drop(ctx, in)
	}
	if err := v.rt.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("closing the runtime: %w", err))
	}
	if len(errs) > 1 {
		errs = errs[:1] // every instance runs the same code: one message says it
	}
	return errors.Join(errs...)
}
