package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/cybercorp/hotreload/secret"
)

// setDoc is the host's own format: the set of loaded plugins. It is the
// Snapshot of every change, and a Candidate's Content or Patch target. An
// entry with a sha256 names a module in the store and must carry its
// manifest; an entry without one means "read NAME.wasm and NAME.json from
// the directory". An entry without config takes the plugin's section of the
// main configuration.
type setDoc struct {
	Plugins map[string]entry `json:"plugins"`
}

type entry struct {
	SHA256   string          `json:"sha256,omitempty"`
	Manifest *Manifest       `json:"manifest,omitempty"`
	Config   json.RawMessage `json:"config,omitempty"`
}

func parseSet(what string, b []byte) (setDoc, error) {
	var d setDoc
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return setDoc{}, hotreload.Errorf(hotreload.CodeInvalid, "reading the plugin set %s: %s", what, decodeMessage(err))
	}
	if d.Plugins == nil {
		d.Plugins = map[string]entry{}
	}
	for name := range d.Plugins {
		if !ValidName(name) {
			return setDoc{}, &hotreload.Error{Code: hotreload.CodeInvalid, Message: fmt.Sprintf("reading the plugin set %s", what),
				Details: []hotreload.FieldError{{Path: jsondiff.Join("/plugins", name), Message: "not a valid plugin name: want a lower-case letter, then letters, digits, '-' or '_'"}}}
		}
	}
	return d, nil
}

func (d setDoc) marshal() []byte {
	if d.Plugins == nil {
		d.Plugins = map[string]entry{}
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("plugin: marshalling the plugin set: %v", err)) // only JSON values inside
	}
	return b
}

// view is what Summary.Changes compares: the facts a reader cares about.
func (d setDoc) view() any {
	out := map[string]any{}
	for name, e := range d.Plugins {
		var cfg any
		_ = json.Unmarshal(e.Config, &cfg)
		p := map[string]any{"sha256": e.SHA256, "config": cfg}
		if e.Manifest != nil {
			p["version"] = e.Manifest.Version
		}
		out[name] = p
	}
	return out
}

// Name returns the target's name ("plugins" unless Options.Name says
// otherwise).
func (h *Host) Name() string { return h.opts.Name }

// Kind tells the engine the host's changes are plugin changes.
func (h *Host) Kind() hotreload.Kind { return hotreload.KindPlugin }

// liveSet is the set document of what is live now.
func (h *Host) liveSet() setDoc {
	d := setDoc{Plugins: map[string]entry{}}
	for name, s := range *h.slots.Load() {
		if v := s.live.Load(); v != nil {
			m := v.manifest
			d.Plugins[name] = entry{SHA256: v.sha256, Manifest: &m, Config: *v.config.Load()}
		}
	}
	return d
}

// Prepare builds, beside the live plugins, every version a candidate needs:
// it compiles each new module (through the compilation cache), starts its
// pool, initializes every instance with its config within the init timeout
// and requires get_status to say ok. For a plugin whose module stays and
// whose config changes, it checks the config against the schema and on a
// scratch instance. Nothing live changes until Apply.
//
// A candidate with Snapshot or Content is a full set document; Patch is a
// JSON merge patch against the live set (see LoadCandidate); an empty
// candidate reads the directory, and there a plugin that fails is left out
// (it keeps its live version, if any) and reported, so one bad module does
// not keep the others from loading. Otherwise any failure rejects the
// candidate and Prepare releases what it built.
func (h *Host) Prepare(ctx context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	if h.closed.Load() {
		return nil, hotreload.Errorf(hotreload.CodeUnavailable, "the plugin host is closed")
	}
	cur := h.liveSet()
	var want setDoc
	var err error
	lenient := false
	switch {
	case len(c.Snapshot) > 0:
		if want, err = parseSet("snapshot", c.Snapshot); err == nil {
			for name, e := range want.Plugins {
				if e.SHA256 == "" || e.Manifest == nil || e.Config == nil {
					err = hotreload.Errorf(hotreload.CodeInvalid, "snapshot entry %q lacks its sha256, manifest or config", name)
				}
			}
		}
	case len(c.Content) > 0:
		want, err = parseSet("content", c.Content)
	case len(c.Patch) > 0:
		want, err = patchSet(cur, c.Patch)
	default:
		want, err = h.dirSet(cur)
		lenient = true
	}
	if err != nil {
		return nil, err
	}
	ch, err := h.plan(ctx, cur, want, lenient, c.Meta)
	if err != nil {
		return nil, err // a nil Change, not a nil *change
	}
	return ch, nil
}

