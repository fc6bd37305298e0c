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
	// Line is the 1-based line number in audit.log (0 for the head).
	Line int `json:"line"`
	// Seq is the sequence number the line claims, when readable.
	Seq uint64 `json:"seq,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// String renders the problem as "audit.log:LINE: message".
func (p Problem) String() string {
	if p.Line == 0 {
		return HeadName + ": " + p.Message
	}
	return fmt.Sprintf("%s:%d: %s", LogName, p.Line, p.Message)
}

// Report is the result of verifying a log.
type Report struct {
	// Records counts the lines read.
	Records int `json:"records"`
	// Problems lists every integrity failure, in file order; empty when
	// the log is intact.
	Problems []Problem `json:"problems"`
}

// OK reports whether the log is intact.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// VerifyDir checks the audit log in a data directory with the key in
// keyFile (empty means DIR/audit.key).
func VerifyDir(dir, keyFile string) (Report, error) {
	if keyFile == "" {
		keyFile = filepath.Join(dir, KeyName)
	}
	key, err := LoadKey(keyFile, false)
	if err != nil {
		return Report{}, err
	}
	f, err := os.Open(filepath.Join(dir, LogName))
	if err != nil {
		return Report{}, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	var h *Head
	data, err := os.ReadFile(filepath.Join(dir, HeadName))
	switch {
	case err == nil && len(bytes.TrimSpace(data)) == 0:
		h = &Head{} // created, nothing written yet: the log must be empty
	case err == nil:
		h = &Head{}
		if json.Unmarshal(data, h) != nil {
			h = &Head{HMAC: "unreadable"}
		}
	case !errors.Is(err, os.ErrNotExist):
		return Report{}, fmt.Errorf("audit: %w", err)
	}
	return Verify(f, key, h)
}

// Verify checks a log read from r. Each line's MAC must match its content,
// sequence numbers must run 1, 2, 3... and each line must name the MAC of
// the one before it. After a bad line it resynchronises on that line, so
// one edit is reported once. h, when not nil, is the head that says where
// the log ends.
func Verify(r io.Reader, key []byte, h *Head) (Report, error) {
	var lines [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		return Report{}, fmt.Errorf("audit: reading the log: %w", err)
	}
	rep := Report{Records: len(lines)}
	entries := make([]Entry, len(lines))
	valid := make([]bool, len(lines))
	later := map[uint64]int{} // seq to the line holding it, for reorder detection
	for i, line := range lines {
		e, ok, err := open(key, line)
		if err != nil {
			rep.add(i+1, 0, "not an audit record (%v): the line was edited or inserted", err)
			continue
		}
		entries[i], valid[i] = e, ok
		if _, dup := later[e.Seq]; !dup {
			later[e.Seq] = i
		}
	}
	var seq uint64
	prev := ""
	unreadable := 0 // unparsable lines since the last good one
	for i := range lines {
		e, n := entries[i], i+1
		if e.MAC == "" && !valid[i] { // unparsable, reported above
			unreadable++
			continue
		}
		if !valid[i] {
			// A forged insertion sits between two lines that still link
			// to each other (or after the line the head names as last);
			// an edit in place breaks that link.
			inserted := (i+1 < len(lines) && valid[i+1] && entries[i+1].Seq == seq+1 && entries[i+1].Prev == prev) ||
				(i+1 == len(lines) && h != nil && h.Seq == seq && h.MAC == prev)
			if inserted {
				rep.add(n, e.Seq, "HMAC mismatch and the lines around it link to each other: the line was inserted")
				continue
			}
			rep.add(n, e.Seq, "HMAC mismatch: the line was edited")
			seq, prev, unreadable = e.Seq, e.MAC, 0
			continue
		}
		switch {
		case e.Seq == seq+1 && e.Prev == prev:
			// intact link
		case e.Seq <= seq:
			rep.add(n, e.Seq, "sequence %d comes after %d: the line was reordered or replayed", e.Seq, seq)
			continue // keep the chain where it was
		case e.Seq > seq+1 && e.Seq-seq-1 <= uint64(unreadable):
			// the missing records are the unreadable lines, reported above
		case e.Seq > seq+1:
			if j, ok := later[seq+1]; ok && j > i {
				rep.add(n, e.Seq, "sequence %d comes before %d (line %d): lines were reordered", e.Seq, seq+1, j+1)
			} else if e.Seq == seq+2 {
				rep.add(n, e.Seq, "record %d is missing before this line: it was deleted", seq+1)
			} else {
				rep.add(n, e.Seq, "records %d to %d are missing before this line: they were deleted", seq+1, e.Seq-1)
			}
		case unreadable == 0: // right sequence, wrong link
			rep.add(n, e.Seq, "its link does not match the line before: the line before was replaced")
		}
		seq, prev, unreadable = e.Seq, e.MAC, 0
	}
	if h != nil {
		switch {
		case *h == (Head{}) && seq > 0:
			rep.Problems = append(rep.Problems, Problem{Message: "the head is empty but the log holds records: it was cleared"})
		case *h == (Head{}):
		case h.HMAC != headMAC(key, h.Seq, h.MAC):
			rep.Problems = append(rep.Problems, Problem{Message: "the head record was edited (HMAC mismatch)"})
		case h.Seq > seq:
			rep.Problems = append(rep.Problems, Problem{Line: len(lines), Seq: seq,
				Message: fmt.Sprintf("the log ends at record %d but the head says %d: records after line %d were deleted", seq, h.Seq, len(lines))})
		case h.Seq == seq && h.MAC != prev:
			rep.Problems = append(rep.Problems, Problem{Line: len(lines), Seq: seq, Message: "the last line does not match the head: it was replaced"})
		}
	}
	return rep, nil
}

func (r *Report) add(line int, seq uint64, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Line: line, Seq: seq, Message: fmt.Sprintf(format, args...)})
}
