//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDevCommand runs `hotreload dev` on a copy of the sample app: it
// serves the first build, serves an edit after the swap, and leaves no
// process behind when it is interrupted.
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

	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	var out lockedBuffer
	cmd := newDevCmd()
	cmd.SetArgs([]string{"--watch", dir, "--listen", addr, "--ui", "off", "--debounce", "20ms"})
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			resp, err := client.Get("http://" + addr + "/")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.HasPrefix(string(body), want+" ") {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not served; output:\n%s", want, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("v0")
	os.WriteFile(filepath.Join(dir, "version.go"), []byte("package main\n\nconst version = \"v1\"\n"), 0o644)
	waitFor("v1")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop after its context was cancelled")
	}
	if _, err := client.Get("http://" + addr + "/"); err == nil {
		t.Fatal("the app still answers after dev stopped")
	}
	if !strings.Contains(out.String(), "serving the new build") {
		t.Errorf("output does not report the swap:\n%s", out.String())
	}
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
