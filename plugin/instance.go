package plugin

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cybercorp/hotreload/plugin/internal/wasmloop"
)

// outputTail keeps the module's stdout and stderr of the current function
// call (up to its last 8 KiB) so a crash can be reported with the panic
// message the module printed. An instance is used by one goroutine at a
// time, so it needs no lock.
type outputTail struct{ buf []byte }

const outputTailSize = 8 << 10

func (t *outputTail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - outputTailSize; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *outputTail) reset()         { t.buf = t.buf[:0] }
func (t *outputTail) String() string { return string(t.buf) }

// instance is one instantiated module: single-threaded, owned by whoever
// took it from its version's pool.
type instance struct {
	mod    api.Module
	mem    api.Memory
	fns    map[string]api.Function
	output outputTail
	// buf and bufSize are the argument buffer alloc last returned.
	buf, bufSize uint32
	// dead is set when the watchdog stopped the instance as its call
	// returned: it must be closed. Owned like buf.
	dead bool
	// pages is the memory size after the last function call, for Info.
	pages atomic.Uint32
	// maxPages is the memory limit, for messages.
	maxPages uint32
	stack    [2]uint64

	// stop is the module's stop flag (wasmloop.StopExport): the watchdog
	// wd sets it to stop an overdue call, which then traps at its next
	// loop header.
	stop api.MutableGlobal
	wd   *watchdog
	// wmu guards the call's state, shared with the watchdog.
	wmu       sync.Mutex
	busy      bool
	stopCause error // why the watchdog stopped the instance: it is done for
	caller    context.Context
	deadline  time.Time
}

// instantiate creates an instance of code (instrumented by compile) in rt
// and runs its start functions, watched by wd.
func instantiate(ctx context.Context, wd *watchdog, rt wazero.Runtime, code wazero.CompiledModule, l Limits) (*instance, error) {
	in := &instance{maxPages: l.MemoryPages, wd: wd}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // run below, where the watchdog can stop them
		WithStdout(&in.output).
		WithStderr(&in.output).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	mod, err := rt.InstantiateModule(ctx, code, cfg)
	if err != nil {
		if mod != nil {
			_ = mod.Close(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("instantiating: %w", in.explain(classify(err, nil, "", in.output.String())))
	}
	in.mod = mod
	in.stop = mod.ExportedGlobal(wasmloop.StopExport).(api.MutableGlobal)
	wd.add(in)
	timeout := time.Duration(l.InitTimeout)
	for _, name := range []string{wasmloop.StartExport, startFunction} {
		fn := mod.ExportedFunction(name)
		if fn == nil {
			continue
		}
		in.begin(ctx, timeout)
		err := fn.CallWithStack(ctx, nil)
		cause := in.end()
		if err != nil || cause != nil {
			if err == nil {
				err = cause // it returned as it was stopped: it is done for all the same
			}
			in.close(ctx)
			return nil, fmt.Errorf("instantiating: %w", in.explain(classify(err, cause, timeout.String(), in.output.String())))
		}
	}
	in.mem = mod.ExportedMemory(exportMemory)
	in.fns = make(map[string]api.Function, len(abiExports))
	for _, e := range abiExports {
		in.fns[e.name] = mod.ExportedFunction(e.name)
	}
	in.pages.Store(in.mem.Size() / 65536)
	return in, nil
}

// invoke calls export fn with arg and returns the result payload. A
// *pluginError means the plugin returned an error; a *crash means the
// instance is dead and must be closed.
//
// The host's watchdog stops the call at timeout, or when ctx ends, and the
// instance is then done for (a *crash, or, when the call returned just in
// time, dead is set).
func (in *instance) invoke(ctx context.Context, fn string, arg []byte, timeout time.Duration) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // not started: the instance stays usable
	}
	in.output.reset()
	in.begin(ctx, timeout)
	out, err := in.run(ctx, fn, arg)
	cause := in.end()
	if cause != nil {
		in.dead = true
	}
	in.pages.Store(in.mem.Size() / 65536)
	if err == nil {
		return out, nil
	}
	if pe := (*pluginError)(nil); errors.As(err, &pe) {
		return nil, err
	}
	return nil, in.explain(classify(err, cause, timeout.String(), in.output.String()))
}

// run is invoke's part inside the watched window: errors from wazero come
// back as they are, for classify.
func (in *instance) run(ctx context.Context, fn string, arg []byte) ([]byte, error) {
	if n := uint32(len(arg)); n > in.bufSize {
		in.stack[0] = uint64(n)
		if err := in.fns[exportAlloc].CallWithStack(ctx, in.stack[:]); err != nil {
			return nil, err
		}
		in.buf, in.bufSize = uint32(in.stack[0]), n
	}
	if len(arg) > 0 && !in.mem.Write(in.buf, arg) {
		return nil, &crash{msg: fmt.Sprintf("alloc returned %d bytes at %#x, outside the module's memory", in.bufSize, in.buf)}
	}
	in.stack[0], in.stack[1] = uint64(in.buf), uint64(len(arg))
	if err := in.fns[fn].CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, err
	}
	ptr, size := uint32(in.stack[0]>>32), uint32(in.stack[0])
	if size == 0 {
		return nil, nil
	}
	res, ok := in.mem.Read(ptr, size)
	if !ok {
		return nil, &crash{msg: fmt.Sprintf("%s returned %d bytes at %#x, outside the module's memory", fn, size, ptr)}
	}
	switch res[0] {
	case resultOK:
		return append([]byte(nil), res[1:]...), nil
	case resultError:
		return nil, &pluginError{msg: string(res[1:])}
	}
	return nil, &crash{msg: fmt.Sprintf("%s returned a result with the unknown tag %d", fn, res[0])}
}

// explain adds the memory limit to an out-of-memory crash.
func (in *instance) explain(c *crash) *crash {
	if strings.Contains(c.msg, "out of memory") {
		c.msg += fmt.Sprintf("; the memory limit is %d pages (%.1f MiB)", in.maxPages, float64(in.maxPages)/16)
	}
	return c
}

// status is a plugin's health as its get_status export reports it.
type status struct {
	// State is "ok", "degraded" or "failed".
	State string `json:"state"`
	// Message says what is wrong, if anything.
	Message string `json:"message,omitempty"`
}

// start initializes a fresh instance with config and requires its status
// to be ok.
func (in *instance) start(ctx context.Context, config []byte, timeout time.Duration) error {
	if _, err := in.invoke(ctx, exportInitialize, config, timeout); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	st, err := in.status(ctx, timeout)
	if err != nil {
		return err
	}
	if st.State != "ok" {
		msg := fmt.Sprintf("get_status: reported %q after initialize", st.State)
		if st.Message != "" {
			msg += ": " + st.Message
		}
		return &pluginError{msg: msg}
	}
	return nil
}

// status calls get_status.
func (in *instance) status(ctx context.Context, timeout time.Duration) (status, error) {
	out, err := in.invoke(ctx, exportStatus, nil, timeout)
	if err != nil {
		return status{}, fmt.Errorf("get_status: %w", err)
	}
	var st status
	if err := json.Unmarshal(out, &st); err != nil {
		return status{}, &pluginError{msg: fmt.Sprintf("get_status: returned invalid JSON: %v", err)}
	}
	return st, nil
}

// close closes the module; it always succeeds.
func (in *instance) close(ctx context.Context) {
	in.wd.remove(in)
	_ = in.mod.Close(context.WithoutCancel(ctx))
}
