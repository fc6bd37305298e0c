package watch

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/cybercorp/hotreload"
)

// role says why a directory holds an inotify watch.
type role uint8

const (
	roleDir    role = 1 << iota // a directory whose files are watched
	roleAnchor                  // the nearest existing ancestor of a missing one
)

// set is a set of files.
type set map[*file]struct{}

// state is everything the watcher's goroutine owns. Nothing else touches it.
type state struct {
	w    *Watcher
	opts Options

	files        map[string]*file
	byDir        map[string]set    // every file, by parent directory
	explicitDirs map[string]bool   // parent directories of Options.Files
	links        map[string]set    // symlinked files, by parent and target directory
	roots        map[string]string // Dirs and their watched subdirectories, to their Dirs entry
	watched      map[string]role   // directories holding an inotify watch
	lost         map[string]bool   // wanted directories found missing, to count re-arms

	dirty map[*file]struct{} // touched by an event, not hashed yet
	held  map[*file]struct{} // missing or emptied, waiting for the grace period
	ready map[*file]struct{} // settled, differs from what the consumer was told
	errs  []error
	extra int // errors beyond maxPendingErrors since the last batch

	oldest     time.Time // oldest change or error in the pending batch
	lastEvent  time.Time // newest event for a dirty file
	firstDirty time.Time // oldest event for a dirty file
	batch      *Batch    // the pending batch, built lazily

	reconcilePending bool
	starting         bool
	startErr         error
}

func newState(w *Watcher) *state {
	return &state{
		w:            w,
		opts:         w.opts,
		files:        map[string]*file{},
		byDir:        map[string]set{},
		explicitDirs: map[string]bool{},
		links:        map[string]set{},
		roots:        map[string]string{},
		watched:      map[string]role{},
		lost:         map[string]bool{},
		dirty:        map[*file]struct{}{},
		held:         map[*file]struct{}{},
		ready:        map[*file]struct{}{},
	}
}

// start places the watches and takes the baseline.
func (s *state) start() error {
	s.starting = true
	for _, p := range s.opts.Files {
		s.markDirty(s.track(p, true), time.Time{})
		s.explicitDirs[filepath.Dir(p)] = true
	}
	for _, d := range s.opts.Dirs {
		s.roots[d] = d
	}
	s.reconcilePending = true
	s.settleAll(time.Now(), settleBaseline)
	s.starting = false
	return s.startErr
}

// run is the watcher's goroutine.
func (s *state) run() {
	defer close(s.w.done)
	defer close(s.w.out)
	var events <-chan fsnotify.Event
	var errs <-chan error
	if s.w.fsw != nil {
		events, errs = s.w.fsw.Events, s.w.fsw.Errors
	}
	var poll <-chan time.Time
	if s.opts.Poll != Off {
		t := time.NewTicker(s.opts.Poll)
		defer t.Stop()
		poll = t.C
	}
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	for {
		s.schedule(wake)
		var out chan<- Batch
		var b Batch
		if len(s.ready) > 0 || len(s.errs) > 0 {
			out, b = s.w.out, s.pending()
		}
		select {
		case <-s.w.stop:
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			s.handle(ev, time.Now())
			s.drainQueued()
			if s.opts.Debounce == Off {
				s.settleAll(time.Now(), settleNormal)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			s.onError(err)
		case now := <-wake.C:
			s.onTimer(now)
		case <-poll:
			s.rescanAll(time.Now())
		case out <- b:
			s.delivered()
		}
	}
}

// schedule sets wake to the next debounce or grace deadline.
func (s *state) schedule(wake *time.Timer) {
	var next time.Time
	if len(s.dirty) > 0 && s.opts.Debounce != Off {
		next = s.settleDeadline()
	}
	for f := range s.held {
		if t := f.heldSince.Add(s.opts.Grace); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if next.IsZero() {
		wake.Stop()
		return
	}
	wake.Reset(time.Until(next))
}

// settleDeadline is when the dirty files are hashed: after a quiet
// Debounce, and at the latest four Debounce after the first event.
func (s *state) settleDeadline() time.Time {
	quiet := s.lastEvent.Add(s.opts.Debounce)
	limit := s.firstDirty.Add(4 * s.opts.Debounce)
	if limit.Before(quiet) {
		return limit
	}
	return quiet
}

func (s *state) onTimer(now time.Time) {
	if len(s.dirty) > 0 && s.opts.Debounce != Off && !now.Before(s.settleDeadline()) {
		s.settleAll(now, settleNormal)
	}
	for f := range s.held {
		if !now.Before(f.heldSince.Add(s.opts.Grace)) {
			s.settle(f, now, settleFinal)
		}
	}
}

func (s *state) onError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		s.w.overflows.Add(1)
		s.fail(hotreload.Errorf(hotreload.CodeUnavailable,
			"watch: inotify queue overflowed, rescanning every watched file: %w", err))
		s.rescanAll(time.Now())
		return
	}
	s.fail(wrapf(err, "reading inotify events"))
}

