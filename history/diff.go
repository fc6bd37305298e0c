package history

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// TargetDiff is how one target differs between two versions.
type TargetDiff struct {
	// Target names the target.
	Target string `json:"target"`
	// Kind is the target's family, as version b records it (else a).
	Kind hotreload.Kind `json:"kind,omitempty"`
	// OldDigest and NewDigest are the SHA-256 of the target's content in
	// the first and the second version; empty where the target is absent.
	OldDigest string `json:"old_sha256,omitempty"`
	NewDigest string `json:"new_sha256,omitempty"`
	// Changes lists the changed paths with their old and new values when
	// both contents are kept and are JSON.
	Changes []hotreload.PathChange `json:"changes,omitempty"`
	// Reason says why Changes is empty although the content changed: the
	// content was not kept, or is not JSON.
	Reason string `json:"reason,omitempty"`
}

// Diff compares versions a and b of h, target by target, and returns the
// targets whose content differs, sorted by name. Where both contents are
// kept and both are JSON, each carries the changed paths (JSON Pointers) with
// old and new values; otherwise only the digest change and a reason. A
// version h does not know is CodeNotFound.
func Diff(ctx context.Context, h hotreload.History, a, b uint64) ([]TargetDiff, error) {
	ra, err := h.Get(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("history: diff %d..%d: %w", a, b, err)
	}
	rb, err := h.Get(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("history: diff %d..%d: %w", a, b, err)
	}
	old, cur := states(ra), states(rb)
	var names []string
	for name := range old {
		names = append(names, name)
	}
	for name := range cur {
		if _, ok := old[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []TargetDiff
	for _, name := range names {
		o, n := old[name], cur[name]
		if o.Digest == n.Digest {
			continue
		}
		d := TargetDiff{Target: name, Kind: cmp.Or(n.Kind, o.Kind), OldDigest: o.Digest, NewDigest: n.Digest}
		if err := diffContent(ctx, h, &d, a, b); err != nil {
			return nil, fmt.Errorf("history: diff %d..%d: %w", a, b, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// diffContent fills d.Changes from the two contents, or d.Reason when they
// cannot be compared path by path. Only an I/O or integrity failure is an
// error.
func diffContent(ctx context.Context, h hotreload.History, d *TargetDiff, a, b uint64) error {
	docs := make([]any, 2)
	var reasons []string
	for i, side := range []struct {
		version uint64
		digest  string
	}{{a, d.OldDigest}, {b, d.NewDigest}} {
		if side.digest == "" {
			continue // absent on this side: compare with null
		}
		content, err := h.Snapshot(ctx, side.version, d.Target)
		if hotreload.ErrorCode(err) == hotreload.CodeNotFound {
			reasons = append(reasons, fmt.Sprintf("the content of version %d is not kept", side.version))
			continue
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(content, &docs[i]); err != nil {
			reasons = append(reasons, fmt.Sprintf("the content of version %d is not JSON", side.version))
		}
	}
	if len(reasons) > 0 {
		d.Reason = strings.Join(reasons, "; ")
		return nil
	}
	d.Changes = jsondiff.Diff(docs[0], docs[1])
	return nil
}

// states indexes a record's target states by target name.
func states(r hotreload.Record) map[string]hotreload.TargetState {
	m := make(map[string]hotreload.TargetState, len(r.Targets))
	for _, t := range r.Targets {
		m[t.Target] = t
	}
	return m
}
