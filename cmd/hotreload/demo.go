package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/events"
	"github.com/cybercorp/hotreload/examples/demo"
	"github.com/cybercorp/hotreload/health"
	"github.com/cybercorp/hotreload/internal/progress"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/ui"
)

func init() { register(newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var (
		dir       string
		listen    string
		appListen string
		window    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo [--dir DIR] [--listen ADDR]",
		Short: "Start the demo workspace in dev mode and print what to edit",
		Long: `demo writes a workspace (config.yaml, schema.json, plugins, UI) into a
temporary folder, or into --dir, and runs a small demo app on it with the
whole engine in dev mode: edit config.yaml and the app's replies change within
a second; break it and the precise error shows while the old version keeps
serving; point upstream.url at a dead address and the health gate rolls the
change back by itself.

An existing --dir is reused as it is, so your edits survive a restart.`,
		Example: `  go run ./cmd/hotreload demo
  hotreload demo --dir ./demo --listen 127.0.0.1:7070 --app-listen 127.0.0.1:7071`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := healthWindow(cmd, window)
			if err != nil {
				return err
			}
			return runDemo(cmd, dir, listen, appListen, w)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "workspace folder (default: a new temporary folder)")
	f.StringVar(&listen, "listen", DefaultListen, "address of the admin API and dashboard")
	f.StringVar(&appListen, "app-listen", "127.0.0.1:7071", "address of the demo app")
	f.DurationVar(&window, "health-window", 5*time.Second, "how long the health gate watches each change (0s: one round of checks at once, then commit)")
	return cmd
}

func runDemo(cmd *cobra.Command, dir, listen, appListen string, window time.Duration) error {
	ctx := cmd.Context()
	// Both ports first: a busy one fails before anything is built.
	appLn, err := net.Listen("tcp", appListen)
	if err != nil {
		return fmt.Errorf("listening for the demo app: %w", err)
	}
	app := &onceListener{Listener: appLn}
	defer app.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening for the admin API: %w", err)
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "hotreload-demo-"); err != nil {
			ln.Close()
			return err
		}
	}
	if err := writeWorkspace(dir, appLn.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	out := &syncWriter{w: cmd.OutOrStdout()}
	build, pluginNote := prepareDemoPlugin(dir)
	opts := daemonOptions{
		PluginsDir:  filepath.Join(dir, "plugins"),
		UIDir:       filepath.Join(dir, "ui"),
		ConfigFiles: []string{filepath.Join(dir, "config.yaml")},
		SchemaFile:  filepath.Join(dir, "schema.json"),
		DataDir:     filepath.Join(dir, ".hotreload"),
		Listen:      listen,
		Mode:        admin.Dev,
		Watch:       true,
		Debounce:    100 * time.Millisecond,
		Window:      window,
		Stderr:      cmd.ErrOrStderr(),
	}
	var engine *hotreload.Engine
	d, err := startDaemon(ctx, opts, ln, func(ctx context.Context, s *services) ([]any, error) {
		engine = s.engine
		return demoParts(ctx, s, app, out, build)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `hotreload demo is running (version %d).

  demo app     http://%s/   (JSON: http://%s/api/greeting)
  dashboard    http://%s/
  admin API    http://%s/api/v1/status
  metrics      http://%s/metrics

Edit the files in %s
  config.yaml  the app's greeting, name, colour, limits, upstream and plugin settings
  ui/          style.css, theme.json and components/: open pages change in place
  plugins/     the Wasm plugin %q that decorates the greeting; %s
Press Ctrl-C to stop.
`, engine.Status().Active, appLn.Addr(), appLn.Addr(), ln.Addr(), ln.Addr(), ln.Addr(), dir, demoPlugin, pluginNote)
	return d.run(ctx)
}

// demoParts is the demo's list: serve's parts on the workspace (config,
// plugins, UI, watches), the demo app on appLn with its upstream check, and
// the plugin's first build when it has to be built.
func demoParts(ctx context.Context, s *services, appLn net.Listener, out io.Writer, build func(context.Context, io.Writer, hotreload.Publisher) bool) (parts []any, err error) {
	target, err := newConfig(s, demo.Validate)
	if err != nil {
		return nil, err
	}
	parts = append(parts, target)
	more, err := fileParts(ctx, s, target)
	parts = append(parts, more...)
	if err != nil {
		return parts, err
	}
	var (
		host   *plugin.Host
		assets *ui.Assets
	)
	for _, p := range parts {
		switch p := p.(type) {
		case *plugin.Host:
			host = p
		case *ui.Assets:
			assets = p
		}
	}
	store := target.Store()
	app := &demo.App{
		ScriptURL: "/hotreload.js",
		Config:    store.Load,
		Version:   func() uint64 { return s.engine.Status().Live }, // the version of what is live, pending or not
		Client:    &http.Client{Timeout: 5 * time.Second},
		// A plugin that is not loaded, quarantined or failing leaves the
		// greeting as it was (FilterReply returns it unchanged); the host
		// reports each failed call to the health gate as an exception.
		Decorate: func(ctx context.Context, str string) string {
			r, _ := host.FilterReply(ctx, demoPlugin, plugin.Reply{Status: http.StatusOK, Body: str})
			return r.Body
		},
	}
	upstream := health.CheckFunc(func(ctx context.Context) error {
		return health.HTTPCheck{URL: store.Load().Upstream.URL, MaxLatency: 2 * time.Second}.Check(ctx)
	})
	if err := s.monitor.Add("upstream", upstream, health.CheckOptions{Critical: true, Interval: 5 * time.Second, Timeout: 2 * time.Second}); err != nil {
		return parts, err
	}
	appMux := http.NewServeMux()
	appMux.Handle("GET /upstream", demo.Upstream())
	// The page's live-reload channel, same-origin with the page.
	appMux.Handle("GET /hotreload.js", ui.Script)
	appMux.HandleFunc("GET /ws", s.hub.ServeWS)
	appMux.Handle("GET /ui/", assets)
	appMux.Handle("/", s.traffic.Middleware(app))
	serveApp := hotreload.TriggerFunc(func(ctx context.Context, _ hotreload.SubmitFunc) error {
		srv := admin.NewHTTPServer(appLn.Addr().String(), appMux)
		go func() { <-ctx.Done(); srv.Close() }()
		if err := srv.Serve(appLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("demo app: %w", err)
		}
		return nil
	})
	parts = append(parts, serveApp)
	if build != nil {
		// The plugin joins through the plugin directory's watcher, in a
		// transaction of its own, when it is built.
		parts = append(parts, hotreload.TriggerFunc(func(ctx context.Context, _ hotreload.SubmitFunc) error {
			// Subscribed before the build, so the plugin's transaction is seen.
			loaded := events.Subscribe[hotreload.CodeReloadEvent](s.bus)
			defer loaded.Close()
			if build(ctx, out, s.bus) {
				reportPluginLoad(ctx, out, loaded, host.Name(), demoPlugin)
			}
			return nil
		}))
	}
	return parts, nil
}

// writeWorkspace copies the embedded workspace into dir, leaving files that
// already exist alone, and points the config's upstream at the demo app.
func writeWorkspace(dir, appAddr string) error {
	_, port, err := net.SplitHostPort(appAddr)
	if err != nil {
		return err
	}
	root, err := fs.Sub(demo.Workspace, "workspace")
	if err != nil {
		return err
	}
	return fs.WalkDir(root, ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path))
		if e.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if _, err := os.Stat(dst); err == nil {
			return nil // keep the user's file
		}
		b, err := fs.ReadFile(root, path)
		if err != nil {
			return err
		}
		b = []byte(strings.ReplaceAll(string(b), "{{UPSTREAM_PORT}}", port))
		return os.WriteFile(dst, b, 0o644)
	})
}

