package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/inputfile"
	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/cybercorp/hotreload/internal/progress"
)

// scan lists the plugin modules in the directory: NAME.wasm for every valid
// NAME, by name to path. Files with other names are skipped.
func (h *Host) scan() (map[string]string, error) {
	ents, err := os.ReadDir(h.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("reading the plugin directory: %w", err)
	}
	out := map[string]string{}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".wasm")
		if !ok || e.IsDir() {
			continue
		}
		if !ValidName(name) {
			h.log.Warn("skipping a module whose name is not a valid plugin name", "file", e.Name())
			continue
		}
		out[name] = filepath.Join(h.opts.Dir, e.Name())
	}
	return out, nil
}

// maxModuleBytes bounds a plugin's .wasm file.
const maxModuleBytes = 256 << 20

// readModule reads NAME.wasm and its manifest NAME.json (defaults when it
// has none) from the directory.
func (h *Host) readModule(name string) (wasm []byte, sum string, m Manifest, err error) {
	path := filepath.Join(h.opts.Dir, name+".wasm")
	wasm, err = inputfile.Read(path, inputfile.Options{MaxBytes: maxModuleBytes, AllowOutsideLinks: true})
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", Manifest{}, hotreload.Errorf(hotreload.CodeNotFound, "no module %s", path)
	}
	if err != nil {
		return nil, "", Manifest{}, hotreload.Errorf(hotreload.CodeInternal, "reading the module: %w", err)
	}
	mpath := filepath.Join(h.opts.Dir, name+".json")
	raw, err := inputfile.Read(mpath, inputfile.Options{MaxBytes: 1 << 20, AllowOutsideLinks: true})
	switch {
	case errors.Is(err, os.ErrNotExist):
		m = defaultManifest(name)
	case err != nil:
		return nil, "", Manifest{}, hotreload.Errorf(hotreload.CodeInternal, "reading the manifest: %w", err)
	default:
		if m, err = ParseManifest(mpath, name, raw); err != nil {
			return nil, "", Manifest{}, err
		}
	}
	return wasm, hotreload.Digest(wasm), m, nil
}

// dirSet is the set the directory asks for: every module, except those
// unloaded on request (until their file changes) and those in quarantine
// (which keep what they have).
func (h *Host) dirSet(cur setDoc) (setDoc, error) {
	files, err := h.scan()
	if err != nil {
		return setDoc{}, hotreload.Errorf(hotreload.CodeInternal, "%w", err)
	}
	want := setDoc{Plugins: map[string]entry{}}
	now := h.opts.Now()
	for name, path := range files {
		s := h.slot(name, false)
		if s != nil {
			s.mu.Lock()
			disabled, quarantined := s.disabled, s.loadFaults.open(now)
			s.mu.Unlock()
			if quarantined || (disabled != "" && fileDigest(path) == disabled) {
				if e, ok := cur.Plugins[name]; ok {
					want.Plugins[name] = e
				}
				continue
			}
		}
		want.Plugins[name] = entry{}
	}
	return want, nil
}

func fileDigest(path string) string {
	b, err := inputfile.Read(path, inputfile.Options{MaxBytes: maxModuleBytes, AllowOutsideLinks: true})
	if err != nil {
		return ""
	}
	return hotreload.Digest(b)
}

// LoadCandidate returns the candidate that loads plugin name from the
// directory and its section of the main config, or reloads it when they
// changed: a merge patch that drops the plugin's stored module, manifest
// and config from the set.
func (h *Host) LoadCandidate(name string) hotreload.Candidate {
	return hotreload.Candidate{Target: h.Name(), Patch: fmt.Appendf(nil, `{"plugins":{%q:{"sha256":null,"manifest":null,"config":null}}}`, name)}
}

// UnloadCandidate returns the candidate that unloads plugin name.
func (h *Host) UnloadCandidate(name string) hotreload.Candidate {
	return hotreload.Candidate{Target: h.Name(), Patch: fmt.Appendf(nil, `{"plugins":{%q:null}}`, name)}
}

// Load loads (or reloads) plugin name from the directory as one
// transaction; r says who asks (Source, Author, Remote) and Load sets its
// candidate. A rejected or rolled-back transaction is an outcome, not an
// error.
func (h *Host) Load(ctx context.Context, name string, r hotreload.Request) (hotreload.Outcome, error) {
	if !ValidName(name) {
		return hotreload.Outcome{}, hotreload.Errorf(hotreload.CodeInvalid, "%q is not a valid plugin name", name)
	}
	if _, err := os.Stat(filepath.Join(h.opts.Dir, name+".wasm")); err != nil {
		return hotreload.Outcome{}, hotreload.Errorf(hotreload.CodeNotFound, "no plugin %q: no module %s.wasm in %s", name, name, h.opts.Dir)
	}
	r.Candidates, r.Targets = []hotreload.Candidate{h.LoadCandidate(name)}, nil
	defer h.precompile(ctx, name)()
	return h.submit(ctx, r)
}

