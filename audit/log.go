package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/atomicfile"
)

// File names inside the data directory.
const (
	LogName  = "audit.log"
	KeyName  = "audit.key"
	HeadName = "audit.head"
)

// DefaultTimeout bounds how long a caller waits for its record.
const DefaultTimeout = 5 * time.Second

// Options configure a Log. Only Dir is required.
type Options struct {
	// Dir is the data directory holding audit.log and audit.head.
	Dir string
	// KeyFile is the HMAC key; empty means Dir/audit.key. It is created
	// (0600) when missing.
	KeyFile string
	// Timeout bounds each Append; zero means DefaultTimeout.
	Timeout time.Duration
	// State returns the engine's status, for the versions and digests
	// before a mutation (the engine's Status method). May be nil.
	State func() hotreload.Status
	// Redact scrubs secrets from free text (reasons) before it is written.
	// May be nil.
	Redact func(string) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// sink is the log file as the writer uses it; tests replace it to inject
// faults.
type sink interface {
	io.Writer
	Sync() error
	Truncate(size int64) error
	Close() error
}

// Log is an open audit log. It implements hotreload.Auditor.
type Log struct {
	opts Options
	key  []byte
	reqs chan request
	quit chan struct{}
	done chan struct{}

	closeOnce sync.Once
	closeErr  error

	gap    error                 // the log does not end where its head says; set by Open
	stuck  atomic.Bool           // a write outlived its caller's wait
	status atomic.Pointer[error] // last write error; nil pointer when healthy

	// fileMu is held while records are written, so that Read sees whole
	// records only.
	fileMu sync.Mutex

	// Owned by the writer goroutine.
	file sink
	head *headFile
	size int64 // length of the file up to the last complete record
	seq  uint64
	prev string

	mu      sync.Mutex // guards attempt
	attempt Entry      // the engine's last attempt, for its result's before-values
}

type request struct {
	e    Entry
	done chan error // buffered: the writer never waits for the caller
}

var _ hotreload.Auditor = (*Log)(nil)

// Open opens (creating when needed) the audit log in opts.Dir and starts
// its writer. Close stops it.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("audit: no data directory")
	}
	if opts.KeyFile == "" {
		opts.KeyFile = filepath.Join(opts.Dir, KeyName)
	}
	key, err := LoadKey(opts.KeyFile, true)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(opts.Dir, LogName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: opening the log: %w", err)
	}
	seq, prev, size, err := tail(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: reading the end of %s: %w", path, err)
	}
	h, err := openHead(opts.Dir)
	if err != nil {
		f.Close()
		return nil, err
	}
	// Only a line the head never acknowledged (a crash mid-write) is
	// repaired; a log that ends before its head lost acknowledged records.
	gap := h.check(key, seq, prev)
	if gap == nil {
		if err := f.Truncate(size); err != nil { // drop a partly written last line
			f.Close()
			h.f.Close()
			return nil, fmt.Errorf("audit: repairing %s: %w", path, err)
		}
	}
	if err := atomicfile.SyncDir(opts.Dir); err != nil {
		f.Close()
		h.f.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := start(opts, key, f, h, seq, prev, size)
	l.gap = gap
	return l, nil
}

func start(opts Options, key []byte, f sink, h *headFile, seq uint64, prev string, size int64) *Log {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Log{
		opts: opts, key: key, file: f, head: h, seq: seq, prev: prev, size: size,
		reqs: make(chan request), quit: make(chan struct{}), done: make(chan struct{}),
	}
	go l.run()
	return l
}

// LoadKey reads the HMAC key (64 hex digits) from path; with create set a
// missing file is created with a fresh random key, mode 0600.
func LoadKey(path string, create bool) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("audit: generating a key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("audit: creating the key: %w", err)
		}
		_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
		serr := f.Sync()
		if err := errors.Join(werr, serr, f.Close()); err != nil {
			return nil, fmt.Errorf("audit: writing the key %s: %w", path, err)
		}
		return key, atomicfile.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		return nil, fmt.Errorf("audit: reading the key: %w", err)
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("audit: the key %s is not at least 64 hex digits", path)
	}
	return key, nil
}

// tail finds the last complete record: its sequence number and MAC, and
// the file length up to it.
func tail(f *os.File) (seq uint64, prev string, size int64, err error) {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil || end == 0 {
		return 0, "", 0, err
	}
	for chunk := int64(64 << 10); ; chunk *= 4 {
		off := max(0, end-chunk)
		buf := make([]byte, end-off)
		if _, err := f.ReadAt(buf, off); err != nil {
			return 0, "", 0, err
		}
		last := bytes.LastIndexByte(buf, '\n')
		if last < 0 && off > 0 {
			continue
		}
		if last < 0 {
			return 0, "", 0, nil // only a partial first line
		}
		start := bytes.LastIndexByte(buf[:last], '\n') + 1
		if start == 0 && off > 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(buf[start:last], &e); err != nil || e.MAC == "" {
			return 0, "", 0, fmt.Errorf("the last record is not valid (run audit verify)")
		}
		return e.Seq, e.MAC, off + int64(last) + 1, nil
	}
}