// demoPlugin is the plugin the demo app passes its greeting through.
const demoPlugin = "shout"

// prepareDemoPlugin readies the demo plugin's build from its source in this
// repository into the workspace's plugins folder, unless the module is there
// already. It returns the build to run (nil when there is none) and a note
// for the banner: how to rebuild, or why the demo runs without the plugin.
func prepareDemoPlugin(dir string) (build func(context.Context, io.Writer, hotreload.Publisher) bool, note string) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	root := strings.TrimSpace(string(out))
	if err != nil || !strings.Contains(root, string(filepath.Separator)) {
		return nil, "run the demo from the hotreload repository (go run ./cmd/hotreload demo) to build it"
	}
	src := filepath.Join(root, "examples", "plugins", demoPlugin)
	plugins := filepath.Join(dir, "plugins")
	wasm := filepath.Join(plugins, demoPlugin+".wasm")
	rebuild := fmt.Sprintf("edit %s/main.go, then rebuild it with\n    (cd %s && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o %s .)", src, src, wasm)
	if _, err := os.Stat(wasm); err == nil {
		return nil, rebuild
	}
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		return nil, "cannot create the plugins folder: " + err.Error()
	}
	manifest, err := os.ReadFile(filepath.Join(src, demoPlugin+".json"))
	if err == nil {
		err = os.WriteFile(filepath.Join(plugins, demoPlugin+".json"), manifest, 0o644)
	}
	if err != nil {
		return nil, "cannot copy its manifest: " + err.Error()
	}
	return func(ctx context.Context, w io.Writer, pub hotreload.Publisher) bool {
		return buildPlugin(ctx, w, pub, src, wasm)
	}, "it is being built (see below); then " + rebuild
}

