package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"
)

// binary is the hotreload binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hotreload-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hotreload")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building hotreload: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemonProc is a hotreload process started by a test.
type daemonProc struct {
	cmd    *exec.Cmd
	urls   map[string]string // "admin", "app" from its banner
	stdout *testwait.Output  // everything it printed, banner included
	stderr *testwait.Output
}

var urlLine = regexp.MustCompile(`(on|dashboard|demo app)\s+(http://[0-9.:]+)/`)

// start runs the binary with args and waits (up to the scaled urlWait) for
// the banner that names its URLs. The process is stopped when the test
// ends.
func start(t *testing.T, args ...string) *daemonProc {
	return startEnv(t, nil, args...)
}

// urlWait is how long a daemon may take to print its URLs: it binds and
// serves before any long step, so a few seconds even on a cold machine.
const urlWait = 15 * time.Second

// startEnv is start with extra environment variables.
func startEnv(t *testing.T, env []string, args ...string) *daemonProc {
	t.Helper()
	return launch(t, env, urlWait, args)
}

// startWithin is start for a daemon that does a long step before its
// banner, such as compiling the plugins already in its folder: it waits up
// to the scaled wait.
func startWithin(t *testing.T, wait time.Duration, args ...string) *daemonProc {
	t.Helper()
	return launch(t, nil, wait, args)
}

func launch(t *testing.T, env []string, wait time.Duration, args []string) *daemonProc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	return launchCmd(t, cmd, wait, slices.Contains(args, "demo"))
}