// maxBatch bounds how many queued records one write and fsync carry.
const maxBatch = 256

// run is the writer goroutine. It commits in groups: the records queued
// while one fsync runs go to disk together with one write and one fsync.
func (l *Log) run() {
	defer close(l.done)
	for {
		var batch []request
		select {
		case <-l.quit:
			return
		case r := <-l.reqs:
			batch = append(batch, r)
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		l.fileMu.Lock()
		err := l.write(batch)
		l.fileMu.Unlock()
		l.stuck.Store(false)
		for _, r := range batch {
			r.done <- err
		}
	}
}

// write appends records durably, repairing the file first when an earlier
// write failed. Either all of them are written or none is acknowledged.
func (l *Log) write(batch []request) error {
	if p := l.status.Load(); p != nil {
		if err := l.repair(); err != nil {
			return err
		}
	}
	seq, prev := l.seq, l.prev
	var buf []byte
	for _, r := range batch {
		e := r.e
		seq++
		e.Seq, e.Prev = seq, prev
		line, err := seal(l.key, &e)
		if err != nil {
			return err
		}
		buf = append(append(buf, line...), '\n')
		prev = e.MAC
	}
	if _, err := l.file.Write(buf); err != nil {
		return l.fail(fmt.Errorf("audit: writing records %d to %d: %w", l.seq+1, seq, err))
	}
	if err := l.file.Sync(); err != nil {
		return l.fail(fmt.Errorf("audit: syncing records %d to %d: %w", l.seq+1, seq, err))
	}
	l.size += int64(len(buf))
	l.seq, l.prev = seq, prev
	if err := l.head.write(l.key, l.seq, l.prev); err != nil {
		return l.fail(fmt.Errorf("audit: %w", err))
	}
	l.status.Store(nil)
	return nil
}

// fail records a write error; the next write repairs the file first.
func (l *Log) fail(err error) error {
	l.status.Store(&err)
	return err
}

// repair cuts the file back to the last complete record.
func (l *Log) repair() error {
	if err := l.file.Truncate(l.size); err != nil {
		return l.fail(fmt.Errorf("audit: repairing the log after a failed write: %w", err))
	}
	if err := l.file.Sync(); err != nil {
		return l.fail(fmt.Errorf("audit: repairing the log after a failed write: %w", err))
	}
	return nil
}

// Append writes e durably, filling Seq, Prev, MAC and (when zero) Time.
// It returns an error, never later than the Log's timeout or ctx's end,
// when the record is not known to be on disk; the caller must then refuse
// the mutation.
func (l *Log) Append(ctx context.Context, e Entry) error {
	if e.Time.IsZero() {
		e.Time = l.opts.Now().UTC()
	}
	if l.opts.Redact != nil {
		e.Reason = l.opts.Redact(e.Reason)
	}
	if l.stuck.Load() {
		return hotreload.Errorf(hotreload.CodeUnavailable, "audit log unavailable: an earlier write has not finished after %s", l.opts.Timeout)
	}
	if l.gap != nil {
		if e.Source == "start" {
			// Loading what is on disk changes nothing: the daemon starts
			// and serves, unaudited, while every mutation is refused.
			// Nothing is written, so the gap stays visible.
			return nil
		}
		return hotreload.Errorf(hotreload.CodeUnavailable, "%w", l.gap)
	}
	timer := time.NewTimer(l.opts.Timeout)
	defer timer.Stop()
	r := request{e: e, done: make(chan error, 1)}
	select {
	case l.reqs <- r:
	case <-l.quit:
		return hotreload.Errorf(hotreload.CodeUnavailable, "audit log is closed")
	case <-timer.C:
		return hotreload.Errorf(hotreload.CodeUnavailable, "audit log unavailable: the writer is busy for more than %s", l.opts.Timeout)
	case <-ctx.Done():
		return hotreload.Errorf(hotreload.CodeUnavailable, "audit log: %w", ctx.Err())
	}
	select {
	case err := <-r.done:
		if err != nil {
			return hotreload.Errorf(hotreload.CodeUnavailable, "%w", err)
		}
		return nil
	case <-timer.C:
		l.stuck.Store(true)
		return hotreload.Errorf(hotreload.CodeUnavailable, "audit log unavailable: writing the record took more than %s", l.opts.Timeout)
	case <-ctx.Done():
		// The caller gave up; the record may still be written.
		return hotreload.Errorf(hotreload.CodeUnavailable, "audit log: %w", ctx.Err())
	}
}

// Read verifies the log as it is now and returns the report with the last
// limit records (all when limit <= 0), oldest first. It waits for a write
// in progress, never for the disk to recover: with a write stuck it fails
// after the Log's timeout.
func (l *Log) Read(ctx context.Context, limit int) (Report, []Entry, error) {
	locked := make(chan struct{})
	go func() { l.fileMu.Lock(); close(locked) }()
	select {
	case <-locked:
	case <-time.After(l.opts.Timeout):
		go func() { <-locked; l.fileMu.Unlock() }()
		return Report{}, nil, hotreload.Errorf(hotreload.CodeUnavailable, "audit log unavailable: a write has not finished after %s", l.opts.Timeout)
	case <-ctx.Done():
		go func() { <-locked; l.fileMu.Unlock() }()
		return Report{}, nil, ctx.Err()
	}
	data, err := os.ReadFile(filepath.Join(l.opts.Dir, LogName))
	var h Head
	if err == nil {
		h = Head{Seq: l.seq, MAC: l.prev, HMAC: headMAC(l.key, l.seq, l.prev)}
	}
	l.fileMu.Unlock()
	if err != nil {
		return Report{}, nil, fmt.Errorf("audit: reading the log: %w", err)
	}
	rep, err := Verify(bytes.NewReader(data), l.key, &h)
	if err != nil {
		return Report{}, nil, err
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if limit > 0 && len(lines) > limit {
		lines = lines[len(lines)-limit:]
	}
	var out []Entry
	for _, line := range lines {
		var e Entry
		if len(line) > 0 && json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return rep, out, nil
}

// Check reports the audit sink's health: nil when the last write
// succeeded and none is stuck. It is the health monitor's audit check.
func (l *Log) Check(context.Context) error {
	if l.gap != nil {
		return l.gap
	}
	if l.stuck.Load() {
		return fmt.Errorf("audit log: a write has not finished after %s", l.opts.Timeout)
	}
	select {
	case <-l.done:
		return errors.New("audit log is closed")
	default:
	}
	if p := l.status.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops the writer. A write in progress finishes first. Close is
// safe to call more than once.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		close(l.quit)
		<-l.done
		l.closeErr = errors.Join(l.file.Close(), l.head.f.Close())
	})
	return l.closeErr
}

// Attempt records a mutation the engine is about to run (hotreload.Auditor).
func (l *Log) Attempt(ctx context.Context, r hotreload.Request) error {
	e := Entry{Kind: KindAttempt, Source: r.Source, Actor: r.Author, Remote: r.Remote, Action: action(r)}
	if l.opts.State != nil {
		st := l.opts.State()
		e.VersionBefore = st.Active
		for _, name := range names(r, st) {
			t := Target{Name: name}
			for _, ts := range st.Targets {
				if ts.Name == name {
					t.Before = ts.Digest
				}
			}
			for _, c := range r.Candidates {
				if c.Target == name && c.Snapshot != nil {
					t.After = hotreload.Digest(c.Snapshot)
				}
			}
			e.Targets = append(e.Targets, t)
		}
	}
	if err := l.Append(ctx, e); err != nil {
		return err
	}
	l.mu.Lock()
	l.attempt = e
	l.mu.Unlock()
	return nil
}

// Result records how a mutation ended (hotreload.Auditor).
func (l *Log) Result(ctx context.Context, r hotreload.Request, o hotreload.Outcome) error {
	l.mu.Lock()
	before := l.attempt
	l.mu.Unlock()
	e := Entry{
		Kind: KindResult, Source: r.Source, Actor: r.Author, Remote: r.Remote, Action: action(r),
		VersionBefore: before.VersionBefore, Version: o.Version, VersionAfter: o.Active,
		Result: string(o.Result), Reason: o.Reason,
	}
	for _, to := range o.Targets {
		t := Target{Name: to.Target, After: to.Digest}
		for _, bt := range before.Targets {
			if bt.Name == to.Target {
				t.Before = bt.Before
			}
		}
		e.Targets = append(e.Targets, t)
	}
	return l.Append(ctx, e)
}

// action names what a request does: patch, replace, restore or reload.
func action(r hotreload.Request) string {
	for _, c := range r.Candidates {
		switch {
		case c.Patch != nil:
			return "patch"
		case c.Snapshot != nil:
			return "restore"
		case c.Content != nil:
			return "replace"
		}
	}
	return "reload"
}

// names lists the targets a request concerns.
func names(r hotreload.Request, st hotreload.Status) []string {
	var out []string
	for _, c := range r.Candidates {
		out = append(out, c.Target)
	}
	if len(out) == 0 {
		out = append(out, r.Targets...)
	}
	if len(out) == 0 {
		for _, t := range st.Targets {
			out = append(out, t.Name)
		}
	}
	return out
}

// Head is the content of audit.head: where the log ends, under its own
// HMAC, so that cutting records off the end is detected.
type Head struct {
	Seq  uint64 `json:"seq"`
	MAC  string `json:"mac"`
	HMAC string `json:"hmac"`
}

func headMAC(key []byte, seq uint64, last string) string {
	return mac(key, []byte("head\n"+strconv.FormatUint(seq, 10)+"\n"+last))
}

// headSize is the fixed length of audit.head: it is rewritten in place
// with one write of less than a disk sector, which is atomic.
const headSize = 256

// headFile is the open audit.head.
type headFile struct{ f *os.File }

func openHead(dir string) (*headFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, HeadName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: opening the head: %w", err)
	}
	return &headFile{f: f}, nil
}

