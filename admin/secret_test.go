package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin"
	"github.com/cybercorp/hotreload/admin/auth"
	"github.com/cybercorp/hotreload/audit"
	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/secret"
)

// TestSecretsNeverLeave wires the daemon the way serve does (decrypting
// transform, redacting publisher, scrubbing logs, redacting API answers)
// and then looks for two secrets in every output: API answers, the event
// stream, the logs, the diffs and the audit log. One is age-encrypted in
// the file; the other is plain in the file but marked writeOnly by the
// schema. Neither may appear anywhere; history keeps the encrypted form.
func TestSecretsNeverLeave(t *testing.T) {
	const (
		decrypted = "age-decrypted-S3CRET-1"
		rotated   = "age-decrypted-S3CRET-2"
		writeOnly = "schema-writeonly-S3CRET"
	)
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt, err := secret.Keygen(keyFile)
	must(t, err)
	rs, err := secret.ParseRecipients([]string{rcpt})
	must(t, err)
	ids, err := secret.LoadIdentities(keyFile)
	must(t, err)
	enc1, err := secret.Encrypt([]byte(decrypted), rs...)
	must(t, err)
	enc2, err := secret.Encrypt([]byte(rotated), rs...)
	must(t, err)

	dec := secret.NewDecrypter(ids...)
	logs := &testwait.Output{}
	logger := slog.New(dec.LogHandler(admin.LogHandler(logs, admin.Dev)))
	schema, err := config.CompileSchema("schema.json", []byte(`{"type": "object", "properties": {
		"api_key": {"type": "string", "writeOnly": true},
		"db": {"type": "object", "properties": {"password": {"type": "string"}}}}}`))
	must(t, err)
	s := newStack(t, stackOptions{
		config: fmt.Sprintf(`{"name": "demo", "db": {"password": %q}, "api_key": %q}`, enc1, writeOnly),
		schema: schema,
		transform: func(doc any) (any, error) {
			// serve's wiring: schema-marked paths join the decrypted ones.
			dec.AddPaths(schema.SecretPaths(doc)...)
			return dec.Transform(doc)
		},
		publisher: dec.Publisher,
		logger:    logger,
		adjust: func(o *admin.Options) {
			o.Redact = dec.Redact
			o.RedactChanges = func(_ string, c []hotreload.PathChange) []hotreload.PathChange { return dec.RedactChanges(c) }
			o.Scrub = dec.Scrub
		},
	})
	if got := s.target.Store().Snapshot().Data.(map[string]any)["db"].(map[string]any)["password"]; got != decrypted {
		t.Fatalf("the config holds %v, want the decrypted value", got)
	}

	// Stream events while changing the secrets.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.http.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+s.tokens[auth.Viewer])
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	stream := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "event: reload") && !strings.HasPrefix(sc.Text(), "event: reload_start") {
				if strings.Count(b.String(), "event: reload\n") == 2 {
					break
				}
			}
		}
		stream <- b.String()
	}()

	var answers []string
	call := func(method, path, body string, header ...string) {
		status, h, b := s.do(method, path, auth.Admin, body, header...)
		answers = append(answers, fmt.Sprintf("%s %s -> %d %v %s", method, path, status, h, b))
	}
	v1, _ := s.config()
	call("PATCH", "/api/v1/config", fmt.Sprintf(`{"db": {"password": %q}, "api_key": "other-writeonly"}`, enc2), "If-Match", "*")
	must(t, os.WriteFile(s.file, []byte(fmt.Sprintf(`{"name": "demo", "db": {"password": %q}, "api_key": %q, "note": 1}`, enc1, writeOnly)), 0o600))
	call("POST", "/api/v1/reload", "")
	call("GET", "/api/v1/config", "")
	call("GET", "/api/v1/status", "")
	call("GET", "/api/v1/history", "")
	active := s.engine.Status().Active
	call("GET", fmt.Sprintf("/api/v1/history/%d/diff/%d", v1, active), "")
	call("GET", fmt.Sprintf("/api/v1/history/%d/diff/%d", v1, active-1), "")
	call("GET", fmt.Sprintf("/api/v1/history/%d", active), "")
	call("POST", "/api/v1/rollback", fmt.Sprintf(`{"version": %d}`, v1))
	// A validation error quoting the secret must not echo it either.
	call("PATCH", "/api/v1/config", `{"db": {"password": 5}}`, "If-Match", "*")

	var events string
	select {
	case events = <-stream:
	case <-ctx.Done():
		t.Fatal("the event stream did not deliver the reloads")
	}
	s.audit.Close()
	auditLog, err := os.ReadFile(filepath.Join(s.dir, audit.LogName))
	must(t, err)

	outputs := map[string]string{
		"API answers": strings.Join(answers, "\n"),
		"events":      events,
		"logs":        logs.String(),
		"audit log":   string(auditLog),
	}
	for name, out := range outputs {
		for _, secretValue := range []string{decrypted, rotated, writeOnly, "other-writeonly"} {
			if strings.Contains(out, secretValue) {
				t.Errorf("%s hold the secret %q:\n%s", name, secretValue, out)
			}
		}
	}
	if !strings.Contains(outputs["API answers"], secret.Redacted) || !strings.Contains(events, "event: config_reload") {
		t.Fatalf("the outputs do not show the redacted values, the test is not looking at the right thing:\n%s\n%s", outputs["API answers"], events)
	}
	// History keeps only the encrypted form.
	snap, err := s.history.Snapshot(context.Background(), v1, "config")
	must(t, err)
	if bytes.Contains(snap, []byte(decrypted)) || !bytes.Contains(snap, []byte(enc1)) {
		t.Fatalf("history snapshot = %s, want the ENC[...] form only", snap)
	}
}
