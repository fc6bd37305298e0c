package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/admin/auth"
	"github.com/cybercorp/hotreload/admin/dashboard"
	"github.com/cybercorp/hotreload/audit"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/events"
	"github.com/cybercorp/hotreload/health"
	"github.com/cybercorp/hotreload/health/checkfile"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/internal/httpjson"
	"github.com/cybercorp/hotreload/internal/inputfile"
	"github.com/cybercorp/hotreload/internal/sdnotify"
	"github.com/cybercorp/hotreload/metrics"
	"github.com/cybercorp/hotreload/metrics/alert"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/secret"
	"github.com/cybercorp/hotreload/ui"
	"github.com/cybercorp/hotreload/watch"
)

// daemonOptions are what serve and demo share.
type daemonOptions struct {
	ConfigFiles []string
	SchemaFile  string
	// DataDir holds history, the audit log and kept binaries; empty keeps
	// history in memory and the rest in a temporary folder (hotreload dev).
	DataDir string
	Listen  string
	Mode    admin.Mode
	// Watch reloads on file changes; on by default in dev, opt-in in prod.
	Watch       bool
	Debounce    time.Duration
	AgeIdentity string
	AuthFile    string
	// PluginsDir holds Wasm plugins (NAME.wasm, NAME.json) to host.
	PluginsDir string
	// Exec is the command of the app to supervise; AppListen is the
	// address of the socket the app is handed.
	Exec, AppListen string
	// UIDir holds the browser UI (CSS, theme.json, components) served
	// under /ui/ and live-reloaded in every connected page.
	UIDir string
	// AllowedHosts are host names accepted in the admin API's Host header
	// besides IP addresses and localhost.
	AllowedHosts []string
	// AllowedOrigins are the origins (scheme://host:port) of other pages
	// allowed to call the admin API and open the UI channel: the dev
	// loop's app.
	AllowedOrigins []string
	// OverlayRoots are more watched folders (the dev loop's) that the
	// browser overlay names files relative to.
	OverlayRoots []string
	// ChecksFile is the health checks file, hot-reloaded as a target.
	ChecksFile string
	// Window is the health gate's window; 0 picks the mode's default.
	Window time.Duration
	// StepTimeout bounds each target's Prepare and Apply; 0 means
	// hotreload.DefaultStepTimeout.
	StepTimeout time.Duration
	// Limits bound the config files read (size, links out of their
	// directory).
	Limits config.Limits
	// InsecurePermissions starts even when the auth file, the age identity
	// or the data dir could be changed by other users (logged).
	InsecurePermissions bool
	// AuditMaxBytes and AuditKeep bound the audit log on disk (see
	// audit.Options.MaxSize and Keep); zero picks the defaults.
	AuditMaxBytes int64
	AuditKeep     int
	Stderr        io.Writer
}

// configTarget is the config target the daemon serves, whatever its type.
type configTarget interface {
	hotreload.Target
	Redacted() any
	Close()
}

// daemon is the control plane: one engine and everything around it.
type daemon struct {
	opts    daemonOptions
	log     *slog.Logger
	history *history.Store
	bus     *events.Bus
	engine  *hotreload.Engine
	monitor *health.Monitor
	gate    *health.Gate
	notify  *sdnotify.Notifier // nil unless systemd watches us
	traffic *health.Traffic
	secrets *secret.Decrypter
	audit   *audit.Log
	metrics *metrics.Metrics
	alerts  *alert.Evaluator
	tokens  *auth.Store
	config  configTarget
	plugins *plugin.Host // nil without a plugin directory
	ui      *ui.Hub
	assets  *ui.Assets // nil without a UI folder
	admin   *admin.Server
	closers []func()
	ungated map[string]bool // targets whose transactions skip the health gate
	tempDir string          // the data dir of a session without one, removed by close

	engineDone chan error
	stopEngine context.CancelFunc
}

