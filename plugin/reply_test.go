package plugin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

func TestMiddlewareDecoratesReplies(t *testing.T) {
	f := newFixture(t, plugin.Options{})
	f.setConfig("shout", map[string]any{"suffix": "!"})
	f.install(shoutDir, "shout", shoutManifest)
	wantResult(t, f.sync(), hotreload.Committed)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "hello")
	})
	srv := httptest.NewServer(f.host.Middleware("shout", app))
	defer srv.Close()
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get(); status != http.StatusAccepted || body != "HELLO!" {
		t.Fatalf("reply = %d %q, want 202 HELLO!", status, body)
	}
	// Unloaded: the reply passes unchanged.
	if _, err := f.host.Unload(context.Background(), "shout", hotreload.Request{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if status, body := get(); status != http.StatusAccepted || body != "hello" {
		t.Fatalf("reply without the plugin = %d %q, want 202 hello", status, body)
	}
	// A plugin that fails leaves the reply unchanged too.
	f.install(faultyDir, "bad", "")
	f.setConfig("bad", map[string]any{"fault": "fail", "in": "call"})
	wantResult(t, f.sync(), hotreload.Committed)
	srv.Config.Handler = f.host.Middleware("bad", app)
	if _, body := get(); body != "hello" {
		t.Fatalf("reply through a failing plugin = %q, want hello", body)
	}
}

// TestUpdateConfigKeepsStateReloadResetsIt uses the stamp example, which
// counts replies per instance: a config change reaches the live instance
// through update_config and keeps the count; a reload of the module starts
// a fresh instance.
func TestUpdateConfigKeepsStateReloadResetsIt(t *testing.T) {
	f := newFixture(t, plugin.Options{})
	manifest, err := os.ReadFile(filepath.Join(stampDir, "stamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	f.install(stampDir, "stamp", string(manifest))
	wantResult(t, f.sync(), hotreload.Committed)
	stampOf := func() map[string]string {
		t.Helper()
		r, err := f.host.FilterReply(context.Background(), "stamp", plugin.Reply{Status: 200, Body: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Header
	}
	stampOf()
	if h := stampOf(); h["X-Stamp"] != "2" {
		t.Fatalf("header = %v, want X-Stamp: 2", h)
	}
	// A config change: same module, update_config on the live instance.
	ch, err := f.host.Prepare(context.Background(), hotreload.Candidate{Target: "plugins",
		Content: []byte(`{"plugins":{"stamp":{"config":{"header":"X-Count"}}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = ch.Commit(context.Background())
	if h := stampOf(); h["X-Count"] != "3" {
		t.Fatalf("after update_config: header = %v, want X-Count: 3 (the count kept)", h)
	}
	// An invalid header name is rejected by the schema, before the plugin.
	if _, err := f.host.Prepare(context.Background(), hotreload.Candidate{Target: "plugins",
		Content: []byte(`{"plugins":{"stamp":{"config":{"header":"bad header"}}}}`)}); err == nil ||
		!strings.Contains(err.Error(), "/plugins/stamp/header") {
		t.Fatalf("Prepare with a bad header: %v", err)
	}
	// A reload of a new build: a fresh instance, counting from 1.
	plugintest.WriteFile(t, filepath.Join(f.dir, "stamp.json"), []byte(strings.Replace(string(manifest), `"1.0.0"`, `"1.0.1"`, 1)))
	f.setConfig("stamp", map[string]any{"header": "X-Count"})
	wantResult(t, f.sync(), hotreload.Committed)
	if h := stampOf(); h["X-Count"] != "1" {
		t.Fatalf("after a reload: header = %v, want X-Count: 1", h)
	}
}
