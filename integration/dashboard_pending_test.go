package integration

import (
	"path/filepath"
	"testing"
	"time"
)

// TestDashboardShowsThePendingVersion: while a change is in its health
// window the dashboard shows the live, pending version beside the active
// one, and drops it when the change commits.
func TestDashboardShowsThePendingVersion(t *testing.T) {
	browser(t)
	bin := buildHotreload(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "app.yaml")
	writeFile(t, cfg, "greeting: hello\n")
	d := startDaemon(t, bin, "--config", cfg, "--data-dir", filepath.Join(dir, "data"),
		"--mode", "dev", "--debounce", "0", "--health-window", "4s")
	ctx := tabPlain(t, d.URL+"/")
	waitTrue(t, ctx, `document.getElementById('active-version').textContent === 'v1'`, 5*time.Second)
	waitTrue(t, ctx, `document.getElementById('stream').textContent === 'live'`, 5*time.Second)

	writeFile(t, cfg, "greeting: bonjour\n")
	waitTrue(t, ctx, `!document.getElementById('live-version').hidden && document.getElementById('live-version').textContent.startsWith('v2 live, pending')`, 5*time.Second)
	if got := eval[string](t, ctx, `document.getElementById('active-version').textContent`); got != "v1" {
		t.Fatalf("active version %q in the window, want v1", got)
	}
	waitTrue(t, ctx, `document.getElementById('active-version').textContent === 'v2' && document.getElementById('live-version').hidden`, 15*time.Second)
}
