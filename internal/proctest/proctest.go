//go:build linux

// Package proctest holds what the tests of supervise and dev share: the dev
// loop's sample app, built once per test binary and stamped per copy, a
// loader that counts failed requests, and small HTTP and file helpers. Its
// helpers are safe for concurrent use; a Loader is used by one test.
package proctest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Placeholder is the stamp the sample app is linked with; Stamp
// overwrites it in a copy of the binary, which gives a distinct binary per
// stamp without linking again (the machine is shared and slow).
const Placeholder = "@@stamp-placeholder-0123456789@@"

// Main runs a test binary's tests with the sample app built from src into a
// temporary folder (its path is given to set before any test runs), then
// fails the run if a goroutine leaked, and exits.
func Main(m *testing.M, src string, set func(sampleApp string)) {
	code := func() int {
		dir, err := os.MkdirTemp("", "proctest-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		app, err := BuildSampleApp(src, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		set(app)
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

// BuildSampleApp links the dev loop's sample app from its package src
// (dev/testdata/app, relative to the calling test) into dir, with the
// Placeholder stamp, and returns its path.
func BuildSampleApp(src, dir string) (string, error) {
	out := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.stamp="+Placeholder, "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the sample app: %v\n%s", err, b)
	}
	return out, nil
}

// Stamp writes a copy of the sample app at sample whose replies end with stamp
// (at most len(Placeholder) bytes, padded with '.') to out.
func Stamp(tb testing.TB, sample, stamp, out string) {
	tb.Helper()
	bin, err := os.ReadFile(sample)
	if err != nil {
		tb.Fatal(err)
	}
	if len(stamp) > len(Placeholder) {
		tb.Fatalf("stamp %q is longer than the Placeholder", stamp)
	}
	i := bytes.Index(bin, []byte(Placeholder))
	if i < 0 {
		tb.Fatal("the sample app has no Placeholder stamp")
	}
	copy(bin[i:], stamp+strings.Repeat(".", len(Placeholder)-len(stamp)))
	if err := os.WriteFile(out, bin, 0o755); err != nil {
		tb.Fatal(err)
	}
}

// ListenLocal returns a listener on a free loopback port.
func ListenLocal(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

// Get fetches url with a fresh connection and returns the body.
func Get(url string) (string, error) {
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

// MustGet is Get that fails the test on error.
func MustGet(tb testing.TB, url string) string {
	tb.Helper()
	body, err := Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	return body
}

// Loader sends requests from several goroutines, each in a tight loop over
// keep-alive connections, until stopped or its deadline passes. It counts
// every failed request.
type Loader struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	stop       chan struct{}
	wg         sync.WaitGroup
	transport  *http.Transport
}

// StartLoader starts a Loader of url with workers goroutines for at most
// maxDuration.
func StartLoader(url string, workers int, maxDuration time.Duration) *Loader {
	l := &Loader{stop: make(chan struct{}), transport: &http.Transport{MaxIdleConnsPerHost: workers}}
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

// OK returns how many requests were served so far.
func (l *Loader) OK() int64 { return l.ok.Load() }

// Finish stops the loader and fails the test if any request failed.
func (l *Loader) Finish(tb testing.TB) {
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

// WriteFile writes a source file the way an editor's atomic save does.
func WriteFile(tb testing.TB, path, content string) {
	tb.Helper()
	tmp := path + ".swp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}
