package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/admin/auth"
	"github.com/cybercorp/hotreload/audit"
	"github.com/cybercorp/hotreload/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStatusConfigHistoryDiff(t *testing.T) {
	s := newStack(t, stackOptions{})
	v1, data := s.config()
	if v1 == 0 || data["name"] != "demo" {
		t.Fatalf("config = %d %v", v1, data)
	}
	status, h, body := s.do("PATCH", "/api/v1/config", auth.Operator, `{"name": "changed"}`, "If-Match", `"`+itoa(v1)+`"`)
	if status != 200 {
		t.Fatalf("PATCH = %d %s", status, body)
	}
	var o hotreload.Outcome
	must(t, json.Unmarshal(body, &o))
	if o.Result != hotreload.Committed || h.Get("ETag") != `"`+itoa(o.Active)+`"` {
		t.Fatalf("PATCH outcome = %+v, ETag %q", o, h.Get("ETag"))
	}

	status, _, body = s.do("GET", "/api/v1/status", auth.Viewer, "")
	var st map[string]any
	must(t, json.Unmarshal(body, &st))
	if status != 200 || st["mode"] != "prod" || st["active"] != float64(o.Active) || st["targets"] == nil || st["last"] == nil {
		t.Fatalf("status = %d %s", status, body)
	}

	status, _, body = s.do("GET", "/api/v1/history", auth.Viewer, "")
	var hist admin.HistoryAnswer
	must(t, json.Unmarshal(body, &hist))
	if status != 200 || len(hist.Versions) < 2 || hist.Active != o.Active {
		t.Fatalf("history = %d %s", status, body)
	}
	status, _, body = s.do("GET", "/api/v1/history/"+itoa(o.Active), auth.Viewer, "")
	if status != 200 || !strings.Contains(string(body), `"result":"committed"`) {
		t.Fatalf("history/N = %d %s", status, body)
	}
	status, _, body = s.do("GET", "/api/v1/history/99/", auth.Viewer, "")
	if status != 404 {
		t.Fatalf("history/99/ = %d %s", status, body)
	}
	status, _, body = s.do("GET", fmt.Sprintf("/api/v1/history/%d/diff/%d", v1, o.Active), auth.Viewer, "")
	var d admin.DiffAnswer
	must(t, json.Unmarshal(body, &d))
	if status != 200 || len(d.Targets) != 1 || len(d.Targets[0].Changes) != 1 || d.Targets[0].Changes[0].Path != "/name" {
		t.Fatalf("diff = %d %s", status, body)
	}
	for path, want := range map[string]hotreload.Code{
		"/api/v1/history/0":          hotreload.CodeInvalid,
		"/api/v1/history/x":          hotreload.CodeInvalid,
		"/api/v1/history/999":        hotreload.CodeNotFound,
		"/api/v1/history/1/diff/999": hotreload.CodeNotFound,
	} {
		status, _, body := s.do("GET", path, auth.Viewer, "")
		if got := errorCode(t, body); got != want || status != hotreload.HTTPStatus(want) {
			t.Errorf("GET %s = %d %s, want %s", path, status, got, want)
		}
	}
	// If-None-Match with the current ETag is 304.
	if status, _, _ := s.do("GET", "/api/v1/config", auth.Viewer, "", "If-None-Match", `"`+itoa(o.Active)+`"`); status != 304 {
		t.Fatalf("If-None-Match = %d, want 304", status)
	}
}

