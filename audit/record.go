package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/cybercorp/hotreload"
)

// Kinds of records.
const (
	KindAttempt = "attempt" // a mutation is about to run
	KindResult  = "result"  // a mutation ended (committed, rejected, ...)
	KindDenied  = "denied"  // a mutation was refused before it ran
	KindGap     = "gap"     // an operator accepted records missing from the end (AcceptGap)
	KindAction  = "action"  // an administrative act (token, key) outside the engine
	KindRotate  = "rotate"  // the log continues in a new file (the first record of each file after the first)
)

// Entry is one audit record as a caller describes it; the Log fills in
// Seq, Time (when zero), Prev and MAC.
type Entry struct {
	// Seq numbers the records from 1 without gaps.
	Seq uint64 `json:"seq"`
	// Time is when the record was made.
	Time time.Time `json:"time"`
	// Kind is attempt, result, denied, gap, action or rotate.
	Kind string `json:"kind"`
	// Source is the trigger: api, signal, watch, rollback, etcd, ...
	Source hotreload.Source `json:"source"`
	// Actor is who asked: a token name, "anonymous", or empty when the
	// trigger is automatic.
	Actor string `json:"actor,omitempty"`
	// Role is the actor's role, when authenticated.
	Role string `json:"role,omitempty"`
	// Remote is where the request came from (an address), where known.
	Remote string `json:"remote,omitempty"`
	// Action names the operation: reload, patch, rollback, plugin, ...
	Action string `json:"action"`
	// VersionBefore and VersionAfter are the active versions around the
	// mutation; Version is the candidate's version.
	VersionBefore uint64 `json:"version_before"`
	Version       uint64 `json:"version,omitempty"`
	VersionAfter  uint64 `json:"version_after,omitempty"`
	// Targets lists the targets concerned with their digests.
	Targets []Target `json:"targets,omitempty"`
	// Result is the outcome (committed, rejected, rolled_back, unchanged)
	// or, for denials, the error code.
	Result string `json:"result,omitempty"`
	// Reason says why it was rejected, rolled back or denied.
	Reason string `json:"reason,omitempty"`
	// StartSeq and StartPrev, in a rotate record, are the sequence number
	// and Prev of the oldest record kept once older files were removed:
	// where the retained chain legitimately begins.
	StartSeq  uint64 `json:"start_seq,omitempty"`
	StartPrev string `json:"start_prev,omitempty"`
	// Prev is the MAC of the previous record ("" for the first).
	Prev string `json:"prev"`
	// MAC is HMAC-SHA256(key, the record's JSON without the mac field).
	MAC string `json:"mac,omitempty"`
}

// Target is one target in an Entry, with the hex SHA-256 of its durable
// state before and after (the candidate's, for an attempt).
type Target struct {
	Name   string `json:"target"`
	Before string `json:"sha256_before,omitempty"`
	After  string `json:"sha256_after,omitempty"`
}

// macField is how the MAC closes every line.
const macField = `,"mac":"`

// seal fills e.MAC and returns the line (without newline).
func seal(key []byte, e *Entry) ([]byte, error) {
	e.MAC = ""
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding an audit record: %w", err)
	}
	e.MAC = mac(key, body)
	line := append(body[:len(body)-1:len(body)-1], macField...)
	line = append(line, e.MAC...)
	return append(line, `"}`...), nil
}

// link is what the chain needs of a record: Verify and the tail read
// only these fields.
type link struct {
	Seq       uint64 `json:"seq"`
	Kind      string `json:"kind"`
	StartSeq  uint64 `json:"start_seq"`
	StartPrev string `json:"start_prev"`
	Prev      string `json:"prev"`
	MAC       string `json:"mac"`
}

// open checks a line's MAC with h (an HMAC-SHA256 of the key) and decodes
// its link. ok is false when the MAC does not match; err is non-nil when
// the line is not a record at all.
func open(h hash.Hash, line []byte) (l link, ok bool, err error) {
	i := bytes.LastIndex(line, []byte(macField))
	if i < 0 || len(line) < i+len(macField)+2 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return link{}, false, fmt.Errorf("no mac field at the end")
	}
	got := line[i+len(macField) : len(line)-2]
	h.Reset()
	h.Write(line[:i])
	h.Write([]byte("}"))
	var sum [sha256.Size * 2]byte
	hex.Encode(sum[:], h.Sum(nil))
	ok = hmac.Equal(got, sum[:])
	l, err = decode(line, ok)
	return l, ok && err == nil && string(got) == l.MAC, err
}

// decode reads a line's link. A line whose MAC matched (sealed) was written
// by seal: its fields come in Entry's order and no string in it holds an
// unescaped quote, so they are found by position, without a JSON decoder
// (the rotate records, with more fields, and any other line are decoded).
func decode(line []byte, sealed bool) (link, error) {
	if sealed {
		if l, ok := fastLink(line); ok {
			return l, nil
		}
	}
	var l link
	err := json.Unmarshal(line, &l)
	return l, err
}

// fastLink reads the link of a line seal wrote; ok is false when it is
// not laid out so, or is a rotate record.
func fastLink(line []byte) (l link, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"seq":`))
	c := bytes.IndexByte(rest, ',')
	if !ok || c < 0 {
		return link{}, false
	}
	seq, err := strconv.ParseUint(string(rest[:c]), 10, 64)
	k := bytes.Index(line, []byte(`,"kind":"`))
	m := bytes.LastIndex(line, []byte(macField))
	p := bytes.LastIndex(line[:max(m, 0)], []byte(`,"prev":"`))
	if err != nil || k < 0 || m < 0 || p < 0 || p+len(`,"prev":"`) > m-1 || line[m-1] != '"' || len(line) < m+len(macField)+2 {
		return link{}, false
	}
	kind := line[k+len(`,"kind":"`):]
	kind = kind[:max(bytes.IndexByte(kind, '"'), 0)]
	if string(kind) == KindRotate {
		return link{}, false
	}
	return link{Seq: seq, Kind: string(kind), Prev: string(line[p+len(`,"prev":"`) : m-1]), MAC: string(line[m+len(macField) : len(line)-2])}, true
}

// newMAC returns the HMAC-SHA256 of key that open checks lines with.
func newMAC(key []byte) hash.Hash { return hmac.New(sha256.New, key) }

func mac(key, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
