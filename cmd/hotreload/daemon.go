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
	"sync/atomic"
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

// services are what every part may be built from: the engine and what
// surrounds it. A command's list of parts (serve, demo, dev) gets them;
// nothing else of the daemon is reachable from a list.
type services struct {
	opts    daemonOptions
	log     *slog.Logger
	engine  *hotreload.Engine
	bus     *events.Bus
	monitor *health.Monitor
	gate    *health.Gate
	traffic *health.Traffic
	secrets *secret.Decrypter
	metrics *metrics.Metrics
	hub     *ui.Hub
	// addr is the admin API's address; "" when it is not served.
	addr string
	// config is the config part (newConfig sets it): the admin API's
	// GET and PATCH /api/v1/config.
	config configTarget
	// plugins is the plugin host (newPluginHost sets it), read by the
	// engine goroutine for the plugins' secret paths.
	plugins atomic.Pointer[plugin.Host]
}

// configTarget is the config target the daemon serves, whatever its type.
type configTarget interface {
	hotreload.Target
	Redacted() any
}

// partsFunc writes a command's list of parts. Each part is a
// hotreload.Target, a hotreload.Trigger or both, and may be a
// hotreload.Router; the daemon adds the targets to the engine in list
// order, runs each trigger once its part is added, and mounts every route.
// A part with a Close method is closed after the engine stops, in reverse
// list order. On error the function returns the parts built so far with
// the error, and the daemon closes them.
type partsFunc func(ctx context.Context, s *services) ([]any, error)

// daemon is the control plane: the services, history and the audit log, the
// admin API, and the parts of one list.
type daemon struct {
	services
	history  *history.Store
	audit    *audit.Log
	alerts   *alert.Evaluator
	admin    *admin.Server // nil when the admin API is not served
	ln       net.Listener  // the admin API's; nil when not served
	notify   *sdnotify.Notifier
	parts    []any
	life     group  // starts and stops everything
	auditDir string // the data dir, or a temporary folder without one
}

// startFault, when set (by tests), is called before each start step; an
// error it returns fails the start there.
var startFault func(step string) error

// step is called before each start step.
func step(name string) error {
	if startFault != nil {
		return startFault(name)
	}
	return nil
}

// startDaemon builds the services, opens history and the audit log, starts
// the engine, then adds the parts list writes: for each, engine.Add when it
// is a target, its trigger in the daemon's group, its routes in the admin
// API, served on ln (nil serves none). It owns ln from the call on. On
// error it stops whatever it started, each piece once, and returns nil.
func startDaemon(ctx context.Context, opts daemonOptions, ln net.Listener, list partsFunc) (_ *daemon, err error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Debounce == 0 {
		opts.Debounce = watch.Off
	}
	d := &daemon{services: services{opts: opts, traffic: &health.Traffic{}}}
	defer func() {
		if err != nil {
			d.life.Stop()
		}
	}()
	if ln != nil {
		ol := &onceListener{Listener: ln}
		d.ln, d.addr = ol, ln.Addr().String()
		d.life.Defer(func() { _ = ol.Close() })
	}
	for _, st := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"secrets", d.openSecrets},
		{"history", d.openHistory},
		{"audit", d.openAudit},
		{"health", d.buildHealth},
		{"engine", d.startEngine},
	} {
		if err := step(st.name); err != nil {
			return nil, err
		}
		if err := st.run(ctx); err != nil {
			return nil, err
		}
	}
	if err := step("parts"); err != nil {
		return nil, err
	}
	parts, err := list(ctx, &d.services)
	d.parts = parts
	if err != nil {
		return nil, err
	}
	var routes []hotreload.Route
	for _, p := range parts {
		if err := d.addPart(ctx, p); err != nil {
			return nil, err
		}
		if r, ok := p.(hotreload.Router); ok {
			routes = append(routes, r.Routes()...)
		}
	}
	if d.ln != nil {
		if err := step("admin"); err != nil {
			return nil, err
		}
		if err := d.newAdmin(routes); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// openSecrets checks the permissions of what the daemon reads, loads the
// age identity and builds the logger, which redacts every secret.
func (d *daemon) openSecrets(context.Context) error {
	opts := d.opts
	if opts.DataDir != "" {
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return fmt.Errorf("creating the data dir: %w", err)
		}
	}
	identity := opts.AgeIdentity
	if identity == "" {
		identity = os.Getenv(secret.IdentityEnv)
	}
	for _, path := range []string{opts.DataDir, identity, opts.AuthFile} {
		if err := d.checkPrivate(path); err != nil {
			return err
		}
	}
	ids, err := loadIdentities(identity)
	if err != nil {
		return err
	}
	d.secrets = secret.NewDecrypter(ids...)
	d.log = slog.New(d.secrets.LogHandler(admin.LogHandler(opts.Stderr, opts.Mode)))
	if opts.InsecurePermissions {
		d.log.Warn("--insecure-permissions: the auth file, the age identity and the data dir are not checked for write access by other users")
	}
	return nil
}