func TestReloadAndRollbackOutcomes(t *testing.T) {
	s := newStack(t, stackOptions{})
	check := func(method, path, body string, wantStatus int, want hotreload.Result) hotreload.Outcome {
		t.Helper()
		status, _, b := s.do(method, path, auth.Operator, body)
		var o hotreload.Outcome
		must(t, json.Unmarshal(b, &o))
		if status != wantStatus || o.Result != want {
			t.Fatalf("%s %s = %d %s, want %d %s", method, path, status, b, wantStatus, want)
		}
		return o
	}
	check("POST", "/api/v1/reload", "", 200, hotreload.Unchanged)
	must(t, os.WriteFile(s.file, []byte(`{"counter": 1, "name": "demo"}`), 0o600))
	committed := check("POST", "/api/v1/reload", `{"targets": ["config"]}`, 200, hotreload.Committed)

	must(t, os.WriteFile(s.file, []byte("{\"counter\": 2,\n \"name\": }"), 0o600))
	rejected := check("POST", "/api/v1/reload", "", 422, hotreload.Rejected)
	if len(rejected.Errors) == 0 || rejected.Errors[0].Line != 2 {
		t.Fatalf("rejected errors = %+v, want the line of the syntax error", rejected.Errors)
	}

	must(t, os.WriteFile(s.file, []byte(`{"counter": 3, "name": "demo"}`), 0o600))
	s.gate.fail.Store(true)
	rolled := check("POST", "/api/v1/reload", "", 409, hotreload.RolledBack)
	if rolled.Active != committed.Active || !strings.Contains(rolled.Reason, "injected health failure") {
		t.Fatalf("rolled back = %+v", rolled)
	}
	s.gate.fail.Store(false)

	back := check("POST", "/api/v1/rollback", `{"version": 1}`, 200, hotreload.Committed)
	if _, data := s.config(); data["counter"] != float64(0) || back.Active <= committed.Active {
		t.Fatalf("after rollback to 1: %v, %+v", data, back)
	}
	status, _, body := s.do("POST", "/api/v1/rollback", auth.Operator, `{"version": 3}`)
	if errorCode(t, body) != hotreload.CodeConflict || status != 409 {
		t.Fatalf("rollback to a rejected version = %d %s", status, body)
	}
	status, _, body = s.do("POST", "/api/v1/reload", auth.Operator, `{"targets": ["nope"]}`)
	if errorCode(t, body) != hotreload.CodeNotFound || status != 404 {
		t.Fatalf("reload of an unknown target = %d %s", status, body)
	}
}

func TestPatchIfMatch(t *testing.T) {
	s := newStack(t, stackOptions{})
	v, _ := s.config()
	for name, tc := range map[string]struct {
		ifMatch string
		want    hotreload.Code
	}{
		"ErrMissingInProd": {"", hotreload.CodePrecondition},
		"ErrStale":         {`"` + itoa(v+7) + `"`, hotreload.CodePrecondition},
		"ErrMalformed":     {"12", hotreload.CodeInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			var hdr []string
			if tc.ifMatch != "" {
				hdr = []string{"If-Match", tc.ifMatch}
			}
			status, _, body := s.do("PATCH", "/api/v1/config", auth.Operator, `{"name": "lost"}`, hdr...)
			if got := errorCode(t, body); got != tc.want || status != hotreload.HTTPStatus(tc.want) {
				t.Fatalf("PATCH = %d %s, want %s", status, body, tc.want)
			}
			if nv, data := s.config(); nv != v || data["name"] != "demo" {
				t.Fatalf("a refused PATCH changed the config: %d %v", nv, data)
			}
		})
	}
	t.Run("Wildcard", func(t *testing.T) {
		if status, _, body := s.do("PATCH", "/api/v1/config", auth.Operator, `{"name": "any"}`, "If-Match", "*"); status != 200 {
			t.Fatalf("If-Match * = %d %s", status, body)
		}
	})
	t.Run("ErrNotAnObject", func(t *testing.T) {
		v, _ := s.config()
		status, _, body := s.do("PATCH", "/api/v1/config", auth.Operator, `[1]`, "If-Match", `"`+itoa(v)+`"`)
		if errorCode(t, body) != hotreload.CodeInvalid || status != 422 {
			t.Fatalf("PATCH [1] = %d %s", status, body)
		}
	})
}