// buildPlugin builds the Go plugin in src for wasip1 into wasm, saying on w
// what it does and how long it has been at it (and pub, for the
// dashboard). The module is built beside
// the plugins folder and renamed into it, so the folder's watcher sees one
// complete file. It reports whether the module is in place.
func buildPlugin(ctx context.Context, w io.Writer, pub hotreload.Publisher, src, wasm string) bool {
	name := strings.TrimSuffix(filepath.Base(wasm), ".wasm")
	fmt.Fprintf(w, "building plugin %s for wasip1: the first build compiles the Go runtime for Wasm, about a minute; later builds take seconds\n", name)
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Dir(wasm)), ".build-")
	if err != nil {
		fmt.Fprintf(w, "plugin %s not built: %v\n", name, err)
		return false
	}
	defer os.RemoveAll(tmp)
	built := filepath.Join(tmp, name+".wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", built, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	start := time.Now()
	defer progress.Report(pub, hotreload.SourceBuilder, "build of plugin "+name, 15*time.Second, func(d time.Duration) {
		fmt.Fprintf(w, "still building plugin %s (%s so far)\n", name, d.Round(time.Second))
	})()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return false
	}
	if err == nil {
		err = os.Rename(built, wasm)
	}
	if err != nil {
		fmt.Fprintf(w, "building plugin %s failed after %s: %v\n%s", name, time.Since(start).Round(time.Second), err, out)
		return false
	}
	fmt.Fprintf(w, "plugin %s built in %s; loading it: compile, then the health window (the dashboard shows the transaction)\n", name, time.Since(start).Round(100*time.Millisecond))
	return true
}

// reportPluginLoad waits for the transaction of target that loads plugin
// name and says on w how it ended.
func reportPluginLoad(ctx context.Context, w io.Writer, sub *events.Subscription[hotreload.CodeReloadEvent], target, name string) {
	sub.Each(ctx, func(ev hotreload.CodeReloadEvent) bool {
		if ev.Target != target || !slices.Contains(ev.Modules, name) {
			return true
		}
		if ev.Result == hotreload.Committed {
			fmt.Fprintf(w, "plugin %s loaded (version %d): the greeting goes through it now\n", name, ev.Version)
		} else {
			fmt.Fprintf(w, "plugin %s not loaded (%s): %s\n", name, ev.Result, ev.Reason)
		}
		return false
	})
}

// syncWriter serialises writes from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
