package plugin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/plugin"
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
