package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/cybercorp/hotreload/internal/testwait"
	"github.com/cybercorp/hotreload/plugin/plugintest"
	"github.com/cybercorp/hotreload/secret"
)

// TestSecretsNeverInClear writes unique plaintexts through each path a
// secret can take (a schema error on an encrypted value, a plugin setting
// and its change, a PATCH setting a secret in plaintext, a restart) on the real binary, then looks for them
// in every output: API answers, the event stream, the history command,
// logs, the data dir,
// the audit log, /metrics and the config file.
func TestSecretsNeverInClear(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "age.key")
	if out, err := exec.Command(binary, "secret", "keygen", "--out", key).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v %s", err, out)
	}
	ids, err := secret.LoadIdentities(key)
	if err != nil {
		t.Fatal(err)
	}
	recipient := ids[0].(*age.X25519Identity).Recipient()
	encrypt := func(s string) string {
		t.Helper()
		v, err := secret.Encrypt([]byte(s), recipient)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	unique := strings.ReplaceAll(filepath.Base(dir), "Test", "")
	leaks := map[string]string{
		"schema error": "LeakyS3cret-42-" + unique,
		"patch":        "PlainPatchedPW99-" + unique,
		"plugin":       "PluginSuffix77-" + unique,
		"plugin diff":  "PluginSuffix88-" + unique,
		// A plugin setting its manifest marks secret: a value that fails
		// its pattern, and one PATCHed in plaintext.
		"plugin schema error": "PluginKey!Bad-" + unique,
		"plugin patch":        "PluginKeyPatched-" + unique,
	}
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(plugins, "echo.wasm"), string(plugintest.Echo()))
	writeFile(t, filepath.Join(plugins, "echo.json"), `{"name": "echo", "config_schema": {"type": "object", "properties": {
		"suffix": {"type": "string"}, "key": {"type": "string", "x-secret": true, "pattern": "^[A-Za-z0-9-]+$"}}}}`)
	file := filepath.Join(dir, "app.yaml")
	schema := filepath.Join(dir, "schema.json")
	dataDir := filepath.Join(dir, "data")
	writeFile(t, schema, `{"type": "object", "properties": {"name": {"type": "string"}, "rps": {"type": "integer"},
		"password": {"type": "string", "pattern": "^[a-z]+$"}, "token": {"type": "string", "x-secret": true}}}`)
	pluginSection := func(s string) string { return "plugins:\n  echo:\n    suffix: " + encrypt(s) + "\n" }
	writeFile(t, file, "name: one\nrps: 5\npassword: "+encrypt("good")+"\n"+pluginSection(leaks["plugin"]))
	args := []string{"serve", "--config", file, "--schema", schema, "--data-dir", dataDir, "--age-identity", key, "--plugins", plugins,
		"--mode", "dev", "--listen", "127.0.0.1:0", "--debounce", "0", "--health-window", "100ms"}
	p := start(t, args...)
	admin := p.urls["admin"]
	events, eventsDone := &testwait.Output{}, make(chan struct{})
	resp, err := http.Get(admin + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(eventsDone)
		defer resp.Body.Close()
		_, _ = io.Copy(events, resp.Body) // until the daemon stops
	}()

	// A secret that fails its pattern is rejected without being shown.
	writeFile(t, file, "name: one\nrps: 5\npassword: "+encrypt(leaks["schema error"])+"\n"+pluginSection(leaks["plugin"]))
	st := waitStatus(t, admin, "a rejection", func(s statusAnswer) bool { return s.Last != nil && s.Last.Result == "rejected" })
	if len(st.Last.Errors) != 1 || !strings.Contains(st.Last.Errors[0].Message, secret.Redacted) {
		t.Fatalf("errors %+v, want one that says %s", st.Last.Errors, secret.Redacted)
	}
	// A plugin setting changes: the plugin target gets a new snapshot.
	writeFile(t, file, "name: one\nrps: 6\npassword: "+encrypt("good")+"\n"+pluginSection(leaks["plugin diff"]))
	rejected := st.Last.Version
	waitStatus(t, admin, "the next version", func(s statusAnswer) bool { return s.Active > rejected })

	// A PATCH setting a secret in plaintext is encrypted before write-back.
	var o struct {
		Result string `json:"result"`
	}
	if code := call(t, "PATCH", admin+"/api/v1/config", `{"token": "`+leaks["patch"]+`"}`, &o); code != 200 || o.Result != "committed" {
		t.Fatalf("PATCH: %d %+v", code, o)
	}
	// The same for a plugin setting its manifest marks secret; one that
	// fails the manifest's pattern is refused without being shown.
	var refused struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if code := call(t, "PATCH", admin+"/api/v1/config", `{"plugins": {"echo": {"key": "`+leaks["plugin schema error"]+`"}}}`, &refused); code != 422 ||
		len(refused.Errors) != 1 || !strings.Contains(refused.Errors[0].Message, secret.Redacted) {
		t.Fatalf("PATCH of a plugin secret that fails its pattern: %d %+v", code, refused)
	}
	if code := call(t, "PATCH", admin+"/api/v1/config", `{"plugins": {"echo": {"key": "`+leaks["plugin patch"]+`"}}}`, &o); code != 200 || o.Result != "committed" {
		t.Fatalf("PATCH of a plugin secret: %d %+v", code, o)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`token: "?ENC\[age:`).Match(src) || !regexp.MustCompile(`key: "?ENC\[age:`).Match(src) {
		t.Fatalf("the config file was not written back encrypted:\n%s", src)
	}

	// Restart: the secrets load again, still redacted.
	testwait.For(t, "the PATCH's event on the stream", 10*time.Second, func() bool { return strings.Contains(events.String(), "/token") })
	stop(t, p)
	<-eventsDone
	firstLogs := p.stdout.String() + p.stderr.String()
	p = start(t, args...)
	admin = p.urls["admin"]
	var cfg configAnswer
	call(t, "GET", admin+"/api/v1/config", "", &cfg)
	if cfg.Data["token"] != secret.Redacted || cfg.Data["password"] != secret.Redacted {
		t.Fatalf("config after restart %+v", cfg.Data)
	}

	// Every output, then.
	outputs := map[string]string{"config file": string(src), "events": events.String(), "first run's logs": firstLogs, "stdout": p.stdout.String(), "stderr": p.stderr.String()}
	paths := []string{"/api/v1/config", "/api/v1/status", "/api/v1/history", "/metrics", "/api/v1/audit"}
	for a := 1; a <= 9; a++ {
		paths = append(paths, fmt.Sprintf("/api/v1/history/%d", a))
		for b := a + 1; b <= 9; b++ {
			paths = append(paths, fmt.Sprintf("/api/v1/history/%d/diff/%d", a, b))
		}
	}
	for _, path := range paths {
		outputs["GET "+path] = get(t, admin+path)
	}
	hist, err := exec.Command(binary, "history", "--addr", admin).CombinedOutput()
	if err != nil {
		t.Fatalf("hotreload history: %v %s", err, hist)
	}
	outputs["hotreload history"] = string(hist)
	contents := 0
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		outputs[path] = string(b)
		for i, line := range slices.Collect(bytes.Lines(b)) {
			var l contentLine // the history's content, in base64
			if json.Unmarshal(line, &l) == nil && l.Object != "" {
				outputs[fmt.Sprintf("%s:%d (content %s)", path, i+1, l.Object)] = string(l.Data)
				contents++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if contents == 0 {
		t.Fatal("no content found in the history's log to search")
	}
	for what, out := range outputs {
		for path, plain := range leaks {
			if strings.Contains(out, plain) {
				t.Errorf("%s shows the plaintext of the %s secret", what, path)
			}
		}
	}
}

// get returns the body of a GET.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// stop ends a daemon with SIGTERM and waits for it.
func stop(t *testing.T, p *daemonProc) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(testwait.D(10 * time.Second)):
		t.Fatal("hotreload did not stop")
	}
}
