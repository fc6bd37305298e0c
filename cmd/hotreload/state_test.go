package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"
)

// live is what GET /api/v1/config and its ETag say.
type live struct {
	Version uint64         `json:"version"`
	State   string         `json:"state"`
	Active  uint64         `json:"active"`
	Data    map[string]any `json:"data"`
	ETag    string         `json:"-"`
}

// getLive reads GET /api/v1/config with its ETag.
func getLive(t *testing.T, admin string) live {
	t.Helper()
	var l live
	code, h, body := request(t, "GET", admin+"/api/v1/config", "", nil, &l)
	if code != 200 {
		t.Fatalf("GET /api/v1/config: %d %s", code, body)
	}
	l.ETag = h.Get("ETag")
	return l
}

// request sends a request with headers (name, value pairs) and decodes a
// JSON answer into out (when not nil).
func request(t *testing.T, method, url, body string, header []string, out any) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
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
	return resp.StatusCode, resp.Header, b
}

// liveStatus is the part of GET /api/v1/status about the live version.
type liveStatus struct {
	Active  uint64 `json:"active"`
	Live    uint64 `json:"live"`
	State   string `json:"state"`
	Targets []struct {
		Name   string `json:"name"`
		State  string `json:"state"`
		Pinned bool   `json:"pinned"`
	} `json:"targets"`
	Last *struct {
		Result  string `json:"result"`
		Version uint64 `json:"version"`
		Reason  string `json:"reason"`
	} `json:"last"`
}

func getStatus(t *testing.T, admin string) liveStatus {
	t.Helper()
	var st liveStatus
	request(t, "GET", admin+"/api/v1/status", "", nil, &st)
	return st
}

// record is one version in history.
type record struct {
	Version      uint64 `json:"version"`
	Source       string `json:"source"`
	Result       string `json:"result"`
	Reason       string `json:"reason"`
	RestoredFrom uint64 `json:"restored_from"`
}

func getRecord(t *testing.T, admin string, v uint64) record {
	t.Helper()
	var r record
	request(t, "GET", fmt.Sprintf("%s/api/v1/history/%d", admin, v), "", nil, &r)
	return r
}

// waitLive waits until GET /api/v1/config satisfies cond.
func waitLive(t *testing.T, admin, what string, cond func(live) bool) live {
	t.Helper()
	var l live
	testwait.Until(t, what, 30*time.Second, func() error {
		if l = getLive(t, admin); !cond(l) {
			return fmt.Errorf("config %+v", l)
		}
		return nil
	})
	return l
}

// TestConfigShowsThePendingVersion: during a health window GET
// /api/v1/config answers the candidate's data with the candidate's
// (pending) version, state and ETag, as status, history and the event
// stream do; after the window the same version is committed.
func TestConfigShowsThePendingVersion(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"),
		"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", "4s")
	admin := p.urls["admin"]
	events := &testwait.Output{}
	resp, err := http.Get(admin + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	go func() { _, _ = io.Copy(events, resp.Body) }()
	testwait.For(t, "the event stream", 10*time.Second, func() bool { return strings.Contains(events.String(), "hotreload events") })

	writeFile(t, file, "name: two\nrps: 5\n")
	l := waitLive(t, admin, "the edit live", func(l live) bool { return l.Data["name"] == "two" })
	if l.Version != 2 || l.State != "pending" || l.Active != 1 || l.ETag != `"2-pending"` {
		t.Fatalf("in the health window GET /api/v1/config = %+v, want version 2 pending (active 1), ETag \"2-pending\"", l)
	}
	if st := getStatus(t, admin); st.Live != 2 || st.State != "pending" || st.Active != 1 {
		t.Fatalf("status in the window %+v", st)
	}
	// The pending record's write overlaps the apply: it is there at once.
	testwait.Until(t, "version 2 pending in history", 10*time.Second, func() error {
		if r := getRecord(t, admin, 2); r.Result != "pending" {
			return fmt.Errorf("history of version 2 in its window: %+v", r)
		}
		return nil
	})
	l = waitLive(t, admin, "the commit", func(l live) bool { return l.State == "committed" })
	if l.Version != 2 || l.Active != 2 || l.Data["name"] != "two" || l.ETag != `"2"` {
		t.Fatalf("after the window GET /api/v1/config = %+v", l)
	}
	testwait.For(t, "the commit on the event stream", 10*time.Second, func() bool {
		s := events.String()
		i := strings.Index(s, "event: reload_pending\ndata: ")
		return i >= 0 && strings.Contains(s[i:], `"version":2`) && strings.Contains(s[i:], `"result":"committed","version":2`)
	})
}

