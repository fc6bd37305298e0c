package history

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/inputfile"
)

// DefaultRetain is how many committed versions keep their content unless
// Options.Retain says otherwise.
const DefaultRetain = 10

// DefaultMaxRecords is how many attempt records are kept unless
// Options.MaxRecords says otherwise.
const DefaultMaxRecords = 10_000

// A log segment is full, and Put starts the next one, at segmentRecords
// lines or segmentBytes; Open reads no file of the records directory
// larger than maxRecordsFile.
const (
	segmentRecords = 1_000
	segmentBytes   = 16 << 20
	maxRecordsFile = 64 << 20
)

// maxObjectFile bounds the object file Snapshot reads: more than any
// target's content (a plugin module is at most 256 MiB).
const maxObjectFile = 1 << 30

// maxLineObject is the size of the largest content stored as a line of the
// records log rather than as a file of its own, and maxLineObjects bounds
// the content one Put appends that way (the rest goes to files), so that
// a segment stays readable (maxRecordsFile).
const (
	maxLineObject  = 64 << 10
	maxLineObjects = segmentBytes / 2
)

// maxProblems bounds the problems a Store remembers.
const maxProblems = 100

// interruptedReason is the reason given to a record found pending at Open.
const interruptedReason = "interrupted: the process stopped before this transaction ended (found pending when the history was opened)"

// Options configure a Store. Open needs Dir; Memory ignores it.
type Options struct {
	// Dir is the data directory.
	Dir string
	// Retain is how many of the newest committed versions keep their
	// content (at least 1); zero means DefaultRetain.
	Retain int
	// MaxRecords is how many attempt records are kept (at least Retain);
	// zero means DefaultMaxRecords. Records of retained versions and
	// pending records are kept beyond it.
	MaxRecords int
	// Logger logs the problems the Store skips and the files it prunes;
	// nil discards.
	Logger *slog.Logger
}

// options holds what Open was told, defaults filled.
type options struct {
	retain         int
	maxRecords     int
	segmentRecords int
	logger         *slog.Logger
}

// entry is one record in the index: its number, and the file in the
// records directory that holds its newest line (empty in memory).
type entry struct {
	seq  uint64
	rec  hotreload.Record
	file string
}

// Store is a durable, file-based hotreload.History. Open one with Open and
// release it with Close. See the package documentation for the on-disk
// layout and the durability and concurrency contract.
type Store struct {
	recordsDir string
	objectsDir string
	opts       options
	lock       *os.File

	// writeMu serializes Put and Close. The fields below marked "writer"
	// are written only while holding both writeMu and mu, so a writer
	// holding writeMu may read them without mu.
	writeMu sync.Mutex

	mu             sync.RWMutex
	closed         bool
	entries        []entry           // writer; by seq, ascending
	main           map[uint64]uint64 // writer; version to the seq of the record that created it
	retained       map[uint64]bool   // writer; versions whose content is kept
	oldestRetained uint64            // writer; seq of the oldest record of those versions
	lastGood       uint64            // writer; seq of the newest committed record, 0 for none
	objects        map[string]bool   // writer; digests of the object files on disk
	held           map[string]held   // writer; content kept in memory, by digest
	nextSeq        uint64            // writer
	problems       []error

	// The records log, written by Put only (writeMu): the segment it
	// appends to (nil until the first Put, and after a failed one), its
	// name, lines and size, and the number of the next segment.
	log      *os.File
	logName  string
	logLines int
	logSize  int64
	nextLog  uint64
	// files are the files of the records directory that held a record's
	// newest line or content; prune deletes those that hold neither any
	// more, unless damaged (a line could not be read: it stays for
	// inspection).
	files   map[string]bool // writer
	damaged map[string]bool // writer
	// stale are the segments that hold the line of content no longer
	// kept; prune rewrites them without it once Put appends elsewhere.
	stale map[string]bool // writer

	// memory is set when the Store lives in memory (Memory): every object
	// is held, and nothing is written.
	memory bool
}

