package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/ui"
)

// A UI folder served and reloaded through the engine: each reload of the
// target validates the folder, serves the new files and pushes what changed
// to the browsers connected to the hub. In a daemon, a watch.Watcher on the
// folder triggers the reloads.
func Example() {
	dir, _ := os.MkdirTemp("", "ui-example-")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "app.css"), []byte("body { color: black }"), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, _ := history.Open(history.Options{Dir: filepath.Join(dir, ".history")})
	defer store.Close()
	hub := ui.NewHub(ui.Options{})
	defer hub.Close()
	assets := ui.NewAssets(ui.AssetsOptions{Dir: dir, Hub: hub})
	engine := hotreload.New(hotreload.Options{History: store, Observer: hub})
	go engine.Run(ctx)
	engine.Add(ctx, assets)

	mux := http.NewServeMux()
	hub.Register(mux) // /ws, /livereload, /hotreload.js, /api/v1/ui/clients
	mux.Handle("GET /ui/", assets)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A broken save is rejected with its position; the old file stays live.
	os.WriteFile(filepath.Join(dir, "app.css"), []byte("body { color: red"), 0o644)
	o, _ := engine.Reload(ctx, hotreload.Request{Source: "watch", Targets: []string{"ui"}})
	fmt.Println(o.Result, filepath.Base(o.Errors[0].File), o.Errors[0].Line, o.Errors[0].Column, o.Errors[0].Message)

	os.WriteFile(filepath.Join(dir, "app.css"), []byte("body { color: red }"), 0o644)
	o, _ = engine.Reload(ctx, hotreload.Request{Source: "watch", Targets: []string{"ui"}})
	fmt.Println(o.Result)

	resp, _ := http.Get(srv.URL + "/ui/app.css")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output:
	// rejected app.css 1 6 '{' is never closed
	// committed
	// body { color: red }
}