func patchSet(cur setDoc, patch []byte) (setDoc, error) {
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return setDoc{}, hotreload.Errorf(hotreload.CodeInvalid, "reading the plugin set patch: %s", decodeMessage(err))
	}
	var doc any
	_ = json.Unmarshal(cur.marshal(), &doc)
	b, err := json.Marshal(jsondiff.MergePatch(doc, p))
	if err != nil {
		return setDoc{}, hotreload.Errorf(hotreload.CodeInvalid, "applying the plugin set patch: %w", err)
	}
	return parseSet("patch result", b)
}

// Follow joins a transaction whose config change touches a loaded plugin's
// section: the plugin is reconfigured (update_config) with the new section
// in the same transaction, so both commit or both roll back.
func (h *Host) Follow(ctx context.Context, prepared map[string]hotreload.Change) (hotreload.Change, error) {
	var doc any
	found := false
	for name, ch := range prepared {
		if h.opts.ConfigTarget != "" && name != h.opts.ConfigTarget {
			continue
		}
		if dc, ok := ch.(hotreload.DataChange); ok {
			doc, found = dc.Data(), true
			if ec, ok := ch.(interface{ Encrypted() any }); ok && h.opts.Reveal != nil {
				doc = ec.Encrypted() // settings are kept encrypted
			}
			break
		}
	}
	if !found {
		return nil, nil
	}
	cur := h.liveSet()
	want := setDoc{Plugins: map[string]entry{}}
	changed := false
	for name, e := range cur.Plugins {
		cfg, err := h.section(doc, name)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(cfg, e.Config) {
			e.Config, changed = cfg, true
		}
		want.Plugins[name] = e
	}
	if !changed {
		return nil, nil
	}
	ch, err := h.plan(ctx, cur, want, false, nil)
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// configPath is where plugin name's section sits in the main config.
func (h *Host) configPath(name string) string { return jsondiff.Join(h.opts.ConfigPointer, name) }

// section returns plugin name's section of a config document as canonical
// JSON, "{}" when it has none.
func (h *Host) section(doc any, name string) ([]byte, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "reading the config for plugin %q: %w", name, err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "reading the config for plugin %q: %w", name, err)
	}
	for _, tok := range jsondiff.Split(h.configPath(name)) {
		m, ok := v.(map[string]any)
		if !ok {
			v = nil
			break
		}
		v = m[tok]
	}
	if v == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(v)
}

// canonical re-encodes JSON so that equal values have equal bytes.
func canonical(raw json.RawMessage) ([]byte, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if v == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(v)
}

// stepKind is what a change does to one plugin.
type stepKind int

const (
	stepSwap        stepKind = iota // load or replace a version
	stepUnload                      // unload the live version
	stepReconfigure                 // update_config on the live version
)

type step struct {
	kind           stepKind
	slot           *slot
	old, new       *version
	oldCfg, newCfg []byte
	applied        bool
	// keepOut is the sha256 of a quarantined module this step takes out
	// (MetaQuarantined): it stays out while its file is unchanged.
	keepOut string
}

// change is a prepared candidate of the host.
type change struct {
	h       *Host
	summary hotreload.Summary
	steps   []*step
}