// held is content a Store keeps in memory: every object of a Store in
// memory, and, on disk, content of up to maxLineObject bytes, stored as a
// line of the records log segment file.
type held struct {
	data []byte
	file string
}

var _ hotreload.History = (*Store)(nil)

// report remembers a problem the Store skipped and logs it.
func (s *Store) report(err error) {
	e := hotreload.Errorf(hotreload.CodeInternal, "history: %w", err)
	s.opts.logger.Warn(e.Message)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) == maxProblems {
		s.problems = slices.Delete(s.problems, 0, 1)
	}
	s.problems = append(s.problems, e)
}

// Problems lists, oldest first, what the Store could not read or clean up
// (at most the last 100): unreadable or corrupt records, unexpected
// files, failed removals. Each is a CodeInternal *hotreload.Error naming
// the file and the cause.
func (s *Store) Problems() []error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.problems)
}

// Put records each entry's record and stores the snapshots (target name to
// content) it names, durably: when Put returns nil, a crash loses nothing
// it wrote. The entries are written as one: their new snapshot files (of
// content over 64 KiB) are written and fsynced together, then the lines
// of their other new content and their records are appended to the log
// and it is fsynced once. When Put fails, none of the records is in the
// Store.
//
// A snapshot must be for a target listed in the record's Targets; an empty
// Digest there is filled in, and a Digest that does not match the content
// is CodeInvalid. A committed record must name only content the store
// holds (given now or by an earlier Put), so that every committed version
// can be restored. A record replaces the record of the same version,
// except for Unchanged records, which are appended (see the package
// documentation).
func (s *Store) Put(ctx context.Context, entries ...hotreload.Entry) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed {
		return errClosed()
	}
	if len(entries) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return hotreload.Errorf(hotreload.CodeUnavailable, "history: recording version %d: %w", entries[0].Record.Version, err)
	}
	batch := make([]staged, len(entries))
	seqs := map[uint64]uint64{} // version to seq, for the records of this batch
	next := s.nextSeq
	for i, en := range entries {
		st, err := s.prepareRecord(en.Record, en.Snapshots)
		if err != nil {
			return err
		}
		st.seq = next
		if prev, ok := s.main[st.rec.Version]; ok && st.rec.Result != hotreload.Unchanged {
			st.seq = prev
		}
		if prev, ok := seqs[st.rec.Version]; ok && st.rec.Result != hotreload.Unchanged {
			st.seq = prev
		}
		if st.seq == next {
			next++
		}
		if st.rec.Result != hotreload.Unchanged {
			seqs[st.rec.Version] = st.seq
		}
		if err := st.encode(); err != nil {
			return err
		}
		st.snapshots = en.Snapshots
		batch[i] = st
	}
	written, small, err := s.writeObjects(batch)
	// Objects written before a failure are known from here on, so that
	// the next prune deletes them if no record comes to name them.
	s.mu.Lock()
	maps.Copy(s.objects, written)
	s.mu.Unlock()
	if err == nil {
		err = s.restorable(batch, small)
	}
	if err != nil {
		return err
	}
	// The lines of the small content, then the records, are appended once
	// the object files are durable: the append is the commit point.
	digests := slices.Sorted(maps.Keys(small))
	var lines [][]byte
	if !s.memory {
		for _, d := range digests {
			lines = append(lines, encodeObject(d, small[d]))
		}
	}
	for _, st := range batch {
		lines = append(lines, st.data)
	}
	if err := s.appendRecords(lines); err != nil {
		return hotreload.Errorf(hotreload.CodeInternal, "history: recording version %d: %w", batch[0].rec.Version, err)
	}
	s.mu.Lock()
	for _, d := range digests {
		s.held[d] = held{data: slices.Clone(small[d]), file: s.logName}
	}
	for _, st := range batch {
		s.index(st.seq, st.rec, s.logName)
	}
	s.derive()
	s.mu.Unlock()
	s.prune()
	return nil
}

// staged is one record of a Put on its way to disk.
type staged struct {
	rec       hotreload.Record // as it reads back from data
	seq       uint64
	data      []byte
	digests   map[string]string // target name to the digest of its snapshot
	snapshots map[string][]byte
}