// newDaemon builds the parts that do not depend on targets, opens history
// and the audit log, and starts the engine (see startDaemon).
func newDaemon(ctx context.Context, opts daemonOptions) (*daemon, error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	d := &daemon{opts: opts, bus: events.New(), traffic: &health.Traffic{}, ungated: map[string]bool{}}
	if opts.DataDir != "" {
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the data dir: %w", err)
		}
	}
	identity := opts.AgeIdentity
	if identity == "" {
		identity = os.Getenv(secret.IdentityEnv)
	}
	for _, path := range []string{opts.DataDir, identity, opts.AuthFile} {
		if err := d.checkPrivate(path); err != nil {
			return nil, err
		}
	}
	ids, err := loadIdentities(identity)
	if err != nil {
		return nil, err
	}
	d.secrets = secret.NewDecrypter(ids...)
	d.log = slog.New(d.secrets.LogHandler(admin.LogHandler(opts.Stderr, opts.Mode)))
	if opts.InsecurePermissions {
		d.log.Warn("--insecure-permissions: the auth file, the age identity and the data dir are not checked for write access by other users")
	}
	d.metrics = metrics.New()
	d.alerts, err = alert.New(alert.Options{Publisher: d.bus, Logger: d.log})
	if err != nil {
		return nil, err
	}
	d.monitor = health.NewMonitor(health.MonitorOptions{
		Publisher: d.bus,
		OnFailure: func(check string, _ error) { d.metrics.CheckFailed(check) },
		Logger:    d.log,
	})
	window := opts.Window
	if window == 0 {
		window = health.ProductionWindow
		if opts.Mode == admin.Dev {
			window = health.DevWindow
		}
	}
	d.gate, err = health.NewGate(d.monitor, health.GateOptions{Window: window, Traffic: d.traffic, IgnorePreexisting: true, Logger: d.log})
	if err != nil {
		return nil, err
	}
	auditDir := opts.DataDir
	if opts.DataDir == "" {
		// No data dir (hotreload dev): history in memory, the audit log in
		// a temporary folder; nothing outlives the session.
		if d.tempDir, err = os.MkdirTemp("", "hotreload-"); err != nil {
			return nil, fmt.Errorf("creating a temporary data dir: %w", err)
		}
		auditDir = d.tempDir
		d.history, err = history.Memory(history.WithLogger(d.log))
	} else {
		d.history, err = history.Open(filepath.Join(opts.DataDir, "history"), history.WithLogger(d.log))
	}
	if err != nil {
		os.RemoveAll(d.tempDir)
		return nil, fmt.Errorf("opening history: %w", err)
	}
	for _, p := range d.history.Problems() {
		d.log.Warn("history", "problem", p)
	}
	d.audit, err = audit.Open(audit.Options{Dir: auditDir, State: func() hotreload.Status { return d.engine.Status() }, Redact: d.secrets.Scrub,
		MaxSize: opts.AuditMaxBytes, Keep: opts.AuditKeep})
	if err != nil {
		d.history.Close()
		os.RemoveAll(d.tempDir)
		return nil, fmt.Errorf("opening the audit log: %w", err)
	}
	if err := d.audit.Check(ctx); err != nil {
		d.log.Error("the audit log is not intact: serving, refusing every mutation", "err", err)
	} else if rep := d.audit.Opened(); !rep.OK() {
		d.log.Error("the audit log was edited: see hotreload audit verify", "problems", len(rep.Problems), "first", rep.Problems[0].String())
	}
	// The overlay shows files relative to the folders they live in (the UI
	// folder adds itself), never a server path.
	roots := append([]string{opts.PluginsDir}, opts.OverlayRoots...)
	for _, f := range append(slices.Clone(opts.ConfigFiles), opts.ChecksFile) {
		if f != "" {
			roots = append(roots, filepath.Dir(f))
		}
	}
	d.ui = ui.NewHub(ui.Options{Logger: d.log, OriginPatterns: originHosts(opts.AllowedOrigins), Roots: roots})
	d.engine = hotreload.New(hotreload.Options{
		History:     d.secrets.History(d.history), // no plaintext in any record
		Gate:        uiUngated{d},
		Publisher:   d.secrets.Publisher(d.bus), // no decrypted value in any event
		Observer:    hotreload.Observers{d.metrics, d.alerts, d.ui},
		Auditor:     d.audit,
		Logger:      d.log,
		StepTimeout: opts.StepTimeout,
	})
	ectx, stop := context.WithCancel(context.WithoutCancel(ctx))
	d.stopEngine = stop
	d.engineDone = make(chan error, 1)
	go func() { d.engineDone <- d.engine.Run(ectx) }()
	return d, nil
}

