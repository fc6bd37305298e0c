package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"
)

// TestDashboardListsLongSteps: a plugin module dropped into the plugins
// folder is compiled before its transaction; the dashboard lists that step
// from its progress events and, within a second of GET /api/v1/plugins
// showing the plugin ready, says it is done and how long it took.
func TestDashboardListsLongSteps(t *testing.T) {
	browser(t)
	bin := buildHotreload(t)
	dir := t.TempDir()
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(dir, "shout.wasm"), "./examples/plugins/shout")
	build.Dir = ".."
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the shout plugin: %v\n%s", err, out)
	}
	plugins, cfg := filepath.Join(dir, "plugins"), filepath.Join(dir, "app.yaml")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, "greeting: v1\n")
	d := startDaemon(t, bin, "--config", cfg, "--plugins", plugins, "--data-dir", filepath.Join(dir, "data"), "--mode", "dev")
	ctx := tabPlain(t, d.URL+"/")
	waitTrue(t, ctx, `document.getElementById('stream').textContent === 'live'`, 5*time.Second)

	// Renamed in, so the folder's watcher sees one complete module.
	if err := os.Rename(filepath.Join(dir, "shout.wasm"), filepath.Join(plugins, "shout.wasm")); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, "the plugin loaded", 60*time.Second, func() error {
		var list struct {
			Plugins []struct {
				Name  string `json:"name"`
				State string `json:"state"`
			} `json:"plugins"`
		}
		d.call(t, "GET", "/api/v1/plugins", "", &list)
		for _, p := range list.Plugins {
			if p.Name == "shout" && p.State == "ready" {
				return nil
			}
		}
		return fmt.Errorf("plugins %+v", list.Plugins)
	})
	step := `document.querySelector('#steps li[data-step="compile of plugin shout"]')`
	waitTrue(t, ctx, step+` !== null && `+step+`.hasAttribute('data-done')`, time.Second)
	if text := eval[string](t, ctx, step+`.textContent`); !strings.HasPrefix(text, "compile of plugin shout: done in ") || !strings.HasSuffix(text, " s") {
		t.Fatalf("the step reads %q, want how long the compile took", text)
	}
}
