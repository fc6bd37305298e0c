package ui

import (
	"context"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/watch"
)

// Watch reloads the target through submit whenever files under the folder
// change, until ctx ends: once when the watch is in place (for changes made
// before it was), then one transaction with source "watch" per batch of
// changes that stayed quiet for AssetsOptions.Debounce (zero means
// watch.DefaultDebounce, watch.Off reloads at once). Hidden files and editor leftovers are not
// watched. Outcomes are in history and the event stream; a request the
// engine refuses (stopped, frozen) is logged. Watch returns nil when ctx
// ends, or an error when the watcher cannot start. It makes Assets a
// hotreload.Trigger.
func (a *Assets) Watch(ctx context.Context, submit hotreload.SubmitFunc) error {
	w, err := watch.New(watch.Options{
		Dirs:      []string{a.dir},
		Recursive: true,
		Exclude:   []string{".*", "*~", "*.swp", "*.tmp"},
		Debounce:  a.opts.Debounce,
	})
	if err != nil {
		return hotreload.Errorf(hotreload.CodeUnavailable, "watching the UI folder %s: %w", a.dir, err)
	}
	defer w.Close()
	reload := func() {
		if _, err := submit(ctx, hotreload.Request{Source: hotreload.SourceWatch, Targets: []string{a.opts.Name}}); err != nil && ctx.Err() == nil {
			a.log.Error("reloading the UI folder", "dir", a.dir, "err", err)
		}
	}
	reload()
	w.Follow(ctx, func(watch.Batch) { reload() },
		func(err error) { a.log.Warn("watching the UI folder", "dir", a.dir, "err", err) })
	return nil
}

// Ungated says a change of the UI folder skips the health gate: no health
// check observes a stylesheet, and a save must not wait a window.
func (a *Assets) Ungated() bool { return true }

// Routes serves the live files under the prefix, to anyone: they are what
// every page loads.
func (a *Assets) Routes() []hotreload.Route {
	return []hotreload.Route{{Pattern: "GET " + a.opts.Prefix, Role: hotreload.Public, Handler: a}}
}