// TestConcurrentPatchersLoseNoUpdate runs 100 read-modify-write clients
// that each increment a counter with If-Match and retry on 412: every
// increment must land exactly once.
func TestConcurrentPatchersLoseNoUpdate(t *testing.T) {
	s := newStack(t, stackOptions{})
	const clients = 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	retries := 0
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; ; attempt++ {
				if attempt > 500 {
					errs <- fmt.Errorf("gave up after %d attempts", attempt)
					return
				}
				v, data := s.config()
				n := data["counter"].(float64)
				status, _, body := s.do("PATCH", "/api/v1/config", auth.Operator,
					fmt.Sprintf(`{"counter": %d}`, int(n)+1), "If-Match", `"`+itoa(v)+`"`)
				switch status {
				case 200:
					return
				case 409:
					// Superseded by a newer patch, made on top of this
					// one: it landed if that one committed.
					if landed(t, s, body) {
						return
					}
				case 412:
					mu.Lock()
					retries++
					mu.Unlock()
					// Back off like a polite client: random, growing.
					time.Sleep(time.Duration(rand.IntN(1<<min(attempt, 6))) * time.Millisecond)
				default:
					errs <- fmt.Errorf("PATCH = %d %s", status, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, data := s.config(); data["counter"] != float64(clients) {
		t.Fatalf("counter = %v after %d increments (%d retries): updates were lost", data["counter"], clients, retries)
	}
	t.Logf("%d increments, %d stale-ETag retries", clients, retries)
}

// landed follows a superseded outcome to the version that superseded it
// (and any that superseded that one) and reports whether it committed.
func landed(t *testing.T, s *stack, body []byte) bool {
	var o hotreload.Outcome
	must(t, json.Unmarshal(body, &o))
	by := o.SupersededBy
	for by != 0 {
		var rec hotreload.Record
		testwait.Until(t, "the superseding version's outcome", 10*time.Second, func() error {
			_, _, b := s.do("GET", "/api/v1/history/"+itoa(by), auth.Viewer, "")
			rec = hotreload.Record{}
			if err := json.Unmarshal(b, &rec); err != nil || rec.Result == "" || rec.Result == hotreload.Pending {
				return fmt.Errorf("version %d: %s", by, b)
			}
			return nil
		})
		if rec.Result != hotreload.Superseded {
			return rec.Result == hotreload.Committed
		}
		_, err := fmt.Sscanf(rec.Reason, "superseded by version %d", &by)
		must(t, err)
	}
	return false
}

func TestHardening(t *testing.T) {
	s := newStack(t, stackOptions{adjust: func(o *admin.Options) {
		o.MaxBodyBytes = 64
		o.AllowedHosts = []string{"admin.example"}
		o.AllowedOrigins = []string{"https://dash.example"}
	}})
	v, _ := s.config()
	ifm := `"` + itoa(v) + `"`
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		header       []string
		status       int
		code         hotreload.Code
	}{
		{"ErrTooLarge", "PATCH", "/api/v1/config", `{"name": "` + strings.Repeat("x", 100) + `"}`, []string{"If-Match", ifm}, 413, hotreload.CodeTooLarge},
		{"ErrUnknownField", "POST", "/api/v1/rollback", `{"version": 1, "force": true}`, nil, 422, hotreload.CodeInvalid},
		{"ErrTrailingData", "POST", "/api/v1/rollback", `{"version": 1} {}`, nil, 422, hotreload.CodeInvalid},
		{"ErrSyntax", "POST", "/api/v1/reload", `{"targets": [}`, nil, 422, hotreload.CodeInvalid},
		{"ErrType", "POST", "/api/v1/rollback", `{"version": "one"}`, nil, 422, hotreload.CodeInvalid},
		{"ErrContentType", "PATCH", "/api/v1/config", `{}`, []string{"If-Match", ifm, "Content-Type", "text/plain"}, 415, hotreload.CodeUnsupportedType},
		{"ErrRebindingHost", "GET", "/api/v1/status", "", []string{"Host", "attacker.example:7070"}, 403, hotreload.CodeForbidden},
		{"ErrRebindingHostUnknownPath", "GET", "/nope", "", []string{"Host", "attacker.example"}, 403, hotreload.CodeForbidden},
		{"ErrCrossOrigin", "POST", "/api/v1/reload", "", []string{"Origin", "https://evil.example"}, 403, hotreload.CodeForbidden},
		{"ErrCrossOriginRead", "GET", "/api/v1/config", "", []string{"Origin", "https://evil.example"}, 403, hotreload.CodeForbidden},
		{"ErrNullOrigin", "POST", "/api/v1/reload", "", []string{"Origin", "null"}, 403, hotreload.CodeForbidden},
		{"ErrCrossSiteFetch", "POST", "/api/v1/reload", "", []string{"Sec-Fetch-Site", "cross-site"}, 403, hotreload.CodeForbidden},
		{"ErrNotFound", "GET", "/api/v1/nope", "", nil, 404, hotreload.CodeNotFound},
		{"ErrMethod", "DELETE", "/api/v1/status", "", nil, 405, hotreload.CodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := s.do(tc.method, tc.path, auth.Admin, tc.body, tc.header...)
			if status != tc.status || errorCode(t, body) != tc.code {
				t.Fatalf("%s %s = %d %s, want %d %s", tc.method, tc.path, status, body, tc.status, tc.code)
			}
			if h.Get("Content-Type") != "application/json" || h.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("Content-Type = %q, X-Frame-Options = %q", h.Get("Content-Type"), h.Get("X-Frame-Options"))
			}
		})
	}
	if nv, data := s.config(); nv != v || data["name"] != "demo" {
		t.Fatalf("bad requests changed the config: %d %v", nv, data)
	}
	for _, hdr := range [][]string{
		{"Host", "admin.example"},
		{"Host", "localhost:7070"},
		{"Host", "[::1]:7070"},
		{"Origin", "https://dash.example"},
		{"Sec-Fetch-Site", "same-origin"},
	} {
		if status, _, body := s.do("GET", "/api/v1/status", auth.Viewer, "", hdr...); status != 200 {
			t.Errorf("with %s: %s = %d %s", hdr[0], hdr[1], status, body)
		}
	}
	// Same origin: the Origin names the server itself.
	if status, _, body := s.do("GET", "/api/v1/status", auth.Viewer, "", "Origin", s.http.URL); status != 200 {
		t.Errorf("same-origin request = %d %s", status, body)
	}
}

