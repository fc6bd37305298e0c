package integration

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/cybercorp/hotreload/internal/testwait"

	"github.com/cybercorp/hotreload/ui"
)

// reloadBudget is how soon after a file is saved the page must show it.
var reloadBudget = testwait.D(time.Second)

func TestCSSChangeAppliesInPlace(t *testing.T) {
	s := startUI(t, copyFolder(t), t.TempDir(), "127.0.0.1:0")
	ctx := tab(t, s.URL())
	run(t, ctx, `window.marker = 42`)
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(255, 0, 0)'`, time.Second)
	// Record the title's color on every change to <head> and every frame:
	// a swap that dropped the old sheet before the new one loaded would
	// show the unstyled color.
	run(t, ctx, `window.seen = new Set();
		const record = () => seen.add(`+colorOf("title")+`);
		new MutationObserver(record).observe(document.head, { childList: true, subtree: true, attributes: true });
		(function frame() { record(); requestAnimationFrame(frame); })();`)

	s.write(t, "app.css", "#title { color: rgb(0, 128, 0); }\n#themed { color: var(--accent); }\n")
	took := waitTrue(t, ctx, colorOf("title")+` === 'rgb(0, 128, 0)'`, 5*time.Second)
	if took > reloadBudget {
		t.Errorf("the new style showed after %v, want under %v", took, reloadBudget)
	}
	if seen := eval[[]string](t, ctx, `[...window.seen].sort()`); len(seen) != 2 || seen[0] != "rgb(0, 128, 0)" || seen[1] != "rgb(255, 0, 0)" {
		t.Errorf("colors seen during the swap: %v, want only the old and the new (no unstyled flash)", seen)
	}
	marker := eval[int](t, ctx, `window.marker`)
	if marker != 42 {
		t.Fatalf("window.marker = %d after the CSS reload, want 42 (the page navigated)", marker)
	}
	// The old <link> is gone once the new one loaded; the new one carries the content hash.
	hrefs := eval[[]string](t, ctx, `[...document.querySelectorAll('link[rel=stylesheet]')].map(l => l.getAttribute('href')).filter(h => h.includes('app.css'))`)
	if len(hrefs) != 1 || !strings.Contains(hrefs[0], "/ui/app.css?v=") {
		t.Fatalf("app.css links %v, want one with a content hash", hrefs)
	}
	// The page acknowledged the version it now runs.
	testwait.For(t, "the client to acknowledge the new version", 5*time.Second, func() bool {
		cs := s.Hub.Clients()
		return len(cs) == 1 && cs[0].Version == s.Assets.Version() && cs[0].Last != nil && cs[0].Last.Status == ui.AckApplied
	})
}

func TestThemeSwap(t *testing.T) {
	s := startUI(t, copyFolder(t), t.TempDir(), "127.0.0.1:0")
	ctx := tab(t, s.URL())
	run(t, ctx, `window.marker = 7`)
	waitTrue(t, ctx, colorOf("themed")+` === 'rgb(0, 0, 255)'`, time.Second)

	s.write(t, "theme.json", `{"--accent": "rgb(10, 20, 30)"}`)
	if took := waitTrue(t, ctx, colorOf("themed")+` === 'rgb(10, 20, 30)'`, 5*time.Second); took > reloadBudget {
		t.Errorf("the theme changed after %v, want under %v", took, reloadBudget)
	}
	waitTrue(t, ctx, `window.marker === 7`, time.Second)
}

func TestComponentReloadKeepsState(t *testing.T) {
	s := startUI(t, copyFolder(t), t.TempDir(), "127.0.0.1:0")
	ctx := tab(t, s.URL())
	waitTrue(t, ctx, `document.getElementById('counter').textContent === 'v1 count=0'`, 2*time.Second)
	click := chromedp.Click(chromedp.ID("counter"))
	if err := chromedp.Do(ctx, click, click, click); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, ctx, `document.getElementById('counter').textContent === 'v1 count=3'`, time.Second)
	run(t, ctx, `window.marker = 1`)

	s.write(t, "components/x-counter.js", strings.ReplaceAll(readTestdata(t, "components/x-counter.js"), "`v1 count", "`v2 count"))
	if took := waitTrue(t, ctx, `document.getElementById('counter').textContent === 'v2 count=3'`, 5*time.Second); took > reloadBudget {
		t.Errorf("the component reloaded after %v, want under %v", took, reloadBudget)
	}
	if err := chromedp.Do(ctx, click); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, ctx, `document.getElementById('counter').textContent === 'v2 count=4' && window.marker === 1`, time.Second)
}

func TestFullReloadKeepsFormValuesAndScroll(t *testing.T) {
	s := startUI(t, copyFolder(t), t.TempDir(), "127.0.0.1:0")
	ctx := tab(t, s.URL())
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("name"), "Ada Lovelace")); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, `window.scrollTo(0, 600); window.marker = 1`)

	s.write(t, "index.html", strings.Replace(readTestdata(t, "index.html"), "</body>", "<p id=\"added\">new</p></body>", 1))
	waitTrue(t, ctx, `document.getElementById('added') !== null`, 5*time.Second)
	waitTrue(t, ctx, `window.marker === undefined`, time.Second) // it really reloaded
	waitTrue(t, ctx, `document.getElementById('name').value === 'Ada Lovelace'`, time.Second)
	waitTrue(t, ctx, `Math.abs(window.scrollY - 600) < 2`, 2*time.Second)
}