// loadIdentities reads the age identity file at path; none when empty.
func loadIdentities(path string) ([]age.Identity, error) {
	if path == "" {
		return nil, nil
	}
	ids, err := secret.LoadIdentities(path)
	if err != nil {
		return nil, fmt.Errorf("reading the age identity: %w", err)
	}
	return ids, nil
}

// startDaemon opens the daemon with a config target of type T on the
// config files, watches them when asked, builds the admin API and listens
// on opts.Listen. On error it closes whatever it opened.
func startDaemon[T any](ctx context.Context, opts daemonOptions, validators ...config.Validator[T]) (*daemon, *config.Target[T], net.Listener, error) {
	if opts.Debounce == 0 {
		opts.Debounce = watch.Off
	}
	// The port first: a busy one fails before anything is loaded or built.
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listening for the admin API: %w", err)
	}
	d, err := newDaemon(ctx, opts)
	if err != nil {
		ln.Close()
		return nil, nil, nil, err
	}
	t, err := startConfig(ctx, d, validators)
	if err != nil {
		ln.Close()
		d.close()
		return nil, nil, nil, err
	}
	return d, t, ln, nil
}

func startConfig[T any](ctx context.Context, d *daemon, validators []config.Validator[T]) (*config.Target[T], error) {
	o := config.Options[T]{
		Files:      d.opts.ConfigFiles,
		Limits:     d.opts.Limits,
		Strict:     d.opts.Mode == admin.Prod,
		Transform:  d.secrets.Transform,
		Encrypt:    d.secrets.Encrypt,
		Validators: validators,
		Logger:     d.log,
	}
	if d.opts.SchemaFile != "" {
		schema, err := config.LoadSchema(d.opts.SchemaFile)
		if err != nil {
			return nil, err
		}
		o.Schema = schema
		// Values the schema marks secret are redacted like decrypted ones.
		o.Transform = func(doc any) (any, error) {
			d.secrets.AddPaths(schema.SecretPaths(doc)...)
			return d.secrets.Transform(doc)
		}
	}
	t, err := config.NewTarget(o)
	if err != nil {
		return nil, err
	}
	if err := d.addConfig(ctx, t); err != nil {
		t.Close()
		return nil, err
	}
	if d.opts.PluginsDir != "" {
		if err := d.startPlugins(ctx, t.Encrypted); err != nil {
			return nil, err
		}
	}
	if d.opts.Exec != "" {
		if err := d.startExec(ctx, d.opts.Exec, d.opts.AppListen); err != nil {
			return nil, err
		}
	}
	if d.opts.UIDir != "" {
		if err := d.startUI(ctx); err != nil {
			return nil, err
		}
	}
	if d.opts.ChecksFile != "" {
		checks := checkfile.NewTarget("checks", d.opts.ChecksFile, d.monitor, d.gate)
		if _, err := d.engine.Add(ctx, checks); err != nil {
			return nil, fmt.Errorf("loading the health checks: %w", err)
		}
	}
	if d.opts.Watch {
		if err := d.watchTarget(ctx, t.Name(), d.opts.ConfigFiles); err != nil {
			return nil, err
		}
		if d.opts.ChecksFile != "" {
			if err := d.watchTarget(ctx, "checks", []string{d.opts.ChecksFile}); err != nil {
				return nil, err
			}
		}
	}
	if err := d.newAdmin(); err != nil {
		return nil, err
	}
	return t, nil
}

// addConfig registers the config target: it serves last known good if its
// files are invalid, and fails when there is nothing to serve.
func (d *daemon) addConfig(ctx context.Context, t configTarget) error {
	d.config = t
	d.metrics.Track(t.Name())
	o, err := d.engine.Add(ctx, t)
	if err != nil {
		return err
	}
	if o.Result == hotreload.Rejected {
		fmt.Fprintf(d.opts.Stderr, "config is invalid; serving the last known good version %d:\n", o.Active)
		for _, e := range o.Errors {
			fmt.Fprintln(d.opts.Stderr, "  "+e.String())
		}
	}
	return nil
}

