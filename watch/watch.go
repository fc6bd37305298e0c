package watch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/cybercorp/hotreload"
)

// Off, given as Options.Debounce, Options.Poll or Options.Grace, turns that
// mechanism off.
const Off time.Duration = -1

// Defaults used for zero Options fields.
const (
	DefaultDebounce = 500 * time.Millisecond
	DefaultPoll     = 3 * time.Second
	DefaultGrace    = 100 * time.Millisecond
)

// ErrOverflow is the cause (see errors.Is) of the error delivered when the
// kernel's inotify queue overflowed; the watcher then rescans every file.
var ErrOverflow = fsnotify.ErrEventOverflow

// maxPendingErrors caps the errors one batch carries.
const maxPendingErrors = 64

// Options says what to watch and how. The zero value of each duration picks
// its default; Off turns the mechanism off.
type Options struct {
	// Files are files to watch. They need not exist yet, nor their
	// directories.
	Files []string
	// Dirs are directories whose files are all watched, including files
	// created later.
	Dirs []string
	// Recursive extends Dirs to all their subdirectories.
	Recursive bool
	// Include, when not empty, keeps only the files under Dirs that match
	// one of these globs. A glob without "/" matches the base name; one with
	// "/" matches the slash-separated path relative to its Dirs entry, where
	// "**" matches any number of path elements.
	Include []string
	// Exclude drops the files and directories under Dirs that match one of
	// these globs (same syntax as Include). An excluded directory is not
	// descended into.
	Exclude []string
	// Debounce is the quiet period that seals a batch (default
	// DefaultDebounce). Off reports each change as soon as it is seen.
	Debounce time.Duration
	// Poll is the period of the backstop poll that hashes every file
	// (default DefaultPoll). Off disables it.
	Poll time.Duration
	// Grace is how long a file may stay missing or empty before that state
	// is reported (default DefaultGrace). Off reports it at once.
	Grace time.Duration
	// Contents makes each batch carry the bytes of every changed file as
	// they were hashed, so the consumer applies exactly the state the
	// watcher saw rather than re-reading a file that may be mid-save.
	Contents bool
	// PollOnly disables inotify; changes are found by the poll alone.
	PollOnly bool
	// OnError, when set, is called with every error on the watcher's
	// goroutine (for metrics). It must return quickly and must not call
	// Close.
	OnError func(error)
}

// Batch is a set of changes the consumer has not seen yet.
type Batch struct {
	// Paths are the files whose content changed or which appeared, sorted.
	Paths []string
	// Removed are the files that disappeared and stayed gone for the grace
	// period, sorted.
	Removed []string
	// Contents holds, with Options.Contents, the bytes of each file in
	// Paths as hashed. The consumer owns them.
	Contents map[string][]byte
	// Errors are the watcher's errors since the previous batch.
	Errors []error
	// Time is when the oldest change or error in the batch was seen.
	Time time.Time
}

// Stats are the watcher's counters since New.
type Stats struct {
	// Batches is the number of batches delivered.
	Batches uint64
	// Changes is the number of paths delivered (changed and removed).
	Changes uint64
	// Errors is the number of errors seen.
	Errors uint64
	// Overflows is the number of inotify queue overflows.
	Overflows uint64
	// PollCatches is the number of changes the poll found that no inotify
	// event had announced.
	PollCatches uint64
	// Rearms is the number of directory watches placed on a directory
	// that had been found missing (deleted, or not created yet).
	Rearms uint64
}

// Watcher watches files and delivers batches of changes on Events.
type Watcher struct {
	opts Options
	fsw  *fsnotify.Watcher // nil with PollOnly
	out  chan Batch
	stop chan struct{}
	done chan struct{}

	closeOnce sync.Once
	closeErr  error

	batches, changes, errs, overflows, pollCatches, rearms atomic.Uint64
}

