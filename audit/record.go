package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Kinds of records.
const (
	KindAttempt = "attempt" // a mutation is about to run
	KindResult  = "result"  // a mutation ended (committed, rejected, ...)
	KindDenied  = "denied"  // a mutation was refused before it ran
	KindGap     = "gap"     // an operator accepted records missing from the end (AcceptGap)
	KindAction  = "action"  // an administrative act (token, key) outside the engine
)

// Entry is one audit record as a caller describes it; the Log fills in
// Seq, Time (when zero), Prev and MAC.
type Entry struct {
	// Seq numbers the records from 1 without gaps.
	Seq uint64 `json:"seq"`
	// Time is when the record was made.
	Time time.Time `json:"time"`
	// Kind is attempt, result, denied or action.
	Kind string `json:"kind"`
	// Source is the trigger: api, signal, watch, rollback, etcd, ...
	Source string `json:"source"`
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

// open checks a line's MAC and decodes it. ok is false when the MAC does
// not match; err is non-nil when the line is not a record at all.
func open(key []byte, line []byte) (e Entry, ok bool, err error) {
	s := string(line)
	i := strings.LastIndex(s, macField)
	if i < 0 || !strings.HasSuffix(s, `"}`) {
		return Entry{}, false, fmt.Errorf("no mac field at the end")
	}
	body := s[:i] + "}"
	if err := json.Unmarshal(line, &e); err != nil {
		return Entry{}, false, err
	}
	got := s[i+len(macField) : len(s)-2]
	return e, hmac.Equal([]byte(got), []byte(mac(key, []byte(body)))) && got == e.MAC, nil
}

func mac(key, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
