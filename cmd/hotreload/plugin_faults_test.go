package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// historyAnswer is the part of GET /api/v1/history the plugin fault test
// reads.
type historyAnswer struct {
	Versions []struct {
		Version uint64 `json:"version"`
		Source  string `json:"source"`
		Result  string `json:"result"`
		Reason  string `json:"reason"`
		Targets []struct {
			Target  string            `json:"target"`
			Changed bool              `json:"changed"`
			Meta    map[string]string `json:"meta"`
		} `json:"targets"`
	} `json:"versions"`
}

// TestDemoPluginFaults runs the demo on the real binary with its plugin
// prebuilt, and replaces the plugin's module while the app serves:
//   - a module that loops in every call: no reply fails or changes, its
//     timed-out calls count as exceptions, and the health gate rolls it back
//     to the previous module;
//   - a module that passes its window and starts failing after commit (on
//     input it cannot take): it is quarantined, and one committed
//     transaction of source "quarantine" puts the last good module back,
//     with an event on the stream and a metric.
func TestDemoPluginFaults(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	shout := filepath.Join(plugins, "shout.wasm")
	install := func(pkg string) {
		t.Helper()
		wasm, err := os.ReadFile(plugintest.Build(t, pkg))
		if err != nil {
			t.Fatal(err)
		}
		plugintest.WriteFile(t, shout, wasm)
	}
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile("../../examples/plugins/shout/shout.json")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(plugins, "shout.json"), string(manifest))
	install("../../examples/plugins/shout")
	// Build the faulty modules before the demo starts: builds take a while.
	plugintest.Build(t, "../../plugin/testdata/spin")
	plugintest.Build(t, "../../plugin/testdata/picky")

	// The start transaction compiles the module already in the folder
	// before the banner: a minute under the race detector on a busy machine.
	p := startWithin(t, 2*time.Minute, "demo", "--dir", dir, "--listen", "127.0.0.1:0", "--app-listen", "127.0.0.1:0", "--health-window", "3s")
	admin, app := p.urls["admin"], p.urls["app"]
	var failed atomic.Int64
	greeting := func() string {
		var g struct {
			Message string `json:"message"`
		}
		if code := call(t, "GET", app+"/api/greeting", "", &g); code != 200 {
			failed.Add(1)
			t.Errorf("GET /api/greeting = %d", code)
		}
		return g.Message
	}
	testwait.For(t, "the plugin's decoration", time.Minute, func() bool { return greeting() == "Hello, world! ✨" })
	history := func(what string, match func(source, result string, plugins bool) bool) {
		t.Helper()
		testwait.Until(t, what, time.Minute, func() error {
			var h historyAnswer
			call(t, "GET", admin+"/api/v1/history", "", &h)
			for _, v := range h.Versions {
				plugins := false
				for _, tg := range v.Targets {
					plugins = plugins || (tg.Target == "plugins" && tg.Changed)
				}
				if match(v.Source, v.Result, plugins) {
					return nil
				}
			}
			return fmt.Errorf("history %+v", h)
		})
	}

	// A module that loops in every call, under load.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served atomic.Int64
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if g := greeting(); g != "Hello, world! ✨" && g != "Hello, world!" {
					t.Errorf("greeting under load %q", g)
				}
				served.Add(1)
			}
		})
	}
	install("../../plugin/testdata/spin")
	history("the looping module rolled back by the health gate", func(source, result string, plugins bool) bool {
		return source == "watch" && result == "rolled_back" && plugins
	})
	close(stop)
	wg.Wait()
	var h historyAnswer
	call(t, "GET", admin+"/api/v1/history", "", &h)
	if last := h.Versions[len(h.Versions)-1]; !strings.Contains(last.Reason, "exception rate") || !strings.Contains(last.Reason, "exceeded its time limit of 250ms") {
		t.Fatalf("rollback reason %q, want the exception rate of the plugin's timed-out calls", last.Reason)
	}
	if g := greeting(); g != "Hello, world! ✨" {
		t.Fatalf("greeting after the rollback %q, want the previous module's", g)
	}
	t.Logf("%d requests served while the looping module was live, %d failed", served.Load(), failed.Load())

	// A module that fails after commit: it echoes, so the greeting loses
	// its decoration, and panics on any input with "boom".
	install("../../plugin/testdata/picky")
	history("the picky module committed", func(source, result string, plugins bool) bool {
		return source == "watch" && result == "committed" && plugins
	})
	waitStatus(t, admin, "the picky module's window closed", func(s statusAnswer) bool { return s.Applied == 0 })
	if g := greeting(); g != "Hello, world!" {
		t.Fatalf("greeting through the picky module %q", g)
	}
	base := waitStatus(t, admin, "idle", func(s statusAnswer) bool { return s.Applied == 0 }).Active
	file := filepath.Join(dir, "config.yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, file, strings.Replace(string(b), "name: world", "name: boom", 1))
	waitStatus(t, admin, "the config edit committed", func(s statusAnswer) bool { return s.Active > base && s.Applied == 0 })
	commits := reloads(t, admin)
	events := follow(t, admin+"/api/v1/events")

	testwait.For(t, "the last good module back", time.Minute, func() bool { return greeting() == "Hello, boom! ✨" })
	history("the return from quarantine", func(source, result string, plugins bool) bool {
		return source == "quarantine" && result == "committed" && plugins
	})
	testwait.For(t, "the return's event on the stream", 30*time.Second, func() bool {
		return strings.Contains(events.String(), `"source":"quarantine"`)
	})
	if got := reloads(t, admin); got != commits+1 {
		t.Errorf(`hotreload_reloads_total{result="committed",target="plugins"} = %d, want %d`, got, commits+1)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
}

var reloadsLine = regexp.MustCompile(`(?m)^hotreload_reloads_total\{result="committed",target="plugins"\} (\d+)$`)

// reloads reads the committed transactions of the plugins target from
// /metrics.
func reloads(t *testing.T, admin string) int {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := reloadsLine.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no committed plugins line in /metrics:\n%s", b)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// follow reads an event stream into a buffer until the test ends.
func follow(t *testing.T, url string) *testwait.Output {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := &testwait.Output{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			fmt.Fprintln(buf, sc.Text())
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return buf
}
