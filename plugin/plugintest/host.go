package plugintest

import (
	"context"
	"testing"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/plugin"
)

// Hosted is a plugin host with the engine that runs it and the engine's
// history.
type Hosted struct {
	Host    *plugin.Host
	Engine  *hotreload.Engine
	History hotreload.History
}

// NewHost returns a plugin host run by an engine of its own, wired as a
// program wires it: history in memory (history.Memory), the given gate
// (nil commits at once), opts.Submit set to the engine's Reload, and the
// host added to the engine, which loads what opts.Dir holds. The engine
// and the host stop when the test ends.
func NewHost(tb testing.TB, opts plugin.Options, gate hotreload.Gate) Hosted {
	tb.Helper()
	hist, err := history.Memory(history.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	engine := hotreload.New(hotreload.Options{History: hist, Gate: gate})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx) }()
	opts.Submit = engine.Reload
	h, err := plugin.New(opts)
	if err != nil {
		cancel()
		<-done
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		<-done
		_ = h.Close(context.Background())
		_ = hist.Close()
	})
	if _, err := engine.Add(ctx, h); err != nil {
		tb.Fatalf("adding the plugin host to the engine: %v", err)
	}
	return Hosted{Host: h, Engine: engine, History: hist}
}
