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
	"github.com/cybercorp/hotreload/internal/progress"
	"github.com/cybercorp/hotreload/supervise"
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

// Engine runs the program's reloads: *hotreload.Engine implements it.
type Engine interface {
	Add(ctx context.Context, t hotreload.Target) (hotreload.Outcome, error)
	Reload(ctx context.Context, r hotreload.Request) (hotreload.Outcome, error)
}

// Options configure a Supervisor.
type Options struct {
	// Engine runs every reload of the program as a transaction: Run adds
	// the Supervisor's Process to it (its start transaction builds and
	// starts the program) and submits a reload from source for each change,
	// so every build has a version in history, events, metrics and an
	// audit record. Required.
	Engine Engine
	// Dirs are the source folders, watched recursively; default ".". Each
	// one's .gitignore is respected.
	Dirs []string
	// Include keeps only files matching one of these globs (watch.Options
	// syntax); default DefaultInclude.
	Include []string
	// Exclude drops files and directories matching one of these globs.
	Exclude []string
	// Debounce is the quiet period that ends a save; default
	// DefaultDebounce. The program's build starts at the first change,
	// before it ends, and starts over at each later change.
	Debounce time.Duration
	// BuildDir is where go build and go list run for the program; default
	// Dirs[0].
	BuildDir string
	// Package is the program's main package, relative to BuildDir;
	// default ".". Its dependencies decide which changes rebuild it.
	Package string
	// Process configures the program: its Listener, Mode, Args, ... A nil
	// Process.Build means GoBuild(BuildDir, Package, nil).
	Process supervise.Options
	// Plugins are Wasm plugins built from source with GOOS=wasip1
	// GOARCH=wasm go build -buildmode=c-shared into PluginDir/NAME.wasm.
	Plugins []PluginSource
	// PluginDir receives the built plugins.
	PluginDir string
	// OnPlugin, when set, is called after a plugin's new module was written
	// to PluginDir: the plugin host's Sync or Load fits. Its error is
	// reported like a build error.
	OnPlugin func(ctx context.Context, name string) error
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
	// Publisher receives a hotreload.ProgressEvent while a build runs
	// (at its start, every buildProgressEvery, then done); nil publishes none.
	Publisher hotreload.Publisher
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

// Report says what one rebuild, crash or restart did.
type Report struct {
	// Unit is "program" or "plugin NAME".
	Unit string
	// Packages are the changed packages that caused it.
	Packages []string
	// Result is the transaction's: Committed (serving the new build),
	// Unchanged (the same binary, build IDs aside: nothing restarted),
	// Rejected (the build failed or the new process did not get ready:
	// the old one keeps serving) or RolledBack (the new process was
	// swapped in, then failed: the previous one serves again). Empty on
	// the reports of a crash and a restart.
	Result hotreload.Result
	// Crashed is set when the live program exited by itself: Err says
	// how; its binary starts again after RestartIn.
	Crashed bool
	// RestartIn is the delay before a crashed program starts again.
	RestartIn time.Duration
	// Restarted is set after an attempt to start a crashed program again:
	// PID is the new process, or Err says why it failed (another attempt
	// follows).
	Restarted bool
	// Err is the failure, with FieldErrors for compiler messages.
	Err error
	// PID is the program's live process after the rebuild.
	PID int
	// Saved is when the first change of the batch was seen.
	Saved time.Time
	// Took is the time from Saved to the end of the rebuild.
	Took time.Duration
}

// Supervisor is the dev loop: it watches sources, builds the program from
// the first change, hands each build to the engine as a reload of its
// Process (which starts it beside the old one and swaps it in behind the
// socket once it is ready) and hands rebuilt plugins to the plugin host.
//
// Concurrency: Run owns the loop; one transaction runs at a time, and the
// next build starts at the first change made meanwhile. Close may be
// called from any goroutine once Run returned.
type Supervisor struct {
	opts    Options
	log     *slog.Logger
	proc    *supervise.Process
	build   func(ctx context.Context, out string) error // the program's own build
	w       *watch.Watcher
	ignores map[string]*Ignore // by watched dir
	added   bool               // the Process is in the engine; Run's goroutines only

	bg sync.WaitGroup // go list runs and discarded builds

	mu      sync.Mutex
	program *deps
	plugins map[string]*deps
	early   *earlyBuild // started at the latest change, not claimed yet
	claimed *earlyBuild // for the next Prepare of the program
	term    sync.Mutex
}

// New checks opts, takes the listener and places the watches. Nothing is
// built until Run.
func New(opts Options) (*Supervisor, error) {
	if opts.Engine == nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "dev: Options.Engine is required: the engine runs every reload")
	}
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
	if opts.Debounce <= 0 {
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
	s.build = popts.Build
	if s.build == nil {
		s.build = GoBuild(opts.BuildDir, opts.Package, nil)
	}
	s.build = s.saying("program", s.build)
	popts.Build = s.buildProgram
	if popts.Dir == "" {
		popts.Dir = opts.BuildDir
	}
	popts.OnExit = s.crashed(popts.OnExit)
	popts.OnRestart = s.restarted(popts.OnRestart)
	var err error
	if s.proc, err = supervise.New(popts); err != nil {
		return nil, err
	}
	// Every change is reported at once: the build starts at the first one,
	// and the Supervisor keeps the quiet period itself.
	s.w, err = watch.New(watch.Options{
		Dirs: watched, Recursive: true, Include: opts.Include, Exclude: exclude,
		Debounce: watch.Off, OnError: func(err error) { s.log.Warn("watching sources", "err", err) },
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

// Process returns the supervised program, the target Run adds to the
// engine.
func (s *Supervisor) Process() *supervise.Process { return s.proc }

// Run builds the plugins, adds the program's Process to the engine (its
// start transaction builds and starts it), then rebuilds on every change
// until ctx is done. A failed first build is reported and retried on the
// next change. Run returns ctx's error; call Close afterwards, once Run
// returned.
func (s *Supervisor) Run(ctx context.Context) error {
	defer s.discardBuilds()
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
	s.bg.Wait()

	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	var (
		pending []string      // changed paths not handled yet
		saved   time.Time     // the first of them
		ready   bool          // the quiet period after them ended
		busy    chan struct{} // closed when the running rebuild ends; nil when none runs
	)
	for {
		if ready && busy == nil {
			// The build the changes started is this rebuild's; later
			// changes start the next one.
			s.mu.Lock()
			stale := s.claimed // the last rebuild was refused before it built
			s.claimed, s.early = s.early, nil
			s.mu.Unlock()
			s.discardLater(stale)
			busy = make(chan struct{})
			go func(paths []string, saved time.Time, done chan struct{}) {
				defer close(done)
				s.handle(ctx, paths, saved)
			}(pending, saved, busy)
			pending, ready = nil, false
		}
		select {
		case <-ctx.Done():
			if busy != nil {
				<-busy
			}
			return ctx.Err()
		case b, ok := <-s.w.Events():
			if !ok {
				return errors.New("dev: the watcher stopped")
			}
			paths := s.relevant(append(slices.Clone(b.Paths), b.Removed...))
			if len(paths) == 0 {
				continue
			}
			if len(pending) == 0 {
				saved = b.Time
			}
			pending = append(pending, paths...)
			ready = false
			if _, hit := s.deps("").affects(paths); hit {
				s.startBuild(ctx)
			}
			quiet.Reset(s.opts.Debounce)
		case <-quiet.C:
			ready = len(pending) > 0
		case <-busy:
			busy = nil
		}
	}
}

// Watch is Run, so that the Supervisor is the dev loop's
// hotreload.Trigger: it adds its Process and reloads it through
// Options.Engine (the first transaction is an Add), not through submit.
func (s *Supervisor) Watch(ctx context.Context, _ hotreload.SubmitFunc) error { return s.Run(ctx) }

// deps returns the last listing of the program ("") or a plugin.
func (s *Supervisor) deps(plugin string) *deps {
	s.mu.Lock()
	defer s.mu.Unlock()
	if plugin == "" {
		return s.program
	}
	return s.plugins[plugin]
}

// handle rebuilds what the changed paths affect: each plugin whose
// packages changed, then the program if its packages did.
func (s *Supervisor) handle(ctx context.Context, paths []string, saved time.Time) {
	for _, pl := range s.opts.Plugins {
		d := s.deps(pl.Name)
		if pkgs, hit := d.affects(paths); hit {
			if s.rebuildPlugin(ctx, pl, pkgs, saved) || d == nil {
				s.relist(ctx, pl.Name, pl.Dir, ".", wasmEnv)
			}
		}
	}
	d := s.deps("")
	pkgs, hit := d.affects(paths)
	if !hit {
		s.mu.Lock()
		claimed := s.claimed
		s.claimed = nil
		s.mu.Unlock()
		s.discardLater(claimed)
		return
	}
	if s.reloadProgram(ctx, pkgs, saved) || d == nil {
		s.relist(ctx, "", s.opts.BuildDir, s.opts.Package, nil)
	}
}

// earlyBuild is a build of the program started at a change, before its
// quiet period ended.
type earlyBuild struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the build ended; err is set before
	out    string
	err    error
}

// discard stops the build and removes its output.
func (b *earlyBuild) discard() {
	b.cancel()
	<-b.done
	os.Remove(b.out)
}

// startBuild starts a build of the program into BinDir, discarding the one
// a previous change started: the next Prepare of the program takes it
// rather than building again.
func (s *Supervisor) startBuild(ctx context.Context) {
	f, err := os.CreateTemp(s.proc.BinDir(), "early-*")
	if err != nil {
		s.log.Warn("starting a build", "err", err) // Prepare builds instead
		return
	}
	f.Close()
	// Not cancelled with ctx: once a transaction took the build, a stop
	// lets it finish (Run waits for it) rather than fail it; a build no
	// transaction took is discarded when Run returns.
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b := &earlyBuild{cancel: cancel, done: make(chan struct{}), out: f.Name()}
	go func() {
		defer close(b.done)
		b.err = s.build(bctx, b.out)
	}()
	s.mu.Lock()
	old := s.early
	s.early = b
	s.mu.Unlock()
	s.discardLater(old)
}

// discardLater discards b, if any, on its own goroutine.
func (s *Supervisor) discardLater(b *earlyBuild) {
	if b == nil {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		b.discard()
	}()
}

// discardBuilds discards the builds no Prepare took.
func (s *Supervisor) discardBuilds() {
	s.mu.Lock()
	early, claimed := s.early, s.claimed
	s.early, s.claimed = nil, nil
	s.mu.Unlock()
	s.discardLater(early)
	s.discardLater(claimed)
}

// buildProgressEvery is how often the terminal hears that a build is still
// running: a first build on a cold build cache compiles the standard library
// and takes a minute.
var buildProgressEvery = 10 * time.Second

// saying wraps build so that the terminal (and the Publisher) hears,
// every buildProgressEvery, that the build of unit is still running.
func (s *Supervisor) saying(unit string, build func(ctx context.Context, out string) error) func(ctx context.Context, out string) error {
	return func(ctx context.Context, out string) error {
		defer progress.Report(s.opts.Publisher, hotreload.SourceBuilder, "build of "+unit, buildProgressEvery, func(d time.Duration) {
			fmt.Fprintf(s.opts.Terminal, "hotreload: %s: still building (%s so far)\n", unit, d.Round(time.Second))
		})()
		return build(ctx, out)
	}
}

// buildProgram is the Process's build: it takes the build the last batch
// of changes started, or builds now (the start, a reload from the API).
func (s *Supervisor) buildProgram(ctx context.Context, out string) error {
	s.mu.Lock()
	b := s.claimed
	s.claimed = nil
	s.mu.Unlock()
	if b == nil {
		return s.build(ctx, out)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		b.discard()
		return ctx.Err()
	}
	if b.err != nil {
		os.Remove(b.out)
		return b.err
	}
	return os.Rename(b.out, out)
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

// reloadProgram runs one transaction of the program: its start (adding the
// Process to the engine) until one succeeded, then a reload from source.
// It reports whether a new build serves.
func (s *Supervisor) reloadProgram(ctx context.Context, pkgs []string, saved time.Time) bool {
	var (
		o   hotreload.Outcome
		err error
	)
	if !s.added {
		o, err = s.opts.Engine.Add(ctx, s.proc)
		s.added = err == nil || hotreload.ErrorCode(err) == hotreload.CodeConflict
	} else {
		c := hotreload.Candidate{Target: s.proc.Name()}
		if len(pkgs) > 0 {
			c.Meta = map[string]string{supervise.MetaPackages: strings.Join(pkgs, ",")}
		}
		// A stop lets the transaction finish (Run waits for it): the
		// program is then stopped from a consistent state, and nothing
		// fails for the stop's sake.
		o, err = s.opts.Engine.Reload(context.WithoutCancel(ctx), hotreload.Request{Source: hotreload.SourceBuilder, Author: "dev", Candidates: []hotreload.Candidate{c}})
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return false // the start, cut short by a stop: nothing to tell
	}
	r := Report{Unit: "program", Packages: pkgs, Saved: saved, Result: o.Result, Err: err}
	if r.Result == "" {
		r.Result = hotreload.Rejected // refused before it started
	}
	if err == nil && o.Result != hotreload.Committed && o.Result != hotreload.Unchanged {
		e := hotreload.Errorf(hotreload.CodeInvalid, "%s", o.Reason)
		e.Details = o.Errors
		r.Err = e
	}
	r.PID, _ = s.proc.Live()
	s.report(r)
	return r.Err == nil && r.Result == hotreload.Committed
}

// relist refreshes the dependencies of the program (plugin "") or a plugin
// in the background, off the path from save to serving; until it is done
// the previous list is used (a new package imported by a changed file is
// reached through that file's package meanwhile).
func (s *Supervisor) relist(ctx context.Context, plugin, dir, pkg string, env []string) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.list(ctx, plugin, dir, pkg, env)
	}()
}

func (s *Supervisor) list(ctx context.Context, plugin, dir, pkg string, env []string) {
	d, err := listDeps(ctx, dir, pkg, env)
	if err != nil {
		if ctx.Err() == nil { // cut short by a stop: nothing to say
			s.log.Warn("listing packages", "dir", dir, "err", err)
		}
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
	if ctx.Err() != nil {
		return false
	}
	if r.Err != nil {
		r.Result = hotreload.Rejected
	}
	r.PID, _ = s.proc.Live()
	s.report(r)
	return r.Result == hotreload.Committed
}

func (s *Supervisor) buildPlugin(ctx context.Context, pl PluginSource, result *hotreload.Result) error {
	tmp, err := os.MkdirTemp("", "hotreload-plugin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, pl.Name+".wasm")
	if err := s.saying("plugin "+pl.Name, GoBuild(pl.Dir, ".", wasmEnv, "-buildmode=c-shared"))(ctx, out); err != nil {
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

// crashed wraps the Process's OnExit to report a crash of the live
// program.
func (s *Supervisor) crashed(next func(int, error, time.Duration)) func(int, error, time.Duration) {
	return func(pid int, err error, in time.Duration) {
		s.report(Report{Unit: "program", Crashed: true, RestartIn: in, Err: err, PID: pid})
		if next != nil {
			next(pid, err, in)
		}
	}
}

// restarted wraps the Process's OnRestart to report the restart of a
// crashed program.
func (s *Supervisor) restarted(next func(int, error)) func(int, error) {
	return func(pid int, err error) {
		s.report(Report{Unit: "program", Restarted: true, Err: err, PID: pid})
		if next != nil {
			next(pid, err)
		}
	}
}

// report prints r on the terminal, tells the browsers and calls OnReport.
func (s *Supervisor) report(r Report) {
	if !r.Saved.IsZero() {
		r.Took = time.Since(r.Saved)
	}
	s.term.Lock()
	s.print(r)
	s.term.Unlock()
	if hub := s.opts.UI; hub != nil {
		switch {
		case r.Err != nil:
			details := hotreload.ErrorDetails(r.Err)
			if len(details) == 0 {
				details = []hotreload.FieldError{{Message: r.Err.Error()}}
			}
			hub.Error(details)
		case r.Result == hotreload.Committed, r.Restarted:
			hub.Clear()
			hub.ReloadPage()
		}
	}
	if s.opts.OnReport != nil {
		s.opts.OnReport(r)
	}
}

// print writes r's line, and the details of its error, to the terminal.
func (s *Supervisor) print(r Report) {
	t := s.opts.Terminal
	switch {
	case r.Crashed:
		fmt.Fprintf(t, "hotreload: %s: %s; nothing serves: restarting the last good build in %s\n", r.Unit, hotreload.FirstLine(r.Err.Error()), r.RestartIn)
	case r.Restarted && r.Err != nil:
		fmt.Fprintf(t, "hotreload: %s: restarting the last good build failed: %s; trying again\n", r.Unit, hotreload.FirstLine(r.Err.Error()))
	case r.Restarted:
		fmt.Fprintf(t, "hotreload: %s: restarted the last good build (pid %d)\n", r.Unit, r.PID)
	case r.Err != nil && r.Result == hotreload.RolledBack:
		fmt.Fprintf(t, "hotreload: %s: %s (rolled back: the previous version serves again)\n", r.Unit, hotreload.FirstLine(r.Err.Error()))
	case r.Err != nil:
		fmt.Fprintf(t, "hotreload: %s: %s (the previous version keeps serving)\n", r.Unit, hotreload.FirstLine(r.Err.Error()))
	case r.Result == hotreload.Committed:
		fmt.Fprintf(t, "hotreload: %s: serving the new build (pid %d) %s after the save\n", r.Unit, r.PID, r.Took.Round(time.Millisecond))
	case r.Result == hotreload.Unchanged && r.Unit == "program":
		fmt.Fprintf(t, "hotreload: %s: the build is unchanged; pid %d keeps serving\n", r.Unit, r.PID)
	}
	if r.Err != nil && !r.Crashed {
		for _, d := range hotreload.ErrorDetails(r.Err) {
			fmt.Fprintf(t, "  %s\n", d.String())
		}
	}
}

// Close stops the watcher and the program (SIGTERM, drain, SIGKILL of its
// process group) and closes the listener. It succeeds with a cancelled
// context and may be called more than once.
func (s *Supervisor) Close(ctx context.Context) error {
	err := errors.Join(s.w.Close(), s.proc.Close(ctx))
	s.bg.Wait() // they end with Run's context
	return err
}
