package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// daemon is a `hotreload serve` process.
type daemon struct {
	URL string
	cmd *exec.Cmd
}

var hotreloadBin struct {
	sync.Once
	path string
	err  error
}

// buildHotreload builds ./cmd/hotreload of the parent module once per test
// run, or returns $HOTRELOAD_BIN when set (a binary built beforehand).
func buildHotreload(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("HOTRELOAD_BIN"); bin != "" {
		return bin
	}
	hotreloadBin.Do(func() {
		dir, err := os.MkdirTemp("", "hotreload-bin-")
		if err != nil {
			hotreloadBin.err = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		hotreloadBin.path = filepath.Join(dir, "hotreload")
		build := exec.Command("go", "build", "-o", hotreloadBin.path, "./cmd/hotreload")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			hotreloadBin.err = fmt.Errorf("building hotreload: %v\n%s", err, out)
		}
	})
	if hotreloadBin.err != nil {
		t.Fatal(hotreloadBin.err)
	}
	return hotreloadBin.path
}

var servingLine = regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)/`)

// startDaemon runs `hotreload serve ARGS --listen 127.0.0.1:0` and waits for
// the line that names its address. The process is stopped with SIGTERM when
// the test ends.
func startDaemon(t *testing.T, bin string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case d.URL = <-found:
	case <-time.After(testwait.D(30 * time.Second)):
		t.Fatalf("hotreload serve did not print its address within %s", testwait.D(30*time.Second))
	}
	return d
}

// call makes an admin API request and decodes the JSON answer.
func (d *daemon) call(t *testing.T, method, path, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, d.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func TestDashboardShowsReloadsAndRollsBack(t *testing.T) {
	browser(t) // fail or skip early without chromium
	bin := buildHotreload(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "app.yaml")
	writeFile(t, cfg, "greeting: hello\nworkers: 2\n")
	d := startDaemon(t, bin, "--config", cfg, "--data-dir", filepath.Join(dir, "data"),
		"--mode", "dev", "--watch=false", "--health-window", "50ms")

	ctx := tabPlain(t, d.URL+"/")
	waitTrue(t, ctx, `document.getElementById('active-version').textContent === 'v1'`, 5*time.Second)
	waitTrue(t, ctx, `document.getElementById('stream').textContent === 'live'`, 5*time.Second)

	// A reload made outside the page shows within a second.
	writeFile(t, cfg, "greeting: bonjour\nworkers: 3\n")
	var o struct {
		Result  string `json:"result"`
		Version uint64 `json:"version"`
	}
	d.call(t, "POST", "/api/v1/reload", "", &o)
	if o.Result != "committed" || o.Version != 2 {
		t.Fatalf("reload: %+v, want committed v2", o)
	}
	if took := waitTrue(t, ctx, `document.getElementById('active-version').textContent === 'v2'`, 5*time.Second); took > testwait.D(time.Second) {
		t.Errorf("the dashboard showed v2 %v after the reload, want under a second", took)
	}
	waitTrue(t, ctx, `[...document.querySelectorAll('#events li')].some(li => li.textContent.includes('reload'))`, 2*time.Second)

	// The history shows v1 with a rollback button; clicking it restores v1's content as v3.
	waitTrue(t, ctx, `document.querySelector('#history button.rollback[data-version="1"]') !== null`, 2*time.Second)

	// A refresh keeps the rows it does not change, so a click on one of
	// their buttons is not lost: an unchanged reload folds into v2's row
	// and leaves v1's row the same element.
	run(t, ctx, `window.v1Row = document.querySelector('#history tr[data-version="1"]')`)
	d.call(t, "POST", "/api/v1/reload", "", &o)
	if o.Result != "unchanged" {
		t.Fatalf("reload of the same file: %+v, want unchanged", o)
	}
	waitTrue(t, ctx, `document.querySelector('#history tr[data-version="2"] .unchanged') !== null`, 2*time.Second)
	if !eval[bool](t, ctx, `document.querySelector('#history tr[data-version="1"]') === window.v1Row`) {
		t.Error("refreshing the history replaced v1's row though it did not change")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#history button.rollback[data-version="1"]`))); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, ctx, `document.getElementById('active-version').textContent === 'v3'`, 5*time.Second)
	var cfgAnswer struct {
		Version uint64         `json:"version"`
		Data    map[string]any `json:"data"`
	}
	d.call(t, "GET", "/api/v1/config", "", &cfgAnswer)
	if cfgAnswer.Version != 3 || cfgAnswer.Data["greeting"] != "hello" {
		t.Fatalf("after the rollback button: %+v, want v3 with v1's greeting", cfgAnswer)
	}
	waitTrue(t, ctx, `document.querySelector('#history tr[data-version="3"]')?.textContent.includes('restores v1')`, 2*time.Second)

	// The diff between the two versions names the changed paths.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#history tr[data-version="2"] button.diff`))); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, ctx, `document.getElementById('diff').textContent.includes('/greeting')`, 2*time.Second)

	screenshot(t, ctx)
}

// screenshot saves the page as PNG: to $DASHBOARD_SCREENSHOT when set (the
// docs use ../docs/dashboard.png), else into the test's temporary folder.
func screenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	path := os.Getenv("DASHBOARD_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "dashboard.png")
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 is PNG
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshot: %s (%d bytes)", path, len(png))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDashboardSignsInWithATokenInProd(t *testing.T) {
	browser(t)
	bin := buildHotreload(t)
	dir := t.TempDir()
	auth := filepath.Join(dir, "tokens.json")
	out, err := exec.Command(bin, "token", "add", "--auth-file", auth, "--role", "operator", "--name", "ops").Output()
	if err != nil {
		t.Fatalf("hotreload token add: %v", err)
	}
	token := strings.TrimSpace(string(out))
	cfg := filepath.Join(dir, "app.yaml")
	writeFile(t, cfg, "greeting: hello\n")
	d := startDaemon(t, bin, "--config", cfg, "--data-dir", filepath.Join(dir, "data"),
		"--mode", "prod", "--auth-file", auth, "--health-window", "50ms")

	ctx := tabPlain(t, d.URL+"/")
	waitTrue(t, ctx, `!document.getElementById('notice').hidden && document.getElementById('notice').textContent.includes('Sign in')`, 5*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, ctx, `document.getElementById('active-version').textContent === 'v1'`, 5*time.Second)
	waitTrue(t, ctx, `document.getElementById('who').textContent.includes('ops')`, 2*time.Second)
	// The panels added for trends and rules read their endpoints with the session too.
	waitTrue(t, ctx, `document.querySelector('#trend-targets tr[data-target="config"]') && document.querySelectorAll('#rules tr[data-rule]').length === 4`, 2*time.Second)

	// The reload button runs a reload from the source as the signed-in operator.
	writeFile(t, cfg, "greeting: hi\n")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("reload"))); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, ctx, `document.getElementById('active-version').textContent === 'v2'`, 5*time.Second)
	waitTrue(t, ctx, `document.querySelector('#history tr[data-version="2"]')?.textContent.includes('ops')`, 2*time.Second)
}