// handle routes one inotify event.
func (s *state) handle(ev fsnotify.Event, now time.Time) {
	name, dir := ev.Name, filepath.Dir(ev.Name)
	if f := s.files[name]; f != nil {
		s.markDirty(f, now)
	}
	for f := range s.links[dir] {
		s.markDirty(f, now) // a swapped link anywhere in the chain
	}
	gone := ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
	if _, ok := s.watched[name]; ok && gone {
		// The kernel dropped the watch with the directory, or the watch
		// followed the directory elsewhere: place it again.
		s.unwatch(name)
		s.reconcilePending = true
	}
	if s.watched[dir]&roleAnchor != 0 {
		s.reconcilePending = true
	}
	if root, ok := s.roots[dir]; ok {
		if ev.Has(fsnotify.Create) {
			s.discover(root, name, now)
		}
		if gone && s.roots[name] != "" {
			s.reconcilePending = true
		}
	}
}

// drainQueued handles the events inotify already queued and places any
// watches they call for.
func (s *state) drainQueued() {
	if s.w.fsw != nil {
		for range 4096 {
			select {
			case ev, ok := <-s.w.fsw.Events:
				if !ok {
					return
				}
				s.handle(ev, time.Now())
				continue
			default:
			}
			break
		}
	}
	s.reconcile()
}

// rescanAll lists every watched directory and hashes every file that no
// event announced, counting what it finds as poll catches.
func (s *state) rescanAll(now time.Time) {
	s.drainQueued()
	if s.opts.Debounce == Off {
		s.settleAll(now, settleNormal)
	}
	for d := range s.roots {
		s.list(d, now)
	}
	s.reconcile()
	announced := maps.Clone(s.dirty)
	for _, f := range s.files {
		if _, ok := announced[f]; ok || !f.heldSince.IsZero() {
			continue
		}
		delete(s.dirty, f)
		if s.settle(f, now, settleNormal) {
			s.w.pollCatches.Add(1)
		}
	}
	if s.opts.Debounce == Off {
		s.settleAll(now, settleNormal)
	}
}

// settleAll hashes every dirty file, placing the watches that symlink
// changes call for, until nothing is left.
func (s *state) settleAll(now time.Time, mode settleMode) {
	for len(s.dirty) > 0 || s.reconcilePending {
		s.reconcile()
		for f := range s.dirty {
			delete(s.dirty, f)
			s.settle(f, now, mode)
		}
	}
	s.firstDirty = time.Time{}
}

// settleMode says how settle treats what it sees.
type settleMode uint8

const (
	settleNormal   settleMode = iota // a change; a missing or empty file is held
	settleFinal                      // the grace period is over: take what is there
	settleBaseline                   // the consumer already knows this content
)

// settle hashes f and records a change. It reports whether the settled
// content changed.
func (s *state) settle(f *file, now time.Time, mode settleMode) bool {
	o, err := observe(f.path, s.opts.Contents && mode != settleBaseline)
	if err != nil {
		s.fail(wrapf(err, "reading %q", f.path))
		return false
	}
	s.setLink(f, o.link, o.targetDir)
	if o.unstable && mode == settleNormal {
		// Read while being written: the write's own event brings the
		// file back here once it is done.
		return false
	}
	if mode == settleBaseline {
		f.seen, f.told = o.content, o.content
		s.updateReady(f, now)
		return false
	}
	transient := (!o.exists || o.empty()) && o.content != f.seen
	if transient && mode == settleNormal && s.opts.Grace != Off {
		// Probably mid-save: report the final content instead, unless this
		// state lasts for the grace period.
		if f.heldSince.IsZero() {
			f.heldSince = now
			s.held[f] = struct{}{}
		}
		s.updateReady(f, now)
		return false
	}
	s.release(f)
	changed := o.content != f.seen
	f.seen, f.data = o.content, o.data
	s.updateReady(f, now)
	return changed
}

