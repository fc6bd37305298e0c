//go:build linux

package dev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/atomicfile"
	"github.com/cybercorp/hotreload/ui"
	"github.com/cybercorp/hotreload/watch"
)

// DefaultInclude are the files the supervisor watches when Options.Include
// is empty: Go sources, module files and templates.
var DefaultInclude = []string{"*.go", "go.mod", "go.sum", "go.work", "*.tmpl", "*.tpl", "*.html"}

// DefaultDebounce is the supervisor's quiet period after a save.
const DefaultDebounce = 100 * time.Millisecond

// wasmEnv is the environment a plugin is built and listed with.
var wasmEnv = []string{"GOOS=wasip1", "GOARCH=wasm"}

// Options configure a Supervisor.
type Options struct {
	// Dirs are the source folders, watched recursively; default ".". Each
	// one's .gitignore is respected.
	Dirs []string
	// Include keeps only files matching one of these globs (watch.Options
	// syntax); default DefaultInclude.
	Include []string
	// Exclude drops files and directories matching one of these globs.
	Exclude []string
	// Debounce is the quiet period that ends a save; default
	// DefaultDebounce.
	Debounce time.Duration
	// BuildDir is where go build and go list run for the program; default
	// Dirs[0].
	BuildDir string
	// Package is the program's main package, relative to BuildDir;
	// default ".". Its dependencies decide which changes rebuild it.
	Package string
	// Process configures the program: its Listener, Mode, Args, ... A nil
	// Process.Build means GoBuild(BuildDir, Package, nil).
	Process ProcessOptions
	// Plugins are Wasm plugins built from source with GOOS=wasip1
	// GOARCH=wasm go build -buildmode=c-shared into PluginDir/NAME.wasm.
	Plugins []PluginSource
	// PluginDir receives the built plugins.
	PluginDir string
	// OnPlugin, when set, is called after a plugin's new module was written
	// to PluginDir: the plugin host's Sync or Load fits. Its error is
	// reported like a build error.
	OnPlugin func(ctx context.Context, name string) error
	// Submit, when set, runs the program's reloads as engine transactions
	// (the engine's Reload); the Process returned by Process() must then be
	// added to the engine. Nil runs Prepare, Apply and Commit directly.
	Submit func(ctx context.Context, r hotreload.Request) (hotreload.Outcome, error)
	// UI, when set, gets an error overlay for failed builds and crashes,
	// and a page reload once a new program is serving or a plugin swapped.
	UI *ui.Hub
	// OnReport, when set, is called with every report, on the
	// supervisor's goroutine (or the crashed child's watcher). It must not
	// block.
	OnReport func(Report)
	// Terminal receives one line per report and the error details; nil
	// means os.Stderr.
	Terminal io.Writer
	// Logger logs watcher errors; nil discards.
	Logger *slog.Logger
}

// PluginSource is a Wasm plugin's Go package.
type PluginSource struct {
	// Name is the plugin's name: the module is written as NAME.wasm.
	Name string
	// Dir is the plugin's main package directory.
	Dir string
}

// Report says what one rebuild did.
type Report struct {
	// Unit is "program" or "plugin NAME".
	Unit string
	// Packages are the changed packages that caused it.
	Packages []string
	// Result is Committed (serving the new build), Unchanged (identical
	// binary), Rejected (build failed, crash before ready: the old one
	// keeps serving) or, for a crash after the swap, RolledBack.
	Result hotreload.Result
	// Err is the failure, with FieldErrors for compiler messages.
	Err error
	// PID is the program's live process after the rebuild.
	PID int
	// Saved is when the first change of the batch was seen.
	Saved time.Time
	// Took is the time from Saved to the end of the rebuild.
	Took time.Duration
}

