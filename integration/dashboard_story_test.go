package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cybercorp/hotreload/internal/testwait"
)

// within fails the test unless the page's value (a JavaScript expression
// evaluating to JSON) equals what api returns within a second (scaled)
// of the change that preceded the call; both are read again until they
// agree, so a minute that turns between the two reads does not fail it.
func within(t *testing.T, ctx context.Context, what, pageJSON string, api func() any) {
	t.Helper()
	testwait.Until(t, what+" to show what the API says", time.Second, func() error {
		page := eval[string](t, ctx, `JSON.stringify(`+pageJSON+`)`)
		want, err := json.Marshal(api())
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(page, string(want)) {
			return fmt.Errorf("the page shows\n%s\nthe API says\n%s", page, want)
		}
		return nil
	})
}

func jsonEqual(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

// trendsAnswer is the part of GET /api/v1/trends the charts draw.
type trendsAnswer struct {
	Targets []struct {
		Target string `json:"target"`
		Points []struct {
			Count uint64  `json:"count"`
			P50   float64 `json:"p50"`
			P99   float64 `json:"p99"`
		} `json:"points"`
	} `json:"targets"`
	Results []struct {
		Results map[string]uint64 `json:"results"`
	} `json:"results"`
	Rollbacks []struct {
		Version uint64 `json:"version"`
		Reason  string `json:"reason"`
	} `json:"rollbacks"`
}

// statusRules is the part of GET /api/v1/status the dashboard shows now.
type statusRules struct {
	Live         uint64 `json:"live"`
	State        string `json:"state"`
	Frozen       bool   `json:"frozen"`
	FrozenReason string `json:"frozen_reason"`
	Rules        []struct {
		Name      string  `json:"name"`
		Value     float64 `json:"value"`
		Threshold float64 `json:"threshold"`
	} `json:"rules"`
	Window *struct {
		Version uint64 `json:"version"`
		Rounds  int    `json:"rounds"`
		Checks  []struct {
			Name string `json:"name"`
		} `json:"checks"`
	} `json:"window"`
}

// TestDashboardTellsTheStory drives one daemon through commits, an invalid
// edit, unchanged reloads and health rollbacks until the loop breaker
// freezes it, then a change in a long health window, and checks that each
// panel shows what the API says within a second: the trend charts, the
// rules beside their thresholds, the folded history with the rejected
// edit's errors and its diff against the live version, the frozen engine
// and its unfreeze button, the pending window with its progress and
// checks; and that nothing overflows a phone-sized screen.
func TestDashboardTellsTheStory(t *testing.T) {
	browser(t)
	bin := buildHotreload(t)
	var healthy atomic.Bool
	healthy.Store(true)
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(dep.Close)
	dir := t.TempDir()
	cfg, checks := filepath.Join(dir, "app.yaml"), filepath.Join(dir, "checks.yaml")
	writeChecks := func(window string) {
		writeFile(t, checks, fmt.Sprintf("gate: {window: %s, rounds: 3}\nchecks:\n  - name: dependency\n    kind: http\n    url: %s/\n    critical: true\n    interval: 1m\n    timeout: 2s\n", window, dep.URL))
	}
	writeChecks("300ms")
	writeFile(t, cfg, "greeting: v1\n")
	d := startDaemon(t, bin, "--config", cfg, "--checks", checks, "--data-dir", filepath.Join(dir, "data"),
		"--mode", "dev", "--watch=false")
	ctx := tabPlain(t, d.URL+"/")
	waitTrue(t, ctx, `document.getElementById('stream').textContent === 'live'`, 5*time.Second)
	// Not a fleet member: GET /api/v1/fleet answers 404 and the panel stays hidden.
	waitTrue(t, ctx, `document.getElementById('fleet-card').hidden && document.getElementById('chart-results').childElementCount === 1`, time.Second)

	type outcome struct {
		Result  string `json:"result"`
		Version uint64 `json:"version"`
	}
	n := 1
	// reload reloads from the source, whatever the answer's status.
	reload := func(want string) outcome {
		t.Helper()
		resp, err := http.Post(d.URL+"/api/v1/reload", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var o outcome
		if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
			t.Fatalf("reload: %d: %v", resp.StatusCode, err)
		}
		if o.Result != want {
			t.Fatalf("reload: %+v, want %s", o, want)
		}
		return o
	}
	change := func(want string) outcome {
		t.Helper()
		n++
		writeFile(t, cfg, fmt.Sprintf("greeting: v%d\n", n))
		return reload(want)
	}
	committed := change("committed")
	reload("unchanged")
	reload("unchanged")
	writeFile(t, cfg, "greeting: [oops\n")
	rejected := reload("rejected")
	for range 4 { // the fourth rollback in an hour freezes automatic reloads
		healthy.Store(true)
		change("committed")
		healthy.Store(false)
		change("rolled_back")
	}

	// Trends: the charts' points and bars are the API's.
	var tr trendsAnswer
	within(t, ctx, "the duration chart",
		`[...document.querySelectorAll('#chart-duration circle.pt')].map(c => [c.dataset.target, +c.dataset.i, +c.dataset.count, +c.dataset.p50, +c.dataset.p99])`,
		func() any {
			d.call(t, "GET", "/api/v1/trends?window=1h", "", &tr)
			out := [][]any{}
			for _, tt := range tr.Targets {
				for i, p := range tt.Points {
					if p.Count > 0 {
						out = append(out, []any{tt.Target, i, p.Count, p.P50, p.P99})
					}
				}
			}
			return out
		})
	within(t, ctx, "the results chart",
		`[...document.querySelectorAll('#chart-results rect.bar')].map(r => [+r.dataset.i, r.dataset.result, +r.dataset.count])`,
		func() any {
			d.call(t, "GET", "/api/v1/trends?window=1h", "", &tr)
			out := [][]any{}
			for i, p := range tr.Results {
				for _, r := range []string{"committed", "unchanged", "rejected", "rolled_back", "superseded"} {
					if c := p.Results[r]; c > 0 {
						out = append(out, []any{i, r, c})
					}
				}
			}
			return out
		})
	if len(tr.Rollbacks) != 4 || !strings.Contains(tr.Rollbacks[0].Reason, "dependency") {
		t.Fatalf("trends rollbacks %+v, want 4 for the dependency", tr.Rollbacks)
	}
	within(t, ctx, "the rollbacks with their reasons",
		`[...document.querySelectorAll('#trend-rollbacks li[data-version]')].map(li => [+li.dataset.version, li.querySelector('.reason').textContent])`,
		func() any {
			out := [][]any{}
			for _, r := range tr.Rollbacks {
				out = append(out, []any{r.Version, r.Reason})
			}
			return out
		})
	// The last day's chart has its own steps.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button.window[data-window="24h"]`))); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, ctx, `document.getElementById('trends').dataset.window === '24h' && document.querySelectorAll('#chart-results rect.bar').length > 0`, time.Second)
	screenshotOf(t, ctx, "#trends", "dashboard-trends.png")

	// The rules beside their thresholds; four rollbacks fire the rollback rule.
	var st statusRules
	within(t, ctx, "the rules", `[...document.querySelectorAll('#rules tr[data-rule]')].map(r => [r.dataset.rule, +r.dataset.value, +r.dataset.threshold])`,
		func() any {
			d.call(t, "GET", "/api/v1/status", "", &st)
			out := [][]any{}
			for _, r := range st.Rules {
				out = append(out, []any{r.Name, r.Value, r.Threshold})
			}
			return out
		})
	if got := eval[string](t, ctx, `document.querySelector('#rules tr[data-rule="HotreloadRollbacksFrequent"]').className`); got != "bad" {
		t.Errorf("the rollback rule's row is %q after 4 rollbacks, want firing (bad)", got)
	}

	// History: the unchanged reloads fold into the version they left
	// alone; the rejected edit shows its errors and a diff against live.
	waitTrue(t, ctx, fmt.Sprintf(`document.querySelectorAll('#history tr[data-version="%d"]').length === 1 && document.querySelector('#history tr[data-version="%d"] .unchanged')?.textContent.startsWith('+ 2 unchanged')`,
		committed.Version, committed.Version), time.Second)
	var rec struct {
		Errors []struct {
			File   string `json:"file"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"errors"`
	}
	d.call(t, "GET", fmt.Sprintf("/api/v1/history/%d", rejected.Version), "", &rec)
	if len(rec.Errors) == 0 || rec.Errors[0].Line == 0 || rec.Errors[0].Column == 0 {
		t.Fatalf("the rejected record's errors %+v, want a line and a column", rec.Errors)
	}
	where := fmt.Sprintf("%s:%d:%d", rec.Errors[0].File, rec.Errors[0].Line, rec.Errors[0].Column)
	row := fmt.Sprintf(`#history tr[data-version="%d"]`, rejected.Version)
	waitTrue(t, ctx, fmt.Sprintf(`document.querySelector('%s ul.errors li')?.textContent.startsWith(%q)`, row, where), time.Second)
	d.call(t, "GET", "/api/v1/status", "", &st)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(row+` button.diff-live`))); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, ctx, fmt.Sprintf(`document.getElementById('diff').textContent.startsWith('v%d → v%d')`, st.Live, rejected.Version), time.Second)

	// Frozen: the reason shows, and the operator's button unfreezes.
	if !st.Frozen {
		t.Fatalf("status %+v after 4 rollbacks, want frozen", st)
	}
	waitTrue(t, ctx, fmt.Sprintf(`!document.getElementById('frozen-box').hidden && document.getElementById('frozen-reason').textContent === %q`, st.FrozenReason), time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#unfreeze`))); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, ctx, `document.getElementById('frozen-box').hidden`, time.Second)
	if d.call(t, "GET", "/api/v1/status", "", &st); st.Frozen {
		t.Fatal("the unfreeze button left the engine frozen")
	}
	var audit struct {
		Records []struct {
			Action string `json:"action"`
		} `json:"records"`
	}
	d.call(t, "GET", "/api/v1/audit", "", &audit)
	if !strings.Contains(fmt.Sprint(audit.Records), "unfreeze") {
		t.Errorf("the audit log has no unfreeze: %+v", audit.Records)
	}

	// Pending: a change in a long window shows with its progress and the
	// checks it waits on, then commits.
	healthy.Store(true)
	writeChecks("4s")
	reload("committed")
	n++
	writeFile(t, cfg, fmt.Sprintf("greeting: v%d\n", n))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#reload`))); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the change in its window", 5*time.Second, func() bool {
		d.call(t, "GET", "/api/v1/status", "", &st)
		return st.State == "pending" && st.Window != nil
	})
	waitTrue(t, ctx, fmt.Sprintf(`!document.getElementById('pending').hidden && document.getElementById('pending-text').textContent.startsWith('v%d in its health window') && document.getElementById('pending-text').textContent.includes('of %d rounds') && document.querySelector('#window-checks li[data-check="%s"]')`,
		st.Window.Version, st.Window.Rounds, st.Window.Checks[0].Name), time.Second)
	waitTrue(t, ctx, `document.getElementById('window-progress').value > 0`, time.Second)
	waitTrue(t, ctx, `document.getElementById('pending').hidden`, 10*time.Second)

	// A phone-sized screen: nothing overflows sideways.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, ctx, `innerWidth === 390 && document.documentElement.scrollWidth <= innerWidth`, time.Second)
}

// screenshotOf saves the element sel as PNG under $DASHBOARD_SCREENSHOTS
// (the docs use ../docs) with name, or into the test's temporary folder.
func screenshotOf(t *testing.T, ctx context.Context, sel, name string) {
	t.Helper()
	dir := os.Getenv("DASHBOARD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of %s: %s (%d bytes)", sel, path, len(png))
}