// launchCmd starts cmd, a daemon (the demo's when demo is true), as
// launch does: for a daemon run under a wrapper that execs it, such as a
// shell that sets a limit first.
func launchCmd(t *testing.T, cmd *exec.Cmd, wait time.Duration, demo bool) *daemonProc {
	t.Helper()
	p := &daemonProc{cmd: cmd, stdout: &testwait.Output{}, stderr: &testwait.Output{}}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(testwait.D(10 * time.Second)):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("hotreload did not stop within 10 s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("hotreload stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	testwait.For(t, "hotreload's URLs on its standard output", wait, func() bool {
		p.urls = bannerURLs(p.stdout.String())
		_, app := p.urls["app"]
		return p.urls["admin"] != "" && (app || !demo)
	})
	return p
}

// bannerURLs returns the URLs a daemon's banner names.
func bannerURLs(out string) map[string]string {
	urls := map[string]string{}
	for _, m := range urlLine.FindAllStringSubmatch(out, -1) {
		if m[1] == "demo app" {
			urls["app"] = m[2]
		} else {
			urls["admin"] = m[2]
		}
	}
	return urls
}

// call sends a request to the admin API and decodes the JSON answer into
// out (when not nil), returning the status.
func call(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		ct := "application/json"
		if method == http.MethodPatch {
			ct = "application/merge-patch+json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// statusAnswer is the part of GET /api/v1/status the tests read.
type statusAnswer struct {
	Active  uint64 `json:"active"`
	Applied uint64 `json:"applied"` // in its health window
	State   string `json:"state"`   // of the live version: pending or committed

	Last *struct {
		Result  string `json:"result"`
		Version uint64 `json:"version"`
		Errors  []struct {
			File    string `json:"file"`
			Path    string `json:"path"`
			Line    int    `json:"line"`
			Column  int    `json:"column"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"last"`
}

// waitStatus polls the status until cond holds.
func waitStatus(t *testing.T, admin string, what string, cond func(statusAnswer) bool) statusAnswer {
	t.Helper()
	var st statusAnswer
	testwait.Until(t, what, 30*time.Second, func() error {
		st = statusAnswer{}
		call(t, "GET", admin+"/api/v1/status", "", &st)
		if cond(st) {
			return nil
		}
		return fmt.Errorf("last status %+v", st)
	})
	return st
}

type configAnswer struct {
	Version uint64         `json:"version"`
	Data    map[string]any `json:"data"`
}

const testSchema = `{"type":"object","required":["name","rps"],
 "properties":{"name":{"type":"string"},"rps":{"type":"integer","minimum":1}}}`

func workspace(t *testing.T, config string) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "app.yaml")
	writeFile(t, file, config)
	writeFile(t, filepath.Join(dir, "schema.json"), testSchema)
	return dir, file
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServeEndToEnd runs the real binary: edit, break, roll back, SIGHUP.
func TestServeEndToEnd(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"),
		"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", "100ms")
	admin := p.urls["admin"]

	var cfg configAnswer
	call(t, "GET", admin+"/api/v1/config", "", &cfg)
	if cfg.Version != 1 || cfg.Data["name"] != "one" {
		t.Fatalf("config %+v", cfg)
	}

	t.Run("EditCommits", func(t *testing.T) {
		writeFile(t, file, "name: two\nrps: 5\n")
		waitStatus(t, admin, "version 2", func(s statusAnswer) bool { return s.Active == 2 })
		call(t, "GET", admin+"/api/v1/config", "", &cfg)
		if cfg.Data["name"] != "two" {
			t.Fatalf("config %+v", cfg)
		}
	})
	t.Run("BrokenIsRejectedAndOldKeepsServing", func(t *testing.T) {
		writeFile(t, file, "name: three\nrps: 0\n")
		st := waitStatus(t, admin, "a rejection", func(s statusAnswer) bool { return s.Last != nil && s.Last.Result == "rejected" })
		if len(st.Last.Errors) != 1 {
			t.Fatalf("errors %+v", st.Last.Errors)
		}
		e := st.Last.Errors[0]
		if filepath.Base(e.File) != "app.yaml" || e.Line != 2 || e.Column != 6 || e.Path != "/rps" {
			t.Fatalf("error %+v, want app.yaml:2:6 at /rps", e)
		}
		call(t, "GET", admin+"/api/v1/config", "", &cfg)
		if cfg.Version != 2 || cfg.Data["name"] != "two" {
			t.Fatalf("config after a rejection %+v, want version 2 still", cfg)
		}
	})
	t.Run("RollbackToVersion1", func(t *testing.T) {
		var o struct {
			Result  string `json:"result"`
			Version uint64 `json:"version"`
		}
		if code := call(t, "POST", admin+"/api/v1/rollback", `{"version":1}`, &o); code != 200 || o.Result != "committed" {
			t.Fatalf("rollback: %d %+v", code, o)
		}
		call(t, "GET", admin+"/api/v1/config", "", &cfg)
		if cfg.Version != o.Version || cfg.Data["name"] != "one" {
			t.Fatalf("config after rollback %+v", cfg)
		}
	})
	t.Run("Metrics", func(t *testing.T) {
		resp, err := http.Get(admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`hotreload_reloads_total{result="committed",target="config"}`,
			`hotreload_reloads_total{result="rejected",target="config"} 1`,
			`hotreload_validation_failures_total{target="config"} 1`,
			`hotreload_active_version{target="config"}`,
		} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

// TestServeReloadsOnSIGHUP checks SIGHUP with watching off.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"),
		"--mode", "dev", "--watch=false", "--listen", "127.0.0.1:0", "--health-window", "50ms")
	admin := p.urls["admin"]
	writeFile(t, file, "name: two\nrps: 5\n")
	time.Sleep(300 * time.Millisecond)
	if st := waitStatus(t, admin, "start", func(statusAnswer) bool { return true }); st.Active != 1 {
		t.Fatalf("reloaded without SIGHUP while watching is off: %+v", st)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, admin, "version 2 after SIGHUP", func(s statusAnswer) bool { return s.Active == 2 })
}

// TestServeConcurrentPatches sends 100 concurrent patches through the API:
// each is answered, committed or superseded by a newer patch made on top
// of it; versions are unique, history is complete and agrees with every
// answer, and the last patch to commit is live.
func TestServeConcurrentPatches(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 1\n")
	p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"),
		"--mode", "dev", "--watch=false", "--listen", "127.0.0.1:0", "--health-window", "1ms")
	admin := p.urls["admin"]
	const n = 100
	type answer struct {
		Result       string `json:"result"`
		Version      uint64 `json:"version"`
		SupersededBy uint64 `json:"superseded_by"`
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := call(t, "PATCH", admin+"/api/v1/config", fmt.Sprintf(`{"rps": %d}`, i+2), &answers[i])
			o := answers[i]
			switch {
			case code == 200 && o.Result == "committed":
			case code == 409 && o.Result == "superseded" && o.SupersededBy > o.Version:
			default:
				t.Errorf("patch %d: %d %+v", i, code, o)
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]string{}
	for _, o := range answers {
		if seen[o.Version] != "" {
			t.Fatalf("version %d answered twice", o.Version)
		}
		seen[o.Version] = o.Result
	}
	var h struct {
		Versions []struct {
			Version uint64 `json:"version"`
			Result  string `json:"result"`
		} `json:"versions"`
	}
	call(t, "GET", admin+"/api/v1/history", "", &h)
	agree, last := 0, uint64(0)
	for i, r := range h.Versions {
		if i > 0 && r.Version < h.Versions[i-1].Version {
			t.Fatalf("history not in version order at %d", r.Version)
		}
		if seen[r.Version] == r.Result {
			agree++
		}
		if r.Result == "committed" {
			last = r.Version
		}
	}
	if agree != n {
		t.Fatalf("history agrees with %d of the %d answers", agree, n)
	}
	var cfg configAnswer
	call(t, "GET", admin+"/api/v1/config", "", &cfg)
	if cfg.Version != last || seen[last] != "committed" {
		t.Fatalf("live version %d, last committed %d (%q)", cfg.Version, last, seen[last])
	}
}

// TestEveryCommandHasHelpWithAnExample checks --help for each subcommand.
func TestEveryCommandHasHelpWithAnExample(t *testing.T) {
	out, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	_, list, _ := strings.Cut(string(out), "Available Commands:")
	list, _, _ = strings.Cut(list, "\n\n")
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] != "help" && f[0] != "completion" {
			names = append(names, f[0])
		}
	}
	for _, want := range []string{"serve", "demo", "validate"} {
		if !slices.Contains(names, want) {
			t.Errorf("hotreload --help does not list %s", want)
		}
	}
	for _, name := range names {
		out, err := exec.Command(binary, name, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Examples:") {
			t.Errorf("hotreload %s --help: no example (err %v)\n%s", name, err, out)
		}
	}
}

// TestDemoColdCache is a new user's first run on a fresh machine: with an
// empty build cache the demo still prints its URLs within seconds and
// serves, builds its plugin in the background with a progress line, and
// the plugin joins through a transaction of its own when it is built.
func TestDemoColdCache(t *testing.T) {
	t.Parallel()
	started := time.Now()
	p := startEnv(t, []string{"GOCACHE=" + t.TempDir()}, "demo", "--dir", t.TempDir(), "--listen", "127.0.0.1:0", "--app-listen", "127.0.0.1:0", "--health-window", "1s")
	if took, bound := time.Since(started), testwait.D(3*time.Second); took > bound {
		t.Errorf("the demo printed its URLs after %s, want within %s", took, bound)
	}
	if g := demoGreeting(t, p.urls["app"]); g != "Hello, world!" {
		t.Fatalf("greeting before the plugin is built %q, want the plain one", g)
	}
	testwait.For(t, "a progress line for the plugin build", 10*time.Second, func() bool {
		return strings.Contains(p.stdout.String(), "building plugin shout for wasip1")
	})
	testwait.For(t, "the plugin built on a cold cache and loaded", 5*time.Minute, func() bool {
		return demoGreeting(t, p.urls["app"]) == "Hello, world! ✨"
	})
	if out := p.stdout.String(); !strings.Contains(out, "plugin shout built in") {
		t.Fatalf("no line saying the plugin was built in\n%s", out)
	}
	// The plugin's arrival is a committed transaction of the plugins target,
	// and the terminal says so.
	waitPluginCommitted(t, p.urls["admin"])
	testwait.For(t, "a line saying the plugin is loaded", 10*time.Second, func() bool {
		return regexp.MustCompile(`plugin shout loaded \(version \d+\)`).MatchString(p.stdout.String())
	})
}

// demoGreeting returns the demo app's greeting. The app calls its upstream
// (itself) with a 5 s timeout, which a loaded machine can exceed: a 502
// says nothing about the config, so it asks again until the app answers.
func demoGreeting(t *testing.T, app string) string {
	t.Helper()
	var g struct {
		Message string `json:"message"`
	}
	testwait.Until(t, "a greeting from the demo app", 30*time.Second, func() error {
		resp, err := http.Get(app + "/api/greeting")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		return json.Unmarshal(b, &g)
	})
	return g.Message
}

// waitPluginCommitted waits until the history at admin holds the demo
// plugin's arrival: a committed transaction from the plugins folder's
// watcher that changed the plugins target.
func waitPluginCommitted(t *testing.T, admin string) {
	t.Helper()
	var h struct {
		Versions []struct {
			Source  string `json:"source"`
			Result  string `json:"result"`
			Targets []struct {
				Target  string `json:"target"`
				Changed bool   `json:"changed"`
			} `json:"targets"`
		} `json:"versions"`
	}
	testwait.Until(t, "the plugin's transaction committed", 30*time.Second, func() error {
		call(t, "GET", admin+"/api/v1/history", "", &h)
		for _, v := range h.Versions {
			for _, tg := range v.Targets {
				if tg.Target == "plugins" && tg.Changed && v.Source == "watch" && v.Result == "committed" {
					return nil
				}
			}
		}
		return fmt.Errorf("history %+v", h)
	})
}

// TestDemoTour walks the README's tour on the real binary: edit, break,
// a change the health gate rolls back, and a rollback on purpose.
func TestDemoTour(t *testing.T) {
	dir := t.TempDir()
	p := start(t, "demo", "--dir", dir, "--listen", "127.0.0.1:0", "--app-listen", "127.0.0.1:0", "--health-window", "1s")
	admin, app := p.urls["admin"], p.urls["app"]
	if app == "" {
		t.Fatal("the demo printed no app URL")
	}
	file := filepath.Join(dir, "config.yaml")
	greeting := func() string { t.Helper(); return demoGreeting(t, app) }
	// The app serves at once; the plugin joins when its build is done
	// (about a minute on a cold build cache).
	testwait.For(t, "the plugin's decoration of the greeting", 3*time.Minute, func() bool {
		return greeting() == "Hello, world! ✨"
	})
	edit := func(old, new string) {
		t.Helper()
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("config.yaml has no %q", old)
		}
		writeFile(t, file, strings.Replace(string(b), old, new, 1))
	}

	// The start commits one version per target: config, plugins, UI; the
	// plugin joins in one more.
	waitPluginCommitted(t, admin)
	base := waitStatus(t, admin, "the plugin committed", func(s statusAnswer) bool { return s.Active > 3 && s.State == "committed" }).Active
	edit("name: world", "name: Gophers")
	waitStatus(t, admin, "the edit committed", func(s statusAnswer) bool { return s.Active == base+1 })
	if g := greeting(); !strings.Contains(g, "Hello, Gophers!") {
		t.Fatalf("greeting after the edit %q", g)
	}
	// One transaction reconfigures the plugin with the config.
	edit("upper: false", "upper: true")
	waitStatus(t, admin, "the plugin reconfigured", func(s statusAnswer) bool { return s.Active == base+2 })
	if g := greeting(); g != "HELLO, GOPHERS! ✨" {
		t.Fatalf("greeting after reconfiguring the plugin %q", g)
	}

	edit("rps: 50", "rps: 0")
	st := waitStatus(t, admin, "a rejection", func(s statusAnswer) bool { return s.Last != nil && s.Last.Result == "rejected" })
	if e := st.Last.Errors; len(e) == 0 || e[0].Path != "/limits/rps" || e[0].Line == 0 || e[0].Column == 0 {
		t.Fatalf("errors %+v", e)
	}
	if g := greeting(); g != "HELLO, GOPHERS! ✨" {
		t.Fatalf("greeting after a broken edit %q", g)
	}
	edit("rps: 0", "rps: 50")
	waitStatus(t, admin, "unchanged after the fix", func(s statusAnswer) bool { return s.Last != nil && s.Last.Result == "unchanged" })

	b, _ := os.ReadFile(file)
	upstream := regexp.MustCompile(`url: http://127\.0\.0\.1:\d+/upstream`).FindString(string(b))
	edit(upstream, "url: http://127.0.0.1:9/upstream")
	st = waitStatus(t, admin, "a rollback by the health gate", func(s statusAnswer) bool { return s.Last != nil && s.Last.Result == "rolled_back" })
	if st.Active != base+2 {
		t.Fatalf("active version after the health rollback %d, want %d", st.Active, base+2)
	}
	if g := greeting(); !strings.Contains(g, "HELLO, GOPHERS!") {
		t.Fatalf("greeting after the health rollback %q", g)
	}

	var o struct {
		Result  string `json:"result"`
		Version uint64 `json:"version"`
	}
	if code := call(t, "POST", admin+"/api/v1/rollback", `{"version":1}`, &o); code != 200 || o.Result != "committed" {
		t.Fatalf("rollback: %d %+v", code, o)
	}
	if g := greeting(); !strings.Contains(g, "Hello, world!") {
		t.Fatalf("greeting after rolling back to version 1 %q", g)
	}
}

// serveGatedOnDependency starts serve in dev mode on the config
// "name: one" whose changes are gated (gate, as in a checks file) by one
// critical HTTP check, run every interval, of a dependency that answers 503
// once healthy is set to false.
func serveGatedOnDependency(t *testing.T, gate, interval string) (p *daemonProc, file string, healthy *atomic.Bool) {
	t.Helper()
	healthy = new(atomic.Bool)
	healthy.Store(true)
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(dep.Close)
	dir, file := workspace(t, "name: one\nrps: 5\n")
	checks := filepath.Join(dir, "checks.yaml")
	writeFile(t, checks, fmt.Sprintf("gate: %s\nchecks:\n  - name: dependency\n    kind: http\n    url: %s/\n    critical: true\n    interval: %s\n    timeout: 1s\n", gate, dep.URL, interval))
	p = start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"), "--checks", checks,
		"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0")
	return p, file, healthy
}

