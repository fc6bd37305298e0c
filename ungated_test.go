package hotreload_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/cybercorp/hotreload"
)

// ungatedTarget is a valueTarget whose changes skip the health gate.
type ungatedTarget struct{ *valueTarget }

func (ungatedTarget) Ungated() bool { return true }

func TestUngatedSkipsTheGate(t *testing.T) {
	var asked atomic.Int32
	gate := gateFunc(func(context.Context, hotreload.Transaction) error {
		asked.Add(1)
		return errors.New("unhealthy")
	})
	e := startEngine(t, hotreload.Options{Gate: gate})
	ui := ungatedTarget{newValueTarget("ui", "a")}
	cfg := newValueTarget("config", "a")
	mustAdd(t, e, ui, cfg)
	if o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("ui", "b")}}); o.Result != hotreload.Committed {
		t.Fatalf("ungated change: %s, want committed", o.Result)
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("the gate was asked %d times about an ungated change", n)
	}
	o := reload(t, e, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{content("ui", "c"), content("config", "b")}})
	if o.Result != hotreload.RolledBack || ui.Live() != "b" {
		t.Fatalf("an ungated change beside a gated one: %s, ui serves %q; want rolled_back, b", o.Result, ui.Live())
	}
}