// prepareRecord checks a record and its snapshots and fills in its digests.
func (s *Store) prepareRecord(rec hotreload.Record, snapshots map[string][]byte) (staged, error) {
	if err := checkResult(rec.Result); err != nil {
		return staged{}, hotreload.Errorf(hotreload.CodeInvalid, "history: recording version %d: %w", rec.Version, err)
	}
	if err := checkDigests(rec.Targets); err != nil {
		return staged{}, hotreload.Errorf(hotreload.CodeInvalid, "history: recording version %d: %w", rec.Version, err)
	}
	rec.Targets = slices.Clone(rec.Targets)
	digests, err := fillDigests(&rec, snapshots)
	if err != nil {
		return staged{}, err
	}
	return staged{rec: rec, digests: digests}, nil
}

// encode renders st as its line of the log, numbered st.seq, and keeps the
// record as it reads back from that line.
func (st *staged) encode() error {
	body, err := json.Marshal(st.rec)
	if err != nil {
		return hotreload.Errorf(hotreload.CodeInvalid, "history: encoding record of version %d: %w", st.rec.Version, err)
	}
	var stored hotreload.Record
	if err := json.Unmarshal(body, &stored); err != nil {
		return hotreload.Errorf(hotreload.CodeInternal, "history: recording version %d: reading back the encoded record: %w", st.rec.Version, err)
	}
	st.rec, st.data = stored, recordLine(st.seq, body)
	return nil
}

// restorable checks that every committed record of a batch names only
// content the store holds or the batch brings as lines (small).
func (s *Store) restorable(batch []staged, small map[string][]byte) error {
	for _, st := range batch {
		if st.rec.Result != hotreload.Committed {
			continue
		}
		for _, t := range st.rec.Targets {
			if _, ok := small[t.Digest]; t.Digest != "" && !ok && !s.stored(t.Digest) {
				return hotreload.Errorf(hotreload.CodeInvalid,
					"history: recording version %d: target %q names content sha256 %s that was never stored: a committed version must be restorable",
					st.rec.Version, t.Target, t.Digest)
			}
		}
	}
	return nil
}

// maxWritesInFlight bounds the files a Put writes and fsyncs at once: each
// fsync in progress holds an OS thread, and a batch may hold a thousand
// new snapshots.
const maxWritesInFlight = 16

// writeSlots admits at most its capacity of file writes at once.
type writeSlots chan struct{}

// do runs write once a slot is free.
func (w writeSlots) do(write func()) {
	w <- struct{}{}
	defer func() { <-w }()
	write()
}

// appendRecords appends lines to the log, in order, and fsyncs it once:
// the commit point of a Put. It starts a new segment first when there is
// none, the current one is full, or lines would take it past
// segmentBytes. When the write or the fsync fails it
// cuts the segment back and leaves it (the next Put starts another), so
// that none of lines is in the log. A Store in memory writes nothing.
func (s *Store) appendRecords(lines [][]byte) error {
	if s.memory {
		return nil
	}
	data := slices.Concat(lines...)
	if s.log == nil || s.logLines >= s.opts.segmentRecords || (s.logLines > 0 && s.logSize+int64(len(data)) > segmentBytes) {
		if err := s.startSegment(); err != nil {
			return err
		}
	}
	path := filepath.Join(s.recordsDir, s.logName)
	_, err := s.log.Write(data)
	if err == nil {
		err = s.log.Sync()
	}
	if err != nil {
		s.log.Truncate(s.logSize) // best effort: lines a crash keeps are read as any
		s.log.Close()
		s.log = nil
		return fmt.Errorf("appending to %s: %w", path, err)
	}
	s.logLines += len(lines)
	s.logSize += int64(len(data))
	return nil
}