// TestServeHealthGateRollsBack runs serve with a checks file whose critical
// HTTP check fails while a change is gated: the change rolls back by itself.
func TestServeHealthGateRollsBack(t *testing.T) {
	p, file, healthy := serveGatedOnDependency(t, "{window: 300ms, rounds: 3}", "10s")
	admin := p.urls["admin"]

	writeFile(t, file, "name: two\nrps: 5\n")
	// Versions 1 and 2 are the start of the config and the checks.
	st := waitStatus(t, admin, "version 3 committed while healthy", func(s statusAnswer) bool { return s.Active == 3 })
	active := st.Active

	// The dependency fails only now, inside the window of the next change
	// (its periodic check runs every 10 s, so the gate finds it passing
	// when the window opens and failing in the window).
	healthy.Store(false)
	writeFile(t, file, "name: three\nrps: 5\n")
	st = waitStatus(t, admin, "a rollback", func(s statusAnswer) bool { return s.Last != nil && s.Last.Result == "rolled_back" })
	if st.Active != active {
		t.Fatalf("active %d after the rollback, want %d", st.Active, active)
	}
	var cfg configAnswer
	call(t, "GET", admin+"/api/v1/config", "", &cfg)
	if cfg.Data["name"] != "two" {
		t.Fatalf("config after the rollback %+v", cfg)
	}
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `hotreload_rollbacks_total{reason="health",target="config"} 1`) {
		t.Errorf("/metrics lacks the health rollback:\n%s", grep(string(b), "rollbacks"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestZeroMeansWhatItSays: --health-window 0s is no watch window (one round
// of checks, then commit), not the mode's default; a zero where it would
// only mean the default is refused; a busy port fails before anything
// starts.
func TestZeroMeansWhatItSays(t *testing.T) {
	t.Run("HealthWindowZeroRunsOneRound", func(t *testing.T) {
		var probes atomic.Int64
		dep := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { probes.Add(1) }))
		defer dep.Close()
		dir, file := workspace(t, "name: one\nrps: 5\n")
		checks := filepath.Join(dir, "checks.yaml")
		writeFile(t, checks, fmt.Sprintf("checks:\n  - name: dependency\n    kind: http\n    url: %s/\n    critical: true\n    interval: 1h\n    timeout: 5s\n", dep.URL))
		p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"), "--checks", checks,
			"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", "0s")
		admin := p.urls["admin"]
		base := waitStatus(t, admin, "the start", func(s statusAnswer) bool { return s.Active >= 2 && s.State == "committed" }).Active
		// The monitor's own first round probes the dependency too: count
		// from after it.
		testwait.Until(t, "the monitor's first round", 30*time.Second, func() error {
			var h struct{ Unknown int }
			call(t, "GET", admin+"/api/v1/health", "", &h)
			if h.Unknown != 0 {
				return fmt.Errorf("%d checks not run yet", h.Unknown)
			}
			return nil
		})
		before := probes.Load()
		writeFile(t, file, "name: two\nrps: 5\n")
		waitStatus(t, admin, "the edit committed", func(s statusAnswer) bool { return s.Active == base+1 && s.State == "committed" })
		if n := probes.Load() - before; n != 1 {
			t.Fatalf("the gate probed the dependency %d times, want one round (the default window has %d)", n, 5)
		}
	})
	t.Run("ZeroTimeoutIsRefused", func(t *testing.T) {
		out, err := exec.Command(binary, "status", "--timeout", "0s").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--timeout 0s: must be more than 0") {
			t.Fatalf("status --timeout 0s: %v\n%s", err, out)
		}
		out, err = exec.Command(binary, "serve", "--config", "x.yaml", "--health-window", "-1s").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "must not be negative") {
			t.Fatalf("serve --health-window -1s: %v\n%s", err, out)
		}
	})
	t.Run("DemoOnABusyPortFailsFirst", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		dir := t.TempDir()
		cmd := exec.Command(binary, "demo", "--dir", dir, "--listen", busy.Addr().String(), "--app-listen", "127.0.0.1:0")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "listening for the admin API") {
			t.Fatalf("demo on a busy port: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "building plugin") {
			t.Fatalf("the demo started building before it had its ports:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(dir, ".hotreload")); err == nil {
			t.Fatal("the demo opened its history before it had its ports")
		}
	})
}