// Supervisor is the dev loop: it watches sources, rebuilds what a change
// affects, swaps the new program in behind the socket once it is ready and
// hands rebuilt plugins to the plugin host.
//
// Concurrency: Run owns the loop; one rebuild runs at a time and changes
// made meanwhile are gathered by the watcher into the next batch. Close may
// be called from any goroutine.
type Supervisor struct {
	opts    Options
	log     *slog.Logger
	proc    *Process
	w       *watch.Watcher
	ignores map[string]*Ignore // by watched dir

	lists sync.WaitGroup // background go list runs

	mu      sync.Mutex
	program *deps
	plugins map[string]*deps
	term    sync.Mutex
}

// New checks opts, takes the listener and places the watches. Nothing is
// built until Run.
func New(opts Options) (*Supervisor, error) {
	if len(opts.Dirs) == 0 {
		opts.Dirs = []string{"."}
	}
	dirs := make([]string, 0, len(opts.Dirs)+len(opts.Plugins))
	for _, d := range opts.Dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "dev: source folder %q: %w", d, err)
		}
		dirs = append(dirs, abs)
	}
	opts.Dirs = dirs
	if opts.BuildDir == "" {
		opts.BuildDir = opts.Dirs[0]
	}
	if opts.Package == "" {
		opts.Package = "."
	}
	if len(opts.Include) == 0 {
		opts.Include = DefaultInclude
	}
	if opts.Debounce == 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Terminal == nil {
		opts.Terminal = os.Stderr
	}
	if len(opts.Plugins) > 0 && opts.PluginDir == "" {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "dev: plugins need a PluginDir to write their modules to")
	}
	watched := slices.Clone(opts.Dirs)
	for i, pl := range opts.Plugins {
		if pl.Name == "" || strings.ContainsAny(pl.Name, `/\`) {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "dev: plugin %d: %q is not a plugin name", i, pl.Name)
		}
		abs, err := filepath.Abs(pl.Dir)
		if err != nil {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "dev: plugin %q: %w", pl.Name, err)
		}
		opts.Plugins[i].Dir = abs
		if !slices.ContainsFunc(watched, func(d string) bool { return within(d, abs) }) {
			watched = append(watched, abs)
		}
	}
	s := &Supervisor{opts: opts, log: opts.Logger, ignores: map[string]*Ignore{}, plugins: map[string]*deps{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	exclude := append([]string{".git"}, opts.Exclude...)
	for _, d := range watched {
		ig, err := ReadIgnore(d)
		if err != nil {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "dev: %w", err)
		}
		s.ignores[d] = ig
		exclude = append(exclude, ig.excludeGlobs()...)
	}
	popts := opts.Process
	if popts.Build == nil {
		popts.Build = GoBuild(opts.BuildDir, opts.Package, nil)
	}
	if popts.Dir == "" {
		popts.Dir = opts.BuildDir
	}
	popts.OnExit = s.crashed(popts.OnExit)
	var err error
	if s.proc, err = NewProcess(popts); err != nil {
		return nil, err
	}
	s.w, err = watch.New(watch.Options{
		Dirs: watched, Recursive: true, Include: opts.Include, Exclude: exclude,
		Debounce: opts.Debounce, OnError: func(err error) { s.log.Warn("watching sources", "err", err) },
	})
	if err != nil {
		s.proc.Close(context.Background())
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "dev: watching sources: %w", err)
	}
	return s, nil
}

// within reports whether path is dir or inside it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// Process returns the supervised program, the hotreload.Target to add to
// an engine when Options.Submit is set.
func (s *Supervisor) Process() *Process { return s.proc }

// Run builds and starts the program and the plugins, then rebuilds on every
// change until ctx is done. A failed first build is reported and retried on
// the next change. Run returns ctx's error; call Close afterwards, once Run
// returned.
func (s *Supervisor) Run(ctx context.Context) error {
	// The packages are listed while the first builds run; the loop
	// starts once both are done.
	s.relist(ctx, "", s.opts.BuildDir, s.opts.Package, nil)
	for _, pl := range s.opts.Plugins {
		s.relist(ctx, pl.Name, pl.Dir, ".", wasmEnv)
	}
	now := time.Now()
	for _, pl := range s.opts.Plugins {
		s.rebuildPlugin(ctx, pl, nil, now)
	}
	s.reloadProgram(ctx, nil, now)
	s.lists.Wait()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b, ok := <-s.w.Events():
			if !ok {
				return errors.New("dev: the watcher stopped")
			}
			s.handle(ctx, b)
		}
	}
}

// handle rebuilds what the batch's changes affect: each plugin whose
// packages changed, then the program if its packages did.
func (s *Supervisor) handle(ctx context.Context, b watch.Batch) {
	paths := s.relevant(append(slices.Clone(b.Paths), b.Removed...))
	if len(paths) == 0 {
		return
	}
	s.mu.Lock()
	program, plugins := s.program, map[string]*deps{}
	for k, v := range s.plugins {
		plugins[k] = v
	}
	s.mu.Unlock()
	for _, pl := range s.opts.Plugins {
		if pkgs, hit := plugins[pl.Name].affects(paths); hit {
			if s.rebuildPlugin(ctx, pl, pkgs, b.Time) || plugins[pl.Name] == nil {
				s.relist(ctx, pl.Name, pl.Dir, ".", wasmEnv)
			}
		}
	}
	if pkgs, hit := program.affects(paths); hit {
		if s.reloadProgram(ctx, pkgs, b.Time) || program == nil {
			s.relist(ctx, "", s.opts.BuildDir, s.opts.Package, nil)
		}
	}
}

// relevant drops the paths a .gitignore ignores.
func (s *Supervisor) relevant(paths []string) []string {
	out := paths[:0]
	for _, p := range paths {
		ignored := false
		for dir, ig := range s.ignores {
			if within(dir, p) {
				rel, _ := filepath.Rel(dir, p)
				if ig.Match(filepath.ToSlash(rel), false) {
					ignored = true
					break
				}
			}
		}
		if !ignored {
			out = append(out, p)
		}
	}
	return out
}

// reloadProgram builds, starts and swaps in the program. It reports whether
// a new build serves.
func (s *Supervisor) reloadProgram(ctx context.Context, pkgs []string, saved time.Time) bool {
	c := hotreload.Candidate{Target: s.proc.Name()}
	if len(pkgs) > 0 {
		c.Meta = map[string]string{MetaPackages: strings.Join(pkgs, ",")}
	}
	r := Report{Unit: "program", Packages: pkgs, Saved: saved}
	if s.opts.Submit != nil {
		o, err := s.opts.Submit(ctx, hotreload.Request{Source: "builder", Author: "dev", Candidates: []hotreload.Candidate{c}})
		r.Result, r.Err = o.Result, err
		if err == nil && o.Result != hotreload.Committed && o.Result != hotreload.Unchanged {
			e := hotreload.Errorf(hotreload.CodeInvalid, "%s", o.Reason)
			e.Details = o.Errors
			r.Err = e
		}
	} else {
		r.Result, r.Err = s.transact(ctx, c)
	}
	r.PID, _ = s.proc.Live()
	s.report(ctx, r)
	return r.Err == nil && r.Result == hotreload.Committed
}

// transact runs one reload of the program without an engine.
func (s *Supervisor) transact(ctx context.Context, c hotreload.Candidate) (hotreload.Result, error) {
	ch, err := s.proc.Prepare(ctx, c)
	if err != nil {
		return hotreload.Rejected, err
	}
	if Unchanged(ch) {
		return hotreload.Unchanged, nil
	}
	if err := ch.Apply(ctx); err != nil {
		_ = ch.Rollback(context.WithoutCancel(ctx))
		return hotreload.Rejected, err
	}
	return hotreload.Committed, ch.Commit(ctx)
}

// relist refreshes the dependencies of the program (plugin "") or a plugin
// in the background, off the path from save to serving; until it is done
// the previous list is used (a new package imported by a changed file is
// reached through that file's package meanwhile).
func (s *Supervisor) relist(ctx context.Context, plugin, dir, pkg string, env []string) {
	s.lists.Add(1)
	go func() {
		defer s.lists.Done()
		s.list(ctx, plugin, dir, pkg, env)
	}()
}

func (s *Supervisor) list(ctx context.Context, plugin, dir, pkg string, env []string) {
	d, err := listDeps(ctx, dir, pkg, env)
	if err != nil {
		s.log.Warn("listing packages", "dir", dir, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if plugin == "" {
		s.program = d
	} else {
		s.plugins[plugin] = d
	}
}

// rebuildPlugin builds a plugin and writes its module into PluginDir
// atomically when it changed, then calls OnPlugin. It reports whether a new
// module was installed.
func (s *Supervisor) rebuildPlugin(ctx context.Context, pl PluginSource, pkgs []string, saved time.Time) bool {
	r := Report{Unit: "plugin " + pl.Name, Packages: pkgs, Saved: saved, Result: hotreload.Committed}
	r.Err = s.buildPlugin(ctx, pl, &r.Result)
	if r.Err != nil {
		r.Result = hotreload.Rejected
	}
	r.PID, _ = s.proc.Live()
	s.report(ctx, r)
	return r.Result == hotreload.Committed
}

func (s *Supervisor) buildPlugin(ctx context.Context, pl PluginSource, result *hotreload.Result) error {
	tmp, err := os.MkdirTemp("", "hotreload-plugin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, pl.Name+".wasm")
	if err := GoBuild(pl.Dir, ".", wasmEnv, "-buildmode=c-shared")(ctx, out); err != nil {
		return err
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	dst := filepath.Join(s.opts.PluginDir, pl.Name+".wasm")
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, wasm) {
		*result = hotreload.Unchanged
		return nil
	}
	if err := atomicfile.Write(dst, wasm, 0o644); err != nil {
		return fmt.Errorf("installing plugin %s: %w", pl.Name, err)
	}
	if s.opts.OnPlugin != nil {
		if err := s.opts.OnPlugin(ctx, pl.Name); err != nil {
			return fmt.Errorf("plugin host: %w", err)
		}
	}
	return nil
}

// crashed wraps the Process's OnExit to report a crash after a swap.
func (s *Supervisor) crashed(next func(int, error)) func(int, error) {
	return func(pid int, err error) {
		s.report(context.Background(), Report{Unit: "program", Result: hotreload.RolledBack, Err: err, PID: pid, Saved: time.Now()})
		if next != nil {
			next(pid, err)
		}
	}
}

// report prints r on the terminal, tells the browsers and calls OnReport.
func (s *Supervisor) report(_ context.Context, r Report) {
	if !r.Saved.IsZero() {
		r.Took = time.Since(r.Saved)
	}
	s.term.Lock()
	switch {
	case r.Err != nil:
		fmt.Fprintf(s.opts.Terminal, "hotreload: %s: %s (the previous version keeps serving)\n", r.Unit, firstLine(r.Err))
		for _, d := range hotreload.ErrorDetails(r.Err) {
			fmt.Fprintf(s.opts.Terminal, "  %s\n", d.String())
		}
	case r.Result == hotreload.Committed:
		fmt.Fprintf(s.opts.Terminal, "hotreload: %s: serving the new build (pid %d) %s after the save\n", r.Unit, r.PID, r.Took.Round(time.Millisecond))
	}
	s.term.Unlock()
	if hub := s.opts.UI; hub != nil {
		switch {
		case r.Err != nil:
			details := hotreload.ErrorDetails(r.Err)
			if len(details) == 0 {
				details = []hotreload.FieldError{{Message: r.Err.Error()}}
			}
			hub.Error(details)
		case r.Result == hotreload.Committed:
			hub.Clear()
			hub.ReloadPage()
		}
	}
	if s.opts.OnReport != nil {
		s.opts.OnReport(r)
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// Close stops the watcher and the program (SIGTERM, drain, SIGKILL of its
// process group) and closes the listener. It succeeds with a cancelled
// context and may be called more than once.
func (s *Supervisor) Close(ctx context.Context) error {
	err := errors.Join(s.w.Close(), s.proc.Close(ctx))
	s.lists.Wait() // they end with Run's context
	return err
}
