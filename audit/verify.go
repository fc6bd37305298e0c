package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Problem is one integrity failure found by Verify.
type Problem struct {
	// File is the log file holding the line (audit.log or a closed
	// audit.log.N); empty for the head.
	File string `json:"file,omitempty"`
	// Line is the 1-based line number in File (0 for the head).
	Line int `json:"line"`
	// Seq is the sequence number the line claims, when readable.
	Seq uint64 `json:"seq,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// String renders the problem as "FILE:LINE: message".
func (p Problem) String() string {
	if p.Line == 0 {
		return HeadName + ": " + p.Message
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
}

// Report is the result of verifying a log.
type Report struct {
	// Records counts the lines read, in every file.
	Records int `json:"records"`
	// Files counts the log files read (closed ones and audit.log).
	Files int `json:"files"`
	// Problems lists every integrity failure, in chain order; empty when
	// the log is intact.
	Problems []Problem `json:"problems"`
	// Torn is set when the log ends in a partial line that the head never
	// acknowledged: a write cut short by a crash, not a problem. The
	// daemon cuts it at its next start.
	Torn bool `json:"torn,omitempty"`
}

// OK reports whether the log is intact.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// maxLine bounds one line of the log when it is read back.
const maxLine = 16 << 20

// VerifyDir checks the audit log in a data directory, every file of it
// from the oldest closed one to audit.log, as one chain, with the key in
// keyFile (empty means DIR/audit.key).
func VerifyDir(dir, keyFile string) (Report, error) {
	if keyFile == "" {
		keyFile = filepath.Join(dir, KeyName)
	}
	key, err := LoadKey(keyFile, false)
	if err != nil {
		return Report{}, err
	}
	return verifyDir(dir, key)
}

// verifyDir is VerifyDir with the key read.
func verifyDir(dir string, key []byte) (Report, error) {
	h, err := readHead(dir)
	if err != nil {
		return Report{}, err
	}
	closed, err := closedFiles(dir)
	if err != nil {
		return Report{}, err
	}
	v := verifier{key: key}
	paths := closedPaths(closed)
	if cur := filepath.Join(dir, LogName); len(closed) == 0 || fileExists(cur) {
		paths = append(paths, cur)
	}
	for _, p := range paths {
		if err := v.readFile(p); err != nil {
			return Report{}, err
		}
	}
	rep := v.finish(h)
	if h == nil { // Open always writes one
		rep.Problems = append(rep.Problems, Problem{Message: "the head is missing: it was removed"})
	}
	return rep, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readHead reads audit.head: nil when it does not exist, the zero Head
// when it is empty (created, nothing acknowledged yet).
func readHead(dir string) (*Head, error) {
	data, err := os.ReadFile(filepath.Join(dir, HeadName))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("audit: %w", err)
	}
	h := &Head{}
	if len(bytes.TrimSpace(data)) > 0 && json.Unmarshal(data, h) != nil {
		h = &Head{HMAC: "unreadable"}
	}
	return h, nil
}

// Verify checks a log read from r as one file named audit.log. Each
// line's MAC must match its content, sequence numbers must run 1, 2, 3...
// and each line must name the MAC of the one before it. After a bad line
// it resynchronises on that line, so one edit is reported once. h, when
// not nil, is the head that says where the log ends.
func Verify(r io.Reader, key []byte, h *Head) (Report, error) {
	v := verifier{key: key}
	if err := v.read(LogName, r); err != nil {
		return Report{}, err
	}
	return v.finish(h), nil
}

// rec is what the verifier keeps of one line: a few fields, not the line.
type rec struct {
	file, line int // index in verifier.files, 1-based line number
	seq        uint64
	prev, mac  string
	kind       string
	startSeq   uint64
	startPrev  string
	parsed, ok bool // a record at all; its MAC matches
	parseErr   string
	noNewline  bool // the file ends in this line without a newline
}

// verifier reads the log's files in chain order and checks them at the
// end. It keeps a few fields per line, and the last keep lines whole.
type verifier struct {
	key   []byte
	files []string
	recs  []rec
	keep  int      // how many of the last lines to keep whole
	last  [][]byte // the last keep lines, oldest first
}

func (v *verifier) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	return v.read(filepath.Base(path), f)
}

// read adds the lines of one file.
func (v *verifier) read(name string, r io.Reader) error {
	v.files = append(v.files, name)
	file := len(v.files) - 1
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	noNewline := false
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			noNewline = true
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		r := rec{file: file, line: n, noNewline: noNewline}
		e, ok, err := open(v.key, line)
		if err != nil {
			r.parseErr = err.Error()
		} else {
			r.parsed, r.ok = true, ok
			r.seq, r.prev, r.mac, r.kind = e.Seq, e.Prev, e.MAC, e.Kind
			r.startSeq, r.startPrev = e.StartSeq, e.StartPrev
		}
		v.recs = append(v.recs, r)
		if v.keep > 0 {
			if len(v.last) == v.keep {
				v.last = v.last[1:]
			}
			v.last = append(v.last, bytes.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("audit: reading %s: %w", name, err)
	}
	return nil
}

func (v *verifier) pos(r rec) string {
	return fmt.Sprintf("%s:%d", v.files[r.file], r.line)
}

// finish checks the chain read so far against the head h (nil: none).
func (v *verifier) finish(h *Head) Report {
	rep := Report{Records: len(v.recs), Files: len(v.files)}
	add := func(r rec, format string, args ...any) {
		rep.Problems = append(rep.Problems, Problem{File: v.files[r.file], Line: r.line, Seq: r.seq, Message: fmt.Sprintf(format, args...)})
	}
	recs := v.recs
	// A last line without its newline that is no valid record is a write
	// a crash cut short; whether it had been acknowledged is the head's
	// to say, below.
	var torn *rec
	if n := len(recs); n > 0 && recs[n-1].noNewline && !recs[n-1].ok && recs[n-1].file == len(v.files)-1 {
		torn = &recs[n-1]
		recs = recs[:n-1]
	}
	later := map[uint64]int{} // seq to the first index holding it, for reorder detection
	for i, r := range recs {
		if r.parsed {
			if _, dup := later[r.seq]; !dup {
				later[r.seq] = i
			}
		}
	}
	var seq uint64
	prev := ""
	// Older files removed by rotation: a signed rotate record names the
	// record the retained chain begins with.
	for _, first := range recs {
		if !first.ok {
			continue
		}
		for _, r := range recs {
			if r.ok && r.kind == KindRotate && r.startSeq > 1 && r.startSeq == first.seq && r.startPrev == first.prev {
				seq, prev = first.seq-1, first.prev
			}
		}
		break
	}
	headMACSeen := "" // the MAC of the record the head names
	unreadable := 0   // unparsable lines since the last good one
	for i, r := range recs {
		if !r.parsed {
			add(r, "not an audit record (%s): the line was edited or inserted", r.parseErr)
			unreadable++
			continue
		}
		if !r.ok {
			// A forged insertion sits between two lines that still link
			// to each other (or after the line the head names as last);
			// an edit in place breaks that link.
			inserted := (i+1 < len(recs) && recs[i+1].ok && recs[i+1].seq == seq+1 && recs[i+1].prev == prev) ||
				(i+1 == len(recs) && h != nil && h.Seq == seq && h.MAC == prev)
			if inserted {
				add(r, "HMAC mismatch and the lines around it link to each other: the line was inserted")
				continue
			}
			add(r, "HMAC mismatch: the line was edited")
			seq, prev, unreadable = r.seq, r.mac, 0
			continue
		}
		switch {
		case r.seq == seq+1 && r.prev == prev:
			// intact link
		case r.seq <= seq:
			add(r, "sequence %d comes after %d: the line was reordered or replayed", r.seq, seq)
			continue // keep the chain where it was
		case r.seq > seq+1 && r.seq-seq-1 <= uint64(unreadable):
			// the missing records are the unreadable lines, reported above
		case r.seq > seq+1:
			if j, ok := later[seq+1]; ok && j > i {
				where := v.pos(recs[j])
				if recs[j].file == r.file {
					where = fmt.Sprintf("line %d", recs[j].line)
				}
				add(r, "sequence %d comes before %d (%s): lines were reordered", r.seq, seq+1, where)
			} else if r.seq == seq+2 {
				add(r, "record %d is missing before this line: it was deleted", seq+1)
			} else {
				add(r, "records %d to %d are missing before this line: they were deleted", seq+1, r.seq-1)
			}
		case unreadable == 0: // right sequence, wrong link
			add(r, "its link does not match the line before: the line before was replaced")
		}
		seq, prev, unreadable = r.seq, r.mac, 0
		if h != nil && r.seq == h.Seq {
			headMACSeen = r.mac
		}
	}
	last := rec{file: len(v.files) - 1}
	if len(recs) > 0 {
		last = recs[len(recs)-1]
	}
	if len(v.files) == 0 {
		v.files = append(v.files, LogName)
	}
	acknowledged := false // the head names records beyond the chain read
	if h != nil {
		head := func(msg string) { rep.Problems = append(rep.Problems, Problem{Message: msg}) }
		switch {
		case *h == (Head{}) && seq > 0:
			head("the head is empty but the log holds records: it was cleared")
		case *h == (Head{}):
			head("the head is empty: a log that was opened has a signed head, so the log and its head were cleared")
		case h.HMAC != headMAC(v.key, h.Seq, h.MAC):
			head("the head record was edited (HMAC mismatch)")
		case h.Seq > seq:
			acknowledged = true
			add(rec{file: last.file, line: last.line, seq: seq},
				"the log ends at record %d but the head says %d: acknowledged records after this line were deleted", seq, h.Seq)
		case h.Seq == seq && h.MAC != prev:
			add(rec{file: last.file, line: last.line, seq: seq}, "the last record does not match the head: it was replaced")
		case h.Seq < seq && h.Seq > 0 && headMACSeen != h.MAC:
			head(fmt.Sprintf("the head names record %d with another MAC: that record was replaced", h.Seq))
		}
	}
	if torn != nil {
		if acknowledged {
			add(*torn, "the line is cut off mid-record")
		} else {
			rep.Torn = true
		}
	}
	return rep
}