// startSegment creates the next log segment, durably, and makes it the
// one Put appends to.
func (s *Store) startSegment() error {
	if s.log != nil {
		if err := s.log.Close(); err != nil {
			s.report(fmt.Errorf("closing %s: %w", filepath.Join(s.recordsDir, s.logName), err))
		}
		s.log = nil
	}
	name := segmentName(s.nextLog)
	path := filepath.Join(s.recordsDir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("starting a log segment: %w", err)
	}
	err = f.Sync()
	if err == nil {
		err = syncDir(s.recordsDir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("starting log segment %s: %w", path, err)
	}
	s.nextLog++
	s.log, s.logName, s.logLines, s.logSize = f, name, 0, 0
	return nil
}

// fillDigests checks the snapshots against rec.Targets and fills in empty
// digests; it returns each snapshot's digest by target name.
func fillDigests(rec *hotreload.Record, snapshots map[string][]byte) (map[string]string, error) {
	digests := make(map[string]string, len(snapshots))
	for _, name := range slices.Sorted(maps.Keys(snapshots)) {
		content := snapshots[name]
		i := slices.IndexFunc(rec.Targets, func(t hotreload.TargetState) bool { return t.Target == name })
		if i < 0 {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "history: recording version %d: a snapshot is given for target %q, which the record does not list", rec.Version, name)
		}
		d := hotreload.Digest(content)
		switch rec.Targets[i].Digest {
		case "":
			rec.Targets[i].Digest = d
		case d:
		default:
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "history: recording version %d: the snapshot of target %q hashes to sha256 %s but the record says %s",
				rec.Version, name, d, rec.Targets[i].Digest)
		}
		digests[name] = d
	}
	return digests, nil
}

// writeObjects durably writes the snapshots of a batch that the store does
// not hold yet, named by their digests, together: each file is fsynced on
// its own goroutine, at most maxWritesInFlight at once (the file system
// commits them as one), and the directory once. Content of up to
// maxLineObject bytes (of any size in a Store in memory) is not written:
// it is returned by digest (small), for Put to append to the log with the
// records. It
// returns the digests of the files it wrote, even when it fails part way.
func (s *Store) writeObjects(batch []staged) (written map[string]bool, small map[string][]byte, err error) {
	type object struct {
		version uint64
		target  string
		data    []byte
	}
	files := map[string]object{}
	small = map[string][]byte{}
	smallBytes := 0
	for _, st := range batch {
		for _, name := range slices.Sorted(maps.Keys(st.snapshots)) {
			d, data := st.digests[name], st.snapshots[name]
			_, isFile := files[d]
			_, isSmall := small[d]
			switch {
			case isFile || isSmall || s.stored(d):
			case s.memory || (len(data) <= maxLineObject && smallBytes+len(data) <= maxLineObjects):
				small[d] = data
				smallBytes += len(data)
			default:
				files[d] = object{st.rec.Version, name, data}
			}
		}
	}
	written = map[string]bool{}
	if len(files) == 0 {
		return written, small, nil
	}
	writes := make(writeSlots, maxWritesInFlight)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for d, o := range files {
		wg.Go(func() {
			var err error
			writes.do(func() { err = writeFile(s.objectsDir, d, o.data) })
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, hotreload.Errorf(hotreload.CodeInternal, "history: recording version %d: storing the snapshot of target %q: %w", o.version, o.target, err))
				return
			}
			written[d] = true
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return written, small, errs[0]
	}
	if err := syncDir(s.objectsDir); err != nil {
		return written, small, hotreload.Errorf(hotreload.CodeInternal, "history: recording version %d: %w", batch[0].rec.Version, err)
	}
	return written, small, nil
}

// stored reports whether the store holds the content with digest d, in
// memory or in an object file. The caller holds mu or writeMu.
func (s *Store) stored(d string) bool {
	_, ok := s.held[d]
	return ok || s.objects[d]
}

// index puts rec, numbered seq, whose newest line file holds, in the
// index. The caller holds mu (or is Open, before the Store is shared) and
// calls derive afterwards.
func (s *Store) index(seq uint64, rec hotreload.Record, file string) {
	s.files[file] = true
	i, found := slices.BinarySearchFunc(s.entries, seq, func(e entry, seq uint64) int { return cmp.Compare(e.seq, seq) })
	if found {
		s.entries[i].rec, s.entries[i].file = rec, file
	} else {
		s.entries = slices.Insert(s.entries, i, entry{seq: seq, rec: rec, file: file})
	}
	if rec.Result != hotreload.Unchanged {
		s.main[rec.Version] = seq
	}
	s.nextSeq = max(s.nextSeq, seq+1)
}

