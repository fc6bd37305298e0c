// Package textpart is the smallest complete part (see docs/architecture.md):
// a text file as a hotreload.Target with its own trigger and one admin route.
// The engine runs one transaction at a time; readers load an atomic pointer.
package textpart

import (
	"context"
	"net/http"
	"os"
	"sync/atomic"
	"unicode/utf8"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/watch"
)

// Part serves the text of one file. An empty file, or one that is not
// UTF-8, is rejected and the last good text keeps serving.
type Part struct {
	name, path     string
	live           atomic.Pointer[[]byte]
	*watch.Trigger // the part's trigger (Watch), and Close
}

// New returns the part of the file at path, named name, its watch in place.
func New(name, path string) (*Part, error) {
	t, err := watch.NewTrigger(name, watch.Options{Files: []string{path}}, nil)
	p := &Part{name: name, path: path, Trigger: t}
	p.live.Store(new([]byte)) // nothing until the first load
	return p, err
}

// Name implements hotreload.Target.
func (p *Part) Name() string { return p.name }

// Text returns the live text.
func (p *Part) Text() []byte { return *p.live.Load() }

// Routes implements hotreload.Router: GET /api/v1/NAME answers the text.
func (p *Part) Routes() []hotreload.Route {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(p.Text()) })
	return []hotreload.Route{{Pattern: "GET /api/v1/" + p.name, Role: hotreload.Viewer, Handler: h}}
}

// Prepare reads the file, or takes the snapshot history restores, and
// checks it; the live text is untouched.
func (p *Part) Prepare(_ context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	text, err := c.Snapshot, error(nil)
	if len(text) == 0 {
		text, err = os.ReadFile(p.path)
	}
	if err == nil && (len(text) == 0 || !utf8.Valid(text)) {
		err = hotreload.Errorf(hotreload.CodeInvalid, "%s: empty or not UTF-8", p.path)
	}
	if err != nil {
		return nil, err
	}
	return &change{p: p, text: text}, nil
}

// change is a prepared text: Apply swaps it in and keeps the old one until
// Commit; Rollback puts the old one back (before Apply, it does nothing).
type change struct {
	p    *Part
	text []byte
	old  *[]byte // set by Apply
}

func (c *change) Summary() hotreload.Summary {
	return hotreload.Summary{Kind: "text", Snapshot: c.text}
}
func (c *change) Apply(context.Context) error  { c.old = c.p.live.Swap(&c.text); return nil }
func (c *change) Commit(context.Context) error { c.old = nil; return nil }
func (c *change) Rollback(context.Context) error {
	if c.old != nil {
		c.p.live.Store(c.old)
	}
	return nil
}
