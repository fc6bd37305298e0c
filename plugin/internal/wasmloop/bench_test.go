package wasmloop_test

import (
	"context"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/cybercorp/hotreload/plugin/internal/wasmloop"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// BenchmarkLoop measures what the instrumentation costs inside a loop: the
// tightest loop there is (count a local down from a million), compiled as
// it is, instrumented, and as it is under WithCloseOnContextDone (what the
// plugin host used before). One op is a million iterations.
//
//	go test -run '^$' -bench Loop -benchtime 2s ./plugin/internal/wasmloop
func BenchmarkLoop(b *testing.B) {
	const iterations = 1_000_000
	body := cat(
		[]byte{1, 1, 0x7f},                     // one i32 local
		[]byte{0x41}, []byte{0xc0, 0x84, 0x3d}, // i32.const 1,000,000
		[]byte{0x21, 0}, // local.set 0
		[]byte{0x03, 0x40, 0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, end}, // loop: local.get 0, -1, local.tee 0, br_if 0
		[]byte{end},
	)
	plain := module(map[byte][]byte{10: vec(cat(uleb(uint64(len(body))), body))}, []byte{end})
	instrumented, err := wasmloop.Instrument(plain)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range variants(plain, instrumented) {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(tc.closeOnDone))
			defer rt.Close(ctx)
			mod, err := rt.InstantiateModule(ctx, compile(b, rt, tc.wasm), wazero.NewModuleConfig())
			if err != nil {
				b.Fatal(err)
			}
			fn := mod.ExportedFunction("f0")
			for b.Loop() {
				if err := fn.CallWithStack(ctx, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/iterations, "ns/iteration")
		})
	}
}

// BenchmarkShoutCall measures the instrumentation in a real plugin call:
// the shout example (Go: JSON decoded, upper-cased, encoded), called
// straight through wazero as it is, instrumented, and as it is under
// WithCloseOnContextDone.
//
//	go test -run '^$' -bench ShoutCall -benchtime 1s -count 3 ./plugin/internal/wasmloop
func BenchmarkShoutCall(b *testing.B) {
	plain, err := os.ReadFile(plugintest.Build(b, "../../../examples/plugins/shout"))
	if err != nil {
		b.Fatal(err)
	}
	instrumented, err := wasmloop.Instrument(plain)
	if err != nil {
		b.Fatal(err)
	}
	cache, err := wazero.NewCompilationCacheWithDir(plugintest.CacheDir())
	if err != nil {
		b.Fatal(err)
	}
	defer plugintest.Remove()
	input := []byte(`{"status":200,"body":"hello, world"}`)
	for _, tc := range variants(plain, instrumented) {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(tc.closeOnDone).WithCompilationCache(cache))
			defer rt.Close(ctx)
			wasi_snapshot_preview1.MustInstantiate(ctx, rt)
			code := compile(b, rt, tc.wasm)
			mod, err := rt.InstantiateModule(ctx, code, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
			if err != nil {
				b.Fatal(err)
			}
			config := []byte(`{"suffix":"!"}`)
			res, err := mod.ExportedFunction("alloc").Call(ctx, 4096)
			if err != nil {
				b.Fatal(err)
			}
			buf := uint32(res[0])
			mod.Memory().Write(buf, config)
			if _, err := mod.ExportedFunction("initialize").Call(ctx, uint64(buf), uint64(len(config))); err != nil {
				b.Fatal(err)
			}
			call := mod.ExportedFunction("call")
			var stack [2]uint64
			for b.Loop() {
				mod.Memory().Write(buf, input)
				stack[0], stack[1] = uint64(buf), uint64(len(input))
				if err := call.CallWithStack(ctx, stack[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// variant is one way of running a module in the benchmarks.
type variant struct {
	name        string
	wasm        []byte
	closeOnDone bool
}

// variants are the module as it was, instrumented, and as it was under
// wazero's WithCloseOnContextDone, which instrumentation replaces.
func variants(plain, instrumented []byte) []variant {
	return []variant{
		{"plain", plain, false},
		{"instrumented", instrumented, false},
		{"plain-close-on-done", plain, true},
	}
}
