package watch

import (
	"context"
	"errors"
	"log/slog"

	"github.com/cybercorp/hotreload"
)

// Trigger reloads one target from its source whenever one of its files
// changes: a hotreload.Trigger for a config file or the health checks
// file. The watch is in place when NewTrigger returns, so an edit made
// right after is seen.
type Trigger struct {
	target string
	w      *Watcher
	log    *slog.Logger
}

// NewTrigger watches the files opts names for the named target. log (nil
// discards) gets what the engine refuses and each invalid candidate. Close
// the Trigger if Watch never runs.
func NewTrigger(target string, opts Options, log *slog.Logger) (*Trigger, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w, err := New(opts)
	if err != nil {
		return nil, err
	}
	return &Trigger{target: target, w: w, log: log}, nil
}

// Watch submits a reload of the target (source "watch") per batch of
// changes until ctx ends, then closes the watch. submit returns once the
// candidate is live, so the next change reaches the engine at once and
// supersedes it.
func (t *Trigger) Watch(ctx context.Context, submit hotreload.SubmitFunc) error {
	defer t.w.Close()
	t.w.Follow(ctx, func(Batch) {
		o, err := submit(ctx, hotreload.Request{Source: hotreload.SourceWatch, Targets: []string{t.target}})
		switch {
		case errors.Is(err, context.Canceled):
		case err != nil:
			t.log.Error("reload refused", "source", "watch", "target", t.target, "err", err)
		case o.Result == hotreload.Rejected:
			for _, e := range o.Errors {
				t.log.Warn("invalid candidate", "target", t.target, "error", e.String())
			}
		}
	}, func(err error) { t.log.Warn("watch", "target", t.target, "err", err) })
	return nil
}

// Close stops the watch; it may be called more than once.
func (t *Trigger) Close() error { return t.w.Close() }