// TestNewerSaveSupersedesPending: two saves in a row under a 10 s health
// window: the second is live within a few seconds (not after the first's
// window), the first is recorded as superseded, and the second commits
// after its own window.
func TestNewerSaveSupersedesPending(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"),
		"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", "10s")
	admin := p.urls["admin"]

	writeFile(t, file, "name: two\nrps: 5\n")
	waitLive(t, admin, "the first save live", func(l live) bool { return l.Data["name"] == "two" && l.State == "pending" })
	saved := time.Now()
	writeFile(t, file, "name: three\nrps: 5\n")
	l := waitLive(t, admin, "the second save live", func(l live) bool { return l.Data["name"] == "three" })
	took := time.Since(saved)
	if took > testwait.D(5*time.Second) {
		t.Fatalf("the second save took %s to go live: it waited for the first one's window", took)
	}
	t.Logf("the second save was live %s after it was written (health window 10s)", took)
	if l.Version != 3 || l.State != "pending" || l.Active != 1 {
		t.Fatalf("after the second save %+v, want version 3 pending on active 1", l)
	}
	if r := getRecord(t, admin, 2); r.Result != "superseded" || !strings.Contains(r.Reason, "version 3") {
		t.Fatalf("the first save's record %+v, want superseded by version 3", r)
	}
	l = waitLive(t, admin, "the second save committed", func(l live) bool { return l.State == "committed" })
	if l.Version != 3 || l.Active != 3 || l.Data["name"] != "three" {
		t.Fatalf("after the window %+v", l)
	}
	if r := getRecord(t, admin, 3); r.Result != "committed" {
		t.Fatalf("version 3: %+v", r)
	}
}

// TestSupersedingFailureRollsBackToCommitted: a save supersedes a pending
// one and then fails its health window: both are undone, and the last
// committed version is live again.
func TestSupersedingFailureRollsBackToCommitted(t *testing.T) {
	p, file, healthy := serveGatedOnDependency(t, "{window: 4s, rounds: 4}", "1h")
	admin := p.urls["admin"]
	base := getLive(t, admin).Active // the config's and the checks' start

	writeFile(t, file, "name: two\nrps: 5\n")
	waitLive(t, admin, "the first save pending", func(l live) bool { return l.Data["name"] == "two" && l.State == "pending" })
	healthy.Store(false)
	writeFile(t, file, "name: three\nrps: 5\n")
	l := waitLive(t, admin, "the rollback", func(l live) bool { return l.Data["name"] == "one" && l.State == "committed" })
	if l.Version != base || l.Active != base {
		t.Fatalf("after the rollback %+v, want the committed version %d", l, base)
	}
	testwait.Until(t, "both saves' outcomes in history", 10*time.Second, func() error {
		if a, b := getRecord(t, admin, base+1), getRecord(t, admin, base+2); a.Result != "superseded" || b.Result != "rolled_back" {
			return fmt.Errorf("the first save %+v, the second %+v", a, b)
		}
		return nil
	})
}