// release ends f's grace period.
func (s *state) release(f *file) {
	f.heldSince = time.Time{}
	delete(s.held, f)
}

// updateReady puts f in the pending batch when its settled content differs
// from what the consumer was told, and forgets a discovered file that is
// gone for good.
func (s *state) updateReady(f *file, now time.Time) {
	_, was := s.ready[f]
	is := f.seen != f.told && f.heldSince.IsZero()
	switch {
	case is && !was:
		s.ready[f] = struct{}{}
		s.touch(now)
	case is:
		s.batch = nil // the content may be newer
	case was:
		delete(s.ready, f)
		s.batch = nil
	}
	if !is {
		f.data = nil
	}
	if !f.explicit && !f.seen.exists && !f.told.exists && f.heldSince.IsZero() {
		s.forget(f)
	}
}

// touch notes a change in the pending batch.
func (s *state) touch(now time.Time) {
	if s.oldest.IsZero() {
		s.oldest = now
	}
	s.batch = nil
}

// fail counts err, passes it to OnError and adds it to the pending batch.
func (s *state) fail(err error) {
	if s.starting {
		if s.startErr == nil {
			s.startErr = err
		}
		return
	}
	s.w.errs.Add(1)
	if s.opts.OnError != nil {
		s.opts.OnError(err)
	}
	if len(s.errs) < maxPendingErrors-1 {
		s.errs = append(s.errs, err)
	} else {
		s.extra++
	}
	s.touch(time.Now())
}

// pending returns the batch waiting for the consumer.
func (s *state) pending() Batch {
	if s.batch != nil {
		return *s.batch
	}
	b := Batch{Time: s.oldest, Errors: slices.Clone(s.errs)}
	if s.extra > 0 {
		b.Errors = append(b.Errors, hotreload.Errorf(hotreload.CodeUnavailable,
			"watch: %d more errors since the previous batch", s.extra))
	}
	if s.opts.Contents {
		b.Contents = make(map[string][]byte, len(s.ready))
	}
	for f := range s.ready {
		if f.seen.exists {
			b.Paths = append(b.Paths, f.path)
			if b.Contents != nil {
				b.Contents[f.path] = f.data
			}
		} else {
			b.Removed = append(b.Removed, f.path)
		}
	}
	slices.Sort(b.Paths)
	slices.Sort(b.Removed)
	s.batch = &b
	return b
}

// delivered records that the consumer received the pending batch.
func (s *state) delivered() {
	s.w.batches.Add(1)
	s.w.changes.Add(uint64(len(s.ready)))
	for f := range s.ready {
		f.told, f.data = f.seen, nil
		delete(s.ready, f)
		if !f.explicit && !f.told.exists {
			s.forget(f)
		}
	}
	s.errs, s.extra, s.oldest, s.batch = nil, 0, time.Time{}, nil
}

// markDirty schedules f for hashing.
func (s *state) markDirty(f *file, now time.Time) {
	if _, ok := s.files[f.path]; !ok {
		return // forgotten
	}
	s.dirty[f] = struct{}{}
	s.lastEvent = now
	if s.firstDirty.IsZero() {
		s.firstDirty = now
	}
}

// track starts watching the file at path. A discovered file starts as
// missing, so its first content is reported.
func (s *state) track(path string, explicit bool) *file {
	f := &file{path: path, explicit: explicit}
	s.files[path] = f
	addTo(s.byDir, filepath.Dir(path), f)
	return f
}

// forget stops tracking a discovered file.
func (s *state) forget(f *file) {
	delete(s.files, f.path)
	removeFrom(s.byDir, filepath.Dir(f.path), f)
	s.setLink(f, false, "")
	delete(s.dirty, f)
	delete(s.held, f)
	if _, ok := s.ready[f]; ok {
		delete(s.ready, f)
		s.batch = nil
	}
}

// setLink records whether f is a symlink and where its target lives;
// a new target directory needs a watch.
func (s *state) setLink(f *file, link bool, targetDir string) {
	if f.link == link && f.targetDir == targetDir {
		return
	}
	if f.link {
		removeFrom(s.links, filepath.Dir(f.path), f)
		if f.targetDir != "" {
			removeFrom(s.links, f.targetDir, f)
		}
	}
	if link {
		addTo(s.links, filepath.Dir(f.path), f)
		if targetDir != "" {
			addTo(s.links, targetDir, f)
		}
	}
	if f.targetDir != targetDir {
		s.reconcilePending = true
	}
	f.link, f.targetDir = link, targetDir
}

