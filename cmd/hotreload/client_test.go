package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"

	"github.com/cybercorp/hotreload/admin/auth"
	"github.com/cybercorp/hotreload/secret"
)

var updateClient = flag.Bool("update-client", false, "rewrite testdata/client/*.golden from the current output")

// run executes the hotreload command line in-process and returns its
// standard output, standard error and exit status.
func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetIn(strings.NewReader(stdin))
	err := root.ExecuteContext(context.Background())
	code := 0
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else {
			fmt.Fprintln(&stderr, "hotreload:", err)
			code = 1
		}
	}
	return stdout.String(), stderr.String(), code
}

// daemonUnderTest runs "hotreload serve" in prod mode on 127.0.0.1:0 with a
// token of each role, and stops it when the test ends.
type daemonUnderTest struct {
	addr, dir, config string
	tokens            map[auth.Role]string
	stop              func() // stops serve and waits for it; safe to call twice
}

func startServe(t *testing.T) *daemonUnderTest {
	t.Helper()
	d := &daemonUnderTest{dir: t.TempDir(), tokens: map[auth.Role]string{}}
	d.config = filepath.Join(d.dir, "app.json")
	must(t, os.WriteFile(d.config, []byte(`{"name": "demo", "limits": {"rps": 10}}`), 0o600))
	authFile := filepath.Join(d.dir, "auth.json")
	for _, r := range []auth.Role{auth.Viewer, auth.Operator, auth.Admin} {
		out, stderr, code := run(t, "", "token", "add", "--auth-file", authFile, "--role", r.String(), "--name", r.String())
		if code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "hrt_") {
			t.Fatalf("token add = %q %q %d, want the token alone on one line", out, stderr, code)
		}
		d.tokens[r] = strings.TrimSpace(out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &testwait.Output{}
	root := newRootCmd()
	root.SetArgs([]string{"serve", "--mode", "prod", "--config", d.config, "--data-dir", filepath.Join(d.dir, "data"),
		"--auth-file", authFile, "--listen", "127.0.0.1:0", "--health-window", "10ms"})
	root.SetOut(stdout)
	root.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	d.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	t.Cleanup(d.stop)
	re := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			d.addr = m[1]
			return d
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not print its address")
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// normalize replaces what changes from run to run: times, durations,
// digests, ports, tokens and temporary paths.
func normalize(s, dir string) string {
	for _, r := range []struct{ re, with string }{
		{`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?`, "TIME"},
		{`took [0-9.]+[µnm]?s`, "took DUR"},
		{`"duration_ns": \d+`, `"duration_ns": DUR`},
		{`[0-9a-f]{64}`, "SHA256"},
		{`\b[0-9a-f]{12}\b`, "SHA"},
		{`127\.0\.0\.1:\d+`, "ADDR"},
		{`hrt_[A-Za-z0-9_-]+`, "TOKEN"},
		{`ENC\[age:[A-Za-z0-9+/=]+\]`, "ENC[age:...]"},
		{`age1[a-z0-9]+`, "RECIPIENT"},
	} {
		s = regexp.MustCompile(r.re).ReplaceAllString(s, r.with)
	}
	s = strings.ReplaceAll(s, dir, "DIR")
	// Status parts other packages add change with time; keep their keys.
	s = regexp.MustCompile(`(?m)^(health|alerts): .*$`).ReplaceAllString(s, "$1: ...")
	// Column widths follow the values replaced above.
	s = regexp.MustCompile(`(\S) {2,}`).ReplaceAllString(s, "$1  ")
	return s
}

// dropParts removes the status parts other packages add (health, alerts)
// from a JSON answer: they change with time.
func dropParts(t *testing.T, stdout string) string {
	var v map[string]any
	if json.Unmarshal([]byte(stdout), &v) != nil {
		return stdout
	}
	for _, k := range []string{"health", "alerts"} {
		if _, ok := v[k]; ok {
			v[k] = "..."
		}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	must(t, err)
	return string(b) + "\n"
}

// TestClientsGolden runs the admin API clients against a real
// "hotreload serve" and compares what they print, for people and with
// --json, and their exit status with testdata/client/NAME.golden.
func TestClientsGolden(t *testing.T) {
	d := startServe(t)
	api := func(role auth.Role) []string { return []string{"--addr", d.addr, "--token", d.tokens[role]} }
	write := func(content string) func() {
		return func() { must(t, os.WriteFile(d.config, []byte(content), 0o600)) }
	}
	for _, tc := range []struct {
		name   string
		before func()
		args   []string
		exit   int
	}{
		{"status", nil, append([]string{"status"}, api(auth.Viewer)...), 0},
		{"status-json", nil, append([]string{"status", "--json"}, api(auth.Viewer)...), 0},
		{"reload-unchanged", nil, append([]string{"reload"}, api(auth.Operator)...), 0},
		{"reload-committed", write(`{"name": "demo", "limits": {"rps": 20}, "debug": true}`), append([]string{"reload", "--target", "config"}, api(auth.Operator)...), 0},
		{"reload-rejected", write("{\"name\": \"demo\",\n  \"limits\": {\"rps\": }}"), append([]string{"reload"}, api(auth.Operator)...), 1},
		{"reload-rejected-json", nil, append([]string{"reload", "--json"}, api(auth.Operator)...), 1},
		{"history", write(`{"name": "demo", "limits": {"rps": 20}, "debug": true}`), append([]string{"history"}, api(auth.Viewer)...), 0},
		{"diff", nil, append([]string{"diff", "1", "2"}, api(auth.Viewer)...), 0},
		{"diff-same", nil, append([]string{"diff", "2", "2"}, api(auth.Viewer)...), 0},
		{"diff-unknown", nil, append([]string{"diff", "1", "99"}, api(auth.Viewer)...), 1},
		{"rollback-to", nil, append([]string{"rollback", "--to", "1"}, api(auth.Operator)...), 0},
		{"rollback-rejected-version", nil, append([]string{"rollback", "--to", "3"}, api(auth.Operator)...), 1},
		{"rollback-last", nil, append([]string{"rollback", "--json"}, api(auth.Operator)...), 0},
		{"history-limit", nil, append([]string{"history", "--limit", "2"}, api(auth.Viewer)...), 0},
		{"forbidden", nil, append([]string{"reload"}, api(auth.Viewer)...), 1},
		{"unauthorized", nil, []string{"reload", "--addr", d.addr, "--token", "hrt_wrong"}, 1},
		{"unreachable", nil, []string{"status", "--addr", "127.0.0.1:1"}, 1},
		{"bad-addr", nil, []string{"status", "--addr", "ftp://x"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			stdout, stderr, code := run(t, "", tc.args...)
			if tc.name == "status-json" {
				stdout = dropParts(t, stdout)
			}
			got := fmt.Sprintf("$ hotreload %s\n--- exit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tc.args[:1], " "), code, stdout, stderr)
			got = normalize(got, d.dir)
			golden := filepath.Join("testdata", "client", tc.name+".golden")
			if *updateClient {
				must(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			must(t, err)
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update-client to accept):\n%s", golden, got)
			}
			if code != tc.exit {
				t.Errorf("exit status %d, want %d", code, tc.exit)
			}
		})
	}

	t.Run("EnvironmentVariables", func(t *testing.T) {
		t.Setenv(envAddr, d.addr)
		t.Setenv(envToken, d.tokens[auth.Viewer])
		if out, stderr, code := run(t, "", "status"); code != 0 || !strings.Contains(out, "mode:    prod") {
			t.Fatalf("status from the environment = %q %q %d", out, stderr, code)
		}
	})
	t.Run("AuditVerify", func(t *testing.T) {
		dataDir := filepath.Join(d.dir, "data")
		out, _, code := run(t, "", "audit", "verify", "--data-dir", dataDir)
		if code != 0 || !strings.HasPrefix(out, "audit log intact: ") {
			t.Fatalf("verify = %q %d", out, code)
		}
		// The forbidden and unauthorized requests above are counted in
		// the summary of refusals written at the end of its interval, or
		// when the daemon stops.
		d.stop()
		log, err := os.ReadFile(filepath.Join(dataDir, "audit.log"))
		must(t, err)
		if !strings.Contains(string(log), `"kind":"denied"`) || !strings.Contains(string(log), `forbidden`) || !strings.Contains(string(log), `unauthorized`) {
			t.Fatalf("the refusals are not audited:\n%s", log)
		}
	})
}

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "auth.json")
	tok, _, code := run(t, "", "token", "add", "--auth-file", file, "--role", "operator", "--name", "ci")
	if code != 0 {
		t.Fatal("token add failed")
	}
	data, err := os.ReadFile(file)
	must(t, err)
	if strings.Contains(string(data), strings.TrimSpace(tok)) {
		t.Fatal("the auth file holds the token")
	}
	if _, stderr, code := run(t, "", "token", "add", "--auth-file", file, "--role", "root"); code != 1 || !strings.Contains(stderr, `unknown role "root"`) {
		t.Fatalf("token add --role root = %q %d", stderr, code)
	}
	out, _, code := run(t, "", "token", "list", "--auth-file", file)
	if code != 0 || normalize(out, dir) != "NAME  ROLE  CREATED  SHA256\nci  operator  TIME  SHA\n" {
		t.Fatalf("token list = %q", normalize(out, dir))
	}
	if _, _, code := run(t, "", "token", "revoke", "--auth-file", file, "ci"); code != 0 {
		t.Fatal("revoke failed")
	}
	if _, stderr, code := run(t, "", "token", "revoke", "--auth-file", file, "ci"); code != 1 || !strings.Contains(stderr, `no token named "ci"`) {
		t.Fatalf("revoking twice = %q %d", stderr, code)
	}
}

func TestSecretCommands(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key")
	oldR, _, code := run(t, "", "secret", "keygen", "--out", oldKey)
	if code != 0 || !strings.HasPrefix(oldR, "age1") {
		t.Fatalf("keygen = %q %d", oldR, code)
	}
	newR, _, _ := run(t, "", "secret", "keygen", "--out", newKey)
	if _, stderr, code := run(t, "", "secret", "keygen", "--out", oldKey); code != 1 || !strings.Contains(stderr, "exists") {
		t.Fatalf("keygen over an existing key = %q %d", stderr, code)
	}
	enc, _, code := run(t, "hunter2\n", "secret", "encrypt", "--recipient", strings.TrimSpace(oldR))
	if code != 0 || !secret.IsEncrypted(strings.TrimSpace(enc)) {
		t.Fatalf("encrypt = %q %d", enc, code)
	}
	cfg := filepath.Join(dir, "app.yaml")
	must(t, os.WriteFile(cfg, []byte("db:\n  password: "+strings.TrimSpace(enc)+"\n"), 0o600))
	out, stderr, code := run(t, "", "secret", "rotate", "--identity", oldKey, "--recipient", strings.TrimSpace(newR), "--verify-identity", newKey, cfg)
	if code != 0 || !strings.Contains(out, "re-encrypted 1 values") {
		t.Fatalf("rotate = %q %q %d", out, stderr, code)
	}
	ids, err := secret.LoadIdentities(newKey)
	must(t, err)
	data, err := os.ReadFile(cfg)
	must(t, err)
	v := strings.TrimSpace(strings.TrimPrefix(string(data), "db:\n  password: "))
	if p, err := secret.Decrypt(v, ids...); err != nil || string(p) != "hunter2" {
		t.Fatalf("after rotation the value decrypts to %q, %v", p, err)
	}
}

// TestStatusPrintsTheWindowAndRules: status prints an open health window
// with its checks, and the rules as a table; a null part is left out.
func TestStatusPrintsTheWindowAndRules(t *testing.T) {
	var out bytes.Buffer
	raw := `{"active": 1, "window": {"version": 4, "started": "2026-12-04T06:00:00Z", "length_ns": 30000000000, "round": 2, "rounds": 6,
		"checks": [{"name": "upstream", "state": "passing"}]},
		"rules": [{"name": "HotreloadReloadSlow", "value": 31.5, "threshold": 30, "window_ns": 3600000000000, "firing": true}],
		"alerts": null}`
	if err := printParts(&apiClient{stdout: &out}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	want := `
RULE                 VALUE  THRESHOLD  WINDOW  FIRING
HotreloadReloadSlow  31.5   30         1h0m0s  true

window:  version 4, round 2 of 6, 30s long
  upstream: passing
`
	if out.String() != want {
		t.Fatalf("printed\n%s\nwant\n%s", out.String(), want)
	}
}