func TestReconnectCatchesUpAfterServerRestart(t *testing.T) {
	dir, data := copyFolder(t), t.TempDir()
	s := startUI(t, dir, data, "127.0.0.1:0")
	ctx := tab(t, s.URL())
	run(t, ctx, `window.marker = 'kept'`)
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(255, 0, 0)'`, time.Second)

	s.Stop()
	waitTrue(t, ctx, `!hotreload.status().connected`, 5*time.Second)
	s.write(t, "app.css", "#title { color: rgb(1, 2, 3); }\n") // changed while the server is away
	time.Sleep(300 * time.Millisecond)

	s2 := startUI(t, dir, data, s.Addr)
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(1, 2, 3)'`, 15*time.Second)
	waitTrue(t, ctx, `window.marker === 'kept' && hotreload.status().connected`, time.Second)
	if n := len(s2.Hub.Clients()); n != 1 {
		t.Fatalf("%d clients on the restarted server, want 1", n)
	}
}

func TestMessageToOneClientID(t *testing.T) {
	s := startUI(t, copyFolder(t), t.TempDir(), "127.0.0.1:0")
	a, b := tab(t, s.URL()), tab(t, s.URL())
	listen := `window.got = []; addEventListener('hotreload:message', e => got.push(e.detail))`
	run(t, a, listen)
	run(t, b, listen)
	idA := eval[string](t, a, `hotreload.status().id`)
	idB := eval[string](t, b, `hotreload.status().id`)
	if idA == idB {
		t.Fatalf("both tabs have id %q", idA)
	}
	if _, err := s.Hub.SendTo(idA, ui.Update{Kind: ui.KindMessage, Key: "hello", Data: json.RawMessage(`{"to":"a"}`)}); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, a, `got.length === 1 && got[0].to === 'a'`, 2*time.Second)
	// A broadcast after it reaches b, so b has had every chance to get a's message.
	if _, err := s.Hub.Broadcast(ui.Update{Kind: ui.KindMessage, Key: "all", Data: json.RawMessage(`{"to":"all"}`)}); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, b, `got.length === 1 && got[0].to === 'all'`, 2*time.Second)
	waitTrue(t, a, `got.length === 2`, 2*time.Second)
}

func TestErrorOverlayShowsPositionAndClears(t *testing.T) {
	s := startUI(t, copyFolder(t), t.TempDir(), "127.0.0.1:0")
	ctx := tab(t, s.URL())
	overlayText := `(document.querySelector('hotreload-overlay')?.shadowRoot?.textContent || '')`

	s.write(t, "app.css", "#title {\n  color: rgb(0, 0, 1);\n")
	waitTrue(t, ctx, overlayText+`.includes('app.css:1:8: \'{\' is never closed')`, 5*time.Second)
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(255, 0, 0)'`, time.Second) // the bad CSS never went live

	s.write(t, "app.css", "#title { color: rgb(0, 0, 1); }\n")
	waitTrue(t, ctx, `document.querySelector('hotreload-overlay') === null`, 5*time.Second)
	waitTrue(t, ctx, colorOf("title")+` === 'rgb(0, 0, 1)'`, time.Second)
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/ui/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestModuleAcceptAndDispose(t *testing.T) {
	s := startUI(t, copyFolder(t), t.TempDir(), "127.0.0.1:0")
	ctx := tab(t, "http://"+s.Addr+"/ui/modules.html")
	waitTrue(t, ctx, `document.getElementById('label').textContent === 'label v1'`, 2*time.Second)
	run(t, ctx, `window.marker = 1`)

	s.write(t, "lib/label.js", strings.ReplaceAll(readTestdata(t, "lib/label.js"), "label v1", "label v2"))
	waitTrue(t, ctx, `document.getElementById('label').textContent === 'label v2'`, 5*time.Second)
	waitTrue(t, ctx, `window.accepted === 'label v2' && window.disposed === 1 && window.marker === 1`, time.Second)

	// A module that accepts nothing falls back to a full reload.
	s.write(t, "lib/plain.js", strings.ReplaceAll(readTestdata(t, "lib/plain.js"), "plain v1", "plain v2"))
	waitTrue(t, ctx, `document.getElementById('plain').textContent === 'plain v2'`, 5*time.Second)
	waitTrue(t, ctx, `window.marker === undefined`, time.Second)
	testwait.For(t, "the reloaded page to report the new version", 5*time.Second, func() bool {
		cs := s.Hub.Clients()
		return len(cs) == 1 && cs[0].Version == s.Assets.Version()
	})
}

func TestConstructableStylesheetReplacedInPlace(t *testing.T) {
	s := startUI(t, copyFolder(t), t.TempDir(), "127.0.0.1:0")
	ctx := tab(t, "http://"+s.Addr+"/ui/adopt.html")
	inside := `getComputedStyle(document.getElementById('card').shadowRoot.getElementById('inside')).color`
	waitTrue(t, ctx, inside+` === 'rgb(1, 1, 1)'`, 2*time.Second)

	s.write(t, "card.css", "p { color: rgb(2, 200, 2); }\n")
	if took := waitTrue(t, ctx, inside+` === 'rgb(2, 200, 2)'`, 5*time.Second); took > reloadBudget {
		t.Errorf("the adopted sheet changed after %v, want under %v", took, reloadBudget)
	}
	waitTrue(t, ctx, `document.getElementById('card').shadowRoot.adoptedStyleSheets[0] === window.cardSheet`, time.Second)
}
