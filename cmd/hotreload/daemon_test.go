package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(fds)
}

// TestStartFailsCleanlyAtEveryStep injects a failure at each step of
// serve's start, with every part (config, plugins, UI folder, health
// checks, watches) in the list, and checks that the failed start leaves
// no goroutine and no file descriptor behind: everything it opened was
// closed, each once.
func TestStartFailsCleanlyAtEveryStep(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"app.yaml":          "greeting: hello\n",
		"checks.yaml":       "checks:\n  - name: mem\n    kind: memory\n",
		"ui/style.css":      "body { color: red }\n",
		"plugins/echo.json": "{}\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "plugins", "echo.wasm"), plugintest.Echo(), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := daemonOptions{
		ConfigFiles: []string{filepath.Join(dir, "app.yaml")},
		DataDir:     filepath.Join(dir, ".hotreload"),
		Listen:      "127.0.0.1:0",
		Mode:        admin.Dev,
		Watch:       true,
		PluginsDir:  filepath.Join(dir, "plugins"),
		UIDir:       filepath.Join(dir, "ui"),
		ChecksFile:  filepath.Join(dir, "checks.yaml"),
		Stderr:      io.Discard,
	}
	start := func() (*daemon, error) {
		ln, err := net.Listen("tcp", opts.Listen)
		if err != nil {
			t.Fatal(err)
		}
		return startDaemon(context.Background(), opts, ln, serveParts(nil))
	}
	defer func() { startFault = nil }()

	// A whole start and stop first: it names the steps, and what the
	// runtime opens once (the poller, caches) is open before counting.
	var steps []string
	startFault = func(step string) error { steps = append(steps, step); return nil }
	d, err := start()
	if err != nil {
		t.Fatal(err)
	}
	d.life.Stop()
	if !slices.Contains(steps, "add plugins") || !slices.Contains(steps, "admin") {
		t.Fatalf("steps %q: want every part added and the admin API", steps)
	}
	leaks := goleak.IgnoreCurrent()
	fds := openFDs(t)
	injected := errors.New("injected")
	for _, at := range steps {
		t.Run(at, func(t *testing.T) {
			startFault = func(step string) error {
				if step == at {
					return injected
				}
				return nil
			}
			d, err := start()
			if !errors.Is(err, injected) || d != nil {
				t.Fatalf("start failing at %q: %v, %v; want the injected error and no daemon", at, d, err)
			}
			goleak.VerifyNone(t, leaks)
			if n := openFDs(t); n != fds {
				t.Errorf("%d file descriptors open after a failed start, %d before", n, fds)
			}
		})
	}
}