// openHistory opens history in the data dir, or in memory without one
// (hotreload dev), with the audit log in a temporary folder then.
func (d *daemon) openHistory(context.Context) error {
	var err error
	if d.opts.DataDir == "" {
		tmp, err := os.MkdirTemp("", "hotreload-")
		if err != nil {
			return fmt.Errorf("creating a temporary data dir: %w", err)
		}
		d.life.Defer(func() { os.RemoveAll(tmp) })
		d.auditDir = tmp
		d.history, err = history.Memory(history.Options{Logger: d.log})
		if err != nil {
			return fmt.Errorf("opening history: %w", err)
		}
	} else {
		d.auditDir = d.opts.DataDir
		if d.history, err = history.Open(history.Options{Dir: filepath.Join(d.opts.DataDir, "history"), Logger: d.log}); err != nil {
			return fmt.Errorf("opening history: %w", err)
		}
	}
	d.life.Defer(func() {
		if err := d.history.Close(); err != nil {
			d.log.Error("closing history", "err", err)
		}
	})
	for _, p := range d.history.Problems() {
		d.log.Warn("history", "problem", p)
	}
	return nil
}

// openAudit opens the audit log and says if it is not intact.
func (d *daemon) openAudit(ctx context.Context) error {
	var err error
	d.audit, err = audit.Open(audit.Options{Dir: d.auditDir, State: func() hotreload.Status { return d.engine.Status() }, Redact: d.secrets.Scrub,
		MaxSize: d.opts.AuditMaxBytes, Keep: d.opts.AuditKeep})
	if err != nil {
		return fmt.Errorf("opening the audit log: %w", err)
	}
	d.life.Defer(func() {
		if err := d.audit.Close(); err != nil {
			d.log.Error("closing the audit log", "err", err)
		}
	})
	if err := d.audit.Check(ctx); err != nil {
		d.log.Error("the audit log is not intact: serving, refusing every mutation", "err", err)
	} else if rep := d.audit.Opened(); !rep.OK() {
		d.log.Error("the audit log was edited: see hotreload audit verify", "problems", len(rep.Problems), "first", rep.Problems[0].String())
	}
	return nil
}

// buildHealth builds the event bus, the metrics, the alert evaluator, the
// health monitor with the daemon's own critical checks, and the gate.
func (d *daemon) buildHealth(context.Context) error {
	d.bus = events.New()
	d.life.Defer(d.bus.Close)
	d.metrics = metrics.New()
	var err error
	if d.alerts, err = alert.New(alert.Options{Publisher: d.bus, Logger: d.log}); err != nil {
		return err
	}
	d.monitor = health.NewMonitor(health.MonitorOptions{
		Publisher: d.bus,
		OnFailure: func(check string, _ error) { d.metrics.CheckFailed(check) },
		Logger:    d.log,
	})
	window := d.opts.Window
	if window == 0 {
		window = health.ProductionWindow
		if d.opts.Mode == admin.Dev {
			window = health.DevWindow
		}
	}
	if d.gate, err = health.NewGate(d.monitor, health.GateOptions{Window: window, Traffic: d.traffic, IgnorePreexisting: true, Logger: d.log}); err != nil {
		return err
	}
	if err := d.monitor.Add("audit", health.CheckFunc(d.audit.Check), health.CheckOptions{Critical: true}); err != nil {
		return err
	}
	// A target step past its deadline that has not returned: /readyz says
	// so (503) until it does.
	// (A closure: the engine is built after the checks.)
	engine := health.CheckFunc(func(ctx context.Context) error { return d.engine.Check(ctx) })
	return d.monitor.Add("engine", engine, health.CheckOptions{Critical: true, Interval: time.Second})
}

