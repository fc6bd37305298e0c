// Package integration holds the end-to-end tests that need real outside
// programs: a headless Debian chromium driven by chromedp, and the
// hotreload binary run as a process. It is a separate module so that
// library users do not inherit chromedp.
//
// The browser tests need /usr/bin/chromium (apt-get install chromium); when
// it is missing they fail under CI=true and are skipped otherwise. The
// LiveReload tests install livereload-js from npm (apt-get install npm).
//
// The dashboard tests build ./cmd/hotreload once and run `hotreload serve`
// on 127.0.0.1:0. Two variables help when iterating:
//
//	HOTRELOAD_BIN=/path/to/hotreload      use this binary instead of building
//	DASHBOARD_SCREENSHOT=../docs/dashboard.png   where to save the screenshot
package integration
