package watch

import "context"

// Changed reports whether the batch changes any file (as opposed to
// carrying errors only).
func (b Batch) Changed() bool { return len(b.Paths)+len(b.Removed) > 0 }

// Follow consumes the watcher's batches until ctx ends or the watcher is
// closed: failed (when not nil) gets each error a batch carries, then
// changed gets every batch that changes a file. Both run on the caller's
// goroutine, one batch at a time; while they run, the watcher coalesces
// further changes into the next batch.
func (w *Watcher) Follow(ctx context.Context, changed func(Batch), failed func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case b, ok := <-w.Events():
			if !ok {
				return
			}
			if failed != nil {
				for _, err := range b.Errors {
					failed(err)
				}
			}
			if b.Changed() {
				changed(b)
			}
		}
	}
}
