package wasmloop_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cybercorp/hotreload/plugin/internal/wasmloop"
)

// FuzzInstrument puts the fuzzer's bytes in a function body of a small
// module, and also takes them as a whole module. Instrument must never
// panic, and what it accepts as a whole module must go through wazero's
// compiler without killing the process. In the small module it must
// accept every body wazero compiles (WebAssembly 2.0, but for the SIMD
// opcode encodings wazero misreads, see simd), what it returns must
// compile too, and it must behave the same: the function returns or traps
// alike and leaves the same memory (when the original ends within a bound;
// an endless one is left out).
func FuzzInstrument(f *testing.F) {
	for _, b := range [][]byte{
		{end},
		{0x03, 0x40, 0x0c, 0, end, end},
		{0x02, 0x40, 0x03, 0x7f, 0x41, 0x01, 0x0d, 0x00, 0x41, 0x02, end, 0x1a, end, end},
		{0x41, 0, 0x04, 0x40, 0x03, 0x40, end, 0x05, 0x01, end, end},
		{0x02, 0x40, 0x41, 0, 0x0e, 2, 0, 0, 0, end, end},
		{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 10, 0, 0, end},
		{0xfd, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xfd, 21, 3, 0x1a, end},
		module(nil, []byte{0x03, 0x40, end, end}),
		module(map[byte][]byte{
			0: cat(name("name"), []byte{0, 2}, name("m"), []byte{1, 4, 1, 0}, name("f"), []byte{2, 6, 1, 0, 1, 0}, name("l")),
			1: vec([]byte{0x60, 0, 0}, []byte{0x60, 2, 0x7f, 0x7e, 1, 0x7f}),
			6: vec([]byte{0x7f, 0x00, 0x41, 0x07, end}),
			9: vec([]byte{0, 0x41, 0, end, 1, 0}, []byte{5, 0x70, 1, 0xd2, 0, end}),
		}, []byte{end}),
	} {
		f.Add(b)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	f.Cleanup(func() { _ = rt.Close(ctx) })
	compiles := func(wasm []byte) error {
		code, err := rt.CompileModule(ctx, wasm)
		if err == nil {
			_ = code.Close(ctx)
		}
		return err
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// A whole module that Instrument accepts goes on to wazero, as in
		// the plugin host: wazero 1.12 allocates for the counts in a
		// module before it reads the items, so a count Instrument let
		// through could make it ask for gigabytes and kill the process
		// (make fuzz caps the address space). Refusing the module is fine.
		if whole, err := wasmloop.Instrument(b); err == nil {
			_ = compiles(whole)
		}
		in := module(nil, b)
		out, err := wasmloop.Instrument(in)
		if compiles(in) != nil {
			return
		}
		if err != nil && !strings.Contains(err.Error(), "wazero reads otherwise") {
			t.Fatalf("wazero compiles the module, Instrument refuses it: %v", err)
		}
		if err != nil {
			return // wazero reads it otherwise than the specification: see simd
		}
		if err := compiles(out); err != nil {
			t.Fatalf("the module compiles, instrumented it does not: %v", err)
		}
		want, ok := run(t, in, false)
		if !ok {
			return
		}
		if got, ok := run(t, out, true); ok && got != want {
			t.Fatalf("the original %s, instrumented it %s", want, got)
		}
	})
}

// run calls f0 of wasm in a fresh runtime and says how it ended and what it
// left in memory (16 pages at most). A call of the original is given
// 100 ms (through WithCloseOnContextDone); one of an instrumented module is
// stopped through its flag after 5 s. ok is false when the call was
// stopped.
func run(t *testing.T, wasm []byte, instrumented bool) (outcome string, ok bool) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(!instrumented).WithMemoryLimitPages(16))
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatalf("instantiating: %v", err)
	}
	call := ctx
	var stopped func() bool
	if instrumented {
		stop := mod.ExportedGlobal(wasmloop.StopExport).(api.MutableGlobal)
		timer := time.AfterFunc(5*time.Second, func() { stop.Set(1) })
		stopped = func() bool { return !timer.Stop() }
	} else {
		var cancel context.CancelFunc
		call, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		// The module is closed when the deadline passes, even as the call
		// returns: a call that met its deadline at all is left out.
		stopped = func() bool { return call.Err() != nil }
	}
	_, err = mod.ExportedFunction("f0").Call(call)
	if stopped() {
		return "", false
	}
	outcome = "returned"
	if err != nil {
		outcome = "trapped: " + strings.SplitN(err.Error(), "\n", 2)[0]
	}
	mem, _ := mod.Memory().Read(0, mod.Memory().Size())
	return fmt.Sprintf("%s, memory sha256 %x", outcome, sha256.Sum256(mem)), true
}
