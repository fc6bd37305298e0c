//go:build linux

package dev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/testwait"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/supervise"
)

// startSupervisor starts s.Run, on an engine of its own unless opts has
// one, and stops and closes it at cleanup.
func startSupervisor(t *testing.T, opts Options) (*Supervisor, reports) {
	t.Helper()
	if opts.Engine == nil {
		opts.Engine = startEngine(t, hotreload.Options{})
	}
	rep := make(reports, 100)
	opts.OnReport = rep.add
	if opts.Terminal == nil {
		opts.Terminal = testWriter{t}
	}
	if opts.Process.Stdout == nil {
		opts.Process.Stdout, opts.Process.Stderr = testWriter{t}, testWriter{t}
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, rep
}

// testWriter sends output to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var versionConst = regexp.MustCompile(`const version = "([^"]*)"`)

// TestSupervisorEditsWithoutFailedRequests edits the sample app 20 times
// while 4 goroutines send requests in a tight loop: every edit is swapped
// in behind the socket, its reply is visible right after its swap, and no
// request fails. The build step stamps a prebuilt binary with the edited
// version instead of linking it 20 times; TestSupervisorGoBuild covers the
// real go build path.
func TestSupervisorEditsWithoutFailedRequests(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "version.go")
	writeFile(t, src, "package main\n\nconst version = \"v0\"\n")
	ln := listenLocal(t)
	url := "http://" + ln.Addr().String() + "/"
	_, rep := startSupervisor(t, Options{
		Dirs:     []string{root},
		Debounce: 20 * time.Millisecond,
		Process: supervise.Options{
			Listener: ln,
			Build: func(ctx context.Context, out string) error {
				b, err := os.ReadFile(src)
				if err != nil {
					return err
				}
				m := versionConst.FindSubmatch(b)
				if m == nil {
					return fmt.Errorf("no version in %s", src)
				}
				stampedApp(t, string(m[1]), out)
				return nil
			},
		},
	})
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("first start: %+v", r)
	}
	l := startLoader(url, 4, 2*time.Minute)
	var pids []int
	for i := 1; i <= 20; i++ {
		want := fmt.Sprintf("edit-%02d", i)
		writeFile(t, src, fmt.Sprintf("package main\n\nconst version = %q\n", want))
		r := rep.next(t, "program")
		if r.Result != hotreload.Committed || r.Err != nil {
			t.Fatalf("edit %d: %+v", i, r)
		}
		if got := mustGet(t, url); !strings.HasPrefix(got, "v0"+want) {
			t.Fatalf("edit %d: reply %q after the swap, want the new version %q", i, got, want)
		}
		pids = append(pids, r.PID)
	}
	l.Finish(t)
	for i := 1; i < len(pids); i++ {
		if pids[i] == pids[i-1] {
			t.Errorf("edits %d and %d ran in the same process %d", i, i+1, pids[i])
		}
	}
}

