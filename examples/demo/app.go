// Package demo is the demo app that "hotreload demo" runs: a small HTTP
// service whose replies depend on its hot-reloaded configuration, plus the
// workspace (config, schema, plugins, UI) it starts from. It doubles as an
// example of using hotreload as a library.
package demo

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"time"

	"github.com/cybercorp/hotreload/config"
)

// Workspace holds the demo's starting files: config.yaml, schema.json and
// the ui folder. config.yaml carries a {{UPSTREAM_PORT}} placeholder.
//
//go:embed workspace
var Workspace embed.FS

// Config is the demo app's configuration, decoded from config.yaml.
type Config struct {
	Greeting string `json:"greeting"`
	Name     string `json:"name"`
	Color    string `json:"color"`
	Limits   struct {
		RPS   int `json:"rps"`
		Burst int `json:"burst"`
	} `json:"limits"`
	Upstream struct {
		URL       string `json:"url"`
		TimeoutMS int    `json:"timeout_ms"`
	} `json:"upstream"`
	Plugins map[string]any `json:"plugins"`
}

// App serves the demo's pages. Every request reads the current config
// snapshot once, so a reload never mixes two versions in one reply.
type App struct {
	// Config returns the live config snapshot; it must not block.
	Config func() *Config
	// Version returns the active config version.
	Version func() uint64
	// Decorate transforms the greeting (the demo plugin); nil leaves it. It
	// cannot fail: a decoration that fails returns the greeting as it was,
	// so a broken plugin never breaks a reply.
	Decorate func(ctx context.Context, s string) string
	// Client calls the upstream.
	Client *http.Client
	// ScriptURL is where the page loads the live-reload client from.
	ScriptURL string
}

// Greeting is the demo's reply to GET /api/greeting.
type Greeting struct {
	Message  string `json:"message"`
	Version  uint64 `json:"version"`
	Upstream string `json:"upstream"`
}

// ServeHTTP answers GET / (a page) and GET /api/greeting (JSON).
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := a.Config()
	g, err := a.greet(r.Context(), cfg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	switch r.URL.Path {
	case "/api/greeting":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(g)
	case "/":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, struct {
			Greeting
			Color, Script string
		}{g, cfg.Color, a.ScriptURL})
	default:
		http.NotFound(w, r)
	}
}

func (a *App) greet(ctx context.Context, cfg *Config) (Greeting, error) {
	up, err := a.callUpstream(ctx, cfg)
	if err != nil {
		return Greeting{}, err
	}
	msg := fmt.Sprintf("%s, %s!", cfg.Greeting, cfg.Name)
	if a.Decorate != nil {
		msg = a.Decorate(ctx, msg)
	}
	return Greeting{Message: msg, Version: a.Version(), Upstream: up}, nil
}

func (a *App) callUpstream(ctx context.Context, cfg *Config) (string, error) {
	timeout := time.Duration(cfg.Upstream.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Upstream.URL, nil)
	if err != nil {
		return "", fmt.Errorf("calling upstream %q: %w", cfg.Upstream.URL, err)
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("calling upstream: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("calling upstream %s: status %d", cfg.Upstream.URL, resp.StatusCode)
	}
	return string(body), nil
}

// Upstream is the stand-in upstream service the demo app calls.
func Upstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "upstream ok")
	})
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hotreload demo</title>
<link rel="stylesheet" href="/ui/theme.css">
<link rel="stylesheet" href="/ui/style.css">
<style>:root { --accent: {{.Color}}; }</style>
{{if .Script}}<script src="{{.Script}}"></script>
<script type="module" src="/ui/components/x-counter.js"></script>{{end}}
</head>
<body>
<main>
<h1 id="greeting">{{.Message}}</h1>
<p>config version <span id="version">{{.Version}}</span> · {{.Upstream}}</p>
<p><x-counter></x-counter></p>
<p>Edit <code>config.yaml</code> and reload this page; edit the files in <code>ui/</code> and watch it change in place.</p>
</main>
</body>
</html>
`))

// Validate is the demo's runtime validator: rules a schema cannot say. It
// shows how a library user rejects a config with a precise path.
func Validate(c *Config) error {
	if c.Limits.Burst < c.Limits.RPS/10 {
		return config.Reject("/limits/burst", "must be at least a tenth of /limits/rps (%d), found %d", c.Limits.RPS/10, c.Limits.Burst)
	}
	return nil
}