// derive recomputes the last known good and the retained versions from the
// entries. The caller holds mu.
func (s *Store) derive() {
	s.lastGood, s.oldestRetained = 0, 0
	s.retained = map[uint64]bool{}
	for i := len(s.entries) - 1; i >= 0 && len(s.retained) < s.opts.retain; i-- {
		e := s.entries[i]
		if e.rec.Result != hotreload.Committed {
			continue
		}
		if s.lastGood == 0 {
			s.lastGood = e.seq
		}
		s.retained[e.rec.Version] = true
		s.oldestRetained = e.seq
	}
}

// keeps reports whether e must stay whatever the record limit: it is a
// retained committed version or a transaction still running.
func (s *Store) keeps(e *entry) bool {
	return e.rec.Result == hotreload.Pending ||
		(e.rec.Result == hotreload.Committed && e.seq >= s.oldestRetained && s.retained[e.rec.Version])
}

// prune drops the oldest records beyond the limit and the content that no
// retained or pending record names, from the index and then from disk,
// where a file of the records directory goes when it holds no record's
// newest line and no content kept, and a segment holding the line of
// content no longer kept is rewritten without it (compact) once Put
// appends to another.
// Failures are reported, not returned: what was recorded stays recorded.
// The caller holds writeMu (or is Open).
func (s *Store) prune() {
	s.mu.Lock()
	// This runs at every Put over up to MaxRecords entries: the oldest
	// are dropped without moving the others when they come first, as they
	// do unless a retained or pending record is older.
	excess := len(s.entries) - s.opts.maxRecords
	drop := func(e *entry) bool {
		if excess <= 0 || s.keeps(e) {
			return false
		}
		if s.main[e.rec.Version] == e.seq {
			delete(s.main, e.rec.Version)
		}
		excess--
		return true
	}
	oldest := 0
	for oldest < len(s.entries) && drop(&s.entries[oldest]) {
		oldest++
	}
	s.entries = s.entries[oldest:]
	if excess > 0 {
		s.entries = slices.DeleteFunc(s.entries, func(e entry) bool { return drop(&e) })
	}
	// The records files and the content still needed: a map write only
	// where the file changes from one entry to the next.
	liveFiles, live := map[string]bool{}, map[string]bool{}
	file := ""
	for i := range s.entries {
		e := &s.entries[i]
		if i == 0 || e.file != file {
			file = e.file
			liveFiles[file] = true
		}
		if s.keeps(e) {
			for _, t := range e.rec.Targets {
				live[t.Digest] = true
			}
		}
	}
	var objects []string
	for d := range s.objects {
		if !live[d] {
			objects = append(objects, d)
			delete(s.objects, d)
		}
	}
	for d, h := range s.held {
		if !live[d] {
			delete(s.held, d)
			if h.file != "" {
				s.stale[h.file] = true
			}
		} else {
			liveFiles[h.file] = true
		}
	}
	var records []string
	for f := range s.files {
		if !liveFiles[f] && f != s.logName && !s.damaged[f] {
			records = append(records, f)
			delete(s.files, f)
			delete(s.stale, f)
		}
	}
	var compact []string
	for f := range s.stale {
		if f != s.logName && !s.damaged[f] {
			compact = append(compact, f)
			delete(s.stale, f)
		}
	}
	s.mu.Unlock()
	if s.memory {
		return
	}

	// The removals are not fsynced: a file a crash brings back holds no
	// newest line or no live content, and the next Open prunes it again.
	remove := func(dir string, names []string) {
		if len(names) == 0 {
			return
		}
		for _, name := range names {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.report(fmt.Errorf("pruning: %w", err))
			}
		}
		s.opts.logger.Debug("history: pruned", "dir", dir, "files", len(names))
	}
	remove(s.recordsDir, records)
	remove(s.objectsDir, objects)
	for _, f := range compact {
		s.carryOver(f)
		if !s.compact(f) {
			s.mu.Lock()
			s.stale[f] = true // tried again at the next Put
			s.mu.Unlock()
		}
	}
}

