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
	"slices"
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
	paths := closedPaths(closed)
	if cur := filepath.Join(dir, LogName); len(closed) == 0 || fileExists(cur) {
		paths = append(paths, cur)
	}
	var srcs []source
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return Report{}, fmt.Errorf("audit: %w", err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return Report{}, fmt.Errorf("audit: %w", err)
		}
		srcs = append(srcs, source{name: filepath.Base(p), r: f, size: fi.Size()})
	}
	rep, _, err := verify(key, srcs, h, 0)
	if err != nil {
		return Report{}, err
	}
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
// when it is empty.
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
	data, err := io.ReadAll(r)
	if err != nil {
		return Report{}, fmt.Errorf("audit: reading the log: %w", err)
	}
	rep, _, err := verify(key, []source{{name: LogName, r: bytes.NewReader(data), size: int64(len(data))}}, h, 0)
	return rep, err
}

// source is one log file as the verifier reads it, twice.
type source struct {
	name string
	r    io.ReaderAt
	size int64
}

// lines calls fn with each line of src (without its newline); last is
// set for a final line that has no newline.
func (src source) lines(fn func(n int, line []byte, last bool)) error {
	sc := bufio.NewScanner(io.NewSectionReader(src.r, 0, src.size))
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
		fn(n, sc.Bytes(), noNewline)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("audit: reading %s: %w", src.name, err)
	}
	return nil
}

// rec is what the verifier holds of one line: a few fields, not the line.
type rec struct {
	file, line int // index in srcs, 1-based line number
	idx        int // index in the whole chain
	link
	parsed, ok bool // a record at all; its MAC matches
	parseErr   string
}

// seqAt is where a sequence number first appears in the chain.
type seqAt struct {
	seq uint64
	idx int
}

