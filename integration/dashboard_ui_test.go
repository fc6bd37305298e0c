package integration

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"
)

// TestDashboardShowsUIClientsAndTheirVersions runs `hotreload serve --ui`:
// a page served by the daemon hot-reloads a CSS change made on disk, and the
// dashboard lists that page with the history version it acknowledged.
func TestDashboardShowsUIClientsAndTheirVersions(t *testing.T) {
	browser(t)
	bin := buildHotreload(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "app.yaml")
	writeFile(t, cfg, "greeting: hello\n")
	uiDir := copyFolder(t)
	d := startDaemon(t, bin, "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--ui", uiDir,
		"--mode", "dev", "--health-window", "50ms", "--debounce", "50ms")

	page := tab(t, d.URL+"/ui/")
	dash := tabPlain(t, d.URL+"/")
	row := `document.querySelector('#clients tbody tr[data-client]')`
	waitTrue(t, dash, row+`?.textContent.includes('✓')`, 5*time.Second)

	s := &uiServer{Dir: uiDir}
	s.write(t, "app.css", "#title { color: rgb(0, 128, 0); }\n")
	took := waitTrue(t, page, colorOf("title")+` === 'rgb(0, 128, 0)'`, 5*time.Second)
	t.Logf("the page showed the change %v after the save", took)
	// The dashboard names the history version that changed the UI target.
	var st struct {
		Targets []struct {
			Name    string `json:"name"`
			Version uint64 `json:"version"`
		} `json:"targets"`
	}
	testwait.For(t, "the UI change to commit", 5*time.Second, func() bool {
		d.call(t, "GET", "/api/v1/status", "", &st)
		for _, tg := range st.Targets {
			if tg.Name == "ui" && tg.Version > 2 {
				return true
			}
		}
		return false
	})
	var want uint64
	for _, tg := range st.Targets {
		if tg.Name == "ui" {
			want = tg.Version
		}
	}
	waitTrue(t, dash, row+`?.textContent.includes('v`+strconv.FormatUint(want, 10)+` ') && `+row+`.textContent.includes('✓')`, 5*time.Second)
}
