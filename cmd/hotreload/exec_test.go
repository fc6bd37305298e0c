//go:build linux

package main_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeExecUpgradesWithoutDroppingARequest runs serve --exec on the dev
// loop's sample app, replaces the binary on disk and reloads through the API
// while a loader keeps calling the app: the new binary serves, and no request
// fails.
func TestServeExecUpgradesWithoutDroppingARequest(t *testing.T) {
	dir, file := workspace(t, "name: one\nrps: 5\n")
	bin := filepath.Join(dir, "app")
	build := func(stamp string) {
		t.Helper()
		tmp := bin + ".new"
		cmd := exec.Command("go", "build", "-o", tmp, "-ldflags", "-X main.stamp="+stamp, "../../dev/testdata/app")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the app: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, bin); err != nil { // as a deploy would: atomically
			t.Fatal(err)
		}
	}
	build("-one")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	appAddr := ln.Addr().String()
	ln.Close()
	p := start(t, "serve", "--config", file, "--schema", filepath.Join(dir, "schema.json"),
		"--mode", "dev", "--watch=false", "--listen", "127.0.0.1:0", "--health-window", "200ms",
		"--exec", bin, "--app-listen", appAddr)
	admin, app := p.urls["admin"], "http://"+appAddr+"/"

	get := func() (string, error) {
		resp, err := http.Get(app)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("status %d", resp.StatusCode)
		}
		return string(b), err
	}
	if body, err := get(); err != nil || !strings.HasPrefix(body, "v0-one") {
		t.Fatalf("first reply %q, %v", body, err)
	}

	var stop atomic.Bool
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000 && !stop.Load(); i++ {
				if _, err := get(); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	build("-two")
	var o struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	}
	code := call(t, "POST", admin+"/api/v1/reload", `{"targets":["app"]}`, &o)
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if code != 200 || o.Result != "committed" {
		t.Fatalf("reload: %d %+v", code, o)
	}
	if body, err := get(); err != nil || !strings.HasPrefix(body, "v0-two") {
		t.Fatalf("reply after the upgrade %q, %v", body, err)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during the upgrade; first: %v", failed.Load(), ok.Load()+failed.Load(), firstErr.Load())
	}
	t.Logf("%d requests during the upgrade, none failed", ok.Load())
}