// startPlugins hosts the Wasm plugins of the plugin directory as one target
// that follows the config (a plugin's settings are its section under
// /plugins), and keeps them in line with the directory.
func (d *daemon) startPlugins(ctx context.Context, config func() any) error {
	host, err := plugin.New(plugin.Options{
		Dir:          d.opts.PluginsDir,
		DataDir:      filepath.Join(d.opts.DataDir, "plugins"),
		Config:       config, // encrypted: Reveal decrypts
		Reveal:       d.secrets.Reveal,
		ConfigTarget: d.config.Name(),
		Submit:       d.engine.Reload,
		Debounce:     d.opts.Debounce,
		// Failed plugin calls count in the health gate's exception rate.
		ReportException: d.traffic.ReportException,
		Logger:          d.log,
	})
	if err != nil {
		return fmt.Errorf("starting the plugin host: %w", err)
	}
	d.plugins = host
	d.metrics.Track(host.Name())
	if _, err := d.engine.Add(ctx, host); err != nil {
		return fmt.Errorf("loading the plugins: %w", err)
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := host.Watch(wctx, d.engine.Submit); err != nil {
			d.log.Error("watching the plugin directory", "err", err)
		}
	}()
	d.closers = append(d.closers, func() { stop(); <-done })
	return nil
}

// startUI serves the UI folder and live-reloads it in the browsers.
func (d *daemon) startUI(ctx context.Context) error {
	d.assets = ui.NewAssets(d.opts.UIDir, d.ui, ui.AssetsOptions{Logger: d.log, Debounce: d.opts.Debounce})
	d.ungated[d.assets.Name()] = true
	d.metrics.Track(d.assets.Name())
	if _, err := d.engine.Add(ctx, d.assets); err != nil {
		return fmt.Errorf("loading the UI folder: %w", err)
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.assets.Watch(wctx, d.engine.Submit); err != nil {
			d.log.Error("watching the UI folder", "err", err)
		}
	}()
	d.closers = append(d.closers, func() { stop(); <-done })
	return nil
}

// uiUngated is the daemon's health gate: transactions of ungated targets
// only skip it: the UI folder (no health check observes a stylesheet) and
// the dev loop's program (a save must not wait a window; a crash restarts
// it). Every other transaction is gated.
type uiUngated struct{ d *daemon }

// Watch implements hotreload.Gate.
func (g uiUngated) Watch(ctx context.Context, tx hotreload.Transaction) error {
	if len(tx.Targets) > 0 && !slices.ContainsFunc(tx.Targets, func(t string) bool { return !g.d.ungated[t] }) {
		return nil
	}
	return g.d.gate.Watch(ctx, tx)
}

// watchTarget reloads the named target whenever one of its files changes.
func (d *daemon) watchTarget(ctx context.Context, name string, files []string) error {
	w, err := watch.New(watch.Options{
		Files:    files,
		Debounce: d.opts.Debounce,
		OnError:  func(error) { d.metrics.WatcherError(name) },
	})
	if err != nil {
		return fmt.Errorf("watching the files of %s: %w", name, err)
	}
	d.closers = append(d.closers, func() { _ = w.Close() })
	go w.Follow(ctx, func(watch.Batch) { d.reload(ctx, "watch", name) },
		func(err error) { d.log.Warn("watch", "target", name, "err", err) })
	return nil
}

// reload runs a reload from source of the named target and logs what came
// of it. It returns once the candidate is live, not after its health
// window, so that the next change reaches the engine at once and
// supersedes it.
func (d *daemon) reload(ctx context.Context, source, target string) {
	o, err := d.engine.Submit(ctx, hotreload.Request{Source: source, Targets: []string{target}})
	switch {
	case errors.Is(err, context.Canceled):
	case err != nil:
		d.log.Error("reload refused", "source", source, "target", target, "err", err)
	case o.Result == hotreload.Rejected:
		for _, e := range o.Errors {
			d.log.Warn("invalid candidate", "target", target, "error", e.String())
		}
	}
}

// reloadAll reloads every target from its source in one transaction.
func (d *daemon) reloadAll(ctx context.Context, source string) {
	o, err := d.engine.Submit(ctx, hotreload.Request{Source: source})
	if err != nil {
		d.log.Error("reload refused", "source", source, "err", err)
		if d.notify != nil {
			// systemctl reload waits for RELOADING=1 then READY=1.
			_ = d.notify.Reloading("reload refused")
			_ = d.notify.Ready("reload refused: " + err.Error())
		}
		return
	}
	for _, e := range o.Errors {
		d.log.Warn("invalid candidate", "error", e.String())
	}
}

