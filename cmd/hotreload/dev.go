//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/dev"
	"github.com/cybercorp/hotreload/supervise"
)

func init() { register(newDevCmd) }

// devFlags are the dev subcommand's options.
type devFlags struct {
	watch, include, exclude, plugins []string
	pkg, build, listen, mode, health string
	ui, pluginDir, dataDir           string
	debounce, drain, ready           time.Duration
}

func newDevCmd() *cobra.Command {
	f := &devFlags{}
	cmd := &cobra.Command{
		Use:   "dev [flags] [-- ARGS...]",
		Short: "Rebuild a Go program on save and swap it in with zero refused connections",
		Long: `dev watches the source folders (--watch, recursively, respecting
.gitignore), rebuilds the program when a package it depends on changes, and
starts the new build beside the old one on the same listening socket. Only
once the new process is ready does the old one get SIGTERM, a drain
deadline, then SIGKILL of its process group. A build that fails or a
process that crashes before it is ready leaves the old one serving; the
error is printed with FILE:LINE:COL and shown in the browser.

dev owns the socket (--listen) and passes it to the program as fd 3 with
systemd's convention (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES=http); the
program takes it with listen.Listener() and says it is ready with
listen.Ready() (READY=1 on NOTIFY_SOCKET); listen.Serve does both and drains
on SIGTERM. A program that cannot take a socket runs with --mode proxy: each
build listens on 127.0.0.1:$PORT and dev's reverse proxy switches to it
once it accepts connections (or once --health answers 2xx).

The default build is "go build" of --pkg in the first --watch folder; --build
runs a shell command instead, which must write the program to $OUT. ARGS
after "--" are the program's arguments. Each --plugin NAME=DIR is a Go Wasm
plugin rebuilt with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared into
--plugin-dir/NAME.wasm when its own packages change, without restarting the
program (a plugin host watching that folder swaps it in).

Every build is a transaction of the same engine as serve: a version in
history (in memory unless --data-dir), a code_reload event, metrics and an
audit record. The dashboard, the admin API (/api/v1/..., /metrics) and the
browser channel are served on --ui, open on loopback. Browsers get the
error overlay and a reload after each swap: add
<script src="http://127.0.0.1:7071/hotreload.js"></script> to the page.

The build starts at the first change and starts over at each later one;
once no change came for --debounce, the build in progress is swapped in. A
comment edit that leaves the code the same restarts nothing. If the
program dies, its process group is killed and its last good build starts
again (100 ms, then doubling up to 5 s while it keeps crashing).`,
		Example: `  # the Go program in this folder, served on 127.0.0.1:7070
  hotreload dev

  # a program under cmd/api, with arguments, on another address
  hotreload dev --watch . --pkg ./cmd/api --listen 127.0.0.1:8080 -- --config dev.yaml

  # a custom build, and a program that only reads $PORT
  hotreload dev --build 'go build -tags dev -o "$OUT" ./cmd/api' --mode proxy --health /healthz

  # also rebuild a Wasm plugin on save
  hotreload dev --plugin shout=./plugins/shout --plugin-dir ./plugins/bin`,
		RunE: func(cmd *cobra.Command, args []string) error { return runDev(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.watch, "watch", []string{"."}, "source folder to watch, recursively (repeatable)")
	fl.StringArrayVar(&f.include, "include", nil, "only watch files matching this glob (repeatable; default *.go, go.mod, go.sum, templates)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "never watch files or folders matching this glob (repeatable)")
	fl.StringVar(&f.pkg, "pkg", ".", "the program's main package, relative to the first --watch folder")
	fl.StringVar(&f.build, "build", "", `shell command that builds the program into "$OUT" (default: go build of --pkg)`)
	fl.StringVar(&f.listen, "listen", "127.0.0.1:7070", "address the program is served on")
	fl.StringVar(&f.mode, "mode", string(supervise.ModeSocket), "socket: pass the socket as fd 3; proxy: run each build on $PORT behind a reverse proxy")
	fl.StringVar(&f.health, "health", "", "proxy mode: URL path that must answer 2xx before a build is swapped in")
	fl.StringVar(&f.ui, "ui", "127.0.0.1:7071", `address of the dashboard, the admin API and the browser channel (/hotreload.js, /ws); "off" serves none of them`)
	fl.StringVar(&f.dataDir, "data-dir", "", "keep history, the audit log and the builds here across sessions (default: history in memory, nothing kept)")
	fl.StringArrayVar(&f.plugins, "plugin", nil, "NAME=DIR: a Go Wasm plugin to rebuild into --plugin-dir (repeatable)")
	fl.StringVar(&f.pluginDir, "plugin-dir", "", "folder the rebuilt plugins are written to")
	positiveDuration(fl, &f.debounce, "debounce", dev.DefaultDebounce, "quiet time after a save before rebuilding")
	positiveDuration(fl, &f.drain, "drain", supervise.DefaultDrainTimeout, "how long the old process may drain after SIGTERM before SIGKILL")
	positiveDuration(fl, &f.ready, "ready-timeout", supervise.DefaultReadyTimeout, "how long a new build may take to be ready")
	return cmd
}

func runDev(cmd *cobra.Command, f *devFlags, args []string) error {
	ctx := cmd.Context()
	plugins, err := parsePlugins(f.plugins)
	if err != nil {
		return err
	}
	// Every listener first: a busy port fails before anything is built.
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", f.listen, err)
	}
	var adminLn net.Listener
	if f.ui != "off" && f.ui != "" {
		if adminLn, err = net.Listen("tcp", f.ui); err != nil {
			ln.Close()
			return fmt.Errorf("listening for the dashboard and browsers on %s: %w", f.ui, err)
		}
	}
	// The program's listener is the Process's once dev.New took it;
	// startDaemon owns adminLn.
	taken := false
	defer func() {
		if !taken {
			ln.Close()
		}
	}()
	// The same daemon as serve, with the dev loop as its one part: each
	// build is a transaction in history (in memory unless --data-dir),
	// with its events, metrics and audit record.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	opts := daemonOptions{
		DataDir: f.dataDir, Listen: f.ui, Mode: admin.Dev, Stderr: cmd.ErrOrStderr(),
		AllowedOrigins: []string{"http://" + ln.Addr().String(), "http://localhost:" + port},
		OverlayRoots:   f.watch,
	}
	d, err := startDaemon(ctx, opts, adminLn, func(_ context.Context, s *services) ([]any, error) {
		o := dev.Options{
			Engine: s.engine, UI: s.hub,
			Dirs: f.watch, Include: f.include, Exclude: f.exclude, Debounce: f.debounce, Package: f.pkg,
			Plugins: plugins, PluginDir: f.pluginDir, Terminal: cmd.ErrOrStderr(), Publisher: s.bus,
			Process: supervise.Options{
				Name: "app", Args: args, Listener: ln, Mode: supervise.Mode(f.mode), HealthPath: f.health,
				ReadyTimeout: f.ready, DrainTimeout: f.drain, Ungated: true,
				Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(),
			},
			Logger: s.log,
		}
		if f.dataDir != "" {
			o.Process.BinDir = filepath.Join(f.dataDir, "process") // history can restore any kept build
		}
		if f.build != "" {
			o.Process.Build = dev.ShellBuild(f.watch[0], f.build)
		}
		sup, err := dev.New(o)
		if err != nil {
			return nil, err
		}
		taken = true
		// The Supervisor adds its Process to the engine at the first good
		// build; its trigger is the dev loop.
		s.metrics.Track(sup.Process().Name())
		return []any{sup}, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "hotreload dev: serving http://%s (%s mode), watching %s\n", ln.Addr(), f.mode, strings.Join(f.watch, ", "))
	if adminLn != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "hotreload dev: dashboard and admin API on http://%s/; browsers reload through <script src=\"http://%s/hotreload.js\"></script>\n", adminLn.Addr(), adminLn.Addr())
	}
	return d.run(ctx)
}

// parsePlugins reads NAME=DIR flags.
func parsePlugins(flags []string) ([]dev.PluginSource, error) {
	var out []dev.PluginSource
	for _, s := range flags {
		name, dir, ok := strings.Cut(s, "=")
		if !ok || name == "" || dir == "" {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "--plugin %q: want NAME=DIR", s)
		}
		out = append(out, dev.PluginSource{Name: name, Dir: dir})
	}
	return out, nil
}
