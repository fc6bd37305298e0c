package dashboard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServesThePageAndItsAssets(t *testing.T) {
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/dashboard/app.js">`},
		{"/index.html", "text/html; charset=utf-8", `id="active-version"`},
		{"/dashboard/app.js", "text/javascript; charset=utf-8", "/api/v1/rollback"},
		{"/dashboard/app.css", "text/css; charset=utf-8", "--accent"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, tc.path)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tc.contentType || !strings.Contains(body, tc.contains) {
				t.Fatalf("GET %s: %d %q, body has %q: %v", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contains, strings.Contains(body, tc.contains))
			}
			if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("GET %s: missing security headers %v", tc.path, resp.Header)
			}
			if r2, _ := get(t, tc.path, "If-None-Match", resp.Header.Get("ETag")); r2.StatusCode != http.StatusNotModified {
				t.Fatalf("GET %s with its ETag: %d, want 304", tc.path, r2.StatusCode)
			}
		})
	}
}

func TestUnknownPathsAreNotFound(t *testing.T) {
	for _, p := range []string{"/dashboard/", "/dashboard/index.html", "/dashboard/../static/app.js", "/dashboard/nope.js", "/app.js", "/api/v1/status"} {
		if resp, _ := get(t, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

// TestWorksOffline checks that the page loads nothing from another host.
func TestWorksOffline(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|fetch\(\s*["'](https?:)?//`)
	for name, a := range assets {
		if loc := external.FindIndex(a.data); loc != nil {
			t.Errorf("%s refers to another host: %q", name, a.data[loc[0]:min(loc[1]+40, len(a.data))])
		}
	}
}

func FuzzHandler(f *testing.F) {
	for _, s := range []string{"/", "/dashboard/app.js", "/dashboard/../../etc/passwd", "/dashboard/%2e%2e/x", "//", "/dashboard//app.js"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = p
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, req)
		if c := rec.Code; c != http.StatusOK && c != http.StatusNotFound {
			t.Fatalf("GET %q: %d", p, c)
		}
		if rec.Code == http.StatusOK && p != "/" && p != "/index.html" && !strings.HasPrefix(p, Prefix) {
			t.Fatalf("GET %q served a file", p)
		}
	})
}
