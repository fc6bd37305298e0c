package plugin

import (
	"context"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/watch"
)

// Watch keeps the loaded plugins in line with the plugin directory until
// ctx ends: it syncs once (see Sync), then on every batch of changes to a
// module or manifest (NAME.wasm, NAME.json) that stayed quiet for
// Options.Debounce (zero means watch.DefaultDebounce). Outcomes and
// errors are logged, and each transaction is in the engine's history and
// event stream. It returns when ctx ends (nil) or when the watcher cannot
// start. It makes Host a hotreload.Trigger; submit is not used: each
// plugin's transaction runs to its end through Options.Submit, so that
// one module's health window never holds another's change.
func (h *Host) Watch(ctx context.Context, _ hotreload.SubmitFunc) error {
	w, err := watch.New(watch.Options{
		Dirs:     []string{h.opts.Dir},
		Include:  []string{"*.wasm", "*.json"},
		Debounce: h.opts.Debounce,
	})
	if err != nil {
		return hotreload.Errorf(hotreload.CodeUnavailable, "watching the plugin directory %s: %w", h.opts.Dir, err)
	}
	defer w.Close()
	h.syncAndLog(ctx)
	w.Follow(ctx, func(watch.Batch) { h.syncAndLog(ctx) },
		func(err error) { h.log.Warn("watching the plugin directory", "err", err) })
	return nil
}

func (h *Host) syncAndLog(ctx context.Context) {
	outs, err := h.Sync(ctx)
	if err != nil && ctx.Err() == nil {
		h.log.Error("plugin directory sync", "err", err)
	}
	for _, o := range outs {
		switch o.Result {
		case hotreload.Rejected, hotreload.RolledBack:
			h.log.Error("plugin change from the directory not applied", "result", o.Result, "reason", o.Reason)
		}
	}
}
