package ui

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/hotreloadtest"
)

// writeFolder writes files (slash paths relative to dir) into dir.
func writeFolder(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var baseFolder = map[string]string{
	"index.html":              "<!doctype html><link rel=stylesheet href=/ui/app.css><x-counter></x-counter>",
	"app.css":                 "body { color: rgb(0, 0, 0) }",
	"theme.json":              `{"--accent": "red"}`,
	"components/x-counter.js": "hotreload.define('x-counter', class extends HTMLElement {})",
	"lib/format.js":           "export const f = (x) => `${x}`;",
	".hidden.css":             "{ ignored because hidden",
	"app.css~":                "{ ignored editor backup",
}

// snapshotOf prepares a candidate from a folder with these files and returns
// its snapshot.
func snapshotOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	dir := t.TempDir()
	writeFolder(t, dir, files)
	ch, err := NewAssets(AssetsOptions{Dir: dir}).Prepare(context.Background(), hotreload.Candidate{})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Rollback(context.Background())
	return ch.Summary().Snapshot
}

func with(base map[string]string, kv ...string) map[string]string {
	out := maps.Clone(base)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func TestAssetsContract(t *testing.T) {
	hotreloadtest.Run(t, hotreloadtest.Harness{
		New: func(t testing.TB) hotreload.Target {
			return NewAssets(AssetsOptions{Dir: t.TempDir(), Hub: NewHub(Options{})})
		},
		Valid: func(t testing.TB) []hotreload.Candidate {
			return []hotreload.Candidate{
				{Target: "ui", Snapshot: snapshotOf(t, baseFolder)},
				{Target: "ui", Snapshot: snapshotOf(t, with(baseFolder, "app.css", "body { color: blue }"))},
				{Target: "ui", Snapshot: snapshotOf(t, with(baseFolder, "theme.json", `{"--accent": "green"}`, "index.html", ""))},
			}
		},
		Invalid: func(t testing.TB) []hotreload.Candidate {
			return []hotreload.Candidate{
				{Target: "ui", Snapshot: []byte(`{"files": {"app.css": "` + b64("a {") + `"}}`)},
				{Target: "ui", Snapshot: []byte(`{"files": {"../escape.css": "` + b64("a {}") + `"}}`)},
				{Target: "ui", Snapshot: []byte(`not json`)},
				{Target: "ui", Content: []byte(`body {}`)},
			}
		},
		Live: func(t testing.TB, target hotreload.Target) any {
			s := target.(*Assets).live.Load()
			if s == nil {
				return nil
			}
			out := map[string]string{}
			for name, f := range s.files {
				out[name] = string(f.data)
			}
			return out
		},
		History: func(t testing.TB) hotreload.History {
			h, err := history.Open(history.Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return h
		},
	})
}

func b64(s string) string {
	b, _ := json.Marshal([]byte(s))
	return string(b[1 : len(b)-1])
}

func TestAssetsValidationErrorsHavePositions(t *testing.T) {
	dir := t.TempDir()
	writeFolder(t, dir, with(baseFolder, "app.css", "body {\n  color: red;\n", "theme.json", `{"accent": "x"}`))
	_, err := NewAssets(AssetsOptions{Dir: dir}).Prepare(context.Background(), hotreload.Candidate{})
	if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
		t.Fatalf("Prepare = %v, want invalid", err)
	}
	got := map[string]bool{}
	for _, d := range hotreload.ErrorDetails(err) {
		got[d.String()] = true
	}
	for _, want := range []string{
		filepath.Join(dir, "app.css") + ":1:6: '{' is never closed",
		filepath.Join(dir, "theme.json") + ":1:2: /accent: a theme property must be a CSS custom property name such as --accent",
	} {
		if !got[want] {
			t.Errorf("missing %q in %v", want, got)
		}
	}
}

// hubUpdates connects a client, runs apply and returns the updates the
// client receives for it.
func hubUpdates(t *testing.T, h *Hub, srv *httptest.Server, apply func()) []Update {
	t.Helper()
	p := dial(t, srv, wire{})
	defer p.conn.CloseNow()
	last := p.welcome().Seq
	apply()
	end := h.Seq()
	var out []Update
	for last < end {
		m := p.next()
		last = m.Seq
		if m.Update != nil {
			out = append(out, *m.Update)
		}
	}
	return out
}

func TestAssetsApplyTellsBrowsersWhatToReload(t *testing.T) {
	h, srv := testHub(t, Options{})
	dir := t.TempDir()
	writeFolder(t, dir, baseFolder)
	a := NewAssets(AssetsOptions{Dir: dir, Hub: h})
	ctx := context.Background()
	hotreloadtest.MustApply(t, a, hotreload.Candidate{Target: "ui"})

	for _, tc := range []struct {
		name  string
		edit  []string
		kinds []Kind
	}{
		{"Styles", []string{"app.css", "body { color: blue }"}, []Kind{KindStyles}},
		{"Theme", []string{"theme.json", `{"--accent": "blue"}`}, []Kind{KindTheme}},
		{"Component", []string{"components/x-counter.js", "hotreload.define('x-counter', class extends HTMLElement { render() {} })"}, []Kind{KindComponent}},
		{"Module", []string{"lib/format.js", "export const f = String;"}, []Kind{KindModule}},
		{"StylesAndTheme", []string{"app.css", "body { color: green }", "theme.json", `{"--accent": "green"}`}, []Kind{KindStyles, KindTheme}},
		{"HTMLReloadsThePage", []string{"index.html", "<p>new</p>", "app.css", "body{}"}, []Kind{KindPage}},
		{"UnknownReloadsThePage", []string{"logo.svg", "<svg/>"}, []Kind{KindPage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := map[string]string{}
			for i := 0; i < len(tc.edit); i += 2 {
				kv[tc.edit[i]] = tc.edit[i+1]
			}
			writeFolder(t, dir, kv)
			var kinds []Kind
			for _, u := range hubUpdates(t, h, srv, func() { hotreloadtest.MustApply(t, a, hotreload.Candidate{Target: "ui"}) }) {
				kinds = append(kinds, u.Kind)
				if u.Version != a.Version() {
					t.Errorf("update version %q, want the live version %q", u.Version, a.Version())
				}
				if u.Kind == KindTheme && u.Theme["--accent"] == "" {
					t.Errorf("theme update without properties: %+v", u)
				}
				if u.Kind == KindComponent && (u.Name != "x-counter" || u.Path != "/ui/components/x-counter.js") {
					t.Errorf("component update %+v", u)
				}
			}
			if !equal(kinds, tc.kinds) {
				t.Fatalf("updates %v, want %v", kinds, tc.kinds)
			}
		})
	}

	t.Run("RollbackReloadsTheOldFiles", func(t *testing.T) {
		writeFolder(t, dir, map[string]string{"app.css": "body { color: purple }"})
		ch, err := a.Prepare(ctx, hotreload.Candidate{})
		if err != nil {
			t.Fatal(err)
		}
		old := a.Version()
		updates := hubUpdates(t, h, srv, func() {
			ch.Apply(ctx)
			ch.Rollback(ctx)
		})
		// The two updates share a key, so they may merge into the last one.
		if n := len(updates); n == 0 || updates[n-1].Kind != KindStyles || updates[n-1].Version != old || a.Version() != old {
			t.Fatalf("updates %+v, want the last to restore version %s", updates, old)
		}
	})
}

func TestAssetsServeTheLiveFiles(t *testing.T) {
	dir := t.TempDir()
	writeFolder(t, dir, baseFolder)
	a := NewAssets(AssetsOptions{Dir: dir, Prefix: "/ui"})
	srv := httptest.NewServer(a)
	defer srv.Close()
	get := func(path, etag string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := get("/ui/app.css", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("before the first apply: %d, want 404", resp.StatusCode)
	}
	hotreloadtest.MustApply(t, a, hotreload.Candidate{})
	writeFolder(t, dir, map[string]string{"app.css": "body { color: blue }"}) // not applied yet
	resp, body := get("/ui/app.css", "")
	if resp.StatusCode != 200 || body != baseFolder["app.css"] || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("GET app.css: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	if resp, _ := get("/ui/app.css", resp.Header.Get("ETag")); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	if resp, body := get("/ui/theme.css", ""); resp.StatusCode != 200 || body != ":root {\n  --accent: red;\n}\n" {
		t.Fatalf("GET theme.css: %d %q, want the theme as a stylesheet", resp.StatusCode, body)
	}
	if _, body := get("/ui/", ""); body != baseFolder["index.html"] {
		t.Fatalf("GET /ui/ = %q, want index.html", body)
	}
	for _, p := range []string{"/ui/.hidden.css", "/ui/../assets_test.go", "/other"} {
		if resp, _ := get(p, ""); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

// FuzzAssets feeds arbitrary snapshots to Prepare and arbitrary paths to
// ServeHTTP: errors carry a code, nothing panics, and no path escapes the
// file set.
func FuzzAssets(f *testing.F) {
	f.Add([]byte(`{"files":{"app.css":"Ym9keSB7fQ=="}}`), "/ui/app.css")
	f.Add([]byte(`{"files":{"theme.json":"eyItLXgiOiAicmVkIn0="}}`), "/ui/theme.css")
	f.Add([]byte(`{"files":{"../x":""}}`), "/ui/../x")
	f.Add([]byte(`{"files":null}`), "/ui/")
	f.Add([]byte(`[]`), "//ui//")
	f.Fuzz(func(t *testing.T, snap []byte, path string) {
		a := NewAssets(AssetsOptions{Dir: t.TempDir()})
		ch, err := a.Prepare(context.Background(), hotreload.Candidate{Snapshot: snap})
		if err != nil {
			if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
				t.Fatalf("Prepare: %v (code %q), want invalid", err, hotreload.ErrorCode(err))
			}
			return
		}
		ch.Apply(context.Background())
		ch.Commit(context.Background())
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = path
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			name := strings.TrimPrefix(path, "/ui/")
			if name == "" || strings.HasSuffix(name, "/") {
				name += "index.html"
			}
			if _, ok := a.live.Load().files[name]; !ok && name != ThemeCSS {
				t.Fatalf("GET %q served %q, which is not in the set", path, rec.Body.String())
			}
		}
	})
}

func TestWatchReloadsThroughTheEngine(t *testing.T) {
	dir := t.TempDir()
	writeFolder(t, dir, baseFolder)
	store, err := history.Open(history.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithCancel(context.Background())
	engine := hotreload.New(hotreload.Options{History: store})
	ran := make(chan struct{})
	go func() { engine.Run(ctx); close(ran) }()
	a := NewAssets(AssetsOptions{Dir: dir, Hub: NewHub(Options{}), Debounce: 20 * time.Millisecond})
	if _, err := engine.Add(ctx, a); err != nil {
		t.Fatal(err)
	}
	watched := make(chan error, 1)
	go func() { watched <- a.Watch(ctx, engine.Reload) }()
	defer func() {
		cancel()
		if err := <-watched; err != nil {
			t.Errorf("Watch: %v", err)
		}
		<-ran
	}()
	time.Sleep(100 * time.Millisecond) // the watcher's baseline

	v1 := a.Version()
	writeFolder(t, dir, map[string]string{"app.css": "body { color: teal }", ".hidden.css": "{"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs, err := store.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last := recs[len(recs)-1]
		if last.Source == "watch" && last.Result == hotreload.Committed && a.Version() != v1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s the last record is %+v, want the change committed from watch", last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
