package health

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// serve sends one request to h and returns the recorder.
func serve(h http.HandlerFunc, method, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h(w, httptest.NewRequest(method, target, nil))
	return w
}

func TestHandlers(t *testing.T) {
	m := NewMonitor(MonitorOptions{})
	mustAdd(t, m, "db", pass, CheckOptions{Critical: true})
	mustAdd(t, m, "cache", fail, CheckOptions{})
	m.CheckAll(t.Context())

	t.Run("Health", func(t *testing.T) {
		w := serve(m.ServeHealth, http.MethodGet, "/api/v1/health")
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d %s", w.Code, w.Header().Get("Content-Type"))
		}
		var s struct {
			State  State
			Checks []map[string]any
		}
		if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if s.State != StatePassing || len(s.Checks) != 2 {
			t.Fatalf("summary %+v", s)
		}
		cache := s.Checks[0]
		for k, want := range map[string]any{"name": "cache", "state": "failing", "last_result": "failing", "last_error": "down", "critical": false} {
			if cache[k] != want {
				t.Errorf("%s = %v, want %v", k, cache[k], want)
			}
		}
		for _, k := range []string{"latency_ns", "last_run", "consecutive_failures", "options"} {
			if _, ok := cache[k]; !ok {
				t.Errorf("no %q in %v", k, cache)
			}
		}
	})
	t.Run("Live", func(t *testing.T) {
		if w := serve(m.ServeLive, http.MethodGet, "/healthz"); w.Code != http.StatusOK || w.Body.String() != "ok\n" {
			t.Errorf("%d %q", w.Code, w.Body)
		}
	})
	t.Run("ReadyWithNonCriticalFailing", func(t *testing.T) {
		w := serve(m.ServeReady, http.MethodGet, "/readyz?verbose")
		if w.Code != http.StatusOK || w.Body.String() != "[-]cache failing (not critical): down\n[+]db ok\nok\n" {
			t.Errorf("%d %q", w.Code, w.Body)
		}
		if w := serve(m.ServeReady, http.MethodGet, "/readyz"); w.Body.String() != "ok\n" {
			t.Errorf("terse: %q", w.Body)
		}
	})
	t.Run("NotReady", func(t *testing.T) {
		mustAdd(t, m, "upstream", fail, CheckOptions{Critical: true})
		defer m.Remove("upstream")
		m.CheckAll(t.Context())
		w := serve(m.ServeReady, http.MethodGet, "/readyz")
		if w.Code != http.StatusServiceUnavailable || w.Body.String() != "[-]upstream failing: down\nreadyz check failed\n" {
			t.Errorf("%d %q", w.Code, w.Body)
		}
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		for _, h := range []http.HandlerFunc{m.ServeHealth, m.ServeLive, m.ServeReady} {
			w := serve(h, http.MethodPost, "/")
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" ||
				!strings.Contains(w.Body.String(), `{"error":{"code":"invalid","message":"method POST not allowed; use GET"}}`) {
				t.Errorf("%d %q", w.Code, w.Body)
			}
		}
	})
	t.Run("Fresh", func(t *testing.T) {
		before := mustStatus(t, m, "db").LastRun
		serve(m.ServeHealth, http.MethodGet, "/api/v1/health?fresh=1")
		if !mustStatus(t, m, "db").LastRun.After(before) {
			t.Error("?fresh=1 did not run the checks")
		}
	})
}

// FuzzHandlers sends arbitrary methods and query strings to every handler:
// none may panic, and each answers one of its documented statuses.
func FuzzHandlers(f *testing.F) {
	for _, seed := range [][2]string{
		{"GET", ""}, {"HEAD", "verbose"}, {"POST", "fresh=1"}, {"DELETE", "verbose=0&fresh=2"},
		{"GET", "%zz"}, {"GET", "fresh=1&fresh=0"}, {"PATCH", ";;;"},
	} {
		f.Add(seed[0], seed[1])
	}
	m := NewMonitor(MonitorOptions{})
	_ = m.Add("a", pass, CheckOptions{Critical: true})
	_ = m.Add("b", fail, CheckOptions{})
	f.Fuzz(func(t *testing.T, method, query string) {
		if !validMethod(method) {
			return
		}
		for _, h := range []http.HandlerFunc{m.ServeHealth, m.ServeLive, m.ServeReady} {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r.Method, r.URL.RawQuery = method, query
			w := httptest.NewRecorder()
			h(w, r)
			switch w.Code {
			case http.StatusOK, http.StatusServiceUnavailable, http.StatusMethodNotAllowed:
			default:
				t.Errorf("%s ?%s: status %d", method, query, w.Code)
			}
		}
	})
}

// validMethod reports whether s is an HTTP token, as net/http requires.
func validMethod(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return true
}
