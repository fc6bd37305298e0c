package history

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cybercorp/hotreload"
)

// Open opens, creating it if needed, the history in dir. It removes
// temporary files a crash left, reads every record, rewrites records left
// pending as rolled back, and deletes what retention no longer keeps.
// Unreadable files do not stop it: they are skipped and listed by Problems.
// It fails with CodeUnavailable when another Store holds dir.
func Open(opts Options) (*Store, error) {
	dir := opts.Dir
	if dir == "" {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "history: no data directory given")
	}
	s, err := newStore(opts)
	if err != nil {
		return nil, err
	}
	s.recordsDir, s.objectsDir = filepath.Join(dir, "records"), filepath.Join(dir, "objects")
	for _, d := range []string{s.recordsDir, s.objectsDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, hotreload.Errorf(hotreload.CodeInternal, "history: creating %s: %w", d, err)
		}
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := syncDir(d); err != nil {
			return nil, hotreload.Errorf(hotreload.CodeInternal, "history: %w", err)
		}
	}
	lock, err := lockDir(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, err
	}
	s.lock = lock
	if err := s.load(); err != nil {
		unlockDir(lock)
		return nil, err
	}
	return s, nil
}

// Memory returns an empty Store that keeps everything in memory, with the
// same records, retention and answers as a Store on disk but no
// durability: for tests, the dev loop and programs that need no history
// across restarts. Retention bounds its memory. It holds no lock; Close
// releases nothing and makes later calls fail.
func Memory(opts Options) (*Store, error) {
	s, err := newStore(opts)
	if err != nil {
		return nil, err
	}
	s.mem = map[string][]byte{}
	return s, nil
}

// newStore validates opts and returns an empty Store.
func newStore(opts Options) (*Store, error) {
	o := options{retain: opts.Retain, maxRecords: opts.MaxRecords, logger: opts.Logger}
	if o.retain == 0 {
		o.retain = DefaultRetain
	}
	if o.maxRecords == 0 {
		o.maxRecords = max(DefaultMaxRecords, o.retain)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.retain < 1 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "history: retain must be at least 1, got %d", o.retain)
	}
	if o.maxRecords < o.retain {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "history: max records (%d) must be at least retain (%d)", o.maxRecords, o.retain)
	}
	return &Store{opts: o, main: map[uint64]uint64{}, objects: map[string]bool{}, nextSeq: 1}, nil
}

// load builds the index from the files on disk.
func (s *Store) load() error {
	if err := s.loadRecords(); err != nil {
		return err
	}
	if err := s.loadObjects(); err != nil {
		return err
	}
	s.derive()
	s.prune()
	return nil
}

// loadRecords reads every record file, reporting those it cannot use.
func (s *Store) loadRecords() error {
	des, err := os.ReadDir(s.recordsDir)
	if err != nil {
		return hotreload.Errorf(hotreload.CodeInternal, "history: listing %s: %w", s.recordsDir, err)
	}
	dirty := false
	for _, de := range des {
		name := de.Name()
		path := filepath.Join(s.recordsDir, name)
		if strings.HasPrefix(name, tempPrefix) {
			s.removeTemp(path)
			dirty = true
			continue
		}
		seq, ok := parseRecordName(name)
		if !ok {
			s.report(fmt.Errorf("%s: unexpected file in the records directory, ignored", path))
			continue
		}
		s.nextSeq = max(s.nextSeq, seq+1)
		data, err := os.ReadFile(path)
		if err != nil {
			s.report(fmt.Errorf("%s: reading record, skipped: %w", path, err))
			continue
		}
		rec, err := decodeRecord(data)
		if err != nil {
			s.report(fmt.Errorf("%s: skipped: %w", path, err))
			continue
		}
		if rec.Result == hotreload.Pending {
			rec.Result, rec.Reason = hotreload.RolledBack, interruptedReason
			if err := s.rewrite(seq, rec); err != nil {
				s.report(fmt.Errorf("%s: rewriting a record left pending as rolled back: %w", path, err))
			}
			dirty = true
		}
		if prev, dup := s.main[rec.Version]; dup && rec.Result != hotreload.Unchanged {
			s.report(fmt.Errorf("%s: version %d is recorded again in %s; keeping the newer file",
				filepath.Join(s.recordsDir, recordName(prev)), rec.Version, name))
			s.entries = slices.DeleteFunc(s.entries, func(e entry) bool { return e.seq == prev })
		}
		s.index(seq, rec)
	}
	if dirty {
		if err := syncDir(s.recordsDir); err != nil {
			return hotreload.Errorf(hotreload.CodeInternal, "history: %w", err)
		}
	}
	return nil
}

// loadObjects lists the object files, removing temporary ones.
func (s *Store) loadObjects() error {
	des, err := os.ReadDir(s.objectsDir)
	if err != nil {
		return hotreload.Errorf(hotreload.CodeInternal, "history: listing %s: %w", s.objectsDir, err)
	}
	dirty := false
	for _, de := range des {
		name := de.Name()
		switch {
		case strings.HasPrefix(name, tempPrefix):
			s.removeTemp(filepath.Join(s.objectsDir, name))
			dirty = true
		case hotreload.IsDigest(name):
			s.objects[name] = true
		default:
			s.report(fmt.Errorf("%s: unexpected file in the objects directory, ignored", filepath.Join(s.objectsDir, name)))
		}
	}
	if dirty {
		if err := syncDir(s.objectsDir); err != nil {
			return hotreload.Errorf(hotreload.CodeInternal, "history: %w", err)
		}
	}
	return nil
}

// removeTemp deletes a temporary file a crash left behind.
func (s *Store) removeTemp(path string) {
	if err := os.Remove(path); err != nil {
		s.report(fmt.Errorf("%s: removing a temporary file left by a crash: %w", path, err))
		return
	}
	s.opts.logger.Debug("history: removed a temporary file left by a crash", "path", path)
}

// rewrite durably replaces the file of record seq. The caller syncs the
// records directory.
func (s *Store) rewrite(seq uint64, rec hotreload.Record) error {
	data, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	return writeFile(s.recordsDir, recordName(seq), data)
}