// check compares the end of the log (its last complete record) with the
// head. Records after the head are fine (written, not acknowledged, before
// a crash); a log that ends before the head, or differs from it, lost
// acknowledged records.
func (h *headFile) check(key []byte, seq uint64, last string) error {
	buf := make([]byte, headSize)
	n, _ := h.f.ReadAt(buf, 0)
	data := bytes.TrimSpace(buf[:n])
	var hd Head
	switch {
	case len(data) == 0 && seq == 0:
		return nil
	case len(data) == 0:
		return gapError(fmt.Sprintf("the head is empty but the log holds %d records", seq))
	case json.Unmarshal(data, &hd) != nil || hd.HMAC != headMAC(key, hd.Seq, hd.MAC):
		return gapError("the head record was edited")
	case seq < hd.Seq:
		return gapError(fmt.Sprintf("the log ends at record %d but the head says %d: acknowledged records were removed", seq, hd.Seq))
	case seq == hd.Seq && last != hd.MAC:
		return gapError(fmt.Sprintf("record %d does not match the head: it was replaced", seq))
	}
	return nil
}

// gapError is the error of a log that does not match its head.
func gapError(what string) error {
	return fmt.Errorf("audit log does not match its head (%s): mutations are refused until an operator runs hotreload audit accept-gap", what)
}

