package plugin_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// cache is the compilation cache every test's host shares, so that each
// module is compiled once per test binary.
var cache wazero.CompilationCache

func TestMain(m *testing.M) {
	var err error
	if cache, err = wazero.NewCompilationCacheWithDir(plugintest.CacheDir()); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = cache.Close(context.Background())
	plugintest.Remove()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left after the tests:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	shoutDir  = "../examples/plugins/shout"
	stampDir  = "../examples/plugins/stamp"
	faultyDir = "testdata/faulty"
	noABIDir  = "testdata/noabi"
)

// clock is a settable clock for quarantine tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a host on a temporary plugin directory, run by an engine.
type fixture struct {
	t   testing.TB
	dir string
	plugintest.Hosted
	host   *plugin.Host
	clock  *clock
	mu     sync.Mutex
	config map[string]any // the main config document
}

func newFixture(t testing.TB, opts plugin.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), clock: &clock{t: time.Unix(1_700_000_000, 0)}, config: map[string]any{}}
	opts.Dir = f.dir
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	if opts.CompilationCache == nil && !opts.DisableCompilationCache {
		opts.CompilationCache = cache
	}
	opts.Config = func() any { f.mu.Lock(); defer f.mu.Unlock(); return f.config }
	f.Hosted = plugintest.NewHost(t, opts, nil)
	f.host = f.Host
	return f
}

// setConfig sets plugin name's section of the main config.
func (f *fixture) setConfig(name string, section any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	plugins, _ := f.config["plugins"].(map[string]any)
	if plugins == nil {
		plugins = map[string]any{}
		f.config["plugins"] = plugins
	}
	plugins[name] = section
}

func (f *fixture) install(pkgDir, name, manifest string) {
	f.t.Helper()
	plugintest.Install(f.t, pkgDir, f.dir, name, manifest)
}

// sync runs Sync and fails on an error that kept a transaction from running.
func (f *fixture) sync() []hotreload.Outcome {
	f.t.Helper()
	outs, err := f.host.Sync(context.Background())
	if err != nil {
		f.t.Fatalf("Sync: %v", err)
	}
	return outs
}

func (f *fixture) call(name, input string) (string, error) {
	out, err := f.host.Call(context.Background(), name, []byte(input))
	return string(out), err
}

func (f *fixture) mustCall(name, input, want string) {
	f.t.Helper()
	got, err := f.call(name, input)
	if err != nil {
		f.t.Fatalf("Call(%s): %v", name, err)
	}
	if got != want {
		f.t.Fatalf("Call(%s) = %q, want %q", name, got, want)
	}
}

func (f *fixture) info(name string) plugin.Info {
	f.t.Helper()
	i, err := f.host.Info(name)
	if err != nil {
		f.t.Fatal(err)
	}
	return i
}

func manifest(name, version string, limits string) string {
	if limits == "" {
		limits = "{}"
	}
	return `{"name": "` + name + `", "version": "` + version + `", "limits": ` + limits + `}`
}

func wantResult(t testing.TB, outs []hotreload.Outcome, want hotreload.Result) hotreload.Outcome {
	t.Helper()
	if len(outs) != 1 {
		t.Fatalf("got %d outcomes, want 1: %+v", len(outs), outs)
	}
	if outs[0].Result != want {
		t.Fatalf("result = %s (%s), want %s", outs[0].Result, outs[0].Reason, want)
	}
	return outs[0]
}

func wantContains(t testing.TB, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Fatalf("%s = %q, want it to contain %q", what, got, w)
		}
	}
}

const shoutManifest = `{
  "name": "shout",
  "version": "1.0.0",
  "description": "upper-cases replies",
  "config_schema": {
    "type": "object",
    "properties": {"upper": {"type": "boolean"}, "suffix": {"type": "string", "maxLength": 20}},
    "additionalProperties": false
  },
  "limits": {"pool_size": 2, "call_timeout": "500ms"}
}`

