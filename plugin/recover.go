package plugin

import (
	"encoding/json"
	"strings"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// SourceQuarantine is the Request.Source of the transaction that puts a
// plugin's last good module back after its committed module started to fail
// its calls.
const SourceQuarantine = "quarantine"

// MetaQuarantined is the candidate and history meta key of that
// transaction: "NAME SHA256" of the module it took out.
const MetaQuarantined = "plugin_quarantined"

// entryOf is the set entry of a live version, without its config (a module
// put back takes the plugin's section of the main configuration).
func entryOf(v *version) entry {
	m := v.manifest
	return entry{SHA256: v.sha256, Manifest: &m}
}

// returnToGood is called when bad, a committed version of s, trips the call
// quarantine. It submits, on a goroutine of its own, one transaction
// (source SourceQuarantine) that puts back the module s served before bad,
// if there was one; that transaction's Check refuses it when bad is no
// longer live by then (an operator or the directory replaced it). The
// module taken out stays out while its file is unchanged, as if unloaded on
// request. Each bad version tries once.
func (h *Host) returnToGood(s *slot, bad *version, why error) {
	s.mu.Lock()
	good := s.good
	s.mu.Unlock()
	switch {
	case good == nil:
		h.log.Warn("plugin quarantined with no earlier module to return to", "plugin", s.name, "err", why)
		return
	case h.opts.Submit == nil || !bad.returning.CompareAndSwap(false, true):
		return
	}
	var from, to any
	_ = json.Unmarshal(jsondiff.MustMarshal(entryOf(bad)), &from)
	_ = json.Unmarshal(jsondiff.MustMarshal(*good), &to)
	patch := jsondiff.MustMarshal(map[string]any{"plugins": map[string]any{s.name: mergeDiff(from, to)}})
	r := hotreload.Request{
		Source: SourceQuarantine,
		Candidates: []hotreload.Candidate{{Target: h.Name(), Patch: patch,
			Meta: map[string]string{MetaQuarantined: s.name + " " + bad.sha256}}},
		Check: func(uint64) error {
			if s.live.Load() != bad {
				return hotreload.Errorf(hotreload.CodeConflict, "plugin %q: the quarantined module %s is no longer live", s.name, bad.label())
			}
			return nil
		},
	}
	h.bg.Go(func() {
		h.log.Error("plugin quarantined after it was committed: returning to its last good module",
			"plugin", s.name, "bad", bad.sha256, "good", good.SHA256, "err", why)
		o, err := h.submit(h.bgCtx, r)
		switch {
		case err != nil:
			h.log.Error("returning a quarantined plugin to its last good module", "plugin", s.name, "err", err)
		case o.Result != hotreload.Committed:
			h.log.Error("returning a quarantined plugin to its last good module", "plugin", s.name, "result", o.Result, "reason", o.Reason)
		}
	})
}

// keptOut returns the sha256 a transaction's meta says to keep out for
// plugin name ("" for none).
func keptOut(meta map[string]string, name string) string {
	n, sum, ok := strings.Cut(meta[MetaQuarantined], " ")
	if !ok || n != name {
		return ""
	}
	return sum
}

// mergeDiff returns the JSON merge patch (RFC 7396) that turns a into b,
// for documents without null members.
func mergeDiff(a, b any) any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return b
	}
	p := map[string]any{}
	for k, av := range am {
		bv, ok := bm[k]
		switch {
		case !ok:
			p[k] = nil
		case !jsondiff.Equal(av, bv):
			p[k] = mergeDiff(av, bv)
		}
	}
	for k, bv := range bm {
		if _, ok := am[k]; !ok {
			p[k] = bv
		}
	}
	return p
}