// carryOver appends the content still kept in segment name to the log, so
// that it holds only lines no longer needed and is compacted once, not
// again each time some of that content is dropped. If the append fails,
// the content stays where it is. The caller holds writeMu (or is Open).
func (s *Store) carryOver(name string) {
	digests, lines := s.heldLines(name)
	if len(lines) == 0 {
		return
	}
	if err := s.appendRecords(lines); err != nil {
		s.report(fmt.Errorf("carrying the content kept in %s over to the log's end: %w", filepath.Join(s.recordsDir, name), err))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range digests {
		s.held[d] = held{data: s.held[d].data, file: s.logName}
	}
	s.files[s.logName] = true
}

// heldLines returns the digests of the content held in segment name, in
// order, and that content's lines.
func (s *Store) heldLines(name string) (digests []string, lines [][]byte) {
	for _, d := range slices.Sorted(maps.Keys(s.held)) {
		if h := s.held[d]; h.file == name {
			digests = append(digests, d)
			lines = append(lines, encodeObject(d, h.data))
		}
	}
	return digests, lines
}

// compact rewrites segment name with only the lines the index still
// needs: the content it holds, then the newest line of each record it
// holds. The new file is fsynced before it is renamed over the old one; the
// rename is not (like a removal): a segment a crash brings back holds
// content no longer kept, and the next Open compacts it again. It reports
// whether it did; a failure is reported. The caller holds writeMu (or is
// Open).
func (s *Store) compact(name string) bool {
	_, lines := s.heldLines(name)
	for _, e := range s.entries {
		if e.file != name {
			continue
		}
		line, err := encodeRecord(e.seq, e.rec)
		if err != nil {
			s.report(fmt.Errorf("compacting %s: %w", filepath.Join(s.recordsDir, name), err))
			return false
		}
		lines = append(lines, line)
	}
	tmp, err := stageFile(s.recordsDir, slices.Concat(lines...))
	if err == nil {
		err = publishFile(tmp, s.recordsDir, name)
	}
	if err != nil {
		s.report(fmt.Errorf("compacting %s: %w", filepath.Join(s.recordsDir, name), err))
		return false
	}
	s.opts.logger.Debug("history: compacted a log segment", "path", filepath.Join(s.recordsDir, name), "lines", len(lines))
	return true
}

// Get returns the record of version: the record that created it, or, when
// there is none, the latest unchanged attempt that carried it. An unknown
// version is CodeNotFound.
func (s *Store) Get(ctx context.Context, version uint64) (hotreload.Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return hotreload.Record{}, errClosed()
	}
	if e, ok := s.entry(version); ok {
		return cloneRecord(e.rec), nil
	}
	for i := len(s.entries) - 1; i >= 0; i-- {
		if r := s.entries[i].rec; r.Version == version {
			return cloneRecord(r), nil
		}
	}
	return hotreload.Record{}, hotreload.Errorf(hotreload.CodeNotFound, "history: version %d: no such version", version)
}

// entry returns the entry that created version. The caller holds mu.
func (s *Store) entry(version uint64) (entry, bool) {
	seq, ok := s.main[version]
	if !ok {
		return entry{}, false
	}
	i, found := slices.BinarySearchFunc(s.entries, seq, func(e entry, seq uint64) int { return cmp.Compare(e.seq, seq) })
	if !found {
		return entry{}, false
	}
	return s.entries[i], true
}

// List returns every record kept, in the order the attempts were made.
func (s *Store) List(ctx context.Context) ([]hotreload.Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errClosed()
	}
	out := make([]hotreload.Record, len(s.entries))
	for i, e := range s.entries {
		out[i] = cloneRecord(e.rec)
	}
	return out, nil
}

