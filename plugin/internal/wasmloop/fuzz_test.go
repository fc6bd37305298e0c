package wasmloop_test

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/cybercorp/hotreload/plugin/internal/wasmloop"
)

// FuzzInstrument puts the fuzzer's bytes in a function body of a small
// module (and also takes them as a whole module): Instrument must never
// panic, must accept every module wazero compiles (WebAssembly 2.0), and
// what it returns must compile too.
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
		if out, err := wasmloop.Instrument(b); err == nil {
			if compiles(b) == nil {
				if err := compiles(out); err != nil {
					t.Fatalf("the module compiles, instrumented it does not: %v", err)
				}
			}
		}
		in := module(nil, b)
		out, err := wasmloop.Instrument(in)
		if compiles(in) != nil {
			return
		}
		if err != nil {
			t.Fatalf("wazero compiles the module, Instrument refuses it: %v", err)
		}
		if err := compiles(out); err != nil {
			t.Fatalf("the module compiles, instrumented it does not: %v", err)
		}
	})
}