// TestPatchKeepsTheOperatorsFile: a PATCH through the API edits the YAML
// file in place (comments and order stay), and a comment added by hand
// afterwards does not wedge the next PATCH.
func TestPatchKeepsTheOperatorsFile(t *testing.T) {
	const original = "# The service's name, shown on every page.\nname: one # short\n# Requests per second.\nrps: 5\n"
	dir, file := workspace(t, original)
	p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"),
		"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", "0s")
	admin := p.urls["admin"]
	if code := call(t, "PATCH", admin+"/api/v1/config", `{"rps": 7}`, nil); code != 200 {
		t.Fatalf("PATCH: %d", code)
	}
	want := strings.Replace(original, "rps: 5", "rps: 7", 1)
	testwait.Until(t, "the patch written back", 10*time.Second, func() error {
		if b, _ := os.ReadFile(file); string(b) != want {
			return fmt.Errorf("file %q", b)
		}
		return nil
	})

	b, _ := os.ReadFile(file)
	writeFile(t, file, string(b)+"# tuned by hand\n")
	if code := call(t, "POST", admin+"/api/v1/reload", "", nil); code != 200 {
		t.Fatalf("reload: %d", code)
	}
	st := waitStatus(t, admin, "an unchanged reload", func(s statusAnswer) bool { return s.Last != nil && s.Last.Result == "unchanged" })
	if code := call(t, "PATCH", admin+"/api/v1/config", `{"name": "two"}`, nil); code != 200 {
		t.Fatalf("PATCH after a comment was added: %d", code)
	}
	testwait.Until(t, "the second patch written back", 10*time.Second, func() error {
		b, _ := os.ReadFile(file)
		if want := strings.Replace(want, "name: one", "name: two", 1) + "# tuned by hand\n"; string(b) != want {
			return fmt.Errorf("file %q, want %q", b, want)
		}
		return nil
	})
	var cfg configAnswer
	call(t, "GET", admin+"/api/v1/config", "", &cfg)
	if cfg.Data["name"] != "two" || cfg.Version <= st.Active {
		t.Fatalf("config %+v", cfg)
	}
}

