package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/admin/auth"
)

// stubEngine and emptyHistory satisfy admin.New where a test only checks
// the options (nothing reaches them).
type stubEngine struct{}

func (stubEngine) Start(context.Context, hotreload.Request) (*hotreload.Ticket, error) {
	return nil, nil
}
func (stubEngine) StartRollback(context.Context, uint64, hotreload.Actor) (*hotreload.Ticket, error) {
	return nil, nil
}
func (stubEngine) Status() hotreload.Status       { return hotreload.Status{} }
func (stubEngine) View(fn func(hotreload.Status)) { fn(hotreload.Status{}) }

type emptyHistory struct{ hotreload.History }

// probe is a request that the route's handler answers with 2xx when the
// caller may use it.
func probe(s *stack, r admin.Route) (method, path, body string, header []string) {
	method, path, _ = strings.Cut(r.Pattern, " ")
	v := itoa(s.engine.Status().Active)
	path = strings.NewReplacer("{version}", v, "{a}", "1", "{b}", v, "{name}", "demo", "{action}", "reload").Replace(path)
	if strings.HasPrefix(path, "/debug/pprof/") && path != "/debug/pprof/" {
		path += "?seconds=1"
	}
	switch r.Pattern {
	case "PATCH /api/v1/config":
		return method, path, `{"name": "matrix"}`, []string{"If-Match", "*"}
	case "POST /api/v1/rollback":
		return method, path, `{"version": 1}`, nil
	case "POST /api/v1/session":
		return method, path, `{"token": "` + s.tokens[auth.Viewer] + `"}`, nil
	}
	return method, path, "", nil
}

// TestAuthorizationMatrix sends every route, built in and mounted, every
// kind of caller: no token, a bad token, and each role. Callers without a
// valid token get 401 (except on public routes), weaker roles 403, and
// the others 2xx.
func TestAuthorizationMatrix(t *testing.T) {
	for _, mode := range []admin.Mode{admin.Prod, admin.Dev} {
		t.Run(string(mode), func(t *testing.T) {
			s := newStack(t, stackOptions{mode: mode})
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			s.srv.Mount("GET /healthz", auth.Public, ok)
			s.srv.Mount("GET /readyz", auth.Public, ok)
			s.srv.Mount("GET /api/v1/health", auth.Viewer, ok)
			s.srv.Mount("GET /metrics", auth.Viewer, ok)
			s.srv.Mount("GET /api/v1/plugins", auth.Viewer, ok)
			s.srv.Mount("POST /api/v1/plugins/{name}/{action}", auth.Operator, ok)
			s.srv.Mount("GET /ws", auth.Viewer, ok)
			s.srv.Mount("GET /", auth.Viewer, ok)

			routes := s.srv.Routes()
			if len(routes) < 20 {
				t.Fatalf("only %d routes registered", len(routes))
			}
			for _, r := range routes {
				if mode == admin.Prod && r.Perm == auth.Public && r.Pattern != "GET /healthz" && r.Pattern != "GET /readyz" && !strings.Contains(r.Pattern, "/session") {
					t.Errorf("%s needs no token in prod", r.Pattern)
				}
				for _, caller := range []struct {
					name  string
					role  auth.Role // the token's role; Public for none
					token string
				}{
					{"NoToken", auth.Public, ""},
					{"BadToken", auth.Public, "hrt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
					{"Viewer", auth.Viewer, s.tokens[auth.Viewer]},
					{"Operator", auth.Operator, s.tokens[auth.Operator]},
					{"Admin", auth.Admin, s.tokens[auth.Admin]},
				} {
					method, path, body, header := probe(s, r)
					if caller.token != "" {
						header = append(header, "Authorization", "Bearer "+caller.token)
					}
					status := streamStatus(t, s, method, path, body, header)
					var want string
					switch {
					case r.Perm == auth.Public:
						want = "2xx"
					case caller.role == auth.Public:
						want = "401"
					case caller.role < r.Perm:
						want = "403"
					default:
						want = "2xx"
					}
					got := http.StatusText(status)
					if (want == "2xx" && (status < 200 || status > 299)) || (want != "2xx" && itoa(uint64(status)) != want) {
						t.Errorf("%s as %s: %d %s, want %s", r.Pattern, caller.name, status, got, want)
					}
				}
			}
		})
	}
}

// streamStatus sends a request and returns its status without waiting for
// a streaming body to end.
func streamStatus(t *testing.T, s *stack, method, path, body string, header []string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, s.http.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, err = http.NewRequestWithContext(ctx, method, s.http.URL+path, nil)
	}
	must(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	return resp.StatusCode
}
