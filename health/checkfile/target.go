package checkfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/health"
	"github.com/cybercorp/hotreload/internal/inputfile"
)

// Target is the checks file as a hotreload.Target: applying a new file
// removes the checks it no longer declares, adds the new ones and replaces
// the changed ones in the Monitor (a check whose spec is unchanged keeps
// running with its state), and sets the Gate's options. Checks added to the
// Monitor in code are never touched, and a file check may not take their
// name.
type Target struct {
	name string
	path string
	mon  *health.Monitor
	gate *health.Gate // may be nil
	base health.GateOptions

	mu      sync.Mutex        // guards the fields below; the engine calls one method at a time
	live    map[string]*Built // the checks of the applied file
	gateSet GateSettings      // the applied file's gate settings
}

var _ hotreload.Target = (*Target)(nil)

// TargetOptions configure a Target. Path and Monitor are required.
type TargetOptions struct {
	// Name is the target's name; "checks" when empty.
	Name string
	// Path is the checks file.
	Path string
	// Monitor runs the file's checks.
	Monitor *health.Monitor
	// Gate, when set, takes the file's gate settings; its options when
	// NewTarget is called are the base they apply over.
	Gate *health.Gate
}

// NewTarget returns the target of the checks file opts.Path. Nothing is
// read until the engine prepares the first candidate.
func NewTarget(opts TargetOptions) *Target {
	name, path, m, g := opts.Name, opts.Path, opts.Monitor, opts.Gate
	if name == "" {
		name = "checks"
	}
	t := &Target{name: name, path: path, mon: m, gate: g, live: map[string]*Built{}}
	if g != nil {
		t.base = g.Options()
	}
	return t
}

// Name returns the target's name.
func (t *Target) Name() string { return t.name }

// Checks returns the names of the live file checks, sorted.
func (t *Target) Checks() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Sorted(maps.Keys(t.live))
}

// Prepare parses the candidate (its Snapshot or Content, else the file on
// disk) and builds its checks without touching the Monitor. A merge patch
// is refused: the file is edited whole.
func (t *Target) Prepare(ctx context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	if len(c.Patch) > 0 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "checks file %q: merge patches are not supported; send the whole file", t.path)
	}
	content := c.Snapshot
	if content == nil {
		content = c.Content
	}
	if content == nil {
		var err error
		if content, err = inputfile.Read(t.path, inputfile.Options{AllowOutsideLinks: true}); err != nil {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "reading checks file: %w", err)
		}
	}
	f, err := Parse(t.path, content)
	if err != nil {
		return nil, err
	}
	gateOpts := t.base
	if f.Gate != nil {
		gateOpts = f.Gate.Apply(t.base)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range f.Checks {
		if _, ours := t.live[s.Name]; !ours {
			if _, taken := t.mon.Status(s.Name); taken {
				return nil, hotreload.Errorf(hotreload.CodeConflict, "checks file %q: check %q is already declared in code", t.path, s.Name)
			}
		}
	}
	built, err := f.Build()
	if err != nil {
		return nil, err
	}
	ch := &change{t: t, content: bytes.Clone(content), gateOpts: gateOpts, next: map[string]*Built{}}
	if f.Gate != nil {
		ch.gateSet = *f.Gate
	}
	if t.gate != nil {
		ch.prevGate = t.gate.Options()
	}
	for _, b := range built {
		if old, ok := t.live[b.Spec.Name]; ok && old.Spec == b.Spec {
			_ = b.Close() // unchanged: keep the running one
			ch.next[b.Spec.Name] = old
			continue
		}
		ch.next[b.Spec.Name] = b
		ch.added = append(ch.added, b)
	}
	for n, old := range t.live {
		if nb, ok := ch.next[n]; !ok || nb != old {
			ch.removed = append(ch.removed, old)
		}
	}
	ch.summary = hotreload.Summary{Kind: hotreload.KindConfig, Snapshot: ch.content, Changes: ch.changes()}
	return ch, nil
}

