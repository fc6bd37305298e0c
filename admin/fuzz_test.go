package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/admin/auth"
)

// FuzzServeHTTP sends arbitrary methods, paths, headers and bodies, with
// each kind of token, through the real server and engine: nothing may
// panic, no answer may be a 5xx, and every error answer is the JSON error
// shape.
func FuzzServeHTTP(f *testing.F) {
	s := newStack(f, stackOptions{})
	for _, seed := range []struct {
		method, path, body, ifMatch, ctype string
		role                               uint8
	}{
		{"GET", "/api/v1/status", "", "", "", 1},
		{"PATCH", "/api/v1/config", `{"name": "fuzz", "nested": {"a": [1, null]}}`, "*", "application/merge-patch+json", 2},
		{"PATCH", "/api/v1/config", `{"name": null}`, `"1"`, "application/json", 3},
		{"PATCH", "/api/v1/config", `{"name": `, `W/"1"`, "application/json", 3},
		{"POST", "/api/v1/rollback", `{"version": 18446744073709551615}`, "", "application/json", 2},
		{"POST", "/api/v1/reload", `{"targets": ["config", ""]}`, "", "application/json", 2},
		{"GET", "/api/v1/history/1/diff/99999999999999999999", "", "", "", 1},
		{"GET", "/api/v1/history/%2e%2e/diff/1", "", "", "", 1},
		{"POST", "/api/v1/session", `{"token": "` + strings.Repeat("a", 500) + `"}`, "", "application/json", 0},
		{"GET", "/api/v1/events", "", "", "", 1},
		{"OPTIONS", "*", "", "", "", 0},
	} {
		f.Add(seed.method, seed.path, seed.body, seed.ifMatch, seed.ctype, seed.role)
	}
	f.Fuzz(func(t *testing.T, method, path, body, ifMatch, ctype string, role uint8) {
		// Event streams never end by themselves: cut them short.
		wait := 10 * time.Second
		if strings.Contains(path, "events") {
			wait = 100 * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, "http://127.0.0.1/", strings.NewReader(body))
		if err != nil {
			return
		}
		req.URL.Path, req.RequestURI = path, path
		req.RemoteAddr = "127.0.0.1:9"
		req.Header.Set("If-Match", ifMatch)
		req.Header.Set("Content-Type", ctype)
		if tok := s.tokens[auth.Role(role%4)]; tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		s.srv.ServeHTTP(rec, req)
		if rec.Code >= 500 && !(rec.Code == http.StatusServiceUnavailable && ctx.Err() != nil) {
			t.Fatalf("%s %q = %d %s", method, path, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %q = %d with a body that is not a JSON error: %q", method, path, rec.Code, rec.Body)
			}
		}
	})
}
