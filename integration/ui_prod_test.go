package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPageConnectsWithATokenInProd runs `hotreload serve --mode prod --ui`
// and opens a page that loads the client the documented way,
// <script src="/hotreload.js" data-token="...">: the socket is authorised
// by the token offered as a subprotocol, a CSS save applies in place, and
// the overlay shows the bad file relative to the UI folder.
func TestPageConnectsWithATokenInProd(t *testing.T) {
	browser(t)
	bin := buildHotreload(t)
	dir := t.TempDir()
	authFile := filepath.Join(dir, "tokens.json")
	out, err := exec.Command(bin, "token", "add", "--auth-file", authFile, "--role", "viewer", "--name", "page").Output()
	if err != nil {
		t.Fatalf("hotreload token add: %v", err)
	}
	token := strings.TrimSpace(string(out))
	uiDir := copyFolder(t)
	page := strings.Replace(readTestdata(t, "index.html"), `<script src="/hotreload.js">`,
		fmt.Sprintf(`<script src="/hotreload.js" data-token=%q>`, token), 1)
	writeFile(t, filepath.Join(uiDir, "index.html"), page)
	cfg := filepath.Join(dir, "app.yaml")
	writeFile(t, cfg, "greeting: hello\n")
	d := startDaemon(t, bin, "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--ui", uiDir,
		"--mode", "prod", "--auth-file", authFile, "--watch", "--debounce", "30ms", "--health-window", "50ms")

	ctx := tab(t, d.URL+"/ui/index.html")
	if got := eval[string](t, ctx, `performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('token')).join(' ')`); got != "" {
		t.Fatalf("a URL carried the token: %s", got)
	}

	// The socket is refused without the token, with a wrong one, and with
	// the token in the URL, which the server never reads.
	wsURL := "ws" + strings.TrimPrefix(d.URL, "http") + "/ws"
	for _, tc := range []struct{ name, url, protocols string }{
		{"NoToken", wsURL, `['hotreload.v1']`},
		{"WrongToken", wsURL, `['hotreload.v1', 'hotreload.token.' + btoa('hrt_wrong').replace(/=+$/, '')]`},
		{"TokenInURL", wsURL + "?token=" + token, `['hotreload.v1']`},
	} {
		if got := probeSocket(t, ctx, tc.url, tc.protocols); got != "refused" {
			t.Errorf("%s: the socket was %s, want refused", tc.name, got)
		}
	}

	// The page shows up among the hub's clients, by way of the API.
	var clients struct {
		Clients []struct {
			Protocol string `json:"protocol"`
			Page     string `json:"page"`
		} `json:"clients"`
	}
	d.callAs(t, token, "/api/v1/ui/clients", &clients)
	if len(clients.Clients) != 1 || clients.Clients[0].Protocol != "hotreload/1" || !strings.HasSuffix(clients.Clients[0].Page, "/ui/index.html") {
		t.Fatalf("ui clients %+v, want the page on hotreload/1", clients.Clients)
	}

	// A save applies in place.
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(255, 0, 0)'`, 5*time.Second)
	run(t, ctx, `window.marker = 1`)
	writeFile(t, filepath.Join(uiDir, "app.css"), "#title { color: rgb(0, 128, 0); }\n")
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(0, 128, 0)'`, 5*time.Second)
	if eval[int](t, ctx, `window.marker`) != 1 {
		t.Fatal("the page reloaded for a stylesheet")
	}

	// A bad save shows in the overlay relative to the UI folder: no server
	// path reaches the browser.
	overlayText := `(document.querySelector('hotreload-overlay')?.shadowRoot?.textContent || '')`
	writeFile(t, filepath.Join(uiDir, "app.css"), "#title {\n  color: rgb(0, 0, 1);\n")
	waitTrue(t, ctx, overlayText+`.includes('app.css:1:8: \'{\' is never closed')`, 5*time.Second)
	if text := eval[string](t, ctx, overlayText); strings.Contains(text, uiDir) || strings.Contains(text, os.TempDir()) {
		t.Fatalf("the overlay shows a server path: %q", text)
	}
	writeFile(t, filepath.Join(uiDir, "app.css"), "#title { color: rgb(0, 0, 1); }\n")
	waitTrue(t, ctx, `document.querySelector('hotreload-overlay') === null`, 5*time.Second)
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(0, 0, 1)'`, 5*time.Second)
}

// probeSocket opens a WebSocket from the page and reports "open" or
// "refused".
func probeSocket(t *testing.T, ctx context.Context, url, protocols string) string {
	t.Helper()
	js := fmt.Sprintf(`new Promise((resolve) => {
		const ws = new WebSocket(%q, %s);
		ws.onopen = () => { ws.close(); resolve('open'); };
		ws.onerror = () => resolve('refused');
	})`, url, protocols)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("probing %s: %v", url, err)
	}
	return got
}

// callAs makes a GET request with a bearer token and decodes the answer.
func (d *daemon) callAs(t *testing.T, token, path string, out any) {
	t.Helper()
	req, err := http.NewRequest("GET", d.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