// plan builds the steps that take the live set cur to want.
func (h *Host) plan(ctx context.Context, cur, want setDoc, lenient bool, meta map[string]string) (*change, error) {
	c := &change{h: h}
	final := setDoc{Plugins: map[string]entry{}}
	for name, e := range cur.Plugins {
		final.Plugins[name] = e
	}
	var names []string
	for name := range cur.Plugins {
		names = append(names, name)
	}
	for name := range want.Plugins {
		if _, ok := cur.Plugins[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		s := h.slot(name, true)
		old, live := cur.Plugins[name]
		e, keep := want.Plugins[name]
		if !keep {
			c.steps = append(c.steps, &step{kind: stepUnload, slot: s, old: s.live.Load()})
			delete(final.Plugins, name)
			continue
		}
		st, got, err := h.prepareOne(ctx, s, old, live, e)
		if err != nil {
			err = h.failLoad(s, err)
			errs = append(errs, err)
			if !lenient {
				break
			}
			continue
		}
		final.Plugins[name] = got
		if st != nil {
			st.keepOut = keptOut(meta, name)
			c.steps = append(c.steps, st)
		}
	}
	if len(errs) > 0 && !lenient {
		_ = c.Rollback(ctx)
		if len(errs) == 1 {
			return nil, errs[0]
		}
		return nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: errors.Join(errs...).Error(), Err: errors.Join(errs...)}
	}
	for _, err := range errs {
		h.log.Error("plugin left out of the directory load", "err", err)
	}
	c.summary = hotreload.Summary{
		Kind:     hotreload.KindPlugin,
		Snapshot: final.marshal(),
		Changes:  jsondiff.Diff(cur.view(), final.view()),
		Meta:     meta,
	}
	for _, st := range c.steps {
		c.summary.Modules = append(c.summary.Modules, st.slot.name)
	}
	return c, nil
}

// failLoad records a failed load or reconfiguration of s and returns err as
// a *hotreload.Error naming the plugin.
func (h *Host) failLoad(s *slot, err error) error {
	code := hotreload.CodeInvalid
	var he *hotreload.Error
	if errors.As(err, &he) {
		code = he.Code
	}
	e := hotreload.Errorf(code, "plugin %q: %w", s.name, err)
	now := h.opts.Now()
	s.mu.Lock()
	s.setLastError(e, now)
	if s.loadFaults.fail(now, h.opts.QuarantineAfter, h.opts.QuarantineBackoff) {
		h.log.Error("plugin quarantined: the directory sync will not retry it until the backoff ends",
			"plugin", s.name, "until", s.loadFaults.until, "err", e)
	}
	s.mu.Unlock()
	return e
}