func TestLoadCallUnloadSync(t *testing.T) {
	f := newFixture(t, plugin.Options{})
	f.setConfig("shout", map[string]any{"suffix": "!"})
	f.install(shoutDir, "shout", shoutManifest)

	o := wantResult(t, f.sync(), hotreload.Committed)
	if len(o.Targets) != 1 || len(o.Targets[0].Modules) != 1 || o.Targets[0].Modules[0] != "shout" {
		t.Fatalf("modules = %+v, want [shout]", o.Targets)
	}
	f.mustCall("shout", `{"status":200,"body":"hello"}`, `{"status":200,"body":"HELLO!"}`)

	i := f.info("shout")
	if i.State != plugin.StateReady || i.Version != "1.0.0" || i.Calls != 1 || i.Errors != 0 || len(i.SHA256) != 64 ||
		i.Instances != 2 || i.MemoryBytes == 0 || i.Limits.CallTimeout != plugin.Duration(500*time.Millisecond) {
		t.Fatalf("info = %+v", i)
	}
	if outs := f.sync(); len(outs) != 0 {
		t.Fatalf("a sync with nothing changed ran %d transactions", len(outs))
	}

	// Unload on request: Sync leaves it unloaded while the file is the same.
	o, err := f.host.Unload(context.Background(), "shout", hotreload.Request{Source: "api", Author: "tester"})
	if err != nil || o.Result != hotreload.Committed {
		t.Fatalf("Unload = %+v, %v", o, err)
	}
	if _, err := f.call("shout", `{}`); hotreload.ErrorCode(err) != hotreload.CodeNotFound {
		t.Fatalf("call after unload: %v, want not_found", err)
	}
	if outs := f.sync(); len(outs) != 0 {
		t.Fatalf("sync reloaded a plugin unloaded on request: %+v", outs)
	}
	if got := f.info("shout").State; got != plugin.StateUnloaded {
		t.Fatalf("state = %s, want unloaded", got)
	}

	// Load on request, then remove the file: Sync unloads.
	if o, err := f.host.Load(context.Background(), "shout", hotreload.Request{Source: "api", Author: "tester"}); err != nil || o.Result != hotreload.Committed {
		t.Fatalf("Load = %+v, %v", o, err)
	}
	if err := os.Remove(filepath.Join(f.dir, "shout.wasm")); err != nil {
		t.Fatal(err)
	}
	wantResult(t, f.sync(), hotreload.Committed)
	if list, err := f.host.List(); err != nil || len(list) != 1 || list[0].State != plugin.StateUnloaded {
		t.Fatalf("List = %+v, %v", list, err)
	}
	// The same file put back loads again.
	f.install(shoutDir, "shout", "")
	wantResult(t, f.sync(), hotreload.Committed)
	f.mustCall("shout", `{"body":"a"}`, `{"body":"A!"}`)
}

func TestManifestAndConfigErrors(t *testing.T) {
	f := newFixture(t, plugin.Options{})
	f.install(shoutDir, "shout", shoutManifest)
	f.setConfig("shout", map[string]any{"suffix": 7, "loud": true})
	o := wantResult(t, f.sync(), hotreload.Rejected)
	wantContains(t, "reason", o.Reason, `plugin "shout"`, "/plugins/shout")
	paths := map[string]bool{}
	for _, e := range o.Errors {
		paths[e.Path] = true
	}
	if !paths["/plugins/shout/suffix"] || !paths["/plugins/shout/loud"] {
		t.Fatalf("errors = %+v, want /plugins/shout/suffix and /plugins/shout/loud (not allowed)", o.Errors)
	}

	f.setConfig("shout", map[string]any{})
	plugintest.WriteFile(t, filepath.Join(f.dir, "shout.json"), []byte(`{"name": "other", "limits": {"pool_size": 99, "call_timeout": "soon"}}`))
	o = wantResult(t, f.sync(), hotreload.Rejected)
	wantContains(t, "reason", o.Reason, "invalid plugin manifest", "shout.json")

	plugintest.WriteFile(t, filepath.Join(f.dir, "shout.json"), []byte(`{"name": "other", "limits": {"pool_size": 99}}`))
	o = wantResult(t, f.sync(), hotreload.Rejected)
	wantContains(t, "errors", errorsText(o.Errors), `/name: name "other" does not match`, "/limits/pool_size: 99 is outside 1..64")
}

func errorsText(errs []hotreload.FieldError) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.String() + "\n")
	}
	return b.String()
}

func TestParseManifest(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"OK", `{"name":"p","version":"1","limits":{"memory_pages":100}}`, ""},
		{"ErrUnknownField", `{"name":"p","colour":"red"}`, `unknown field "colour"`},
		{"ErrSyntax", `{"name":`, "unexpected EOF"},
		{"ErrTrailing", `{"name":"p"} {}`, "unexpected data after the manifest"},
		{"ErrType", `{"name":"p","limits":{"pool_size":"two"}}`, "/limits/pool_size: want int"},
		{"ErrSchema", `{"name":"p","config_schema":{"type":"nope"}}`, "/config_schema:"},
		{"ErrMemory", `{"name":"p","limits":{"memory_pages":70000}}`, "over the maximum"},
		{"ErrExternalRef", `{"name":"p","config_schema":{"$ref":"file:///etc/passwd"}}`, "/config_schema:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := plugin.ParseManifest("p.json", "p", []byte(tc.in))
			if tc.want == "" {
				if err != nil || m.Limits.PoolSize != plugin.DefaultPoolSize || m.Limits.MemoryPages != 100 {
					t.Fatalf("ParseManifest = %+v, %v", m, err)
				}
				return
			}
			if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
				t.Fatalf("err = %v, want invalid", err)
			}
			text := err.Error()
			wantContains(t, "error", text, tc.want, "p.json")
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"name":"p","version":"1","limits":{"memory_pages":100,"call_timeout":"1s"}}`))
	f.Add([]byte(`{"name":"p","config_schema":{"type":"object","properties":{"a":{"$ref":"#/x"}}}}`))
	f.Add([]byte(`{"limits":{"pool_size":-1,"init_timeout":"-5s"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := plugin.ParseManifest("p.json", "p", b)
		if err != nil {
			if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
				t.Fatalf("error without the invalid code: %v", err)
			}
			return
		}
		if m.Name != "p" || m.Limits.PoolSize < 1 || m.Limits.MemoryPages < 1 {
			t.Fatalf("accepted %+v", m)
		}
	})
}