// TestMutationsAnswerPromptly: a PATCH answers 202 Accepted after the
// wait it prefers, with the pending version and its history Location,
// which then shows the outcome; the CLI waits with a progress line and
// prints the outcome.
func TestMutationsAnswerPromptly(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"),
		"--mode", "dev", "--watch=false", "--listen", "127.0.0.1:0", "--health-window", "4s")
	admin := p.urls["admin"]

	var o struct {
		Result  string `json:"result"`
		Version uint64 `json:"version"`
	}
	t0 := time.Now()
	code, h, body := request(t, "PATCH", admin+"/api/v1/config", `{"rps": 6}`, []string{"Prefer", "wait=1"}, &o)
	took := time.Since(t0)
	if took > testwait.D(3*time.Second) {
		t.Fatalf("PATCH with Prefer: wait=1 answered after %s", took)
	}
	t.Logf("PATCH with Prefer: wait=1 answered after %s (health window 4s)", took)
	if code != 202 || o.Result != "pending" || o.Version != 2 || h.Get("Location") != "/api/v1/history/2" ||
		h.Get("ETag") != `"2-pending"` || h.Get("Preference-Applied") != "wait=1" {
		t.Fatalf("PATCH = %d %s %v, want 202 pending version 2 at /api/v1/history/2", code, body, h)
	}
	if r := getRecord(t, admin, 2); r.Result != "pending" {
		t.Fatalf("Location in the window: %+v", r)
	}
	testwait.Until(t, "the outcome at Location", 30*time.Second, func() error {
		if r := getRecord(t, admin, 2); r.Result != "committed" {
			return fmt.Errorf("%+v", r)
		}
		return nil
	})

	cmd := exec.Command(binary, "rollback", "--addr", admin)
	var stdout, stderr testwait.Output
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hotreload rollback: %v\n%s%s", err, &stdout, &stderr)
	}
	if !strings.Contains(stderr.String(), "version 3 is live and in its health window") ||
		!strings.HasPrefix(stdout.String(), "committed: version 3, active 3") {
		t.Fatalf("hotreload rollback printed:\n%s--- stderr\n%s", &stdout, &stderr)
	}
	if l := getLive(t, admin); l.Data["rps"] != 5.0 || l.Version != 3 {
		t.Fatalf("after the rollback %+v", l)
	}
}

// TestRollbackIsNotUndone: a rollback right after a PATCH, during its
// window or after its write-back, is written back to the file; neither the
// watcher (reading hotreload's own write-backs) nor a restart undoes it,
// and an operator's edit afterwards applies to the restored state.
func TestRollbackIsNotUndone(t *testing.T) {
	for _, window := range []string{"3s", "0s"} {
		t.Run("window "+window, func(t *testing.T) {
			const original = "# the name\nname: one\nrps: 5 # per second\n"
			dir, file := workspace(t, original)
			args := []string{"serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"),
				"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", window}
			p := start(t, args...)
			admin := p.urls["admin"]
			wait0 := []string{"Prefer", "wait=0"}
			if code, _, body := request(t, "PATCH", admin+"/api/v1/config", `{"rps": 77}`, wait0, nil); code != 200 && code != 202 {
				t.Fatalf("PATCH: %d %s", code, body)
			}
			var o struct {
				Version uint64 `json:"version"`
			}
			if code, _, body := request(t, "POST", admin+"/api/v1/rollback", `{}`, wait0, &o); code != 200 && code != 202 {
				t.Fatalf("rollback: %d %s", code, body)
			}
			l := waitLive(t, admin, "the rollback committed", func(l live) bool { return l.Active == o.Version })
			if l.Data["rps"] != 5.0 {
				t.Fatalf("after the rollback %+v", l)
			}
			if r := getRecord(t, admin, o.Version); r.RestoredFrom != 1 {
				t.Fatalf("the rollback's record %+v, want restored from 1", r)
			}
			// The status says committed before the file is written back.
			testwait.Until(t, "the rollback written back", 10*time.Second, func() error {
				if b, _ := os.ReadFile(file); string(b) != original {
					return fmt.Errorf("file after the rollback %q, want %q", b, original)
				}
				return nil
			})
			// The watcher saw hotreload's own write-backs, if any, before it
			// sees this edit of the operator's: when the edit is live, the
			// write-backs were taken for no edit. The edit is renamed over
			// the file, so that no read sees it half written (with no
			// debounce, a read between os.WriteFile's truncate and write
			// is rightly rejected, and would count here).
			tmp := file + ".edit"
			writeFile(t, tmp, strings.Replace(original, "name: one", "name: two", 1))
			if err := os.Rename(tmp, file); err != nil {
				t.Fatal(err)
			}
			edit := waitLive(t, admin, "the operator's edit", func(l live) bool { return l.Data["name"] == "two" && l.State == "committed" })
			if edit.Data["rps"] != 5.0 {
				t.Fatalf("after the operator's edit %+v", edit)
			}
			var h struct {
				Versions []record `json:"versions"`
			}
			request(t, "GET", admin+"/api/v1/history", "", nil, &h)
			for _, r := range h.Versions {
				if r.Source == "watch" && r.Result != "unchanged" && r.Version != edit.Version {
					t.Fatalf("the watcher took a write-back for an edit: %+v", r)
				}
			}
			o.Version = edit.Version
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.cmd.Wait()
			p = start(t, args...)
			if l := getLive(t, p.urls["admin"]); l.Data["rps"] != 5.0 || l.Data["name"] != "two" || l.Version != o.Version {
				t.Fatalf("after a restart %+v, want version %d with rps 5", l, o.Version)
			}
		})
	}
}