// startEngine builds the UI hub and the engine, and runs the engine. The
// parts close after the engine stops.
func (d *daemon) startEngine(ctx context.Context) error {
	// The overlay shows files relative to the folders they live in (the UI
	// folder adds itself), never a server path.
	roots := append([]string{d.opts.PluginsDir}, d.opts.OverlayRoots...)
	for _, f := range append(slices.Clone(d.opts.ConfigFiles), d.opts.ChecksFile) {
		if f != "" {
			roots = append(roots, filepath.Dir(f))
		}
	}
	d.hub = ui.NewHub(ui.Options{Logger: d.log, OriginPatterns: originHosts(d.opts.AllowedOrigins), Roots: roots})
	d.life.Defer(func() {
		if err := d.hub.Close(); err != nil {
			d.log.Error("closing the UI hub", "err", err)
		}
	})
	d.life.Defer(d.closeParts)
	d.engine = hotreload.New(hotreload.Options{
		History:     d.secrets.History(d.history), // no plaintext in any record
		Gate:        d.gate,                       // ungated targets skip it (hotreload.Ungated)
		Publisher:   d.secrets.Publisher(d.bus),   // no decrypted value in any event
		Observer:    hotreload.Observers{d.metrics, d.alerts, d.hub},
		Auditor:     d.audit,
		Logger:      d.log,
		StepTimeout: d.opts.StepTimeout,
	})
	d.life.Go(ctx, func(ctx context.Context) { _ = d.engine.Run(ctx) })
	return nil
}

// addPart adds p to the engine when it is a target (an invalid source then
// serves last known good, and says so) and runs its trigger.
func (d *daemon) addPart(ctx context.Context, p any) error {
	if t, ok := p.(hotreload.Target); ok {
		name := t.Name()
		if err := step("add " + name); err != nil {
			return err
		}
		d.metrics.Track(name)
		o, err := d.engine.Add(ctx, t)
		if err != nil {
			return fmt.Errorf("loading %s: %w", name, err)
		}
		if o.Result == hotreload.Rejected {
			fmt.Fprintf(d.opts.Stderr, "%s is invalid; serving the last known good version %d:\n", name, o.Active)
			for _, e := range o.Errors {
				fmt.Fprintln(d.opts.Stderr, "  "+e.String())
			}
		}
	}
	if tr, ok := p.(hotreload.Trigger); ok {
		if err := step(fmt.Sprintf("trigger %T", p)); err != nil {
			return err
		}
		d.life.Go(ctx, func(ctx context.Context) {
			if err := tr.Watch(ctx, d.engine.Submit); err != nil && ctx.Err() == nil {
				d.log.Error("a trigger stopped", "part", fmt.Sprintf("%T", p), "err", err)
			}
		})
	}
	return nil
}

// closeParts closes every part that has a Close method, in reverse list
// order.
func (d *daemon) closeParts() {
	for i := len(d.parts) - 1; i >= 0; i-- {
		var err error
		switch c := d.parts[i].(type) {
		case interface{ Close(context.Context) error }:
			err = c.Close(context.Background())
		case interface{ Close() error }:
			err = c.Close()
		case interface{ Close() }:
			c.Close()
		}
		if err != nil {
			d.log.Error("closing a part", "part", fmt.Sprintf("%T", d.parts[i]), "err", err)
		}
	}
}

// closeFunc is a part that only needs closing (an etcd client).
type closeFunc func() error

func (f closeFunc) Close() error { return f() }

// routes is a part that only serves admin endpoints.
type routes []hotreload.Route

func (r routes) Routes() []hotreload.Route { return r }

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

// submitLogged submits a reload from source of the named target and logs
// what came of it.
func submitLogged(ctx context.Context, log *slog.Logger, submit hotreload.SubmitFunc, source hotreload.Source, target string) {
	o, err := submit(ctx, hotreload.Request{Source: source, Targets: []string{target}})
	switch {
	case errors.Is(err, context.Canceled):
	case err != nil:
		log.Error("reload refused", "source", source, "target", target, "err", err)
	case o.Result == hotreload.Rejected:
		for _, e := range o.Errors {
			log.Warn("invalid candidate", "target", target, "error", e.String())
		}
	}
}