func TestHTTPServerTimeouts(t *testing.T) {
	srv := admin.NewHTTPServer("127.0.0.1:0", http.NotFoundHandler())
	if srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 || srv.MaxHeaderBytes == 0 {
		t.Fatalf("a timeout or limit is unset: %+v", srv)
	}
}

func TestEventStream(t *testing.T) {
	s := newStack(t, stackOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.http.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+s.tokens[auth.Viewer])
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	must(t, os.WriteFile(s.file, []byte(`{"counter": 5, "name": "demo"}`), 0o600))
	go s.do("POST", "/api/v1/reload", auth.Operator, "")
	sc := bufio.NewScanner(resp.Body)
	var seen []string
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			seen = append(seen, name)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && seen[len(seen)-1] == hotreload.TypeReload {
			var ev hotreload.ReloadEvent
			must(t, json.Unmarshal([]byte(data), &ev))
			if ev.Result != hotreload.Committed || ev.Source != "api" {
				t.Fatalf("reload event = %s", data)
			}
			break
		}
	}
	want := []string{hotreload.TypeReloadStart, hotreload.TypePending, hotreload.TypeConfigReload, hotreload.TypeReload}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("events = %v, want %v", seen, want)
	}
}

func TestCloseEndsEventStreams(t *testing.T) {
	s := newStack(t, stackOptions{})
	req, _ := http.NewRequest("GET", s.http.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+s.tokens[auth.Viewer])
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() { _, err := bufio.NewReader(resp.Body).ReadString(0); done <- err }()
	s.srv.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream outlived Close")
	}
}