// TestStrictPermissions: like sshd's StrictModes, the daemon refuses an
// auth file, age identity or data dir that other users can write, says the
// chmod to run, and refuses such an auth file on reload too;
// --insecure-permissions overrides and is logged.
func TestStrictPermissions(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	auth := filepath.Join(dir, "tokens.json")
	addToken := func(auth, name string) string {
		out, err := exec.Command(binary, "token", "add", "--auth-file", auth, "--role", "admin", "--name", name).Output()
		if err != nil {
			t.Fatalf("token add: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	first := addToken(auth, "first")
	if err := os.Chmod(auth, 0o666); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"), "--auth-file", auth, "--listen", "127.0.0.1:0"}
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "(mode 0666): run chmod go-w "+auth) {
		t.Fatalf("serve with a world-writable auth file: %v\n%s", err, out)
	}

	p := start(t, append(args, "--insecure-permissions")...)
	if !strings.Contains(p.stderr.String(), "--insecure-permissions") {
		t.Fatalf("the override is not logged:\n%s", p.stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	if err := os.Chmod(auth, 0o600); err != nil {
		t.Fatal(err)
	}
	p = start(t, args...)
	status := func(tok string) int {
		req, _ := http.NewRequest("GET", p.urls["admin"]+"/api/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := status(first); code != 200 {
		t.Fatalf("status with a valid token: %d", code)
	}
	// Someone makes the file world-writable and adds a token: the reload
	// is refused and logged; the old tokens keep working, the new is not.
	if err := os.Chmod(auth, 0o666); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "tokens.json")
	second := addToken(other, "second")
	b, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, auth, string(b)) // in place: the file stays world-writable
	testwait.For(t, "the refused reload logged", 10*time.Second, func() bool {
		return strings.Contains(p.stderr.String(), "auth file refused")
	})
	if code := status(second); code != 401 {
		t.Fatalf("a token added to a world-writable auth file was accepted: %d", code)
	}
	if code := status(first); code != 200 {
		t.Fatalf("the previous tokens stopped working: %d", code)
	}
}

// TestAuditTailCannotBeErased: delete the last line of audit.log, or cut
// it mid-line, while the daemon is stopped; at the next start it says so,
// status names the gap, /readyz answers 503, mutations are refused, and
// audit verify still reports the gap after it stops, until an operator
// runs audit accept-gap.
func TestAuditTailCannotBeErased(t *testing.T) {
	for _, cut := range []string{"line", "mid-line"} {
		t.Run(cut, func(t *testing.T) { auditTailCannotBeErased(t, cut) })
	}
}

func auditTailCannotBeErased(t *testing.T, cut string) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	data := filepath.Join(dir, "data")
	args := []string{"serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"), "--data-dir", data,
		"--mode", "dev", "--listen", "127.0.0.1:0", "--health-window", "0s"}
	stop := func(p *daemonProc) {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	}
	p := start(t, args...)
	if code := call(t, "PATCH", p.urls["admin"]+"/api/v1/config", `{"rps": 6}`, nil); code != 200 {
		t.Fatalf("PATCH: %d", code)
	}
	stop(p)
	log := filepath.Join(data, "audit.log")
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	kept := strings.Join(lines[:len(lines)-1], "") // the last record is gone
	if last := lines[len(lines)-1]; cut == "mid-line" {
		kept += last[:len(last)/2] // or cut in half
	}
	writeFile(t, log, kept)

	verify := func() (string, int) {
		cmd := exec.Command(binary, "audit", "verify", "--data-dir", data)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	p = start(t, args...)
	testwait.For(t, "a warning at start", 10*time.Second, func() bool {
		return strings.Contains(p.stderr.String(), "audit log is not intact")
	})
	var st map[string]any
	if code := call(t, "PATCH", p.urls["admin"]+"/api/v1/config", `{"rps": 7}`, &st); code != 503 {
		t.Fatalf("PATCH over an erased tail: %d %v", code, st)
	}
	testwait.Until(t, "status naming the gap", 10*time.Second, func() error {
		var status map[string]any
		call(t, "GET", p.urls["admin"]+"/api/v1/status", "", &status)
		if b, _ := json.Marshal(status); !strings.Contains(string(b), "acknowledged records were removed") {
			return fmt.Errorf("status %s", b)
		}
		return nil
	})
	testwait.Until(t, "/readyz 503 naming the gap", 10*time.Second, func() error {
		resp, err := http.Get(p.urls["admin"] + "/readyz")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !strings.Contains(string(body), "accept-gap") {
			return fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		return nil
	})
	stop(p)
	if out, code := verify(); code != 1 {
		t.Fatalf("verify after a start on the erased tail: %d\n%s", code, out)
	}

	out, err := exec.Command(binary, "audit", "accept-gap", "--data-dir", data, "--reason", "test: tail erased on purpose").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "gap recorded") {
		t.Fatalf("accept-gap: %v\n%s", err, out)
	}
	if out, code := verify(); code != 0 {
		t.Fatalf("verify after accept-gap: %d\n%s", code, out)
	}
	p = start(t, args...)
	if code := call(t, "PATCH", p.urls["admin"]+"/api/v1/config", `{"rps": 8}`, nil); code != 200 {
		t.Fatalf("PATCH after accept-gap: %d", code)
	}
}

// stoppedAfterAPatch runs the daemon on a new workspace with a data dir,
// sets rps to 6 with a PATCH and stops it; it returns the arguments that
// start it again and the data dir.
func stoppedAfterAPatch(t *testing.T) (args []string, data string) {
	t.Helper()
	dir, file := workspace(t, "name: one\nrps: 5\n")
	data = filepath.Join(dir, "data")
	args = []string{"serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"), "--data-dir", data,
		"--mode", "dev", "--listen", "127.0.0.1:0", "--health-window", "0s"}
	p := start(t, args...)
	if code := call(t, "PATCH", p.urls["admin"]+"/api/v1/config", `{"rps": 6}`, nil); code != 200 {
		t.Fatalf("PATCH: %d", code)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	return args, data
}

// contentLine is a line of the history's records log that holds content
// (history/doc.go): Object is its digest, Data the content.
type contentLine struct {
	Format int    `json:"format"`
	Object string `json:"object"`
	Data   []byte `json:"data"`
}

// damageContent deletes or corrupts (damage) the content in the history of
// data dir for which match is true, wherever it is stored: an object file,
// or an object line of the records log. A corrupt line keeps its digest,
// which no longer matches. It returns how many it damaged.
func damageContent(t *testing.T, data, damage string, match func([]byte) bool) int {
	t.Helper()
	spoil := func(b []byte) []byte { return append(bytes.Clone(b), " damaged"...) }
	n := 0
	objects, _ := filepath.Glob(filepath.Join(data, "history", "objects", "*"))
	for _, o := range objects {
		b, err := os.ReadFile(o)
		if err != nil {
			t.Fatal(err)
		}
		if !match(b) {
			continue
		}
		if n++; damage == "deleted" {
			os.Remove(o)
		} else {
			writeFile(t, o, string(spoil(b)))
		}
	}
	segments, _ := filepath.Glob(filepath.Join(data, "history", "records", "*.log"))
	for _, seg := range segments {
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for line := range bytes.Lines(b) {
			var l contentLine
			if json.Unmarshal(line, &l) != nil || l.Object == "" || !match(l.Data) {
				out = append(out, line...)
				continue
			}
			if n++; damage == "deleted" {
				continue
			}
			l.Data = spoil(l.Data)
			corrupt, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			out = append(append(out, corrupt...), '\n')
		}
		writeFile(t, seg, string(out))
	}
	return n
}

// TestStartsFromWhatIsIntact: with the last known good content in history
// deleted or corrupted, the daemon still starts from its valid config file
// and says why.
func TestStartsFromWhatIsIntact(t *testing.T) {
	for _, damage := range []string{"deleted", "corrupted"} {
		t.Run(damage, func(t *testing.T) {
			args, data := stoppedAfterAPatch(t)
			if damageContent(t, data, damage, func([]byte) bool { return true }) == 0 {
				t.Fatal("no history content to damage")
			}
			p := start(t, args...)
			var cfg configAnswer
			call(t, "GET", p.urls["admin"]+"/api/v1/config", "", &cfg)
			if cfg.Data["rps"] != 6.0 {
				t.Fatalf("config %+v, want the file's rps 6", cfg)
			}
			if !strings.Contains(p.stderr.String(), "cannot be restored") {
				t.Fatalf("the start does not say why:\n%s", p.stderr)
			}
		})
	}
}

// TestStartsOverDamagedRecords: a history whose records log has a damaged
// line and a torn end (docs/operations.md) does not stop the start: the
// damaged line is skipped and logged with its file and line, the torn end
// is cut without a word, and the config file loads.
func TestStartsOverDamagedRecords(t *testing.T) {
	args, data := stoppedAfterAPatch(t)
	segments, _ := filepath.Glob(filepath.Join(data, "history", "records", "*.log"))
	if len(segments) != 1 {
		t.Fatalf("segments %v, want one", segments)
	}
	log, err := os.ReadFile(segments[0])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(log, []byte(`"sha256":"`)) + len(`"sha256":"`)
	log[i] ^= 1 // the first record's checksum no longer matches
	damaged := fmt.Sprintf("%s:%d: skipped: checksum mismatch", segments[0], bytes.Count(log[:i], []byte("\n"))+1)
	writeFile(t, segments[0], string(log)+`{"format":2,"seq":9,"sha`)
	p := start(t, args...)
	var cfg configAnswer
	call(t, "GET", p.urls["admin"]+"/api/v1/config", "", &cfg)
	if cfg.Data["rps"] != 6.0 {
		t.Fatalf("config %+v, want the file's rps 6", cfg)
	}
	stderr := p.stderr.String()
	if !strings.Contains(stderr, "problem=") || !strings.Contains(stderr, damaged) {
		t.Fatalf("the start does not name the damaged line:\n%s", stderr)
	}
	if strings.Count(stderr, "problem=") != 1 {
		t.Fatalf("the torn end was reported too:\n%s", stderr)
	}
}

// TestRollbackSurvivesWatcherAndRestart: PATCH, then roll back at once:
// the file is written back with the restored content, so neither the
// watcher (re-reading the PATCH's own write-back) nor a restart undoes the
// rollback, and the comments of the file stay.
func TestRollbackSurvivesWatcherAndRestart(t *testing.T) {
	const original = "# the name\nname: one\nrps: 5 # per second\n"
	dir, file := workspace(t, original)
	args := []string{"serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"),
		"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", "0s"}
	p := start(t, args...)
	admin := p.urls["admin"]
	if code := call(t, "PATCH", admin+"/api/v1/config", `{"rps": 77}`, nil); code != 200 {
		t.Fatalf("PATCH: %d", code)
	}
	var o struct {
		Result string `json:"result"`
	}
	if code := call(t, "POST", admin+"/api/v1/rollback", `{}`, &o); code != 200 || o.Result != "committed" {
		t.Fatalf("rollback: %d %+v", code, o)
	}
	testwait.Until(t, "the rollback written back", 10*time.Second, func() error {
		if b, _ := os.ReadFile(file); string(b) != original {
			return fmt.Errorf("file %q", b)
		}
		return nil
	})
	// Whatever the watcher saw of the PATCH's write-back, the live value
	// stays the restored one: wait until it settled, then check.
	waitStatus(t, admin, "the watcher settled", func(s statusAnswer) bool { return s.Applied == 0 })
	var cfg configAnswer
	call(t, "GET", admin+"/api/v1/config", "", &cfg)
	if cfg.Data["rps"] != 5.0 {
		t.Fatalf("after the rollback the live rps is %v", cfg.Data["rps"])
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	p = start(t, args...)
	call(t, "GET", p.urls["admin"]+"/api/v1/config", "", &cfg)
	if cfg.Data["rps"] != 5.0 {
		t.Fatalf("after a restart rps is %v, want the rolled-back 5", cfg.Data["rps"])
	}
}