// verify checks srcs, oldest first, as one chain against the head h (nil:
// none) and returns the report and the last keep lines (all when keep is
// negative). It reads the files twice and holds about 17 bytes per line,
// so memory does not grow with the lines' size: the first pass indexes
// where each sequence number first appears (to tell a reordered line from
// a deleted one) and where the kept chain begins; the second checks each
// line against the one before it and the one after it.
func verify(key []byte, srcs []source, h *Head, keep int) (Report, [][]byte, error) {
	mac := newMAC(key)
	var valid []bool // by chain index: the line's MAC matched (pass 1)
	parse := func(file, n, idx int, line []byte) rec {
		r := rec{file: file, line: n, idx: idx}
		var l link
		var err error
		if idx < len(valid) { // pass 2: the MAC is known
			r.ok = valid[idx]
			l, err = decode(line, r.ok)
		} else {
			l, r.ok, err = open(mac, line)
			valid = append(valid, r.ok)
		}
		if err != nil {
			r.parseErr, r.ok = err.Error(), false
		} else {
			r.link, r.parsed = l, true
		}
		return r
	}

	// Pass 1: the index.
	var (
		seqs        []seqAt
		starts      []link // rotate records that name where the kept chain begins
		first       *rec   // the first valid record
		total       int
		lastNoNL    bool
		lastOK      bool
		lastOfFiles = len(srcs) - 1
		lastFile    = -1
	)
	fileStart := make([]int, len(srcs))
	for fi, src := range srcs {
		fileStart[fi] = total
		err := src.lines(func(n int, line []byte, noNL bool) {
			r := parse(fi, n, total, line)
			if r.parsed {
				seqs = append(seqs, seqAt{r.Seq, total})
			}
			if r.ok && r.Kind == KindRotate && r.StartSeq > 1 {
				starts = append(starts, r.link)
			}
			if r.ok && first == nil {
				first = &r
			}
			total++
			lastNoNL, lastOK, lastFile = noNL, r.ok, fi
		})
		if err != nil {
			return Report{}, nil, err
		}
	}
	slices.SortFunc(seqs, func(a, b seqAt) int {
		if c := cmpUint(a.seq, b.seq); c != 0 {
			return c
		}
		return a.idx - b.idx
	})
	firstIdx := func(seq uint64) (int, bool) {
		i, found := slices.BinarySearchFunc(seqs, seq, func(a seqAt, s uint64) int { return cmpUint(a.seq, s) })
		if !found {
			return 0, false
		}
		return seqs[i].idx, true
	}
	// A last line without its newline that is no valid record is a write
	// a crash cut short; whether it had been acknowledged is the head's
	// to say, below.
	tornIdx := -1
	if total > 0 && lastNoNL && !lastOK && lastFile == lastOfFiles {
		tornIdx = total - 1
	}

	rep := Report{Records: total, Files: len(srcs)}
	add := func(r rec, format string, args ...any) {
		rep.Problems = append(rep.Problems, Problem{File: srcs[r.file].name, Line: r.line, Seq: r.Seq, Message: fmt.Sprintf(format, args...)})
	}
	var seq uint64
	prev := ""
	// Older files removed by rotation: a signed rotate record names the
	// record the retained chain begins with.
	if first != nil {
		for _, s := range starts {
			if s.StartSeq == first.Seq && s.StartPrev == first.Prev {
				seq, prev = first.Seq-1, first.Prev
			}
		}
	}

	// Pass 2: each line against its neighbours.
	headMACSeen := "" // the MAC of the record the head names
	unreadable := 0   // unparsable lines since the last good one
	var last [][]byte
	var torn, lastRec *rec
	check := func(r rec, next *rec) {
		if !r.parsed {
			add(r, "not an audit record (%s): the line was edited or inserted", r.parseErr)
			unreadable++
			return
		}
		if !r.ok {
			// A forged insertion sits between two lines that still link
			// to each other (or after the line the head names as last);
			// an edit in place breaks that link.
			inserted := (next != nil && next.ok && next.Seq == seq+1 && next.Prev == prev) ||
				(next == nil && h != nil && h.Seq == seq && h.MAC == prev)
			if inserted {
				add(r, "HMAC mismatch and the lines around it link to each other: the line was inserted")
				return
			}
			add(r, "HMAC mismatch: the line was edited")
			seq, prev, unreadable = r.Seq, r.MAC, 0
			return
		}
		switch {
		case r.Seq == seq+1 && r.Prev == prev:
			// intact link
		case r.Seq <= seq:
			add(r, "sequence %d comes after %d: the line was reordered or replayed", r.Seq, seq)
			return // keep the chain where it was
		case r.Seq > seq+1 && r.Seq-seq-1 <= uint64(unreadable):
			// the missing records are the unreadable lines, reported above
		case r.Seq > seq+1:
			if j, ok := firstIdx(seq + 1); ok && j > r.idx {
				add(r, "sequence %d comes before %d (%s): lines were reordered", r.Seq, seq+1, where(srcs, fileStart, r, j))
			} else if r.Seq == seq+2 {
				add(r, "record %d is missing before this line: it was deleted", seq+1)
			} else {
				add(r, "records %d to %d are missing before this line: they were deleted", seq+1, r.Seq-1)
			}
		case unreadable == 0: // right sequence, wrong link
			add(r, "its link does not match the line before: the line before was replaced")
		}
		seq, prev, unreadable = r.Seq, r.MAC, 0
		if h != nil && r.Seq == h.Seq {
			headMACSeen = r.MAC
		}
	}
	idx := 0
	var pending *rec
	for fi, src := range srcs {
		err := src.lines(func(n int, line []byte, _ bool) {
			r := parse(fi, n, idx, line)
			idx++
			if keep != 0 {
				if keep > 0 && len(last) == keep {
					last = last[1:]
				}
				last = append(last, bytes.Clone(line))
			}
			if r.idx == tornIdx {
				torn = &r
				return
			}
			if pending != nil {
				check(*pending, &r)
			}
			pending = &r
			lastRec = &r
		})
		if err != nil {
			return Report{}, nil, err
		}
	}
	if pending != nil {
		check(*pending, nil)
	}
	end := rec{file: len(srcs) - 1}
	if lastRec != nil {
		end = *lastRec
	}
	end.Seq = seq
	acknowledged := false // the head names records beyond the chain read
	if h != nil {
		head := func(msg string) { rep.Problems = append(rep.Problems, Problem{Message: msg}) }
		switch {
		case *h == (Head{}) && seq > 0:
			head("the head is empty but the log holds records: it was cleared")
		case *h == (Head{}):
			head("the head is empty: a log that was opened has a signed head, so the log and its head were cleared")
		case h.HMAC != headMAC(key, h.Seq, h.MAC):
			head("the head record was edited (HMAC mismatch)")
		case h.Seq > seq:
			acknowledged = true
			add(end, "the log ends at record %d but the head says %d: acknowledged records after this line were deleted", seq, h.Seq)
		case h.Seq == seq && h.MAC != prev:
			add(end, "the last record does not match the head: it was replaced")
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
	return rep, last, nil
}

// where names the line at chain index j, seen from r: "line N" in the same
// file, "FILE:N" in another. starts holds each file's first index.
func where(srcs []source, starts []int, r rec, j int) string {
	f := 0
	for f+1 < len(starts) && starts[f+1] <= j {
		f++
	}
	if f == r.file {
		return fmt.Sprintf("line %d", j-starts[f]+1)
	}
	return fmt.Sprintf("%s:%d", srcs[f].name, j-starts[f]+1)
}
