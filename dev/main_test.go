//go:build linux

package dev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
)

// placeholder is the stamp the sample app is linked with; stampedApp
// overwrites it in a copy of the binary, which gives a distinct binary per
// stamp without linking again (the machine is shared and slow).
const placeholder = "@@stamp-placeholder-0123456789@@"

var (
	repoRoot  string // the module's root, for temporary modules' replace
	sampleApp string // the sample app, linked once with the placeholder stamp
	binDir    string
)

func TestMain(m *testing.M) {
	code := func() int {
		var err error
		if repoRoot, err = filepath.Abs(".."); err != nil {
			panic(err)
		}
		if binDir, err = os.MkdirTemp("", "dev-test-"); err != nil {
			panic(err)
		}
		defer os.RemoveAll(binDir)
		sampleApp = filepath.Join(binDir, "app")
		cmd := exec.Command("go", "build", "-ldflags", "-X main.stamp="+placeholder, "-o", sampleApp, "./testdata/app")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building the sample app: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// stampedApp writes a copy of the sample app whose replies end with stamp
// (at most len(placeholder) bytes, padded with '.') to out.
func stampedApp(tb testing.TB, stamp, out string) {
	tb.Helper()
	bin, err := os.ReadFile(sampleApp)
	if err != nil {
		tb.Fatal(err)
	}
	if len(stamp) > len(placeholder) {
		tb.Fatalf("stamp %q is longer than the placeholder", stamp)
	}
	i := bytes.Index(bin, []byte(placeholder))
	if i < 0 {
		tb.Fatal("the sample app has no placeholder stamp")
	}
	copy(bin[i:], stamp+strings.Repeat(".", len(placeholder)-len(stamp)))
	if err := os.WriteFile(out, bin, 0o755); err != nil {
		tb.Fatal(err)
	}
}

// startEngine runs an engine with opts on history kept in memory until the
// test ends.
func startEngine(t *testing.T, opts hotreload.Options) *hotreload.Engine {
	t.Helper()
	store, err := history.Memory(history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts.History = store
	e := hotreload.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("engine: %v", err)
		}
		store.Close()
	})
	return e
}

// listenLocal returns a listener on a free loopback port.
func listenLocal(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

// get fetches url with a fresh connection and returns the body.
func get(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), nil
}

// mustGet is get that fails the test on error.
func mustGet(tb testing.TB, url string) string {
	tb.Helper()
	body, err := get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	return body
}

// loader sends requests from several goroutines, each in a tight loop over
// keep-alive connections, until stopped or its deadline passes. It counts
// every failed request.
type loader struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	stop       chan struct{}
	wg         sync.WaitGroup
	transport  *http.Transport
}

func startLoader(url string, workers int, maxDuration time.Duration) *loader {
	l := &loader{stop: make(chan struct{}), transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	client := &http.Client{Timeout: 10 * time.Second, Transport: l.transport}
	deadline := time.Now().Add(maxDuration)
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for time.Now().Before(deadline) {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 10 {
						l.errs = append(l.errs, time.Now().Format("15:04:05.000 ")+err.Error())
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
				runtime.Gosched()
			}
		}()
	}
	return l
}

// finish stops the loader and fails the test if any request failed.
func (l *loader) finish(tb testing.TB) {
	tb.Helper()
	close(l.stop)
	l.wg.Wait()
	l.transport.CloseIdleConnections()
	tb.Logf("loader: %d requests served, %d failed", l.ok.Load(), l.failed.Load())
	if n := l.failed.Load(); n > 0 {
		tb.Errorf("%d requests failed, first errors: %q", n, l.errs)
	}
	if l.ok.Load() == 0 {
		tb.Error("the loader sent no successful request")
	}
}

// reports collects a Supervisor's reports.
type reports chan Report

func (r reports) add(rep Report) { r <- rep }

// next waits for the next report of unit.
func (r reports) next(tb testing.TB, unit string) Report {
	tb.Helper()
	timeout := time.After(90 * time.Second)
	for {
		select {
		case rep := <-r:
			if rep.Unit == unit {
				return rep
			}
		case <-timeout:
			tb.Fatalf("no report for %s after 90s", unit)
		}
	}
}

// writeFile writes a source file the way an editor's atomic save does.
func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	tmp := path + ".swp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// tempModule copies the testdata package dirs into a fresh module that
// requires this repository through a replace directive, so tests can edit
// and build them without touching the repository.
func tempModule(tb testing.TB, dirs ...string) string {
	tb.Helper()
	root := tb.TempDir()
	for _, d := range dirs {
		ents, err := os.ReadDir(filepath.Join("testdata", d))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("testdata", d, e.Name()))
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, d, e.Name()), b, 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
	gomod := "module example.com/sample\n\ngo 1.26.0\n\nrequire github.com/cybercorp/hotreload v0.0.0\n\nreplace github.com/cybercorp/hotreload => " + strconv.Quote(repoRoot) + "\n"
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte(gomod), 0o644); err != nil {
		tb.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(repoRoot, "go.sum"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.sum"), sum, 0o644); err != nil {
		tb.Fatal(err)
	}
	// Completes the temporary module's go.mod from the module cache.
	cmd := exec.Command("go", "list", "-mod=mod", "-deps", "./...")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("preparing the temporary module: %v\n%s", err, out)
	}
	return root
}

// syscallKill kills pid with SIGKILL.
func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