// TestSupervisorGoBuild goes through the real path: edit a file, go build,
// start, swap. A change that does not compile and one that crashes at
// start are reported (with file:line:col for the compiler's message) while
// the previous process keeps serving, and the next good edit is served.
func TestSupervisorGoBuild(t *testing.T) {
	mod := tempModule(t, "app")
	app := filepath.Join(mod, "app")
	ln := listenLocal(t)
	url := "http://" + ln.Addr().String() + "/"
	s, rep := startSupervisor(t, Options{
		Dirs:     []string{app},
		Debounce: 20 * time.Millisecond,
		Process:  supervise.Options{Listener: ln},
	})
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("first build: %+v", r)
	}
	if got := mustGet(t, url); !strings.HasPrefix(got, "v0 ") {
		t.Fatalf("first reply %q", got)
	}
	l := startLoader(url, 2, 3*time.Minute)
	defer l.Finish(t)

	writeFile(t, filepath.Join(app, "version.go"), "package main\n\nconst version = \"v1\"\n")
	r := rep.next(t, "program")
	if r.Result != hotreload.Committed {
		t.Fatalf("edit v1: %+v", r)
	}
	if !strings.Contains(strings.Join(r.Packages, ","), "example.com/sample/app") {
		t.Errorf("edit v1: packages %q, want the app's", r.Packages)
	}
	if got := mustGet(t, url); !strings.HasPrefix(got, "v1 ") {
		t.Fatalf("reply %q after the edit, want v1", got)
	}
	pid, _ := s.Process().Live()

	t.Run("CommentOnly", func(t *testing.T) {
		// The comment changes within its line: the build ID changes, the
		// code does not, and nothing restarts.
		main := filepath.Join(app, "main.go")
		b, err := os.ReadFile(main)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(b), "// a slow start:", "// a late start:", 1)
		if edited == string(b) {
			t.Fatal("the sample app's comment moved; update the test")
		}
		writeFile(t, main, edited)
		r := rep.next(t, "program")
		if r.Result != hotreload.Unchanged || r.Err != nil {
			t.Fatalf("report %+v, want unchanged", r)
		}
		if now, _ := s.Process().Live(); now != pid {
			t.Fatalf("the program restarted (pid %d, then %d) for a comment", pid, now)
		}
	})
	t.Run("ErrCompile", func(t *testing.T) {
		writeFile(t, filepath.Join(app, "version.go"), "package main\n\nconst version = v2 +\n")
		r := rep.next(t, "program")
		if r.Result != hotreload.Rejected || r.Err == nil {
			t.Fatalf("report %+v, want rejected", r)
		}
		details := hotreload.ErrorDetails(r.Err)
		if len(details) == 0 || details[0].File != filepath.Join(app, "version.go") || details[0].Line == 0 || details[0].Column == 0 {
			t.Fatalf("details %v, want version.go:LINE:COL", details)
		}
		if got := mustGet(t, url); !strings.HasPrefix(got, "v1 ") || !strings.Contains(got, fmt.Sprintf("pid=%d", pid)) {
			t.Fatalf("reply %q, want v1 from pid %d", got, pid)
		}
	})
	t.Run("ErrCrashAtStart", func(t *testing.T) {
		writeFile(t, filepath.Join(app, "version.go"), "package main\n\nconst version = \"v2\"\n\nfunc init() { panic(\"boom at start\") }\n")
		r := rep.next(t, "program")
		if r.Result != hotreload.Rejected || r.Err == nil || !strings.Contains(r.Err.Error(), "exited before it was ready") {
			t.Fatalf("report %+v, want a crash before ready", r)
		}
		if !strings.Contains(fmt.Sprint(hotreload.ErrorDetails(r.Err)), "boom at start") {
			t.Errorf("details %v do not carry the panic", hotreload.ErrorDetails(r.Err))
		}
		if got := mustGet(t, url); !strings.HasPrefix(got, "v1 ") || !strings.Contains(got, fmt.Sprintf("pid=%d", pid)) {
			t.Fatalf("reply %q, want v1 from pid %d", got, pid)
		}
	})
	writeFile(t, filepath.Join(app, "version.go"), "package main\n\nconst version = \"v3\"\n")
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("edit v3: %+v", r)
	}
	if got := mustGet(t, url); !strings.HasPrefix(got, "v3 ") {
		t.Fatalf("reply %q, want v3", got)
	}
}

// TestSupervisorPluginEdit edits a Wasm plugin's source: only the plugin is
// rebuilt and swapped through a real plugin.Host, the program keeps its
// process, and an edit of a file no program depends on rebuilds nothing.
func TestSupervisorPluginEdit(t *testing.T) {
	mod := tempModule(t, "app", "greet")
	pluginDir := t.TempDir()
	// The plugin host is a target of the supervisor's engine, as in hotreload dev.
	engine := startEngine(t, hotreload.Options{})
	host, err := plugin.New(plugin.Options{Dir: pluginDir, Submit: engine.Reload})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close(context.Background())
	if _, err := engine.Add(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	ln := listenLocal(t)
	s, rep := startSupervisor(t, Options{
		Engine:   engine,
		Dirs:     []string{mod},
		Package:  "./app",
		Debounce: 20 * time.Millisecond,
		// The program's packages are listed for real; its build is a copy
		// of the prebuilt app.
		Process: supervise.Options{Listener: ln, Build: func(ctx context.Context, out string) error {
			stampedApp(t, "", out)
			return nil
		}},
		Plugins:   []PluginSource{{Name: "greet", Dir: filepath.Join(mod, "greet")}},
		PluginDir: pluginDir,
		OnPlugin: func(ctx context.Context, name string) error {
			o, err := host.Load(ctx, name, hotreload.Request{Source: "builder"})
			if err == nil && o.Result != hotreload.Committed {
				err = fmt.Errorf("plugin %s: %s: %s", name, o.Result, o.Reason)
			}
			return err
		},
	})
	if r := rep.next(t, "plugin greet"); r.Result != hotreload.Committed {
		t.Fatalf("first plugin build: %+v", r)
	}
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("first program build: %+v", r)
	}
	call := func() string {
		out, err := host.Call(context.Background(), "greet", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if got := call(); got != `"hello v0"` {
		t.Fatalf("plugin answered %s", got)
	}
	pid, _ := s.Process().Live()

	writeFile(t, filepath.Join(mod, "greet", "greeting.go"), "package main\n\nconst greeting = \"hello v1\"\n")
	if r := rep.next(t, "plugin greet"); r.Result != hotreload.Committed {
		t.Fatalf("plugin edit: %+v", r)
	}
	if got := call(); got != `"hello v1"` {
		t.Fatalf("plugin answered %s after the edit", got)
	}
	// A file in no program's packages: nothing is rebuilt.
	writeFile(t, filepath.Join(mod, "greet", "notes.tmpl"), "not embedded")
	writeFile(t, filepath.Join(mod, "greet", "greeting_test.go"), "package main\n")
	select {
	case r := <-rep:
		t.Fatalf("unrelated edits rebuilt %s", r.Unit)
	case <-time.After(500 * time.Millisecond):
	}
	if now, _ := s.Process().Live(); now != pid {
		t.Fatalf("the program restarted (pid %d, then %d) for a plugin edit", pid, now)
	}
	mustGet(t, "http://"+ln.Addr().String()+"/")
}

// TestSupervisorGitignore: changes to ignored files trigger nothing.
func TestSupervisorGitignore(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, ".gitignore"), "/generated/\n*_gen.go\n")
	writeFile(t, filepath.Join(root, "main.go"), "package main\n")
	builds := 0
	_, rep := startSupervisor(t, Options{
		Dirs:     []string{root},
		Debounce: 20 * time.Millisecond,
		Process: supervise.Options{Listener: listenLocal(t), Build: func(ctx context.Context, out string) error {
			builds++
			stampedApp(t, fmt.Sprint(builds), out)
			return nil
		}},
	})
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("first start: %+v", r)
	}
	if err := os.MkdirAll(filepath.Join(root, "generated"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "generated", "x.go"), "package generated\n")
	writeFile(t, filepath.Join(root, "zz_gen.go"), "package main\n")
	select {
	case r := <-rep:
		t.Fatalf("an ignored file triggered a rebuild: %+v", r)
	case <-time.After(500 * time.Millisecond):
	}
	writeFile(t, filepath.Join(root, "main.go"), "package main\n\n// edited\n")
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("edit: %+v", r)
	}
}