// reloadAll reloads every target from its source in one transaction.
func (d *daemon) reloadAll(ctx context.Context, source hotreload.Source) {
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

// run serves the admin API (when there is one) and reloads on SIGHUP until
// ctx is done, then stops everything, in reverse order of start.
func (d *daemon) run(ctx context.Context) error {
	defer d.life.Stop()
	var srvErr chan error
	var shutdownErr error
	if d.ln != nil {
		srv := admin.NewHTTPServer(d.addr, d.admin)
		srvErr = make(chan error, 1)
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			srvErr <- srv.Serve(d.ln)
		}()
		d.life.Defer(func() {
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			shutdownErr = srv.Shutdown(shutdown)
			<-exited
		})
	}

	// systemd's notify-reload protocol; a no-op without NOTIFY_SOCKET.
	notify, err := sdnotify.New()
	if err != nil {
		d.log.Warn("systemd notification socket unusable", "err", err)
	}
	if notify != nil && notify.Enabled() {
		d.notify = notify
		sub := events.Subscribe[any](d.bus)
		d.life.Defer(sub.Close)
		d.life.Go(ctx, func(ctx context.Context) { notify.Follow(ctx, sub) })
		if err := notify.Ready(fmt.Sprintf("serving version %d", d.engine.Status().Active)); err != nil {
			d.log.Warn("notifying systemd", "err", err)
		}
		d.life.Defer(func() { _ = notify.Stopping() })
	}
	d.life.Go(ctx, func(ctx context.Context) { _ = d.monitor.Run(ctx) })
	d.life.Go(ctx, func(ctx context.Context) { _ = d.alerts.Run(ctx) })

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	err = nil
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			d.reloadAll(ctx, hotreload.SourceSignal)
		case err = <-srvErr:
			break loop
		}
	}
	d.life.Stop()
	if err == nil {
		err = shutdownErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
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

// newAdmin builds the admin API, with the auth file watched for new tokens,
// and mounts every route of the daemon and its parts.
func (d *daemon) newAdmin(partRoutes []hotreload.Route) error {
	var tokens *auth.Store
	if d.opts.AuthFile != "" {
		var strict []auth.Option
		if !d.opts.InsecurePermissions {
			strict = append(strict, auth.Private()) // checked on the file read, at every reload
		}
		var err error
		if tokens, err = auth.Open(d.opts.AuthFile, strict...); err != nil {
			return fmt.Errorf("reading the auth file: %w", err)
		}
		w, err := watch.New(watch.Options{Files: []string{d.opts.AuthFile}, Debounce: 100 * time.Millisecond})
		if err != nil {
			return fmt.Errorf("watching the auth file: %w", err)
		}
		d.life.Defer(func() { _ = w.Close() })
		d.life.Go(context.Background(), func(ctx context.Context) {
			w.Follow(ctx, func(watch.Batch) {
				var np *inputfile.NotPrivateError
				if err := tokens.Reload(); errors.As(err, &np) {
					d.log.Error("auth file refused; keeping the previous tokens", "err", err)
				} else if err != nil {
					d.log.Error("auth file is invalid; keeping the previous tokens", "err", err)
				} else {
					d.log.Info("auth file reloaded", "tokens", tokens.Len())
				}
			}, nil)
		})
	}
	status := map[string]func(context.Context) any{
		"health": func(context.Context) any { return d.monitor.Summary() },
		"alerts": func(context.Context) any { return d.alerts.Active() },
		"rules":  func(context.Context) any { return d.alerts.Rules() },
		"window": func(context.Context) any { return d.gate.Window() },
		"audit":  func(ctx context.Context) any { return auditStatus(ctx, d.audit) },
	}
	for _, p := range d.parts {
		if h, ok := p.(*plugin.Host); ok {
			status["plugins"] = func(context.Context) any { l, _ := h.List(); return l }
		}
	}
	configName := ""
	if d.config != nil {
		configName = d.config.Name()
	}
	srv, err := admin.New(admin.Options{
		Mode:           d.opts.Mode,
		Listen:         d.addr,
		Engine:         d.engine,
		History:        d.history,
		Config:         d.config,
		ConfigTarget:   configName,
		Bus:            d.bus,
		Tokens:         tokens,
		AllowedHosts:   d.opts.AllowedHosts,
		AllowedOrigins: d.opts.AllowedOrigins,
		Audit:          d.audit,
		Redact:         d.secrets.Redact,
		RedactChanges:  func(_ string, c []hotreload.PathChange) []hotreload.PathChange { return d.secrets.RedactChanges(c) },
		Scrub:          d.secrets.Scrub,
		StatusParts:    status,
		Logger:         d.log,
	})
	if err != nil {
		return err
	}
	d.admin = srv
	d.life.Defer(func() { _ = srv.Close() })
	for _, r := range append(d.routes(), partRoutes...) {
		srv.Mount(r.Pattern, r.Role, r.Handler)
	}
	return nil
}

// routes are the admin routes the daemon serves beside the admin API's own
// (admin.Server: status, config, reload, rollback, history, events,
// session, audit) and those of its parts (ui.Assets: /ui/; plugin.Host:
// /api/v1/plugins; the fleet: /api/v1/fleet; any Router in the list).
func (d *daemon) routes() []hotreload.Route {
	unfreeze := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := d.auditUnfreeze(r); err != nil {
			httpjson.WriteError(w, err)
			return
		}
		if err := d.engine.Unfreeze(r.Context()); err != nil {
			httpjson.WriteError(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]bool{"frozen": false})
	})
	return []hotreload.Route{
		// The dashboard's page holds no data; its API calls are authorised.
		{Pattern: "GET /{$}", Role: auth.Public, Handler: dashboard.Handler()},
		{Pattern: "GET " + dashboard.Prefix, Role: auth.Public, Handler: dashboard.Handler()},
		{Pattern: "GET /metrics", Role: auth.Viewer, Handler: d.metrics.Handler()},
		// The browser UI channel: the session cookie or a token authorises
		// the sockets; the client script is public.
		{Pattern: "GET /ws", Role: auth.Viewer, Handler: http.HandlerFunc(d.hub.ServeWS)},
		{Pattern: "GET /livereload", Role: auth.Viewer, Handler: http.HandlerFunc(d.hub.ServeLiveReload)},
		{Pattern: "GET /hotreload.js", Role: auth.Public, Handler: ui.Script},
		{Pattern: "GET /livereload.js", Role: auth.Public, Handler: ui.Script},
		{Pattern: "GET /api/v1/ui/clients", Role: auth.Viewer, Handler: http.HandlerFunc(d.hub.ServeClients)},
		{Pattern: "POST /api/v1/unfreeze", Role: auth.Operator, Handler: unfreeze},
		{Pattern: "GET /api/v1/trends", Role: auth.Viewer, Handler: d.metrics.TrendsHandler(d.secrets.Scrub)},
		{Pattern: "GET /api/v1/health", Role: auth.Viewer, Handler: http.HandlerFunc(d.monitor.ServeHealth)},
		{Pattern: "GET /healthz", Role: auth.Public, Handler: http.HandlerFunc(d.monitor.ServeLive)},
		{Pattern: "GET /readyz", Role: auth.Public, Handler: http.HandlerFunc(d.monitor.ServeReady)},
	}
}

// auditUnfreeze records an unfreeze in the audit log before it is made:
// like every mutation, none is made that the log did not take.
func (d *daemon) auditUnfreeze(r *http.Request) error {
	id, _ := admin.IdentityFrom(r.Context())
	st := d.engine.Status()
	e := audit.Entry{Kind: audit.KindAction, Source: hotreload.SourceAPI, Actor: id.Name, Remote: r.RemoteAddr,
		Action: "unfreeze", VersionBefore: st.Active, Reason: st.FrozenReason}
	if id.Name != "" {
		e.Role = id.Role.String()
	}
	ctx, cancel := context.WithTimeout(r.Context(), audit.DefaultTimeout)
	defer cancel()
	if err := d.audit.Append(ctx, e); err != nil {
		return hotreload.Errorf(hotreload.CodeUnavailable, "unfreeze refused: the audit log did not record it: %v", err)
	}
	return nil
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