func TestModes(t *testing.T) {
	base := func(mode admin.Mode, listen string) admin.Options {
		return admin.Options{Mode: mode, Listen: listen, Engine: stubEngine{}, History: emptyHistory{}}
	}
	t.Run("ErrProdWithoutTokens", func(t *testing.T) {
		if _, err := admin.New(base(admin.Prod, "127.0.0.1:7070")); err == nil || !strings.Contains(err.Error(), "auth file") {
			t.Fatalf("New = %v", err)
		}
	})
	t.Run("ErrOpenOnPublicAddress", func(t *testing.T) {
		if _, err := admin.New(base(admin.Dev, "0.0.0.0:7070")); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("New = %v", err)
		}
	})
	t.Run("ErrMode", func(t *testing.T) {
		if _, err := admin.ParseMode("staging"); err == nil {
			t.Fatal("ParseMode accepted staging")
		}
	})
	t.Run("DevOpenOnLoopback", func(t *testing.T) {
		s := newStack(t, stackOptions{mode: admin.Dev, open: true})
		status, _, body := s.do("GET", "/api/v1/whoami", auth.Public, "")
		if status != 200 || !strings.Contains(string(body), `"anonymous"`) {
			t.Fatalf("whoami = %d %s", status, body)
		}
		// Dev needs no If-Match.
		if status, _, body := s.do("PATCH", "/api/v1/config", auth.Public, `{"name": "x"}`); status != 200 {
			t.Fatalf("PATCH in dev = %d %s", status, body)
		}
		if status, _, body := s.do("GET", "/debug/pprof/", auth.Public, ""); status != 200 || !strings.Contains(string(body), "goroutine") {
			t.Fatalf("pprof in dev = %d", status)
		}
		status, _, body = s.do("GET", "/debug/events", auth.Public, "")
		if status != 200 || !strings.Contains(string(body), `"type":"reload"`) {
			t.Fatalf("event trace = %d %s", status, body)
		}
	})
	t.Run("ProdHasNoDebug", func(t *testing.T) {
		s := newStack(t, stackOptions{})
		for _, path := range []string{"/debug/pprof/", "/debug/events"} {
			if status, _, _ := s.do("GET", path, auth.Admin, ""); status != 404 {
				t.Errorf("GET %s in prod = %d, want 404", path, status)
			}
		}
	})
}

func TestSessionCookie(t *testing.T) {
	s := newStack(t, stackOptions{})
	status, h, body := s.do("POST", "/api/v1/session", auth.Public, `{"token": "`+s.tokens[auth.Viewer]+`"}`)
	if status != 200 {
		t.Fatalf("session = %d %s", status, body)
	}
	cookie := h.Get("Set-Cookie")
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Fatalf("cookie = %q", cookie)
	}
	if status, _, body := s.do("GET", "/api/v1/whoami", auth.Public, "", "Cookie", strings.Split(cookie, ";")[0]); status != 200 || !strings.Contains(string(body), `"viewer"`) {
		t.Fatalf("whoami with the cookie = %d %s", status, body)
	}
	if status, _, body := s.do("POST", "/api/v1/session", auth.Public, `{"token": "hrt_bad"}`); status != 401 {
		t.Fatalf("session with a bad token = %d %s", status, body)
	}
}

func TestAuthFileReloadedWithoutRestart(t *testing.T) {
	s := newStack(t, stackOptions{})
	authFile := filepath.Join(s.dir, "auth.json")
	tok, err := auth.Add(authFile, "late", auth.Viewer)
	must(t, err)
	status, _, _ := s.do("GET", "/api/v1/status", auth.Public, "", "Authorization", "Bearer "+tok)
	if status != 401 {
		t.Fatalf("before reload = %d, want 401", status)
	}
	// The daemon calls Reload from its watch on the auth file.
	must(t, s.store.Reload())
	if status, _, body := s.do("GET", "/api/v1/status", auth.Public, "", "Authorization", "Bearer "+tok); status != 200 {
		t.Fatalf("after reload = %d %s", status, body)
	}
}