// change is one prepared checks file. added are built here and owned by
// the change until Commit; removed are the live checks it replaces. It is
// prepared against the applied file, which may not be committed yet (the
// engine prepares the next candidate while the last one is recorded).
type change struct {
	t        *Target
	content  []byte
	gateSet  GateSettings
	gateOpts health.GateOptions
	prevGate health.GateOptions
	next     map[string]*Built
	added    []*Built
	removed  []*Built
	summary  hotreload.Summary
	applied  bool
	// prevLive and prevGateSet are the target's, kept by Apply for Rollback.
	prevLive    map[string]*Built
	prevGateSet GateSettings
}

func (c *change) Summary() hotreload.Summary { return c.summary }

// changes lists added, removed and changed checks as /checks/NAME paths,
// DSN passwords redacted.
func (c *change) changes() []hotreload.PathChange {
	byName := map[string]*hotreload.PathChange{}
	for _, b := range c.removed {
		byName[b.Spec.Name] = &hotreload.PathChange{Path: "/checks/" + b.Spec.Name, Old: b.Spec.redacted()}
	}
	for _, b := range c.added {
		pc, ok := byName[b.Spec.Name]
		if !ok {
			pc = &hotreload.PathChange{Path: "/checks/" + b.Spec.Name}
			byName[b.Spec.Name] = pc
		}
		pc.New = b.Spec.redacted()
	}
	out := make([]hotreload.PathChange, 0, len(byName))
	for _, pc := range byName {
		out = append(out, *pc)
	}
	slices.SortFunc(out, func(a, b hotreload.PathChange) int { return strings.Compare(a.Path, b.Path) })
	if !reflect.DeepEqual(c.gateSet, c.t.gateSet) {
		out = append(out, hotreload.PathChange{Path: "/gate", Old: c.t.gateSet, New: c.gateSet})
	}
	return out
}

// Apply swaps the checks in the Monitor and sets the gate's options. On
// error it has undone what it did.
func (c *change) Apply(ctx context.Context) error {
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range c.removed {
		t.mon.Remove(b.Spec.Name)
	}
	for i, b := range c.added {
		if err := t.mon.Add(b.Spec.Name, b.Check, b.Options); err != nil {
			for _, undo := range c.added[:i] {
				t.mon.Remove(undo.Spec.Name)
			}
			c.restore()
			return fmt.Errorf("checks file %q: %w", t.path, err)
		}
	}
	if t.gate != nil {
		if err := t.gate.SetOptions(c.gateOpts); err != nil {
			for _, b := range c.added {
				t.mon.Remove(b.Spec.Name)
			}
			c.restore()
			return err
		}
	}
	c.prevLive, c.prevGateSet = t.live, t.gateSet
	t.live, t.gateSet = c.next, c.gateSet
	c.applied = true
	return nil
}

// restore puts the removed checks back; t.mu must be held.
func (c *change) restore() {
	for _, b := range c.removed {
		// The name was ours and is free again: Add cannot conflict.
		_ = c.t.mon.Add(b.Spec.Name, b.Check, b.Options)
	}
}

// Rollback puts the previous checks and gate options back (their states
// start over as unknown and are measured at once) and closes what Prepare
// built.
func (c *change) Rollback(ctx context.Context) error {
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.applied {
		for _, b := range c.added {
			t.mon.Remove(b.Spec.Name)
		}
		c.restore()
		if t.gate != nil {
			_ = t.gate.SetOptions(c.prevGate)
		}
		t.live, t.gateSet = c.prevLive, c.prevGateSet
		c.applied = false
	}
	return closeBuilt(c.added)
}

// Commit closes what the removed checks owned.
func (c *change) Commit(ctx context.Context) error {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return closeBuilt(c.removed)
}

func closeBuilt(bs []*Built) error {
	var errs []error
	for _, b := range bs {
		if err := b.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing check %q: %w", b.Spec.Name, err))
		}
	}
	return errors.Join(errs...)
}

// redacted returns s with a DSN password hidden, for events and history.
func (s Spec) redacted() Spec {
	if s.DSN != "" {
		s.DSN = redact(s.DSN)
	}
	return s
}
