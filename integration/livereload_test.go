package integration

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// livereloadJSVersion is the livereload.js client the browser extensions
// and the npm livereload server ship.
const livereloadJSVersion = "4.0.2"

// installLiveReloadJS installs livereload-js from npm into a temporary
// folder and returns the path of dist/livereload.js.
func installLiveReloadJS(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("npm is required in CI: %v", err)
		}
		t.Skip("npm not found; install it with: apt-get install npm")
	}
	dir := t.TempDir()
	cmd := exec.Command("npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", dir, "livereload-js@"+livereloadJSVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install livereload-js: %v\n%s", err, out)
	}
	return filepath.Join(dir, "node_modules", "livereload-js", "dist", "livereload.js")
}

// TestStockLiveReloadClient runs the unmodified livereload.js in chromium
// against the hub's LiveReload 7 endpoint: a CSS change is live-reloaded
// without navigation.
func TestStockLiveReloadClient(t *testing.T) {
	browser(t)
	script := installLiveReloadJS(t)
	s := startUI(t, copyFolder(t), t.TempDir(), "127.0.0.1:0", func(mux *http.ServeMux) {
		mux.HandleFunc("GET /livereload.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, script) })
	})
	ctx := tabPlain(t, "http://"+s.Addr+"/ui/livereload.html")
	waitFor(t, func() bool {
		cs := s.Hub.Clients()
		return len(cs) == 1 && cs[0].Protocol == "livereload/7"
	}, "livereload.js to connect with protocol 7")
	run(t, ctx, `window.marker = 'kept'`)
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(255, 0, 0)'`, time.Second)

	s.write(t, "app.css", "#title { color: rgb(0, 0, 200); }\n")
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(0, 0, 200)'`, 5*time.Second)
	waitTrue(t, ctx, `window.marker === 'kept'`, time.Second)
}
