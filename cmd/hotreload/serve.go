package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/audit"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/health"
)

func init() { register(newServeCmd) }

// DefaultListen is the admin API's default address.
const DefaultListen = "127.0.0.1:7070"

func newServeCmd() *cobra.Command {
	var (
		opts  daemonOptions
		mode  string
		watch bool
		eo    etcdOptions
	)
	cmd := &cobra.Command{
		Use:   "serve --config FILE|--source etcd://HOST:PORT/KEY [--schema FILE] [--data-dir DIR] [--listen ADDR] [--mode dev|prod]",
		Short: "Run the control plane: own the config, validate, version, apply, health-gate and roll back",
		Long: `serve owns the config files: it validates every change against the schema, applies
it, checks health, commits it to the durable history in the data dir, or rolls
back to the last known good version. It serves the admin API, /metrics and the
health probes on --listen.

Reloads come from SIGHUP, the admin API (POST /api/v1/reload, PATCH
/api/v1/config) and, in dev mode or with --watch, from edits of the files.

In prod mode (the default) every endpoint but /healthz and /readyz needs a
token from --auth-file (create one with "hotreload token add").`,
		Example: `  # development: watch and reload on save, open admin API on loopback
  hotreload serve --config app.yaml --schema schema.json --mode dev

  # production: tokens required, reload on SIGHUP or through the API
  hotreload token add --auth-file /etc/hotreload/tokens.json --role admin
  hotreload serve --config /etc/app/app.yaml --schema /etc/app/schema.json \
    --data-dir /var/lib/hotreload --auth-file /etc/hotreload/tokens.json

  # a fleet: the config is an etcd key; see docs/fleet.md
  hotreload serve --source etcd://10.0.0.1:2379,10.0.0.2:2379/app/config.json \
    --fleet /hotreload/fleets/app --data-dir /var/lib/hotreload --auth-file tokens.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := admin.ParseMode(mode)
			if err != nil {
				return err
			}
			opts.Mode = m
			opts.Watch = watch || (m == admin.Dev && !cmd.Flags().Changed("watch"))
			es, err := prepareEtcd(&opts, eo)
			if err != nil {
				return err
			}
			if opts.DataDir == "" {
				opts.DataDir = filepath.Join(filepath.Dir(opts.ConfigFiles[0]), ".hotreload")
			}
			opts.Stderr = cmd.ErrOrStderr()
			if opts.Window, err = healthWindow(cmd, opts.Window); err != nil {
				return err
			}
			return serve(cmd, opts, es)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.ConfigFiles, "config", nil, "config file (JSON, YAML or TOML); repeat to merge several, later ones override")
	f.StringVar(&opts.SchemaFile, "schema", "", "JSON Schema (2020-12) every candidate must pass")
	f.StringVar(&opts.DataDir, "data-dir", "", "where history, the audit log and keys live (default .hotreload beside the first config file)")
	f.StringVar(&opts.Listen, "listen", DefaultListen, "address of the admin API")
	f.StringVar(&mode, "mode", string(admin.Prod), "dev (watch, verbose, open on loopback) or prod (tokens, JSON logs)")
	f.BoolVar(&watch, "watch", false, "reload when the config files change (default on in dev mode)")
	f.DurationVar(&opts.Debounce, "debounce", 500*time.Millisecond, "quiet time after a file change before reloading (0 reloads at once)")
	f.StringVar(&opts.AuthFile, "auth-file", "", "token file (see hotreload token add); required in prod mode")
	f.StringSliceVar(&opts.AllowedHosts, "allowed-host", nil, "host name the admin API answers to besides IP addresses and localhost (repeatable; against DNS rebinding)")
	f.StringVar(&opts.PluginsDir, "plugins", "", "directory of Wasm plugins (NAME.wasm with an optional NAME.json manifest), watched and hot-swapped")
	f.StringVar(&opts.Exec, "exec", "", "run this app behind a socket the daemon owns (systemd socket passing); reload or SIGUSR2 swaps in the binary on disk with no dropped request")
	f.StringVar(&opts.AppListen, "app-listen", "127.0.0.1:8080", "address of the socket handed to the --exec app")
	f.StringVar(&opts.UIDir, "ui", "", "browser UI folder served under /ui/: CSS, theme.json and components reload in open pages without a page reload")
	f.StringVar(&opts.ChecksFile, "checks", "", "health checks file (YAML, see docs/operations.md), hot-reloaded like the config")
	f.StringVar(&opts.AgeIdentity, "age-identity", "", "age identity file to decrypt ENC[age:...] values (or env HOTRELOAD_AGE_IDENTITY)")
	f.DurationVar(&opts.Window, "health-window", 0, "how long the health gate watches a change before committing (default 5s in dev, 90s in prod; 0s: one round of checks at once, then commit)")
	positiveDuration(f, &opts.StepTimeout, "step-timeout", hotreload.DefaultStepTimeout, "deadline of each target's validate and apply step: one that overruns fails its transaction, and /readyz says 503 until it returns")
	addLimitFlags(f, &opts.Limits)
	f.Int64Var(&opts.AuditMaxBytes, "audit-max-bytes", audit.DefaultMaxSize, "size at which audit.log is closed as audit.log.N and a new file continues its HMAC chain (negative: never)")
	f.IntVar(&opts.AuditKeep, "audit-keep", audit.DefaultKeep, "closed audit log files kept; older ones are removed and a signed record says so (negative: all)")
	f.BoolVar(&opts.InsecurePermissions, "insecure-permissions", false, "start even when the auth file, the age identity or the data dir is writable by other users (logged)")
	addEtcdFlags(f, &eo)
	return cmd
}

// serve runs the daemon on the config files until the command's context
// ends.
func serve(cmd *cobra.Command, opts daemonOptions, es *etcdSource) error {
	ctx := cmd.Context()
	// The port first: a busy one fails before anything is loaded or built.
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listening for the admin API: %w", err)
	}
	d, err := startDaemon(ctx, opts, ln, serveParts(es))
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "hotreload serving %s (mode %s, version %d) on http://%s/\n",
		d.config.Name(), opts.Mode, d.engine.Status().Active, ln.Addr())
	return d.run(ctx)
}

// serveParts is serve's list: the etcd client when the config comes from
// etcd, the config, what the flags ask for (see fileParts), then the etcd
// source and the fleet.
func serveParts(es *etcdSource) partsFunc {
	return func(ctx context.Context, s *services) (parts []any, err error) {
		if es != nil {
			// The mirror of the etcd value must be in place before the
			// config target reads it.
			c, err := es.connect(ctx)
			if err != nil {
				return nil, err
			}
			parts = append(parts, c)
		}
		target, err := newConfig[map[string]any](s)
		if err != nil {
			return parts, err
		}
		parts = append(parts, target)
		more, err := fileParts(ctx, s, target)
		parts = append(parts, more...)
		if err != nil || es == nil {
			return parts, err
		}
		more, err = es.parts(s, target)
		return append(parts, more...), err
	}
}

// addLimitFlags adds the flags that bound the config files read.
func addLimitFlags(f *pflag.FlagSet, l *config.Limits) {
	f.Int64Var(&l.MaxBytes, "max-config-bytes", 0, "largest config file read, in bytes; a larger one is rejected (0: 16 MiB, 1 MiB for YAML)")
	f.BoolVar(&l.AllowOutsideLinks, "allow-outside-links", false, "read config files whose symbolic links lead out of their directory (refused by default)")
}

// healthWindow reads --health-window: 0 given explicitly means no watch
// window (health.NoWindow); not given, 0 picks the mode's default.
func healthWindow(cmd *cobra.Command, d time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, fmt.Errorf("--health-window %s: must not be negative", d)
	case d == 0 && cmd.Flags().Changed("health-window"):
		return health.NoWindow, nil
	}
	return d, nil
}
