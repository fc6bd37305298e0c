package history

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/inputfile"
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
	s.memory = true
	return s, nil
}

// newStore validates opts and returns an empty Store.
func newStore(opts Options) (*Store, error) {
	o := options{retain: opts.Retain, maxRecords: opts.MaxRecords, segmentRecords: segmentRecords, logger: opts.Logger}
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
	return &Store{opts: o, main: map[uint64]uint64{}, objects: map[string]bool{}, held: map[string]held{},
		nextSeq: 1, nextLog: 1, files: map[string]bool{}, damaged: map[string]bool{}, stale: map[string]bool{}}, nil
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

// loadRecords reads the record files, then the log segments in the order
// they were written, line by line (a later line of a record replaces an
// earlier one), and reports what it cannot use. A torn line at the end of
// the newest segment, a Put that a crash interrupted, is cut off, and that
// segment is appended to next if it has room. Records left pending are
// appended again, as rolled back.
func (s *Store) loadRecords() error {
	des, err := os.ReadDir(s.recordsDir)
	if err != nil {
		return hotreload.Errorf(hotreload.CodeInternal, "history: listing %s: %w", s.recordsDir, err)
	}
	var files, segments []string
	dirty := false
	for _, de := range des {
		name := de.Name()
		path := filepath.Join(s.recordsDir, name)
		if strings.HasPrefix(name, tempPrefix) {
			s.removeTemp(path)
			dirty = true
			continue
		}
		switch n, segment, ok := parseFileName(name); {
		case !ok:
			s.report(fmt.Errorf("%s: unexpected file in the records directory, ignored", path))
		case segment:
			segments = append(segments, name)
			s.nextLog = max(s.nextLog, n+1)
		default:
			files = append(files, name)
		}
	}
	if dirty {
		if err := syncDir(s.recordsDir); err != nil {
			return hotreload.Errorf(hotreload.CodeInternal, "history: %w", err)
		}
	}
	where := map[uint64]string{} // seq to where its newest line was read
	for _, name := range files {
		seq, _, _ := parseFileName(name)
		s.nextSeq = max(s.nextSeq, seq+1)
		path := filepath.Join(s.recordsDir, name)
		data, err := inputfile.Read(path, inputfile.Options{MaxBytes: maxRecordsFile})
		if err != nil {
			s.report(fmt.Errorf("%s: reading record, skipped: %w", path, err))
			continue
		}
		if _, rec, err := decodeRecord(data, recordFormat); err != nil {
			s.report(fmt.Errorf("%s: skipped: %w", path, err))
		} else {
			s.loadRecord(seq, rec, name, path, where)
		}
	}
	for i, name := range segments {
		s.loadSegment(name, i == len(segments)-1, where)
	}
	return s.rollBackPending()
}

// loadSegment reads the lines of log segment name. When it is the newest
// (last), a torn line at its end is cut off, and Put appends to it next if
// it has room. What it cannot do, it reports.
func (s *Store) loadSegment(name string, last bool, where map[uint64]string) {
	path := filepath.Join(s.recordsDir, name)
	data, err := inputfile.Read(path, inputfile.Options{MaxBytes: maxRecordsFile})
	if err != nil {
		s.report(fmt.Errorf("%s: reading log segment, skipped: %w", path, err))
		s.damaged[name] = true
		return
	}
	lines, good := 0, 0 // lines read, and the end of the last good one
	for off, n := 0, 1; off < len(data); n++ {
		line, _, complete := bytes.Cut(data[off:], []byte{'\n'})
		l, err := decodeLine(line)
		if last && (!complete || (err != nil && off+len(line)+1 == len(data))) {
			break // the tail a crash tore: cut off below
		}
		off += len(line) + 1
		if err != nil {
			s.report(fmt.Errorf("%s:%d: skipped: %w", path, n, err))
			s.damaged[name] = true
			good = off
			continue
		}
		lines, good = lines+1, off
		if l.object != "" {
			s.loadObject(l.object, l.content, name)
			continue
		}
		s.nextSeq = max(s.nextSeq, l.seq+1)
		s.loadRecord(l.seq, l.rec, name, fmt.Sprintf("%s:%d", path, n), where)
	}
	if !last {
		return
	}
	if good < len(data) {
		if err := truncateFile(path, int64(good)); err != nil {
			s.report(fmt.Errorf("%s: cutting off the torn end a crash left: %w", path, err))
			s.damaged[name] = true
			return
		}
		s.opts.logger.Debug("history: cut off the torn end of a log segment, left by a crash", "path", path, "bytes", len(data)-good)
	}
	if lines >= s.opts.segmentRecords || good >= segmentBytes || s.damaged[name] {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		s.report(fmt.Errorf("%s: opening to append, a new segment is started instead: %w", path, err))
		return
	}
	s.log, s.logName, s.logLines, s.logSize = f, name, lines, int64(good)
}

// loadRecord indexes rec, numbered seq, read in file at loc. A record of
// the same version under another seq (not an unchanged attempt) is
// replaced by the one read later, and reported.
func (s *Store) loadRecord(seq uint64, rec hotreload.Record, file, loc string, where map[uint64]string) {
	if prev, dup := s.main[rec.Version]; dup && prev != seq && rec.Result != hotreload.Unchanged {
		s.report(fmt.Errorf("%s: version %d is recorded again in %s; keeping the one written later", where[prev], rec.Version, loc))
		s.entries = slices.DeleteFunc(s.entries, func(e entry) bool { return e.seq == prev })
	}
	s.index(seq, rec, file)
	where[seq] = loc
}

// loadObject holds content read in segment file. The line of the same
// content read earlier, in another segment, is no longer needed there.
func (s *Store) loadObject(d string, content []byte, file string) {
	if prev, ok := s.held[d]; ok && prev.file != file {
		s.stale[prev.file] = true
	}
	s.held[d] = held{data: content, file: file}
	s.files[file] = true
}

// rollBackPending appends the records still pending once every line is
// read, rewritten as rolled back: their transactions ended with the
// process.
func (s *Store) rollBackPending() error {
	var lines [][]byte
	var pending []entry
	for _, e := range s.entries {
		if e.rec.Result != hotreload.Pending {
			continue
		}
		e.rec.Result, e.rec.Reason = hotreload.RolledBack, interruptedReason
		data, err := encodeRecord(e.seq, e.rec)
		if err != nil {
			return hotreload.Errorf(hotreload.CodeInternal, "history: %w", err)
		}
		lines, pending = append(lines, data), append(pending, e)
	}
	if len(pending) == 0 {
		return nil
	}
	err := s.appendRecords(lines)
	if err != nil {
		s.report(fmt.Errorf("rewriting %d records left pending as rolled back: %w", len(pending), err))
	}
	for _, e := range pending {
		file := s.logName
		if err != nil {
			file = e.file // not rewritten: rolled back in the index only
		}
		s.index(e.seq, e.rec, file)
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