func TestCallsDuringSwapsNeverFail(t *testing.T) {
	f := newFixture(t, plugin.Options{})
	f.install(faultyDir, "p", manifest("p", "1", `{"pool_size": 2, "call_timeout": "30s"}`))
	f.setConfig("p", map[string]any{"tag": "a"})
	wantResult(t, f.sync(), hotreload.Committed)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	calls, seen := 0, map[string]bool{}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				out, err := f.host.Call(context.Background(), "p", []byte("x"))
				mu.Lock()
				calls++
				seen[string(out)] = true
				mu.Unlock()
				if err != nil {
					t.Errorf("call failed during swaps: %v", err)
					return
				}
			}
		}()
	}
	for i := 1; i <= 20; i++ {
		// Alternate module versions (a new pool each time) and configs.
		f.setConfig("p", map[string]any{"tag": []string{"a", "b"}[i%2]})
		plugintest.WriteFile(t, filepath.Join(f.dir, "p.json"), []byte(manifest("p", []string{"1", "2"}[i%2], `{"pool_size": 2, "call_timeout": "30s"}`)))
		wantResult(t, f.sync(), hotreload.Committed)
	}
	cancel()
	wg.Wait()
	if !seen["ax"] || !seen["bx"] || len(seen) != 2 {
		t.Fatalf("outputs seen: %v, want ax and bx only", seen)
	}
	t.Logf("%d calls during 20 swaps, none failed", calls)
}

// TestSyncCompilesBeforeTheTransaction: Sync compiles a new module into the
// compilation cache before it submits the module's transaction, so the
// transaction's Prepare does not compile and no other change waits for it.
func TestSyncCompilesBeforeTheTransaction(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	plugintest.WriteFile(t, filepath.Join(dir, "e.wasm"), plugintest.Echo())
	var cached []string
	h, err := plugin.New(plugin.Options{Dir: dir, DataDir: data, Submit: func(ctx context.Context, r hotreload.Request) (hotreload.Outcome, error) {
		_ = filepath.WalkDir(filepath.Join(data, "compiled"), func(path string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				cached = append(cached, path)
			}
			return nil
		})
		return hotreload.Outcome{Result: hotreload.Unchanged}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	if _, err := h.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(cached) == 0 {
		t.Fatal("the compilation cache was empty when the transaction was submitted")
	}
}

// TestSyncStopsCompilingWhenCancelled: a Sync whose context ends stops
// compiling (a daemon that shuts down does not wait for a compile) and
// leaves nothing compiled in the cache.
func TestSyncStopsCompilingWhenCancelled(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	plugintest.Install(t, shoutDir, dir, "shout", "")
	// An engine refuses a request whose context ended.
	h, err := plugin.New(plugin.Options{Dir: dir, DataDir: data, Submit: func(ctx context.Context, _ hotreload.Request) (hotreload.Outcome, error) {
		return hotreload.Outcome{}, ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _ = h.Sync(ctx)
	_ = filepath.WalkDir(filepath.Join(data, "compiled"), func(path string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			t.Errorf("a cancelled Sync compiled %s", path)
		}
		return nil
	})
}

// FuzzPrepare feeds arbitrary set documents and patches to Prepare: it
// rejects them with a coded error or prepares a change that discards
// cleanly, and never panics.
func FuzzPrepare(f *testing.F) {
	dir := f.TempDir()
	plugintest.WriteFile(f, filepath.Join(dir, "e.wasm"), plugintest.Echo())
	h, err := plugin.New(plugin.Options{Dir: dir, CompilationCache: cache})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = h.Close(context.Background()) })
	for _, seed := range []string{
		`{"plugins":{"e":{}}}`, `{"plugins":{"e":{"config":{"a":[1,2]}}}}`, `{"plugins":{"e":{"sha256":"00","manifest":{"name":"e"}}}}`,
		`{"plugins":{"e":{"manifest":{"name":"e","limits":{"pool_size":3}}}}}`, `{"plugins":null}`, `[]`, `{"plugins":{"../x":{}}}`,
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, doc string, patch bool) {
		c := hotreload.Candidate{Target: "plugins", Content: []byte(doc)}
		if patch {
			c = hotreload.Candidate{Target: "plugins", Patch: []byte(doc)}
		}
		if len(doc) == 0 {
			return // an empty candidate reads the directory
		}
		ch, err := h.Prepare(context.Background(), c)
		if err != nil {
			if ch != nil {
				t.Fatalf("Prepare returned an error and a non-nil change %#v: %v", ch, err)
			}
			if hotreload.ErrorCode(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if err := ch.Rollback(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