// LastGood returns the newest committed record, or ok false when nothing
// was ever committed.
func (s *Store) LastGood(ctx context.Context) (hotreload.Record, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return hotreload.Record{}, false, errClosed()
	}
	if s.lastGood == 0 {
		return hotreload.Record{}, false, nil
	}
	i, _ := slices.BinarySearchFunc(s.entries, s.lastGood, func(e entry, seq uint64) int { return cmp.Compare(e.seq, seq) })
	return cloneRecord(s.entries[i].rec), true, nil
}

// Snapshot returns the content of target at a committed version, verified
// against its SHA-256. A version that is unknown, not committed or beyond
// retention, and a target it does not list, are CodeNotFound; content that
// is missing or corrupt on disk is CodeInternal.
func (s *Store) Snapshot(ctx context.Context, version uint64, target string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, hotreload.Errorf(hotreload.CodeUnavailable, "history: reading version %d of target %q: %w", version, target, err)
	}
	d, err := s.locate(version, target)
	if err != nil {
		return nil, err
	}
	data, where, err := s.readObject(d)
	if err != nil {
		if _, err := s.locate(version, target); err != nil {
			return nil, err // pruned while we read
		}
		return nil, hotreload.Errorf(hotreload.CodeInternal, "history: reading version %d of target %q: %w", version, target, err)
	}
	if got := hotreload.Digest(data); got != d {
		return nil, hotreload.Errorf(hotreload.CodeInternal, "history: reading version %d of target %q: %s is corrupt: its content hashes to sha256 %s",
			version, target, where, got)
	}
	return data, nil
}

// readObject returns the content with digest d, from memory or from its
// object file, and where it was read.
func (s *Store) readObject(d string) (data []byte, where string, err error) {
	s.mu.RLock()
	h, ok := s.held[d]
	s.mu.RUnlock()
	switch {
	case ok:
		return slices.Clone(h.data), fmt.Sprintf("object sha256 %s (in memory, from %s)", d, cmp.Or(h.file, "a Put")), nil
	case s.memory:
		return nil, "", fmt.Errorf("object sha256 %s is not held: %w", d, fs.ErrNotExist)
	}
	path := filepath.Join(s.objectsDir, d)
	data, err = inputfile.Read(path, inputfile.Options{MaxBytes: maxObjectFile})
	return data, path, err
}

// locate returns the digest of target's content at version, if the store
// keeps it.
func (s *Store) locate(version uint64, target string) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return "", errClosed()
	}
	e, ok := s.entry(version)
	switch {
	case !ok:
		return "", hotreload.Errorf(hotreload.CodeNotFound, "history: version %d: no such version", version)
	case e.rec.Result != hotreload.Committed:
		return "", hotreload.Errorf(hotreload.CodeNotFound, "history: version %d was %s, not committed: its content is not kept", version, e.rec.Result)
	case !s.retained[version]:
		return "", hotreload.Errorf(hotreload.CodeNotFound, "history: the content of version %d was pruned (the last %d committed versions are kept)", version, s.opts.retain)
	}
	i := slices.IndexFunc(e.rec.Targets, func(t hotreload.TargetState) bool { return t.Target == target })
	if i < 0 {
		return "", hotreload.Errorf(hotreload.CodeNotFound, "history: version %d has no target %q", version, target)
	}
	d := e.rec.Targets[i].Digest
	if d == "" {
		return "", hotreload.Errorf(hotreload.CodeNotFound, "history: version %d records no content for target %q", version, target)
	}
	return d, nil
}

// Close releases the directory. It waits for a Put in progress, always
// succeeds in releasing the Store, and may be called more than once.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.memory {
		return nil
	}
	if s.log != nil {
		s.log.Close()
		s.log = nil
	}
	return unlockDir(s.lock)
}

// errClosed is the error of any call after Close.
func errClosed() error {
	return hotreload.Errorf(hotreload.CodeUnavailable, "history: the store is closed")
}

// cloneRecord returns a copy of r that shares no slice or map with it.
func cloneRecord(r hotreload.Record) hotreload.Record {
	r.Errors = slices.Clone(r.Errors)
	r.Targets = slices.Clone(r.Targets)
	for i := range r.Targets {
		r.Targets[i].Meta = maps.Clone(r.Targets[i].Meta)
	}
	return r
}
