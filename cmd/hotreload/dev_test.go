//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/testwait"
)

// TestDevCommand runs `hotreload dev` on a copy of the sample app: it
// serves the first build; an edit is served after the swap and shows as a
// code reload event in GET /api/v1/events, a version in GET
// /api/v1/history and hotreload_reloads_total{target="app"} in /metrics of
// the admin API beside the app; a comment-only edit restarts nothing; and
// an interrupt leaves no process behind and prints nothing alarming.
func TestDevCommand(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"main.go", "version.go"} {
		data, err := os.ReadFile(filepath.Join(repo, "dev", "testdata", "app", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), fmt.Appendf(nil, "module example.com/sample\n\ngo 1.26.0\n\nrequire github.com/cybercorp/hotreload v0.0.0\n\nreplace github.com/cybercorp/hotreload => %q\n", repo), 0o644)
	sum, _ := os.ReadFile(filepath.Join(repo, "go.sum"))
	os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
	list := exec.Command("go", "list", "-mod=mod", "-deps", ".")
	list.Dir = dir
	if out, err := list.CombinedOutput(); err != nil {
		t.Fatalf("preparing the sample module: %v\n%s", err, out)
	}

	addr, adminAddr := freeAddr(t), freeAddr(t)
	var out testwait.Output
	cmd := newDevCmd()
	cmd.SetArgs([]string{"--watch", dir, "--listen", addr, "--ui", adminAddr, "--debounce", "20ms"})
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(url string) (string, error) {
		resp, err := client.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
		}
		return string(body), err
	}
	serving := func(want string) func() error {
		return func() error {
			body, err := get("http://" + addr + "/")
			if err == nil && !strings.HasPrefix(body, want+" ") {
				err = fmt.Errorf("serving %q, want %s", body, want)
			}
			return err
		}
	}
	testwait.Until(t, "v0 served", testwait.D(2*time.Minute), serving("v0"))
	pid := func() string {
		body, _ := get("http://" + addr + "/")
		_, p, _ := strings.Cut(strings.TrimSpace(body), "pid=")
		return p
	}
	first := pid()

	// The event stream, opened before the edit.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	codeEvents := make(chan hotreload.CodeReloadEvent, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			var ev hotreload.CodeReloadEvent
			if ok && json.Unmarshal([]byte(data), &ev) == nil && ev.Type == hotreload.TypeCodeReload && ev.Source == "builder" {
				codeEvents <- ev
			}
		}
	}()

	os.WriteFile(filepath.Join(dir, "version.go"), []byte("package main\n\nconst version = \"v1\"\n"), 0o644)
	testwait.Until(t, "v1 served", testwait.D(2*time.Minute), serving("v1"))
	select {
	case ev := <-codeEvents:
		if ev.Target != "app" || ev.Result != hotreload.Committed || !slices.Contains(ev.Modules, "example.com/sample") {
			t.Errorf("code reload event %+v, want app committed with module example.com/sample", ev)
		}
	case <-time.After(testwait.D(30 * time.Second)):
		t.Fatalf("no code reload event; output:\n%s", out.String())
	}
	history, err := get("http://" + adminAddr + "/api/v1/history")
	if err != nil || !strings.Contains(history, `"app"`) || !strings.Contains(history, `"committed"`) || !strings.Contains(history, `"builder"`) {
		t.Errorf("history %s, %v: want the build's committed version", history, err)
	}
	metrics, err := get("http://" + adminAddr + "/metrics")
	if err != nil || !regexp.MustCompile(`hotreload_reloads_total\{[^}]*target="app"[^}]*\} [1-9]`).MatchString(metrics) {
		t.Errorf("metrics lack hotreload_reloads_total of app: %v", err)
	}
	if pid() == first {
		t.Errorf("the edit was served by the first process %s", first)
	}

	// A comment edited within its line: the same binary, nothing restarts.
	second := pid()
	main, _ := os.ReadFile(filepath.Join(dir, "main.go"))
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(strings.Replace(string(main), "// a slow start:", "// a late start:", 1)), 0o644)
	testwait.Until(t, "the comment edit built", testwait.D(2*time.Minute), func() error {
		if !strings.Contains(out.String(), "the build is unchanged") {
			return errors.New("not yet")
		}
		return nil
	})
	if now := pid(); now != second {
		t.Errorf("a comment edit restarted the program: pid %s, then %s", second, now)
	}

	// kill -9 of the app under load: its group is killed, the same build
	// starts again, and every request sent after the kill waits in the
	// socket's queue and is answered (one the dead process had already
	// read is lost with it).
	killed, _ := strconv.Atoi(second)
	var failed, killedAt atomic.Int64
	var sent sync.WaitGroup
	stopLoad := make(chan struct{})
	for range 4 {
		sent.Add(1)
		go func() {
			defer sent.Done()
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				start := time.Now().UnixNano()
				if _, err := get("http://" + addr + "/"); err != nil && killedAt.Load() != 0 && start > killedAt.Load() {
					failed.Add(1)
				}
			}
		}()
	}
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt.Store(time.Now().UnixNano())
	testwait.Until(t, "the restart", testwait.D(30*time.Second), func() error {
		if !strings.Contains(out.String(), "restarted the last good build") {
			return errors.New("not yet")
		}
		return nil
	})
	testwait.Until(t, "v1 served again", testwait.D(10*time.Second), serving("v1"))
	close(stopLoad)
	sent.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d requests sent after the kill failed", n)
	}
	if now := pid(); now == second {
		t.Errorf("pid %s still serves after kill -9", now)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("process %d exited: signal: killed; nothing serves: restarting", killed)) {
		t.Errorf("the crash is not reported truthfully:\n%s", out.String())
	}

	before := len(out.String())
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev: %v\n%s", err, out.String())
		}
	case <-time.After(testwait.D(30 * time.Second)):
		t.Fatal("dev did not stop after its context was cancelled")
	}
	if _, err := client.Get("http://" + addr + "/"); err == nil {
		t.Fatal("the app still answers after dev stopped")
	}
	if !strings.Contains(out.String(), "serving the new build") {
		t.Errorf("output does not report the swap:\n%s", out.String())
	}
	stop := out.String()[before:]
	for _, alarming := range []string{"WARN", "ERROR", "signal: killed", "exited"} {
		if strings.Contains(stop, alarming) {
			t.Errorf("the stop printed %q:\n%s", alarming, stop)
		}
	}
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	return probe.Addr().String()
}

func TestDevCommandErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"ErrPluginFlag": {"--plugin", "nodir", "--ui", "off", "--listen", "127.0.0.1:0"},
		"ErrMode":       {"--mode", "magic", "--ui", "off", "--listen", "127.0.0.1:0"},
		"ErrListen":     {"--listen", "256.0.0.1:1", "--ui", "off"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := newDevCmd()
			cmd.SetArgs(append(args, "--watch", t.TempDir()))
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			if err := cmd.ExecuteContext(context.Background()); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
