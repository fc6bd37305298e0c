package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// The plugin benchmarks (docs/benchmarks.md, "Plugins"):
//
//	cd bench && go test -run '^$' -bench 'Plugin' -benchtime 2s .
//
// They build examples/plugins/shout with the Go toolchain.

const shoutDir = "../examples/plugins/shout"

// compiled is a compilation cache shared by the call benchmarks' hosts, so
// that each round does not compile the module again.
var compiled = sync.OnceValue(func() wazero.CompilationCache {
	c, err := wazero.NewCompilationCacheWithDir(plugintest.CacheDir())
	if err != nil {
		panic(err)
	}
	return c
})

// pluginHost loads name from a fresh directory holding wasm.
func pluginHost(b *testing.B, name string, wasm []byte, opts plugin.Options) *plugin.Host {
	b.Helper()
	opts.Dir = b.TempDir()
	plugintest.WriteFile(b, filepath.Join(opts.Dir, name+".wasm"), wasm)
	opts.Config = func() any { return map[string]any{"plugins": map[string]any{name: map[string]any{"suffix": "!"}}} }
	h := plugintest.NewHost(b, opts, nil).Host // loads the directory
	if i, err := h.Info(name); err != nil || i.State != plugin.StateReady {
		b.Fatalf("loading %s: %+v %v", name, i, err)
	}
	return h
}

func shoutWasm(b *testing.B) []byte {
	wasm, err := os.ReadFile(plugintest.Build(b, shoutDir))
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}

// reply is the shout plugin's payload, for the native twin.
type reply struct {
	Status int    `json:"status,omitempty"`
	Body   string `json:"body"`
}

// nativeShout does in Go what the shout plugin does in Wasm: decode the
// reply, upper-case the body, add the suffix, encode.
func nativeShout(in []byte) ([]byte, error) {
	var r reply
	if err := json.Unmarshal(in, &r); err != nil {
		return nil, err
	}
	r.Body = strings.ToUpper(r.Body) + "!"
	return json.Marshal(r)
}

// BenchmarkPluginCall compares one call of the shout plugin with the same
// work done natively, and with the hand-assembled echo module, which
// measures the host's own overhead (pool, buffer copy, timeout, call).
func BenchmarkPluginCall(b *testing.B) {
	input := []byte(`{"status":200,"body":"hello, world"}`)
	want := `{"status":200,"body":"HELLO, WORLD!"}`
	b.Run("native", func(b *testing.B) {
		for b.Loop() {
			if out, err := nativeShout(input); err != nil || string(out) != want {
				b.Fatalf("%s %v", out, err)
			}
		}
	})
	b.Run("plugin", func(b *testing.B) {
		h := pluginHost(b, "shout", shoutWasm(b), plugin.Options{CompilationCache: compiled()})
		ctx := context.Background()
		for b.Loop() {
			if out, err := h.Call(ctx, "shout", input); err != nil || string(out) != want {
				b.Fatalf("%s %v", out, err)
			}
		}
	})
	b.Run("echo-module", func(b *testing.B) {
		h := pluginHost(b, "echo", plugintest.Echo(), plugin.Options{CompilationCache: compiled()})
		ctx := context.Background()
		for b.Loop() {
			if _, err := h.Call(ctx, "echo", input); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The floor: the same echo module called straight through wazero, the
	// input written and the result copied out as the host does, without
	// and with the runtime's CloseOnContextDone (wazero's own way to stop
	// an endless loop, which starts a goroutine per call; the host used it
	// before it instrumented modules, see docs/benchmarks.md).
	for _, closeOnDone := range []bool{false, true} {
		name := "bare-wazero"
		if closeOnDone {
			name += "-close-on-done"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone))
			defer rt.Close(ctx)
			mod, err := rt.Instantiate(ctx, plugintest.Echo())
			if err != nil {
				b.Fatal(err)
			}
			fn, mem := mod.ExportedFunction("call"), mod.Memory()
			var stack [2]uint64
			for b.Loop() {
				const at = 1024
				mem.Write(at, input)
				stack[0], stack[1] = at, uint64(len(input))
				if err := fn.CallWithStack(ctx, stack[:]); err != nil {
					b.Fatal(err)
				}
				res, _ := mem.Read(uint32(stack[0]>>32), uint32(stack[0]))
				if out := append([]byte(nil), res[1:]...); len(out) != len(input) {
					b.Fatalf("%q", out)
				}
			}
		})
	}
	b.Run("plugin-parallel", func(b *testing.B) {
		h := pluginHost(b, "shout", shoutWasm(b), plugin.Options{CompilationCache: compiled()})
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := h.Call(context.Background(), "shout", input); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// swap replaces the live version of name with a new one (manifest version
// i, so a new pool is built) as one transaction: Prepare, Apply, Commit.
func swap(b *testing.B, h *plugin.Host, name, sum string, i int) {
	content := fmt.Sprintf(`{"plugins":{%q:{"sha256":%q,"manifest":{"name":%q,"version":"%d","limits":{"pool_size":2}},"config":{"suffix":"!"}}}}`, name, sum, name, i)
	ctx := context.Background()
	ch, err := h.Prepare(ctx, hotreload.Candidate{Target: h.Name(), Content: []byte(content)})
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.Apply(ctx); err != nil {
		b.Fatal(err)
	}
	if err := ch.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPluginSwap measures one swap of the shout plugin (compile, a
// pool of two instances initialized, swap, old version cleaned up and
// closed) with wazero's compilation cache and without it.
func BenchmarkPluginSwap(b *testing.B) {
	wasm := shoutWasm(b)
	for _, tc := range []struct {
		name string
		opts plugin.Options
	}{
		{"cache", plugin.Options{}},
		{"no-cache", plugin.Options{DisableCompilationCache: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := pluginHost(b, "shout", wasm, tc.opts)
			info, _ := h.Info("shout")
			i := 0
			for b.Loop() {
				i++
				swap(b, h, "shout", info.SHA256, i)
			}
		})
	}
}

// BenchmarkPluginSwapUnderLoad swaps the shout plugin while two goroutines
// call it without pause, and fails if a single call fails. Run it with
// -benchtime 100x for the 100 swaps of the acceptance check.
func BenchmarkPluginSwapUnderLoad(b *testing.B) {
	h := pluginHost(b, "shout", shoutWasm(b), plugin.Options{CompilationCache: compiled()})
	info, _ := h.Info("shout")
	input := []byte(`{"body":"hi"}`)
	var calls, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := h.Call(context.Background(), "shout", input); err != nil {
					failed.Add(1)
					b.Error(err)
				}
				calls.Add(1)
			}
		}()
	}
	i := 0
	for b.Loop() {
		i++
		swap(b, h, "shout", info.SHA256, i)
	}
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(calls.Load())/float64(i), "calls/swap")
	b.ReportMetric(float64(failed.Load()), "failed-calls")
	if failed.Load() > 0 {
		b.Fatalf("%d of %d calls failed during %d swaps", failed.Load(), calls.Load(), i)
	}
}