// prepareOne resolves want's entry for s and builds what it needs: nothing
// when it equals the live entry, a reconfiguration when only the config
// changed, else a new version. It returns the resolved entry.
func (h *Host) prepareOne(ctx context.Context, s *slot, old entry, live bool, e entry) (*step, entry, error) {
	wasm, sum, m, err := h.module(s.name, e)
	if err != nil {
		return nil, entry{}, err
	}
	cfg := []byte(e.Config)
	if cfg == nil {
		if cfg, err = h.section(h.liveConfig(), s.name); err != nil {
			return nil, entry{}, err
		}
	} else if cfg, err = canonical(e.Config); err != nil {
		return nil, entry{}, hotreload.Errorf(hotreload.CodeInvalid, "reading its config: %w", err)
	}
	plain, err := h.reveal(cfg) // what the plugin gets
	if err != nil {
		return nil, entry{}, err
	}
	schema, err := m.schema()
	if err != nil {
		return nil, entry{}, hotreload.Errorf(hotreload.CodeInvalid, "manifest: %w", err)
	}
	if err := validateConfig(schema, h.configPath(s.name), plain); err != nil {
		return nil, entry{}, err
	}
	got := entry{SHA256: sum, Manifest: &m, Config: cfg}
	sameCode := live && old.SHA256 == sum && bytes.Equal(jsondiff.MustMarshal(old.Manifest), jsondiff.MustMarshal(&m))
	if sameCode && bytes.Equal(old.Config, cfg) {
		return nil, got, nil
	}
	lv := s.live.Load()
	if sameCode && lv != nil {
		if err := lv.trial(ctx, plain); err != nil {
			return nil, entry{}, err
		}
		oldPlain, err := h.reveal(old.Config)
		if err != nil {
			return nil, entry{}, err
		}
		return &step{kind: stepReconfigure, slot: s, old: lv, oldCfg: oldPlain, newCfg: plain}, got, nil
	}
	if wasm == nil {
		if wasm, err = h.stored(s.name, sum); err != nil {
			return nil, entry{}, err
		}
	}
	s.mu.Lock()
	s.loading = true
	s.mu.Unlock()
	v, err := newVersion(ctx, h.rc, h.wd, s.name, sum, wasm, m, plain)
	s.mu.Lock()
	s.loading = false
	s.mu.Unlock()
	if err != nil {
		return nil, entry{}, err
	}
	if err := h.store.put(sum, wasm); err != nil {
		_ = v.close(ctx)
		return nil, entry{}, err
	}
	return &step{kind: stepSwap, slot: s, old: lv, new: v}, got, nil
}

// module returns the module and manifest an entry names: from the store
// (wasm is then nil, read only when needed) or from the directory.
func (h *Host) module(name string, e entry) (wasm []byte, sum string, m Manifest, err error) {
	if e.SHA256 != "" {
		if e.Manifest == nil {
			return nil, "", Manifest{}, hotreload.Errorf(hotreload.CodeInvalid, "entry with sha256 %s has no manifest", e.SHA256)
		}
		m = *e.Manifest
		m.Limits = m.Limits.withDefaults()
		if err := m.check("manifest", name); err != nil {
			return nil, "", Manifest{}, err
		}
		return nil, e.SHA256, m, nil
	}
	return h.readModule(name)
}

// stored returns the module with digest sum: from the store, or from the
// directory when its file still has that digest (a store kept in memory
// starts empty after a restart).
func (h *Host) stored(name, sum string) ([]byte, error) {
	wasm, err := h.store.get(sum)
	if hotreload.ErrorCode(err) != hotreload.CodeNotFound {
		return wasm, err
	}
	if b, rerr := os.ReadFile(filepath.Join(h.opts.Dir, name+".wasm")); rerr == nil && hotreload.Digest(b) == sum {
		return b, nil
	}
	return nil, err
}