// AcceptGap records, as a signed record of its own, that the audit log in
// dir does not end where its head says, and makes the head match again,
// so that a daemon accepts mutations again. Run it with the daemon stopped,
// after looking at hotreload audit verify. reason says who and why.
func AcceptGap(dir, keyFile, reason string) (Entry, error) {
	if keyFile == "" {
		keyFile = filepath.Join(dir, KeyName)
	}
	key, err := LoadKey(keyFile, false)
	if err != nil {
		return Entry{}, err
	}
	f, err := os.OpenFile(filepath.Join(dir, LogName), os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: opening the log: %w", err)
	}
	defer f.Close()
	seq, prev, size, err := tail(f)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: reading the end of the log: %w", err)
	}
	h, err := openHead(dir)
	if err != nil {
		return Entry{}, err
	}
	defer h.f.Close()
	gap := h.check(key, seq, prev)
	if gap == nil {
		return Entry{}, errors.New("audit: the log matches its head: there is no gap to accept")
	}
	if err := f.Truncate(size); err != nil {
		return Entry{}, fmt.Errorf("audit: cutting a partial last line: %w", err)
	}
	e := Entry{Time: time.Now().UTC(), Kind: KindGap, Source: "operator", Action: "accept gap",
		Reason: strings.TrimSpace(gap.Error() + "; accepted: " + reason), Seq: seq + 1, Prev: prev}
	line, err := seal(key, &e)
	if err != nil {
		return Entry{}, err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return Entry{}, fmt.Errorf("audit: writing the gap record: %w", err)
	}
	if err := f.Sync(); err != nil {
		return Entry{}, fmt.Errorf("audit: syncing the gap record: %w", err)
	}
	return e, h.write(key, e.Seq, e.MAC)
}

// write records where the log ends: one in-place write and one fsync.
func (h *headFile) write(key []byte, seq uint64, last string) error {
	data, err := json.Marshal(Head{Seq: seq, MAC: last, HMAC: headMAC(key, seq, last)})
	if err != nil {
		return err
	}
	buf := bytes.Repeat([]byte{' '}, headSize)
	copy(buf, data)
	buf[headSize-1] = '\n'
	if _, err := h.f.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("writing the head: %w", err)
	}
	if err := h.f.Sync(); err != nil {
		return fmt.Errorf("syncing the head: %w", err)
	}
	return nil
}
