// Package integration holds the end-to-end tests that need real outside
// programs: a headless Debian chromium driven by chromedp, and the
// hotreload binary run as a process. It is a separate module so that
// library users do not inherit chromedp.
//
// The browser tests need /usr/bin/chromium (apt-get install chromium); when
// it is missing they fail under CI=true and are skipped otherwise.
package integration