// TestRollbackPinsAReadOnlySource: with several config files (a source
// hotreload does not write), a rollback pins its version: status says so,
// a reload of the files as they were and a restart keep it, and the next
// real change ends it.
func TestRollbackPinsAReadOnlySource(t *testing.T) {
	dir, base := workspace(t, "name: one\nrps: 5\n")
	over := filepath.Join(dir, "override.yaml")
	writeFile(t, over, "rps: 6\n")
	args := []string{"serve", "--config", base, "--config", over, "--schema", filepath.Join(dir, "schema.json"),
		"--data-dir", filepath.Join(dir, "data"), "--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", "0s"}
	p := start(t, args...)
	admin := p.urls["admin"]
	writeFile(t, over, "rps: 7\n")
	waitLive(t, admin, "the edit", func(l live) bool { return l.Data["rps"] == 7.0 })

	var o struct {
		Result  string `json:"result"`
		Version uint64 `json:"version"`
	}
	if code, _, body := request(t, "POST", admin+"/api/v1/rollback", `{}`, nil, &o); code != 200 || o.Result != "committed" {
		t.Fatalf("rollback: %d %s", code, body)
	}
	pinned := func(admin string) bool {
		st := getStatus(t, admin)
		return len(st.Targets) == 1 && st.Targets[0].Pinned && st.Targets[0].State == "pinned"
	}
	if l := getLive(t, admin); l.Data["rps"] != 6.0 || !pinned(admin) {
		t.Fatalf("after the rollback %+v, status %+v", l, getStatus(t, admin))
	}
	// A reload finds the source as it was: no change of it.
	var r struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	}
	if code, _, body := request(t, "POST", admin+"/api/v1/reload", "", nil, &r); code != 200 || r.Result != "unchanged" || !strings.Contains(r.Reason, "pinned") {
		t.Fatalf("reload of the pinned source: %d %s", code, body)
	}
	if l := getLive(t, admin); l.Data["rps"] != 6.0 || l.Version != o.Version {
		t.Fatalf("a save of the same content undid the rollback: %+v", l)
	}

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	p = start(t, args...)
	admin = p.urls["admin"]
	if l := getLive(t, admin); l.Data["rps"] != 6.0 || l.Version != o.Version || !pinned(admin) {
		t.Fatalf("after a restart %+v, status %+v; want version %d, rps 6, pinned", l, getStatus(t, admin), o.Version)
	}

	writeFile(t, over, "rps: 8\n")
	waitLive(t, admin, "the next real change", func(l live) bool { return l.Data["rps"] == 8.0 && l.State == "committed" })
	if pinned(admin) {
		t.Fatalf("still pinned after a change of the source: %+v", getStatus(t, admin))
	}
}
