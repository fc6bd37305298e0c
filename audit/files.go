package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cybercorp/hotreload/internal/atomicfile"
)

// closedFile is a log file closed by rotation: audit.log.N holds the
// records up to N.
type closedFile struct {
	path string
	last uint64
}

// closedFiles lists the closed log files in dir, oldest first.
func closedFiles(dir string) ([]closedFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var out []closedFile
	for _, de := range entries {
		rest, ok := strings.CutPrefix(de.Name(), LogName+".")
		n, err := strconv.ParseUint(rest, 10, 64)
		if !ok || err != nil || !de.Type().IsRegular() {
			continue
		}
		out = append(out, closedFile{path: filepath.Join(dir, de.Name()), last: n})
	}
	slices.SortFunc(out, func(a, b closedFile) int { return cmpUint(a.last, b.last) })
	return out, nil
}

// closedPaths returns the paths of closed files.
func closedPaths(closed []closedFile) []string {
	out := make([]string, len(closed))
	for i, c := range closed {
		out[i] = c.path
	}
	return out
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// end is where the chain ends, as read from the log's files.
type end struct {
	seq  uint64 // the last valid record's sequence number; 0 when none
	prev string // its MAC
	size int64  // audit.log's length up to its last complete line
	bad  string // why the last complete line is not a valid record, if so
}

// readEnd finds the end of the chain: the last valid record of audit.log
// (f), or of the newest closed file when audit.log holds none (a crash
// right after a rotation, or audit.log removed).
func readEnd(dir string, key []byte, f *os.File) (end, error) {
	e, err := tail(f, key)
	if err != nil || e.seq > 0 {
		return e, err
	}
	closed, err := closedFiles(dir)
	if err != nil || len(closed) == 0 {
		return e, err
	}
	cf, err := os.Open(closed[len(closed)-1].path)
	if err != nil {
		return e, fmt.Errorf("audit: %w", err)
	}
	defer cf.Close()
	ce, err := tail(cf, key)
	e.seq, e.prev = ce.seq, ce.prev
	if e.bad == "" {
		e.bad = ce.bad
	}
	return e, err
}

// tail reads f from its end: the last valid record, the length up to the
// last complete line, and whether that line is no valid record (edited).
// A partial last line (no newline: a write cut by a crash) is skipped.
func tail(f *os.File, key []byte) (end, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size == 0 {
		return end{}, err
	}
	for chunk := int64(64 << 10); ; chunk *= 4 {
		off := max(0, size-chunk)
		buf := make([]byte, size-off)
		if _, err := f.ReadAt(buf, off); err != nil {
			return end{}, err
		}
		last := bytes.LastIndexByte(buf, '\n')
		if last < 0 && off > 0 {
			continue
		}
		e := end{size: off + int64(last) + 1}
		grow := false
		h := newMAC(key)
		for i := last; i >= 0; {
			start := bytes.LastIndexByte(buf[:i], '\n') + 1
			if start == 0 && off > 0 {
				grow = true
				break
			}
			if r, ok, err := open(h, buf[start:i]); err == nil && ok {
				e.seq, e.prev = r.Seq, r.MAC
				return e, nil
			}
			if e.bad == "" {
				e.bad = "its last line is not a valid record: it was edited or inserted (see hotreload audit verify)"
			}
			i = start - 1
		}
		if !grow {
			return e, nil
		}
	}
}

// rotate closes audit.log as audit.log.SEQ (SEQ its last record), starts
// a new audit.log whose first record is a signed rotate record, and then
// removes the oldest closed files beyond Options.Keep. The rotate record
// names the record the kept chain begins with (the sequence number and
// link after the last removed record), so that verify tells this removal
// apart from any other; it is durable before any file is removed.
// The writer goroutine calls it with fileMu held.
func (l *Log) rotate() error {
	dir := l.opts.Dir
	cur := filepath.Join(dir, LogName)
	name := LogName + "." + strconv.FormatUint(l.seq, 10)
	closedPath := filepath.Join(dir, name)
	if _, err := os.Lstat(closedPath); err == nil {
		return fmt.Errorf("audit: rotating: %s exists already", closedPath)
	}
	if err := os.Rename(cur, closedPath); err != nil {
		return fmt.Errorf("audit: rotating: %w", err)
	}
	f, err := os.OpenFile(cur, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err == nil {
		err = atomicfile.SyncDir(dir)
	}
	if err != nil {
		if f != nil {
			f.Close()
			os.Remove(cur)
		}
		return fmt.Errorf("audit: rotating: %w", errors.Join(err, os.Rename(closedPath, cur)))
	}
	closedSize := l.size
	old := l.file
	l.file, l.size = f, 0
	old.Close()

	closed, err := closedFiles(dir)
	if err != nil {
		return err
	}
	var removed []closedFile
	if keep := l.opts.Keep; keep > 0 && len(closed) > keep {
		removed = closed[:len(closed)-keep]
	}
	reason := fmt.Sprintf("%s closed at record %d (%d bytes)", name, l.seq, closedSize)
	if len(removed) > 0 {
		var names []string
		for _, c := range removed {
			names = append(names, filepath.Base(c.path))
		}
		reason += fmt.Sprintf("; removed %s, keeping %d closed files", strings.Join(names, ", "), l.opts.Keep)
	}
	e := Entry{Time: l.opts.Now().UTC(), Kind: KindRotate, Source: "audit", Action: "rotate", Reason: reason}
	if len(removed) > 0 {
		// The kept chain begins right after the last removed record.
		if f, err := os.Open(removed[len(removed)-1].path); err == nil {
			if end, err := tail(f, l.key); err == nil && end.seq > 0 && end.bad == "" {
				e.StartSeq, e.StartPrev = end.seq+1, end.prev
			}
			f.Close()
		}
	}
	if err := l.append([]Entry{e}); err != nil {
		return err
	}
	for _, c := range removed {
		if err := os.Remove(c.path); err != nil {
			return fmt.Errorf("audit: removing an old log file: %w", err)
		}
	}
	if len(removed) > 0 {
		return atomicfile.SyncDir(dir)
	}
	return nil
}