// reconcile places and removes watches until every wanted directory is
// watched, or its nearest existing ancestor is while it is missing.
func (s *state) reconcile() {
	for s.reconcilePending {
		s.reconcilePending = false
		s.reconcileOnce()
	}
}

func (s *state) reconcileOnce() {
	now := time.Now()
	for d, root := range s.roots {
		if d != root && !isDir(d) {
			s.dropSubdir(d, now)
		}
	}
	want := map[string]role{}
	var anchored []string
	for d := range s.wanted() {
		if isDir(d) {
			want[d] |= roleDir
			continue
		}
		s.lost[d] = true
		if a := existingAncestor(d); a != "" {
			want[a] |= roleAnchor
			anchored = append(anchored, d)
		}
	}
	for p := range s.watched {
		if _, ok := want[p]; !ok {
			s.unwatch(p)
		}
	}
	for p, r := range want {
		old, had := s.watched[p]
		if !had && s.w.fsw != nil {
			if err := s.w.fsw.Add(p); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					s.reconcilePending = true // gone meanwhile: anchor it
				} else {
					s.fail(wrapf(err, "watching directory %q", p))
				}
				continue
			}
		}
		s.watched[p] = r
		if r&roleDir != 0 && (!had || old&roleDir == 0) {
			if s.lost[p] {
				delete(s.lost, p)
				s.w.rearms.Add(1)
			}
			s.rescan(p, now)
		}
	}
	for _, d := range anchored {
		if isDir(d) {
			s.reconcilePending = true // created before its anchor was watched
		}
	}
}

// wanted returns the directories that should be watched.
func (s *state) wanted() map[string]bool {
	out := maps.Clone(s.explicitDirs)
	for d := range s.roots {
		out[d] = true
	}
	for d := range s.links {
		out[d] = true
	}
	return out
}

// unwatch removes the watch on p. The kernel may have removed it already
// (the directory is gone), so errors are expected and ignored.
func (s *state) unwatch(p string) {
	if s.w.fsw != nil {
		_ = s.w.fsw.Remove(p)
	}
	delete(s.watched, p)
}

// rescan checks every file of a directory that was just watched again.
func (s *state) rescan(d string, now time.Time) {
	for f := range s.byDir[d] {
		s.markDirty(f, now)
	}
	for f := range s.links[d] {
		s.markDirty(f, now)
	}
	s.list(d, now)
}

// list discovers new files and subdirectories of a Dirs directory.
func (s *state) list(d string, now time.Time) {
	root, ok := s.roots[d]
	if !ok {
		return
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.fail(wrapf(err, "listing directory %q", d))
		}
		return
	}
	for _, e := range entries {
		s.discover(root, filepath.Join(d, e.Name()), now)
	}
}

// discover starts watching a new entry of a Dirs directory when the
// globs let it in.
func (s *state) discover(root, path string, now time.Time) {
	if s.files[path] != nil || s.roots[path] != "" {
		return
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return
	}
	rel = filepath.ToSlash(rel)
	if matchAny(s.opts.Exclude, rel) {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		return // gone already, or a dangling symlink
	}
	if fi.IsDir() {
		if li, err := os.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink == 0 && s.opts.Recursive {
			s.roots[path] = root
			s.reconcilePending = true
		}
		return
	}
	if len(s.opts.Include) > 0 && !matchAny(s.opts.Include, rel) {
		return
	}
	s.markDirty(s.track(path, false), now)
}

// dropSubdir stops watching a vanished subdirectory; its files are checked
// and reported removed.
func (s *state) dropSubdir(d string, now time.Time) {
	prefix := d + string(filepath.Separator)
	for p := range s.roots {
		if p == d || (len(p) > len(prefix) && p[:len(prefix)] == prefix) {
			delete(s.roots, p)
			for f := range s.byDir[p] {
				s.markDirty(f, now)
			}
		}
	}
}

func addTo(m map[string]set, key string, f *file) {
	if m[key] == nil {
		m[key] = set{}
	}
	m[key][f] = struct{}{}
}

func removeFrom(m map[string]set, key string, f *file) {
	delete(m[key], f)
	if len(m[key]) == 0 {
		delete(m, key)
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// existingAncestor returns the nearest existing ancestor directory of p.
func existingAncestor(p string) string {
	for {
		parent := filepath.Dir(p)
		if parent == p {
			return ""
		}
		if isDir(parent) {
			return parent
		}
		p = parent
	}
}
