package integration

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"
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
		mux.HandleFunc("GET /vendor/livereload.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, script) })
	})
	ctx := tabPlain(t, "http://"+s.Addr+"/ui/livereload.html")
	testwait.For(t, "livereload.js to connect with protocol 7", 5*time.Second, func() bool {
		cs := s.Hub.Clients()
		return len(cs) == 1 && cs[0].Protocol == "livereload/7"
	})
	run(t, ctx, `window.marker = 'kept'`)
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(255, 0, 0)'`, time.Second)

	s.write(t, "app.css", "#title { color: rgb(0, 0, 200); }\n")
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(0, 0, 200)'`, 5*time.Second)
	waitTrue(t, ctx, `window.marker === 'kept'`, time.Second)
}

// TestExtensionInjectedScript loads /livereload.js the way the LiveReload
// browser extensions inject it: the hub serves its own client under that
// name, which then reloads a component in place.
func TestExtensionInjectedScript(t *testing.T) {
	s := startUI(t, copyFolder(t), t.TempDir(), "127.0.0.1:0")
	page := strings.Replace(readTestdata(t, "index.html"), `<script src="/hotreload.js"></script>`,
		`<script src="/livereload.js?ext=Chrome&amp;extver=2.1.0&amp;host=127.0.0.1"></script>`, 1)
	s.write(t, "extension.html", page)
	testwait.For(t, "the new page to go live", 5*time.Second, func() bool { // applied, so no page reload follows
		resp, err := http.Get("http://" + s.Addr + "/ui/extension.html")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	ctx := tab(t, "http://"+s.Addr+"/ui/extension.html")
	testwait.For(t, "the injected client to connect", 5*time.Second, func() bool {
		cs := s.Hub.Clients()
		return len(cs) == 1 && cs[0].Protocol == "hotreload/1"
	})
	s.write(t, "app.css", "#title { color: rgb(0, 99, 0); }\n")
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(0, 99, 0)'`, 5*time.Second)
}