// run serves HTTP on ln and reloads on SIGHUP until ctx is done, then shuts
// everything down in order.
func (d *daemon) run(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := admin.NewHTTPServer(ln.Addr().String(), handler)
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()

	// systemd's notify-reload protocol; a no-op without NOTIFY_SOCKET.
	notify, err := sdnotify.New()
	if err != nil {
		d.log.Warn("systemd notification socket unusable", "err", err)
	}
	if notify != nil && notify.Enabled() {
		d.notify = notify
		sub := events.Subscribe[any](d.bus)
		d.closers = append(d.closers, sub.Close)
		go notify.Follow(ctx, sub)
		if err := notify.Ready(fmt.Sprintf("serving version %d", d.engine.Status().Active)); err != nil {
			d.log.Warn("notifying systemd", "err", err)
		}
		defer func() { _ = notify.Stopping() }()
	}

	monCtx, stopMon := context.WithCancel(ctx)
	monDone := make(chan error, 2)
	go func() { monDone <- d.monitor.Run(monCtx) }()
	go func() { monDone <- d.alerts.Run(monCtx) }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			d.reloadAll(ctx, "signal")
		case err = <-srvErr:
			break loop
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdown); serr != nil && err == nil {
		err = serr
	}
	stopMon()
	<-monDone
	<-monDone
	d.close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// close stops the triggers (watchers, sources), then the engine, then
// releases what the daemon holds, so no trigger meets a stopped engine.
func (d *daemon) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.stopEngine()
	<-d.engineDone
	if d.admin != nil {
		d.admin.Close()
	}
	if d.plugins != nil {
		if err := d.plugins.Close(context.Background()); err != nil {
			d.log.Error("closing the plugin host", "err", err)
		}
	}
	if d.config != nil {
		d.config.Close()
	}
	if err := d.audit.Close(); err != nil {
		d.log.Error("closing the audit log", "err", err)
	}
	if err := d.ui.Close(); err != nil {
		d.log.Error("closing the UI hub", "err", err)
	}
	d.bus.Close()
	if err := d.history.Close(); err != nil {
		d.log.Error("closing history", "err", err)
	}
	if d.tempDir != "" {
		os.RemoveAll(d.tempDir)
	}
}

// originHosts turns origins (scheme://host:port) into the host patterns
// of ui.Options.OriginPatterns.
func originHosts(origins []string) []string {
	var out []string
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
		}
	}
	return out
}