func TestRefusalsAreAudited(t *testing.T) {
	s := newStack(t, stackOptions{})
	v, _ := s.config()
	s.do("PATCH", "/api/v1/config", auth.Viewer, `{"name": "x"}`, "If-Match", `"`+itoa(v)+`"`)
	s.do("PATCH", "/api/v1/config", auth.Operator, `{"name": "x"}`, "If-Match", `"`+itoa(v+5)+`"`)
	s.do("POST", "/api/v1/reload", auth.Public, "", "Authorization", "Bearer hrt_forged")
	s.do("PATCH", "/api/v1/config", auth.Operator, `{"name": "ok"}`, "If-Match", `"`+itoa(v)+`"`)
	s.srv.Close() // writes the summary of the refusals at the choke point
	s.audit.Close()
	data, err := os.ReadFile(filepath.Join(s.dir, audit.LogName))
	must(t, err)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e audit.Entry
		must(t, json.Unmarshal([]byte(line), &e))
		if e.Source != "api" {
			continue // the start transaction
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", e.Kind, e.Actor, e.Action, e.Result))
		if e.Action == "refused requests" {
			got = append(got, e.Reason[:strings.Index(e.Reason, ":")]+strings.Join(strings.SplitN(e.Reason, ":", 2)[1:], ""))
		}
		if e.Remote == "" {
			t.Errorf("record %d has no remote address", e.Seq)
		}
	}
	// A refusal by a handler (a stale If-Match) is its own record; those
	// at the choke point (no token, a forged one, too weak a role) are
	// summarised per address and interval.
	want := []string{
		"denied operator PATCH /api/v1/config precondition",
		"attempt operator patch ",
		"result operator patch committed",
		"denied  refused requests denied",
		"2 requests refused in 0s 1× PATCH /api/v1/config: forbidden, 1× POST /api/v1/reload: unauthorized",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rep, err := audit.VerifyDir(s.dir, "")
	must(t, err)
	if !rep.OK() {
		t.Fatalf("audit log does not verify: %+v", rep)
	}
}

func TestAuditEndpoint(t *testing.T) {
	s := newStack(t, stackOptions{})
	// The start transaction is audited too: its attempt and its result.
	s.do("POST", "/api/v1/reload", auth.Viewer, "") // denied, summarised at the end of the interval
	s.do("POST", "/api/v1/reload", auth.Operator, "")
	status, _, body := s.do("GET", "/api/v1/audit?limit=2", auth.Admin, "")
	var a admin.AuditAnswer
	must(t, json.Unmarshal(body, &a))
	if status != 200 || !a.Verify.OK() || a.Verify.Records != 4 || len(a.Records) != 2 || a.Records[1].Kind != audit.KindResult {
		t.Fatalf("audit = %d %s", status, body)
	}
	if status, _, body := s.do("GET", "/api/v1/audit?limit=0", auth.Admin, ""); status != 422 {
		t.Fatalf("limit=0 = %d %s", status, body)
	}
	// Tampering shows up in the running daemon's view too.
	logFile := filepath.Join(s.dir, audit.LogName)
	data, err := os.ReadFile(logFile)
	must(t, err)
	must(t, os.WriteFile(logFile, []byte(strings.Replace(string(data), `"actor":"operator"`, `"actor":"nobody"`, 1)), 0o600))
	_, _, body = s.do("GET", "/api/v1/audit", auth.Admin, "")
	must(t, json.Unmarshal(body, &a))
	if a.Verify.OK() || a.Verify.Problems[0].Line != 3 { // after the start's two records
		t.Fatalf("after an edit: %s", body)
	}
}

// TestAuditFailureRefusesMutations checks the fail-closed path end to end:
// with the audit sink gone, a patch is refused with 503 and changes nothing.
func TestAuditFailureRefusesMutations(t *testing.T) {
	s := newStack(t, stackOptions{})
	v, _ := s.config()
	must(t, s.audit.Close())
	t0 := time.Now()
	status, _, body := s.do("PATCH", "/api/v1/config", auth.Operator, `{"name": "unaudited"}`, "If-Match", `"`+itoa(v)+`"`)
	if status != 503 || errorCode(t, body) != hotreload.CodeUnavailable || !strings.Contains(string(body), "audit") {
		t.Fatalf("PATCH without an audit sink = %d %s, want 503 naming the audit log", status, body)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("the refusal took %v", d)
	}
	if nv, data := s.config(); nv != v || data["name"] != "demo" {
		t.Fatalf("an unaudited mutation happened: %d %v", nv, data)
	}
	if err := s.audit.Check(context.Background()); err == nil {
		t.Fatal("the audit health check passes without a sink")
	}
}

// TestDenialFloodIsCheap: a flood of unauthenticated mutations costs no
// audit record each; past the limit the address gets 429, a valid token
// still works, and one summary record counts them all.
func TestDenialFloodIsCheap(t *testing.T) {
	s := newStack(t, stackOptions{adjust: func(o *admin.Options) { o.MaxDenials = 50 }})
	codes := map[int]int{}
	for range 300 {
		status, h, _ := s.do("POST", "/api/v1/reload", auth.Public, "")
		codes[status]++
		if status == 429 && h.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[401] != 50 || codes[429] != 250 {
		t.Fatalf("answers %v, want 50× 401 then 429", codes)
	}
	if status, _, body := s.do("POST", "/api/v1/reload", auth.Operator, ""); status != 200 {
		t.Fatalf("a valid token during the flood: %d %s", status, body)
	}
	s.srv.Close()
	s.audit.Close()
	data, err := os.ReadFile(filepath.Join(s.dir, audit.LogName))
	must(t, err)
	var denied []audit.Entry
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e audit.Entry
		must(t, json.Unmarshal([]byte(line), &e))
		if e.Kind == audit.KindDenied {
			denied = append(denied, e)
		}
	}
	if len(denied) != 1 || !strings.HasPrefix(denied[0].Reason, "300 requests refused in") || !strings.Contains(denied[0].Reason, "300× POST /api/v1/reload: unauthorized") || !strings.Contains(denied[0].Reason, "250 answered 429") {
		t.Fatalf("denied records %+v, want one summary of 300", denied)
	}
}

// TestPreferWait: a mutation's Prefer: wait=N is read before anything
// runs (a bad one is refused and changes nothing) and is reported back.
func TestPreferWait(t *testing.T) {
	s := newStack(t, stackOptions{})
	v, _ := s.config()
	ifm := `"` + itoa(v) + `"`
	status, _, body := s.do("PATCH", "/api/v1/config", auth.Operator, `{"name": "x"}`, "If-Match", ifm, "Prefer", "wait=soon")
	if status != 422 || errorCode(t, body) != hotreload.CodeInvalid {
		t.Fatalf("Prefer: wait=soon = %d %s", status, body)
	}
	if nv, data := s.config(); nv != v || data["name"] != "demo" {
		t.Fatalf("a refused Prefer changed the config: %d %v", nv, data)
	}
	status, h, body := s.do("PATCH", "/api/v1/config", auth.Operator, `{"name": "x"}`, "If-Match", ifm, "Prefer", "respond-async, wait=5")
	if status != 200 || h.Get("Preference-Applied") != "wait=5" || h.Get("ETag") != `"`+itoa(v+1)+`"` {
		t.Fatalf("Prefer: wait=5 = %d %v %s", status, h, body)
	}
}