// TestSupervisorBuildsFromTheFirstChange: the build starts at the first
// save, before the quiet period ends, and a second save within it cancels
// that build and starts another: one transaction serves the second save.
func TestSupervisorBuildsFromTheFirstChange(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "version.go")
	writeFile(t, src, "package main\n\nconst version = \"v0\"\n")
	ln := listenLocal(t)
	started := make(chan string, 10)
	cancelled := make(chan string, 10)
	_, rep := startSupervisor(t, Options{
		Dirs:     []string{root},
		Debounce: 2 * time.Second,
		Process: supervise.Options{Listener: ln, Build: func(ctx context.Context, out string) error {
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			version := string(versionConst.FindSubmatch(b)[1])
			started <- version
			if version == "slow" {
				<-ctx.Done() // a long build: only a cancel ends it
				cancelled <- version
				return ctx.Err()
			}
			stampedApp(t, version, out)
			return nil
		}},
	})
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("first start: %+v", r)
	}
	if v := <-started; v != "v0" {
		t.Fatalf("first build of %q", v)
	}
	saved := time.Now()
	writeFile(t, src, "package main\n\nconst version = \"slow\"\n")
	select {
	case v := <-started:
		if v != "slow" {
			t.Fatalf("build of %q, want the first save's", v)
		}
		if d := time.Since(saved); d >= 2*time.Second {
			t.Errorf("the build started %s after the save, not before the quiet period ended", d)
		}
	case <-time.After(testwait.D(10 * time.Second)):
		t.Fatal("no build started at the first save")
	}
	writeFile(t, src, "package main\n\nconst version = \"v2\"\n")
	select {
	case <-cancelled:
	case <-time.After(testwait.D(10 * time.Second)):
		t.Fatal("the second save did not cancel the first build")
	}
	r := rep.next(t, "program")
	if r.Result != hotreload.Committed {
		t.Fatalf("report %+v, want the second save committed", r)
	}
	if got := mustGet(t, "http://"+ln.Addr().String()+"/"); !strings.HasPrefix(got, "v0v2") {
		t.Fatalf("reply %q, want v2", got)
	}
	if v := <-started; v != "v2" {
		t.Fatalf("build of %q, want v2", v)
	}
	select {
	case v := <-started:
		t.Fatalf("another build, of %q: the transaction did not take the early build", v)
	case r := <-rep:
		t.Fatalf("another report: %+v", r)
	default:
	}
}

// TestSupervisorSaysABuildIsStillRunning: while a build runs long, the
// terminal hears every buildProgressEvery that it is still running.
func TestSupervisorSaysABuildIsStillRunning(t *testing.T) {
	defer func(d time.Duration) { buildProgressEvery = d }(buildProgressEvery)
	buildProgressEvery = 20 * time.Millisecond
	term := &testwait.Output{}
	const line = "hotreload: program: still building ("
	_, rep := startSupervisor(t, Options{
		Dirs:     []string{t.TempDir()},
		Terminal: term,
		Process: supervise.Options{Listener: listenLocal(t), Build: func(ctx context.Context, out string) error {
			// A long build: it ends when the terminal has said so twice.
			for deadline := time.Now().Add(testwait.D(30 * time.Second)); strings.Count(term.String(), line) < 2; {
				if time.Now().After(deadline) {
					return errors.New("no progress line within 30 s")
				}
				time.Sleep(time.Millisecond)
			}
			stampedApp(t, "v0", out)
			return nil
		}},
	})
	if r := rep.next(t, "program"); r.Result != hotreload.Committed {
		t.Fatalf("the build: %+v\nterminal:\n%s", r, term.String())
	}
}
