package config

import (
	"context"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/watch"
)

// WatchOptions are what Watch adds to a config's Options.
type WatchOptions struct {
	// HistoryDir keeps every version on disk (history.Open), so a restart
	// serves the last known good state when the files are invalid. Empty
	// keeps history in memory (history.Memory).
	HistoryDir string
	// Debounce is the quiet time after a save before the files are read;
	// zero means watch.DefaultDebounce.
	Debounce time.Duration
}

// Watch is the library's one call: it returns the typed configuration of
// opts.Files, validated (opts.Schema, opts.Validators), reloaded on every
// save through an engine of its own with history (in memory, or in
// w.HistoryDir), so an invalid save is rejected with its file, line and
// column and the last good value keeps serving. Read it with Load (lock-free),
// follow it with Subscribe, change it with Update or Rollback. ctx bounds
// the first load only; Close stops the watch and the engine and releases
// the history.
func Watch[T any](ctx context.Context, opts Options[T], w WatchOptions) (*Config[T], error) {
	var (
		hist *history.Store
		err  error
	)
	if w.HistoryDir == "" {
		hist, err = history.Memory(history.Options{Logger: opts.Logger})
	} else {
		hist, err = history.Open(history.Options{Dir: w.HistoryDir, Logger: opts.Logger})
	}
	if err != nil {
		return nil, err
	}
	engine := hotreload.New(hotreload.Options{History: hist, Logger: opts.Logger})
	run, stop := context.WithCancel(context.WithoutCancel(ctx))
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = engine.Run(run)
	}()
	shutdown := func() { stop(); <-ran; _ = hist.Close() }
	c, _, err := Open(ctx, engine, opts)
	if err != nil {
		shutdown()
		return nil, err
	}
	trigger, err := watch.NewTrigger(c.target.Name(), watch.Options{Files: opts.Files, Debounce: w.Debounce}, opts.Logger)
	if err != nil {
		c.target.Close()
		shutdown()
		return nil, err
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		_ = trigger.Watch(run, engine.Submit)
	}()
	c.stop = func() { stop(); <-watched; <-ran; _ = hist.Close() }
	return c, nil
}
