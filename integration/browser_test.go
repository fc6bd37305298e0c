package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

var (
	browserOnce sync.Once
	browserCtx  context.Context
	browserErr  error
	stopBrowser = func() {}
)

// cleanups run after all tests: what tests share (the browser, the
// hotreload binary) is made once and removed at the end.
var cleanups []func()

func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	for _, f := range cleanups {
		f()
	}
	os.Exit(code)
}

// browser returns the shared headless chromium, started on first use. It
// fails the test when chromium is missing under CI=true and skips it
// otherwise.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", chromiumPath, err)
		}
		t.Skipf("%s not found; install it with: apt-get install chromium", chromiumPath)
	}
	browserOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hotreload-chromium-")
		if err != nil {
			browserErr = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromiumPath),
			chromedp.UserDataDir(dir),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.WindowSize(1280, 900),
		}
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(allocCtx)
		if err := chromedp.Do(ctx); err != nil { // starts the browser
			browserErr = fmt.Errorf("starting chromium: %w", err)
		}
		browserCtx = ctx
		stopBrowser = func() {
			cancelCtx()
			cancelAlloc()
			os.RemoveAll(dir)
		}
	})
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	return browserCtx
}

// tab opens a new tab on url, closed when the test ends, and waits until
// the hotreload client said hello.
func tab(t *testing.T, url string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigating to %s: %v", url, err)
	}
	waitTrue(t, ctx, `window.hotreload && hotreload.status().connected && hotreload.status().id !== ''`, 5*time.Second)
	return ctx
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// run evaluates a JavaScript statement for its effect.
func run(t *testing.T, ctx context.Context, js string) {
	t.Helper()
	eval[chromedp.Void](t, ctx, js)
}

// waitTrue polls a JavaScript expression until it is true and returns how
// long that took; it fails the test after timeout, scaled by testwait.D.
func waitTrue(t *testing.T, ctx context.Context, expr string, timeout time.Duration) time.Duration {
	t.Helper()
	timeout = testwait.D(timeout)
	start := time.Now()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		if err == nil && ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %v: %s is still not true (last error: %v)", timeout, expr, err)
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// colorOf returns the computed color of the element with the id.
func colorOf(id string) string {
	return fmt.Sprintf(`getComputedStyle(document.getElementById(%q)).color`, id)
}

// tabPlain opens a tab on a page without the hotreload client.
func tabPlain(t *testing.T, url string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigating to %s: %v", url, err)
	}
	return ctx
}