// checkPrivate refuses a file others could change (see
// inputfile.CheckPrivate), unless --insecure-permissions; a path that is
// empty or does not exist yet is fine.
func (d *daemon) checkPrivate(path string) error {
	if path == "" || d.opts.InsecurePermissions {
		return nil
	}
	if err := inputfile.CheckPrivate(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// configName is the config target's name, "" without one (hotreload dev).
func (d *daemon) configName() string {
	if d.config == nil {
		return ""
	}
	return d.config.Name()
}

// newAdmin builds the admin API with the daemon's parts mounted: health
// probes, and what the caller adds afterwards with d.admin.Mount.
func (d *daemon) newAdmin() error {
	if d.opts.AuthFile != "" {
		var strict []auth.Option
		if !d.opts.InsecurePermissions {
			strict = append(strict, auth.Private()) // checked on the file read, at every reload
		}
		tokens, err := auth.Open(d.opts.AuthFile, strict...)
		if err != nil {
			return fmt.Errorf("reading the auth file: %w", err)
		}
		d.tokens = tokens
		w, err := watch.New(watch.Options{Files: []string{d.opts.AuthFile}, Debounce: 100 * time.Millisecond})
		if err != nil {
			return fmt.Errorf("watching the auth file: %w", err)
		}
		d.closers = append(d.closers, func() { _ = w.Close() })
		go w.Follow(context.Background(), func(watch.Batch) {
			var np *inputfile.NotPrivateError
			if err := tokens.Reload(); errors.As(err, &np) {
				d.log.Error("auth file refused; keeping the previous tokens", "err", err)
			} else if err != nil {
				d.log.Error("auth file is invalid; keeping the previous tokens", "err", err)
			} else {
				d.log.Info("auth file reloaded", "tokens", tokens.Len())
			}
		}, nil)
	}
	parts := map[string]func(context.Context) any{
		"health": func(context.Context) any { return d.monitor.Summary() },
		"alerts": func(context.Context) any { return d.alerts.Active() },
		"audit":  func(ctx context.Context) any { return auditStatus(ctx, d.audit) },
	}
	if d.plugins != nil {
		parts["plugins"] = func(context.Context) any { l, _ := d.plugins.List(); return l }
	}
	srv, err := admin.New(admin.Options{
		Mode:           d.opts.Mode,
		Listen:         d.opts.Listen,
		Engine:         d.engine,
		History:        d.history,
		Config:         d.config,
		ConfigTarget:   d.configName(),
		Bus:            d.bus,
		Tokens:         d.tokens,
		AllowedHosts:   d.opts.AllowedHosts,
		AllowedOrigins: d.opts.AllowedOrigins,
		Audit:          d.audit,
		Redact:         d.secrets.Redact,
		RedactChanges:  func(_ string, c []hotreload.PathChange) []hotreload.PathChange { return d.secrets.RedactChanges(c) },
		Scrub:          d.secrets.Scrub,
		StatusParts:    parts,
		Logger:         d.log,
	})
	if err != nil {
		return err
	}
	d.admin = srv
	srv.Mount("GET /{$}", auth.Public, dashboard.Handler()) // the page holds no data; its API calls are authorised
	srv.Mount("GET "+dashboard.Prefix, auth.Public, dashboard.Handler())
	srv.Mount("GET /metrics", auth.Viewer, d.metrics.Handler())
	// The browser UI channel: the session cookie or a token authorises the
	// sockets; the client script is public.
	srv.Mount("GET /ws", auth.Viewer, http.HandlerFunc(d.ui.ServeWS))
	srv.Mount("GET /livereload", auth.Viewer, http.HandlerFunc(d.ui.ServeLiveReload))
	srv.Mount("GET /hotreload.js", auth.Public, ui.Script)
	srv.Mount("GET /livereload.js", auth.Public, ui.Script)
	srv.Mount("GET /api/v1/ui/clients", auth.Viewer, http.HandlerFunc(d.ui.ServeClients))
	if d.assets != nil {
		srv.Mount("GET /ui/", auth.Public, d.assets)
	}
	if d.plugins != nil {
		h := d.plugins.Handler(func(r *http.Request) string {
			id, _ := admin.IdentityFrom(r.Context())
			return id.Name
		})
		srv.Mount("GET /api/v1/plugins", auth.Viewer, h)
		srv.Mount("GET /api/v1/plugins/{name}", auth.Viewer, h)
		srv.Mount("POST /api/v1/plugins/{name}/{action}", auth.Operator, h)
	}
	srv.Mount("POST /api/v1/unfreeze", auth.Operator, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := d.engine.Unfreeze(r.Context()); err != nil {
			httpjson.WriteError(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]bool{"frozen": false})
	}))
	srv.Mount("GET /api/v1/health", auth.Viewer, http.HandlerFunc(d.monitor.ServeHealth))
	srv.Mount("GET /healthz", auth.Public, http.HandlerFunc(d.monitor.ServeLive))
	srv.Mount("GET /readyz", auth.Public, http.HandlerFunc(d.monitor.ServeReady))
	if err := d.monitor.Add("audit", health.CheckFunc(d.audit.Check), health.CheckOptions{Critical: true}); err != nil {
		return err
	}
	// A target step past its deadline that has not returned: /readyz says
	// so (503) until it does.
	engine := health.CheckFunc(func(context.Context) error {
		if stuck := d.engine.Status().Stuck; len(stuck) > 0 {
			return fmt.Errorf("a transaction step overran its deadline and has not returned: %s", strings.Join(stuck, ", "))
		}
		return nil
	})
	return d.monitor.Add("engine", engine, health.CheckOptions{Critical: true, Interval: time.Second})
}

// auditStatus is the audit part of GET /api/v1/status: whether the log was
// intact when the daemon started, its first problems, and why mutations
// are refused, if they are.
func auditStatus(ctx context.Context, l *audit.Log) any {
	rep := l.Opened()
	st := struct {
		Intact   bool     `json:"intact"`
		Problems int      `json:"problems,omitempty"`
		First    []string `json:"first,omitempty"`
		Error    string   `json:"error,omitempty"`
	}{Intact: rep.OK(), Problems: len(rep.Problems)}
	for _, p := range rep.Problems[:min(len(rep.Problems), 5)] {
		st.First = append(st.First, p.String())
	}
	if err := l.Check(ctx); err != nil {
		st.Error = err.Error()
	}
	return st
}
