package plugin

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
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
	// pages is the memory size after the last function call, for Info.
	pages atomic.Uint32
	// maxPages is the memory limit, for messages.
	maxPages uint32
	stack    [2]uint64
}

// instantiate creates an instance of code in rt (running _initialize).
func instantiate(ctx context.Context, rt wazero.Runtime, code wazero.CompiledModule, l Limits) (*instance, error) {
	in := &instance{maxPages: l.MemoryPages}
	timeout := time.Duration(l.InitTimeout)
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(startFunction).
		WithStdout(&in.output).
		WithStderr(&in.output).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	limit, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mod, err := rt.InstantiateModule(limit, code, cfg)
	if err != nil {
		if mod != nil {
			_ = mod.Close(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("instantiating: %w", in.explain(classify(err, limit, timeout.String(), in.output.String())))
	}
	in.mod = mod
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
func (in *instance) invoke(ctx context.Context, fn string, arg []byte, timeout time.Duration) ([]byte, error) {
	limit, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	in.output.reset()
	defer func() { in.pages.Store(in.mem.Size() / 65536) }()
	fail := func(err error) error {
		return in.explain(classify(err, limit, timeout.String(), in.output.String()))
	}
	if n := uint32(len(arg)); n > in.bufSize {
		in.stack[0] = uint64(n)
		if err := in.fns[exportAlloc].CallWithStack(limit, in.stack[:]); err != nil {
			return nil, fail(err)
		}
		in.buf, in.bufSize = uint32(in.stack[0]), n
	}
	if len(arg) > 0 && !in.mem.Write(in.buf, arg) {
		return nil, &crash{msg: fmt.Sprintf("alloc returned %d bytes at %#x, outside the module's memory", in.bufSize, in.buf)}
	}
	in.stack[0], in.stack[1] = uint64(in.buf), uint64(len(arg))
	if err := in.fns[fn].CallWithStack(limit, in.stack[:]); err != nil {
		return nil, fail(err)
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
	_ = in.mod.Close(context.WithoutCancel(ctx))
}
