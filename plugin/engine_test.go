package plugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/hotreloadtest"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// gate fails the health gate while fail is set.
type gate struct{ fail atomic.Bool }

func (g *gate) Watch(context.Context, hotreload.Transaction) error {
	if g.fail.Load() {
		return errors.New("health check failed")
	}
	return nil
}

// system is an engine with a real config target (a JSON file) and a plugin
// host following it.
type system struct {
	t      *testing.T
	engine *hotreload.Engine
	config *config.Target[map[string]any]
	host   *plugin.Host
	dir    string
	gate   *gate
}

const taggedManifest = `{
  "name": "p", "version": "1",
  "config_schema": {"type": "object", "properties": {"tag": {"type": "string", "maxLength": 8}}},
  "limits": {"pool_size": 2}
}`

func newSystem(t *testing.T) *system {
	t.Helper()
	s := &system{t: t, dir: t.TempDir(), gate: &gate{}}
	file := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(file, []byte(`{"plugins": {"p": {"tag": "a:"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ct, err := config.NewTarget(config.Options[map[string]any]{Files: []string{file}, ReadOnlyFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	s.config = ct
	hist, err := history.Open(history.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.engine = hotreload.New(hotreload.Options{History: hist, Gate: s.gate})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.engine.Run(ctx) }()
	plugintest.Install(t, faultyDir, s.dir, "p", taggedManifest)
	s.host, err = plugin.New(plugin.Options{
		Dir:              s.dir,
		CompilationCache: cache,
		Submit:           s.engine.Reload,
		Config: func() any {
			if snap := ct.Store().Snapshot(); snap != nil {
				return snap.Data
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		_ = s.host.Close(context.Background())
		_ = hist.Close()
	})
	if _, err := s.engine.Add(ctx, ct); err != nil {
		t.Fatal(err)
	}
	if _, err := s.engine.Add(ctx, s.host); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *system) configure(content string) hotreload.Outcome {
	s.t.Helper()
	o, err := s.engine.Reload(context.Background(), hotreload.Request{Source: "test",
		Candidates: []hotreload.Candidate{{Target: "config", Content: []byte(content)}}})
	if err != nil {
		s.t.Fatal(err)
	}
	return o
}

func (s *system) mustCall(want string) {
	s.t.Helper()
	out, err := s.host.Call(context.Background(), "p", []byte("x"))
	if err != nil || string(out) != want {
		s.t.Fatalf("Call = %q, %v; want %q", out, err, want)
	}
}

func (s *system) tag() any {
	s.t.Helper()
	return (*s.config.Store().Load())["plugins"].(map[string]any)["p"].(map[string]any)["tag"]
}

// TestConfigChangeReconfiguresInTheSameTransaction: a change to the
// plugin's section of the main config joins the plugin to the transaction;
// both commit or both roll back.
func TestConfigChangeReconfiguresInTheSameTransaction(t *testing.T) {
	s := newSystem(t)
	s.mustCall("a:x")

	o := s.configure(`{"plugins": {"p": {"tag": "b:"}}}`)
	if o.Result != hotreload.Committed || len(o.Targets) != 2 || o.Targets[1].Target != "plugins" || o.Targets[1].Modules[0] != "p" {
		t.Fatalf("outcome = %+v, want config and plugins committed", o)
	}
	s.mustCall("b:x")

	t.Run("ErrSchema", func(t *testing.T) {
		o := s.configure(`{"plugins": {"p": {"tag": "much-too-long:"}}}`)
		if o.Result != hotreload.Rejected || len(o.Errors) != 1 || o.Errors[0].Path != "/plugins/p/tag" {
			t.Fatalf("outcome = %+v, want rejected at /plugins/p/tag", o)
		}
		s.mustCall("b:x")
	})
	t.Run("ErrInitializeRejectsConfig", func(t *testing.T) {
		o := s.configure(`{"plugins": {"p": {"tag": "c:", "fault": "fail", "in": "initialize"}}}`)
		if o.Result != hotreload.Rejected || !strings.Contains(o.Reason, "faulty: refusing in initialize") {
			t.Fatalf("outcome = %+v", o)
		}
		s.mustCall("b:x")
	})
	t.Run("ErrUpdateConfigRollsBackBoth", func(t *testing.T) {
		o := s.configure(`{"plugins": {"p": {"tag": "c:", "fault": "fail", "in": "update_config"}}}`)
		if o.Result != hotreload.RolledBack || !strings.Contains(o.Reason, "update_config: faulty: refusing in update_config") {
			t.Fatalf("outcome = %+v", o)
		}
		if got := s.tag(); got != "b:" {
			t.Fatalf("config tag after rollback = %v, want b:", got)
		}
		s.mustCall("b:x")
	})
	t.Run("ErrHealthGateRollsBackBoth", func(t *testing.T) {
		s.gate.fail.Store(true)
		defer s.gate.fail.Store(false)
		o := s.configure(`{"plugins": {"p": {"tag": "d:"}}}`)
		if o.Result != hotreload.RolledBack {
			t.Fatalf("outcome = %+v", o)
		}
		s.mustCall("b:x")
	})
	t.Run("UnrelatedChangeLeavesPluginOut", func(t *testing.T) {
		o := s.configure(`{"plugins": {"p": {"tag": "b:"}}, "other": 1}`)
		if o.Result != hotreload.Committed || len(o.Targets) != 1 {
			t.Fatalf("outcome = %+v, want only config", o)
		}
	})
}

// TestEngineRollbackRestoresPluginVersion: history keeps the plugin set, so
// rolling back to a version restores the module and config it had.
func TestEngineRollbackRestoresPluginVersion(t *testing.T) {
	s := newSystem(t)
	v1 := s.engine.Status().Active
	plugintest.WriteFile(t, filepath.Join(s.dir, "p.json"), []byte(strings.Replace(taggedManifest, `"version": "1"`, `"version": "2"`, 1)))
	plugintest.WriteFile(t, filepath.Join(s.dir, "p.wasm"), plugintest.Echo())
	outs, err := s.host.Sync(context.Background())
	if err != nil || len(outs) != 1 || outs[0].Result != hotreload.Committed {
		t.Fatalf("Sync = %+v, %v", outs, err)
	}
	s.mustCall("x") // the echo module
	if err := os.Remove(filepath.Join(s.dir, "p.wasm")); err != nil {
		t.Fatal(err)
	}
	o, err := s.engine.Rollback(context.Background(), v1, hotreload.Actor{Source: "test", Author: "tester"})
	if err != nil || o.Result != hotreload.Committed {
		t.Fatalf("Rollback = %+v, %v", o, err)
	}
	s.mustCall("a:x") // faulty again, from the module store
	if i, _ := s.host.Info("p"); i.Version != "1" {
		t.Fatalf("version after rollback = %q, want 1", i.Version)
	}
}

func TestHTTPAPI(t *testing.T) {
	s := newSystem(t)
	srv := httptest.NewServer(s.host.Handler(func(*http.Request) string { return "tester" }))
	defer srv.Close()
	do := func(method, path string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s %s: not JSON: %q", method, path, body)
		}
		return resp.StatusCode, v
	}
	status, v := do("GET", "/api/v1/plugins")
	list, _ := v["plugins"].([]any)
	if status != 200 || len(list) != 1 || list[0].(map[string]any)["state"] != "ready" {
		t.Fatalf("list: %d %v", status, v)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"POST", "/api/v1/plugins/p/reload", 200, `"result":"unchanged"`},
		{"POST", "/api/v1/plugins/p/unload", 200, `"result":"committed"`},
		{"POST", "/api/v1/plugins/p/unload", 404, `"code":"not_found"`},
		{"POST", "/api/v1/plugins/p/reload", 409, `is not loaded: load it first`},
		{"POST", "/api/v1/plugins/p/load", 200, `"result":"committed"`},
		{"GET", "/api/v1/plugins/p", 200, `"version":"1"`},
		{"POST", "/api/v1/plugins/nope/load", 404, `no module nope.wasm`},
		{"POST", "/api/v1/plugins/p/explode", 404, `no plugin action`},
		{"POST", "/api/v1/plugins/Bad..Name/load", 422, `not a valid plugin name`},
		{"DELETE", "/api/v1/plugins/p", 404, `"code":"not_found"`},
	} {
		status, v := do(tc.method, tc.path)
		b, _ := json.Marshal(v)
		if status != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s %s = %d %s, want %d with %s", tc.method, tc.path, status, b, tc.status, tc.want)
		}
	}
	plugintest.WriteFile(t, filepath.Join(s.dir, "p.wasm"), []byte("garbage"))
	status, v = do("POST", "/api/v1/plugins/p/reload")
	if b, _ := json.Marshal(v); status != 422 || !strings.Contains(string(b), "invalid magic number") {
		t.Fatalf("reload of a bad module = %d %s, want 422", status, b)
	}
}

func FuzzHandler(f *testing.F) {
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "e.wasm"), plugintest.Echo(), 0o644); err != nil {
		f.Fatal(err)
	}
	handler := plugintest.NewHost(f, plugin.Options{Dir: dir, CompilationCache: cache}, nil).Host.Handler(nil)
	for _, seed := range []string{"GET /api/v1/plugins", "POST /api/v1/plugins/e/load", "POST /api/v1/plugins/e/unload",
		"GET /api/v1/plugins/%2e%2e", "POST /api/v1/plugins/e/reload?x=1", "PUT /api/v1/plugins/e/load", "GET /api/v1/plugins/e/"} {
		method, path, _ := strings.Cut(seed, " ")
		f.Add(method, path)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		req, err := http.NewRequest(method, "http://x"+path, nil)
		if err != nil || !strings.HasPrefix(req.URL.Path, "/") {
			return
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s = %d: %s", method, path, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) && rec.Code/100 != 3 && rec.Code != http.StatusMethodNotAllowed { // ServeMux redirects unclean paths
			t.Fatalf("%s %s = %d with a body that is not JSON: %q", method, path, rec.Code, rec.Body)
		}
	})
}

// TestContract runs the contract every hotreload.Target passes, with the
// tiny echo module (candidates differ by config).
func TestContract(t *testing.T) {
	hotreloadtest.Run(t, hotreloadtest.Harness{
		New: func(tb testing.TB) hotreload.Target {
			dir := tb.TempDir()
			plugintest.WriteFile(tb, filepath.Join(dir, "e.wasm"), plugintest.Echo())
			plugintest.WriteFile(tb, filepath.Join(dir, "f.wasm"), plugintest.Echo())
			h, err := plugin.New(plugin.Options{Dir: dir, CompilationCache: cache})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { _ = h.Close(context.Background()) })
			return h
		},
		Valid: func(testing.TB) []hotreload.Candidate {
			return []hotreload.Candidate{
				{Target: "plugins", Content: []byte(`{"plugins":{"e":{"config":{"n":1}}}}`)},
				{Target: "plugins", Content: []byte(`{"plugins":{"e":{"config":{"n":2}},"f":{}}}`)},
				{Target: "plugins", Content: []byte(`{"plugins":{"f":{"config":{"n":3}}}}`)},
			}
		},
		Invalid: func(testing.TB) []hotreload.Candidate {
			return []hotreload.Candidate{
				{Target: "plugins", Content: []byte(`{"plugins":{"missing":{}}}`)},
				{Target: "plugins", Content: []byte(`{"plugins":{"Bad Name":{}}}`)},
				{Target: "plugins", Content: []byte(`{"plugins":{"e":{"sha256":"00"}}}`)},
				{Target: "plugins", Content: []byte(`{"plugins":[]}`)},
				{Target: "plugins", Patch: []byte(`not json`)},
				{Target: "plugins", Snapshot: []byte(`{"plugins":{"e":{}}}`)},
			}
		},
		Live: func(tb testing.TB, target hotreload.Target) any {
			list, err := target.(*plugin.Host).List()
			if err != nil {
				tb.Fatal(err)
			}
			live := map[string]string{}
			for _, i := range list {
				if i.State != plugin.StateUnloaded {
					out, err := target.(*plugin.Host).Call(context.Background(), i.Name, []byte(`"ping"`))
					if err != nil {
						tb.Fatal(err)
					}
					live[i.Name] = i.SHA256 + " " + string(out)
				}
			}
			return live
		},
		History: func(tb testing.TB) hotreload.History {
			h, err := history.Open(history.Options{Dir: tb.TempDir()})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { _ = h.Close() })
			return h
		},
	})
}

// TestOnlyTheEngineRunsTransactions: a host without Submit serves as a
// target but runs no transaction itself.
func TestOnlyTheEngineRunsTransactions(t *testing.T) {
	dir := t.TempDir()
	plugintest.WriteFile(t, filepath.Join(dir, "e.wasm"), plugintest.Echo())
	h, err := plugin.New(plugin.Options{Dir: dir, CompilationCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	_, err = h.Sync(context.Background())
	if hotreload.ErrorCode(err) != hotreload.CodeUnavailable || !strings.Contains(err.Error(), "set Options.Submit") {
		t.Errorf("Sync without an engine = %v, want unavailable", err)
	}
	if i, _ := h.Info("e"); i.State != plugin.StateUnloaded {
		t.Errorf("Sync without an engine loaded e: %+v", i)
	}
}