// precompile compiles plugin name's module from the directory into the
// compilation cache before its transaction, so that the transaction's
// Prepare finds it there: a compile takes seconds (a minute on a slow or
// busy machine), and inside the transaction it would hold up every other
// change and count against the engine's step deadline. The compiled module
// is kept until release is called, after the transaction. It compiles on
// several goroutines, which is also what makes wazero stop when ctx ends (a
// daemon shutting down does not wait for the compile). Errors are left for
// the transaction to report; without a compilation cache it does nothing.
func (h *Host) precompile(ctx context.Context, name string) (release func()) {
	release = func() {}
	if h.opts.DisableCompilationCache {
		return release
	}
	wasm, _, m, err := h.readModule(name)
	if err != nil {
		return release
	}
	start := time.Now()
	defer progress.Report(h.opts.Publisher, hotreload.SourceWatch, "compile of plugin "+name, 15*time.Second, func(d time.Duration) {
		h.log.Info("still compiling plugin: a first compile without a cache takes a while", "plugin", name, "so_far", d.Round(time.Second))
	})()
	rt := wazero.NewRuntimeWithConfig(ctx, h.rc.WithMemoryLimitPages(m.Limits.MemoryPages))
	release = func() { _ = rt.Close(context.WithoutCancel(ctx)) }
	workers := experimental.WithCompilationWorkers(ctx, max(2, runtime.GOMAXPROCS(0)))
	if _, err := compile(workers, rt, wasm); err == nil {
		h.log.Info("plugin compiled", "plugin", name, "took", time.Since(start).Round(time.Millisecond))
	}
	return release
}

// Reload reloads a loaded plugin from the directory; see Load.
func (h *Host) Reload(ctx context.Context, name string, r hotreload.Request) (hotreload.Outcome, error) {
	if s := h.slot(name, false); s == nil || s.live.Load() == nil {
		return hotreload.Outcome{}, hotreload.Errorf(hotreload.CodeConflict, "plugin %q is not loaded: load it first", name)
	}
	return h.Load(ctx, name, r)
}

// Unload unloads a loaded plugin as one transaction. Its module stays in
// the directory and Sync leaves it unloaded until the file changes.
func (h *Host) Unload(ctx context.Context, name string, r hotreload.Request) (hotreload.Outcome, error) {
	if s := h.slot(name, false); s == nil || s.live.Load() == nil {
		return hotreload.Outcome{}, hotreload.Errorf(hotreload.CodeNotFound, "plugin %q is not loaded", name)
	}
	r.Candidates, r.Targets = []hotreload.Candidate{h.UnloadCandidate(name)}, nil
	return h.submit(ctx, r)
}

// Sync brings the loaded plugins in line with the directory: one
// transaction (source "watch") per plugin whose module or manifest is new or
// changed (load) or whose module is gone (unload), so that one bad module
// is rejected alone. Plugins in load quarantine (repeated failed loads) and
// plugins unloaded on request whose file did not change are skipped. Call it on every batch of file
// events in the directory. The error reports transactions that could not
// run; rejected ones are in the outcomes.
func (h *Host) Sync(ctx context.Context) ([]hotreload.Outcome, error) {
	files, err := h.scan()
	if err != nil {
		return nil, err
	}
	now := h.opts.Now()
	var names []string
	for name := range files {
		names = append(names, name)
	}
	for name, s := range *h.slots.Load() {
		if _, ok := files[name]; !ok {
			s.mu.Lock()
			s.disabled = "" // a module that comes back is loaded again
			s.mu.Unlock()
			if s.live.Load() != nil {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	var outs []hotreload.Outcome
	var errs []error
	for _, name := range names {
		var c hotreload.Candidate
		if _, ok := files[name]; !ok {
			c = h.UnloadCandidate(name)
		} else if h.upToDate(name, now) {
			continue
		} else {
			c = h.LoadCandidate(name)
			release := h.precompile(ctx, name)
			defer release()
		}
		o, err := h.submit(ctx, hotreload.Request{Source: hotreload.SourceWatch, Candidates: []hotreload.Candidate{c}})
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin %q: %w", name, err))
			continue
		}
		outs = append(outs, o)
	}
	return outs, errors.Join(errs...)
}

// upToDate reports whether plugin name needs no transaction: its live
// module and manifest equal the files, or it is in quarantine, or it was
// unloaded on request and its file did not change.
func (h *Host) upToDate(name string, now time.Time) bool {
	s := h.slot(name, false)
	if s == nil {
		return false
	}
	wasm, sum, m, err := h.readModule(name)
	if err != nil || wasm == nil {
		return false // let the transaction report it
	}
	s.mu.Lock()
	disabled, quarantined := s.disabled, s.loadFaults.open(now)
	s.mu.Unlock()
	if quarantined {
		h.log.Info("plugin in load quarantine: not reloading it yet", "plugin", name)
		return true
	}
	if disabled == sum {
		return true
	}
	v := s.live.Load()
	return v != nil && v.sha256 == sum && bytes.Equal(jsondiff.MustMarshal(&v.manifest), jsondiff.MustMarshal(&m))
}

// submit runs a transaction through Options.Submit: the engine is the only
// thing that runs one.
func (h *Host) submit(ctx context.Context, r hotreload.Request) (hotreload.Outcome, error) {
	if h.opts.Submit == nil {
		return hotreload.Outcome{}, hotreload.Errorf(hotreload.CodeUnavailable,
			"plugin host: no engine runs its transactions: set Options.Submit to the engine's Reload")
	}
	return h.opts.Submit(ctx, r)
}
