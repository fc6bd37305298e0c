package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/admin/auth"
	"github.com/cybercorp/hotreload/audit"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/events"
	"github.com/cybercorp/hotreload/history"
)

// stack is a real daemon in miniature: engine, history, config target,
// event bus, audit log, tokens and the admin server on 127.0.0.1.
type stack struct {
	t       testing.TB
	dir     string
	file    string // the config file
	engine  *hotreload.Engine
	target  *config.Target[any]
	bus     *events.Bus
	audit   *audit.Log
	srv     *admin.Server
	http    *httptest.Server
	tokens  map[auth.Role]string
	gate    *failGate
	logs    *bytes.Buffer
	history *history.Store
	store   *auth.Store
}

// stackOptions vary a stack.
type stackOptions struct {
	mode      admin.Mode
	open      bool // no auth file
	config    string
	schema    *config.Schema
	transform func(any) (any, error)
	// publisher wraps the bus as the engine's publisher.
	publisher func(hotreload.Publisher) hotreload.Publisher
	logger    *slog.Logger
	adjust    func(*admin.Options)
}

// failGate is the health gate with fault switches: when fail is set, the
// next transactions roll back; delay holds each in the gate that long.
type failGate struct {
	fail  atomic.Bool
	delay atomic.Int64 // nanoseconds
}

func (g *failGate) Watch(context.Context, hotreload.Transaction) error {
	time.Sleep(time.Duration(g.delay.Load()))
	if g.fail.Load() {
		return errors.New("injected health failure")
	}
	return nil
}

// newStack builds and starts a stack; everything stops when the test ends.
func newStack(t testing.TB, so stackOptions) *stack {
	t.Helper()
	if so.mode == "" {
		so.mode = admin.Prod
	}
	if so.config == "" {
		so.config = `{"counter": 0, "name": "demo"}`
	}
	s := &stack{t: t, dir: t.TempDir(), tokens: map[auth.Role]string{}, gate: &failGate{}, logs: &bytes.Buffer{}}
	s.file = filepath.Join(s.dir, "app.json")
	must(t, os.WriteFile(s.file, []byte(so.config), 0o600))
	hist, err := history.Open(history.Options{Dir: filepath.Join(s.dir, "history")})
	must(t, err)
	s.history = hist
	s.bus = events.New()
	s.audit, err = audit.Open(audit.Options{Dir: s.dir, State: func() hotreload.Status { return s.engine.Status() }})
	must(t, err)
	var pub hotreload.Publisher = s.bus
	if so.publisher != nil {
		pub = so.publisher(s.bus)
	}
	s.engine = hotreload.New(hotreload.Options{History: hist, Publisher: pub, Auditor: s.audit, Gate: s.gate, Logger: so.logger})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.engine.Run(ctx) }()
	copts := config.Options[any]{Name: "config", Files: []string{s.file}, Transform: so.transform, ReadOnlyFiles: true, Logger: so.logger}
	copts.Schema = so.schema
	s.target, err = config.NewTarget(copts)
	must(t, err)
	_, err = s.engine.Add(ctx, s.target)
	must(t, err)

	opts := admin.Options{
		Mode: so.mode, Listen: "127.0.0.1:0", Engine: s.engine, History: hist, Config: s.target,
		Bus: s.bus, Audit: s.audit, Logger: so.logger,
	}
	if !so.open {
		authFile := filepath.Join(s.dir, "auth.json")
		for _, r := range []auth.Role{auth.Viewer, auth.Operator, auth.Admin} {
			tok, err := auth.Add(authFile, r.String(), r)
			must(t, err)
			s.tokens[r] = tok
		}
		s.store, err = auth.Open(authFile)
		must(t, err)
		opts.Tokens = s.store
	}
	if so.adjust != nil {
		so.adjust(&opts)
	}
	s.srv, err = admin.New(opts)
	must(t, err)
	s.http = httptest.NewServer(s.srv)
	t.Cleanup(func() {
		s.srv.Close()
		s.http.Close()
		cancel()
		<-done
		s.audit.Close()
		s.target.Close()
		s.bus.Close()
		hist.Close()
	})
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// do sends a request with the token of role (auth.Public for none) and
// returns the status, headers and body.
func (s *stack) do(method, path string, role auth.Role, body string, header ...string) (int, http.Header, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.http.URL+path, rd)
	must(s.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := s.tokens[role]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	must(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(s.t, err)
	return resp.StatusCode, resp.Header, b
}

// errorCode decodes the code of a JSON error answer.
func errorCode(t testing.TB, body []byte) hotreload.Code {
	t.Helper()
	var e struct {
		Error struct {
			Code    hotreload.Code         `json:"code"`
			Message string                 `json:"message"`
			Details []hotreload.FieldError `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || e.Error.Details == nil {
		t.Fatalf("not a JSON error answer with code, message and details: %s", body)
	}
	return e.Error.Code
}

// config reads the live config through the API.
func (s *stack) config() (uint64, map[string]any) {
	s.t.Helper()
	status, h, body := s.do("GET", "/api/v1/config", auth.Viewer, "")
	if status != 200 {
		s.t.Fatalf("GET /api/v1/config = %d %s", status, body)
	}
	var c struct {
		Version uint64         `json:"version"`
		State   string         `json:"state"`
		Data    map[string]any `json:"data"`
	}
	must(s.t, json.Unmarshal(body, &c))
	want := `"` + itoa(c.Version) + `"`
	if c.State == hotreload.StatePending {
		want = `"` + itoa(c.Version) + `-pending"`
	}
	if h.Get("ETag") != want {
		s.t.Errorf("ETag %q does not name version %d (%s)", h.Get("ETag"), c.Version, c.State)
	}
	return c.Version, c.Data
}

func itoa(v uint64) string { b, _ := json.Marshal(v); return string(b) }
