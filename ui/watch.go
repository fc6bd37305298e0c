package ui

import (
	"context"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/watch"
)

// Submitter runs one transaction; hotreload.Engine.Reload is one.
type Submitter func(ctx context.Context, r hotreload.Request) (hotreload.Outcome, error)

// Watch reloads the target through submit whenever files under the folder
// change, until ctx ends: once when the watch is in place (for changes made
// before it was), then one transaction with source "watch" per batch of
// changes that stayed quiet for debounce (zero means watch.DefaultDebounce,
// watch.Off reloads at once). Hidden files and editor leftovers are not
// watched. Outcomes are in history and the event stream; a request the
// engine refuses (stopped, frozen) is logged. Watch returns nil when ctx
// ends, or an error when the watcher cannot start.
func (a *Assets) Watch(ctx context.Context, debounce time.Duration, submit Submitter) error {
	w, err := watch.New(watch.Options{
		Dirs:      []string{a.dir},
		Recursive: true,
		Exclude:   []string{".*", "*~", "*.swp", "*.tmp"},
		Debounce:  debounce,
	})
	if err != nil {
		return hotreload.Errorf(hotreload.CodeUnavailable, "watching the UI folder %s: %w", a.dir, err)
	}
	defer w.Close()
	reload := func() {
		if _, err := submit(ctx, hotreload.Request{Source: "watch", Targets: []string{a.opts.Name}}); err != nil && ctx.Err() == nil {
			a.log.Error("reloading the UI folder", "dir", a.dir, "err", err)
		}
	}
	reload()
	w.Follow(ctx, func(watch.Batch) { reload() },
		func(err error) { a.log.Warn("watching the UI folder", "dir", a.dir, "err", err) })
	return nil
}
