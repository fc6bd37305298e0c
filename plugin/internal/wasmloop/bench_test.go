package wasmloop_test

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/cybercorp/hotreload/plugin/internal/wasmloop"
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
	for _, tc := range []struct {
		name        string
		wasm        []byte
		closeOnDone bool
	}{
		{"plain", plain, false},
		{"instrumented", instrumented, false},
		{"plain-close-on-done", plain, true},
	} {
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