// New validates opts, places the watches, takes the baseline hash of every
// file and starts watching. The baseline is not reported.
func New(opts Options) (*Watcher, error) {
	opts, err := normalize(opts)
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		opts: opts,
		out:  make(chan Batch),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	if !opts.PollOnly {
		// The buffer lets the reader keep draining the kernel queue while
		// the loop hashes a large file.
		if w.fsw, err = fsnotify.NewBufferedWatcher(1024); err != nil {
			return nil, hotreload.Errorf(hotreload.CodeUnavailable, "watch: starting inotify: %w", err)
		}
	}
	s := newState(w)
	if err := s.start(); err != nil {
		if w.fsw != nil {
			w.fsw.Close()
		}
		return nil, err
	}
	go s.run()
	return w, nil
}

// Events returns the channel of batches. It is closed by Close.
func (w *Watcher) Events() <-chan Batch { return w.out }

// Stats returns the counters. It is safe to call at any time.
func (w *Watcher) Stats() Stats {
	return Stats{
		Batches:     w.batches.Load(),
		Changes:     w.changes.Load(),
		Errors:      w.errs.Load(),
		Overflows:   w.overflows.Load(),
		PollCatches: w.pollCatches.Load(),
		Rearms:      w.rearms.Load(),
	}
}

// Close stops the watcher, releases its inotify descriptor and closes
// Events. Later calls return the first call's result.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.done
		if w.fsw != nil {
			if err := w.fsw.Close(); err != nil {
				w.closeErr = hotreload.Errorf(hotreload.CodeInternal, "watch: closing inotify: %w", err)
			}
		}
	})
	return w.closeErr
}

// normalize checks opts and returns a copy with absolute clean paths and
// defaults filled in.
func normalize(opts Options) (Options, error) {
	if len(opts.Files) == 0 && len(opts.Dirs) == 0 {
		return opts, hotreload.Errorf(hotreload.CodeInvalid, "watch: no Files and no Dirs to watch")
	}
	files, err := absPaths("file", opts.Files, false)
	if err != nil {
		return opts, err
	}
	dirs, err := absPaths("directory", opts.Dirs, true)
	if err != nil {
		return opts, err
	}
	opts.Files, opts.Dirs = files, dirs
	opts.Include = append([]string(nil), opts.Include...)
	opts.Exclude = append([]string(nil), opts.Exclude...)
	for _, g := range append(opts.Include[:len(opts.Include):len(opts.Include)], opts.Exclude...) {
		if err := checkGlob(g); err != nil {
			return opts, hotreload.Errorf(hotreload.CodeInvalid, "watch: glob %q: %w", g, err)
		}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&opts.Debounce, DefaultDebounce}, {&opts.Poll, DefaultPoll}, {&opts.Grace, DefaultGrace}} {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			*d.v = Off
		}
	}
	if opts.PollOnly && opts.Poll == Off {
		return opts, hotreload.Errorf(hotreload.CodeInvalid, "watch: PollOnly with Poll off would watch nothing")
	}
	return opts, nil
}

// absPaths makes each path absolute and clean, checking that an existing
// one is (wantDir) or is not a directory.
func absPaths(kind string, paths []string, wantDir bool) ([]string, error) {
	out := make([]string, 0, len(paths))
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "" {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "watch: empty %s path", kind)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "watch: %s %q: %w", kind, p, err)
		}
		fi, err := os.Stat(abs)
		switch {
		case err == nil && fi.IsDir() != wantDir:
			what := "a directory"
			if wantDir {
				what = "not a directory"
			}
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "watch: %s %q is %s", kind, p, what)
		case err != nil && !errors.Is(err, os.ErrNotExist):
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "watch: %s %q: %w", kind, p, err)
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, abs)
		}
	}
	return out, nil
}

// wrapf says what was being done and wraps err as a *hotreload.Error unless it already is one.
func wrapf(err error, format string, args ...any) error {
	var he *hotreload.Error
	if errors.As(err, &he) {
		return err
	}
	return hotreload.Errorf(hotreload.CodeUnavailable, "watch: %s: %w", fmt.Sprintf(format, args...), err)
}
