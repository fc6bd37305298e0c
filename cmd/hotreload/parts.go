package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/health/checkfile"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/ui"
	"github.com/cybercorp/hotreload/watch"
)

// The parts the commands' lists are made of. Each command writes its list
// (serveParts, demoParts, dev's in runDev); startDaemon adds them.

// newConfig builds the config target of type T on the config files, with
// the schema and validators, as the daemon's config part.
func newConfig[T any](s *services, validators ...config.Validator[T]) (*config.Target[T], error) {
	o := config.Options[T]{
		Files:     s.opts.ConfigFiles,
		Limits:    s.opts.Limits,
		Strict:    s.opts.Mode == admin.Prod,
		Transform: s.transform(nil),
		Encrypt:   s.secrets.Encrypt,
		// A plugin's settings its manifest marks secret are sealed too.
		SecretPaths: s.pluginSecretPaths,
		Validators:  validators,
		Logger:      s.log,
	}
	if s.opts.SchemaFile != "" {
		schema, err := config.LoadSchema(s.opts.SchemaFile)
		if err != nil {
			return nil, err
		}
		o.Schema = schema
		o.Transform = s.transform(schema)
	}
	t, err := config.NewTarget(o)
	if err != nil {
		return nil, err
	}
	s.config = t
	return t, nil
}

// transform decrypts a config document's secrets, and makes the values
// that the schema (if any) and the live plugins' manifests mark secret
// redacted like decrypted ones.
func (s *services) transform(schema *config.Schema) func(any) (any, error) {
	return func(doc any) (any, error) {
		if schema != nil {
			s.secrets.AddPaths(schema.SecretPaths(doc)...)
		}
		s.secrets.AddPaths(s.pluginSecretPaths(doc)...)
		return s.secrets.Transform(doc)
	}
}

// pluginSecretPaths returns the values of the config doc that the live
// plugins' manifests mark secret; none before the plugin host exists.
func (s *services) pluginSecretPaths(doc any) []string {
	if h := s.plugins.Load(); h != nil {
		return h.SecretPaths(doc)
	}
	return nil
}

// fileParts are the parts every config-driven daemon (serve, demo) has
// besides its config target t: the plugin host, the app of --exec, the UI
// folder, the health checks, and a watch of the config and checks files
// when asked.
func fileParts[T any](ctx context.Context, s *services, t *config.Target[T]) (parts []any, err error) {
	o := s.opts
	if o.PluginsDir != "" {
		host, err := newPluginHost(s, t.Encrypted)
		if err != nil {
			return parts, err
		}
		parts = append(parts, host)
	}
	if o.Exec != "" {
		p, err := execParts(ctx, s, o.Exec, o.AppListen)
		parts = append(parts, p...)
		if err != nil {
			return parts, err
		}
	}
	if o.UIDir != "" {
		parts = append(parts, ui.NewAssets(ui.AssetsOptions{Dir: o.UIDir, Hub: s.hub, Logger: s.log, Debounce: o.Debounce}))
	}
	if o.ChecksFile != "" {
		parts = append(parts, checkfile.NewTarget(checkfile.TargetOptions{Path: o.ChecksFile, Monitor: s.monitor, Gate: s.gate}))
	}
	if o.Watch {
		w, err := s.watchFiles(t.Name(), o.ConfigFiles)
		if err != nil {
			return parts, err
		}
		parts = append(parts, w)
		if o.ChecksFile != "" {
			w, err := s.watchFiles("checks", []string{o.ChecksFile})
			if err != nil {
				return parts, err
			}
			parts = append(parts, w)
		}
	}
	return parts, nil
}

// newPluginHost hosts the Wasm plugins of the plugin directory as one target
// that follows the config (a plugin's settings are its section under
// /plugins; config returns it encrypted) and keeps them in line with the
// directory.
func newPluginHost(s *services, config func() any) (*plugin.Host, error) {
	host, err := plugin.New(plugin.Options{
		Dir:          s.opts.PluginsDir,
		DataDir:      filepath.Join(s.opts.DataDir, "plugins"),
		Config:       config, // encrypted: Reveal decrypts
		Reveal:       s.secrets.Reveal,
		ConfigTarget: s.config.Name(),
		Submit:       s.engine.Reload,
		Debounce:     s.opts.Debounce,
		Author: func(r *http.Request) string {
			id, _ := admin.IdentityFrom(r.Context())
			return id.Name
		},
		// Failed plugin calls count in the health gate's exception rate.
		ReportException: s.traffic.ReportException,
		Logger:          s.log,
		Publisher:       s.bus,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the plugin host: %w", err)
	}
	s.plugins.Store(host)
	return host, nil
}

// watchFiles is the trigger that reloads the named target whenever one of
// its files changes.
func (s *services) watchFiles(target string, files []string) (*watch.Trigger, error) {
	w, err := watch.NewTrigger(target, watch.Options{
		Files:    files,
		Debounce: s.opts.Debounce,
		OnError:  func(error) { s.metrics.WatcherError(target) },
	}, s.log)
	if err != nil {
		return nil, fmt.Errorf("watching the files of %s: %w", target, err)
	}
	return w, nil
}
