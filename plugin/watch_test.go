package plugin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload/internal/testwait"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// TestWatchFollowsTheDirectory: with a real inotify watch on the plugin
// directory, a new module loads, a changed one reloads, a removed one
// unloads, and the watch goroutine ends with its context.
func TestWatchFollowsTheDirectory(t *testing.T) {
	f := newFixture(t, plugin.Options{Debounce: 20 * time.Millisecond})
	opt := goleak.IgnoreCurrent() // the engine runs until the test ends
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.host.Watch(ctx, f.Engine.Submit) }()
	waitFor := func(what string, ok func(plugin.Info) bool) {
		t.Helper()
		testwait.Until(t, what, 30*time.Second, func() error {
			i, err := f.host.Info("e")
			if err == nil && !ok(i) {
				err = fmt.Errorf("not yet: %+v", i)
			}
			return err
		})
	}

	plugintest.WriteFile(t, filepath.Join(f.dir, "e.wasm"), plugintest.Echo())
	waitFor("the new module to load", func(i plugin.Info) bool { return i.State == plugin.StateReady })
	f.mustCall("e", "hi", "hi")

	f.setConfig("e", map[string]any{"tag": "t:"})
	f.install(faultyDir, "e", "")
	waitFor("the changed module to reload", func(i plugin.Info) bool { return i.Version == "" && i.MemoryBytes > 1<<20 })
	f.mustCall("e", "hi", "t:hi")

	if err := os.Remove(filepath.Join(f.dir, "e.wasm")); err != nil {
		t.Fatal(err)
	}
	waitFor("the removed module to unload", func(i plugin.Info) bool { return i.State == plugin.StateUnloaded })

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = f.host.Close(context.Background())
	goleak.VerifyNone(t, opt)
}