// reveal returns a plugin's settings as the plugin gets them (see
// Options.Reveal).
func (h *Host) reveal(cfg []byte) ([]byte, error) {
	if h.opts.Reveal == nil || !bytes.Contains(cfg, []byte(secret.Prefix)) {
		return cfg, nil
	}
	var v any
	if err := json.Unmarshal(cfg, &v); err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "reading its config: %w", err)
	}
	v, err := h.opts.Reveal(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func (h *Host) liveConfig() any {
	if h.opts.Config == nil {
		return nil
	}
	return h.opts.Config()
}

// trial checks that config starts a fresh instance of v, outside the pool.
func (v *version) trial(ctx context.Context, config []byte) error {
	in, err := instantiate(ctx, v.wd, v.rt, v.code, v.manifest.Limits)
	if err != nil {
		return err
	}
	defer in.close(ctx)
	return in.start(ctx, config, v.initTimeout())
}

// Summary describes the change: Kind plugin, the new plugin set as the
// snapshot, and the plugins it loads, replaces, reconfigures or unloads as
// Modules.
func (c *change) Summary() hotreload.Summary { return c.summary }

// Apply makes every prepared version live with one pointer swap per plugin
// (calls already running finish on the old version, which stays open) and
// reconfigures plugins whose config changed. A swapped-in version starts
// with no call failures: those of the old one (a quarantine) are not its.
// On error the engine calls Rollback.
func (c *change) Apply(ctx context.Context) error {
	for _, st := range c.steps {
		st.applied = true
		switch st.kind {
		case stepSwap:
			st.slot.live.Store(st.new)
			st.slot.mu.Lock()
			st.slot.callsHealthy()
			st.slot.mu.Unlock()
		case stepUnload:
			st.slot.live.Store(nil)
		case stepReconfigure:
			if err := st.old.reconfigure(ctx, st.newCfg); err != nil {
				return c.h.failLoad(st.slot, err)
			}
		}
	}
	return nil
}

// Rollback puts the old versions and configs back and closes the new
// versions (after their running calls finish). Before Apply it only closes
// what Prepare built. It always succeeds; cleanup failures are logged.
func (c *change) Rollback(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	for i := len(c.steps) - 1; i >= 0; i-- {
		st := c.steps[i]
		if st.applied {
			switch st.kind {
			case stepSwap:
				st.slot.live.Store(st.old)
				c.h.rejected(st.slot, st.new)
			case stepUnload:
				st.slot.live.Store(st.old)
			case stepReconfigure:
				if err := st.old.reconfigure(ctx, st.oldCfg); err != nil {
					c.h.log.Error("restoring a plugin's config", "plugin", st.slot.name, "err", err)
				}
			}
			st.applied = false
		}
		if st.new != nil {
			if err := st.new.close(ctx); err != nil {
				c.h.log.Warn("plugin cleanup failed", "plugin", st.slot.name, "err", err)
			}
		}
	}
	return nil
}

// rejected forgets the call failures of bad, a version rolled back after it
// served (the health gate judged it), so the version put back starts
// clean, and keeps bad's module out of the directory sync while its file is
// unchanged, so the sync does not load it again and again.
func (h *Host) rejected(s *slot, bad *version) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callsHealthy()
	if fileDigest(filepath.Join(h.opts.Dir, s.name+".wasm")) == bad.sha256 {
		s.disabled = bad.sha256
	}
}

// Commit closes the replaced and unloaded versions: it waits for their
// running calls, calls cleanup on each instance and closes their runtimes. A
// failing cleanup is recorded as the plugin's last error; the new version
// stays live. It always succeeds.
func (c *change) Commit(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	for _, st := range c.steps {
		s := st.slot
		if st.kind != stepReconfigure && st.old != nil {
			if err := st.old.close(ctx); err != nil {
				e := fmt.Errorf("plugin %q %s: closing the previous version: %w", s.name, st.old.label(), err)
				c.h.log.Warn("plugin cleanup failed", "plugin", s.name, "err", e)
				s.mu.Lock()
				s.setLastError(e, c.h.opts.Now())
				s.mu.Unlock()
			}
		}
		s.mu.Lock()
		switch st.kind {
		case stepUnload:
			// Unloaded while its file is still there: on request, so the
			// directory sync must not load it again until the file changes.
			if st.old != nil && fileDigest(filepath.Join(c.h.opts.Dir, s.name+".wasm")) == st.old.sha256 {
				s.disabled = st.old.sha256
			}
			s.degraded, s.good = false, nil
		case stepSwap:
			st.new.committed.Store(true)
			s.good = nil
			if st.old != nil && !st.old.returning.Load() {
				e := entryOf(st.old)
				s.good = &e
			}
			fallthrough
		default:
			s.disabled = st.keepOut
			s.healthy()
		}
		s.mu.Unlock()
		if st.new != nil {
			c.h.log.Info("plugin loaded", "plugin", s.name, "version", st.new.manifest.Version, "sha256", st.new.sha256)
		} else if st.kind == stepUnload {
			c.h.log.Info("plugin unloaded", "plugin", s.name)
		}
	}
	return nil
}
