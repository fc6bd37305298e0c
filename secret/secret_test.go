package secret

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
)

const plaintext = "s3cr3t-hunter2-Pa55"

// MustKey creates an identity file in a temporary directory and returns its
// path, the identity and its recipient.
func MustKey(tb testing.TB) (string, []age.Identity, []age.Recipient) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "key.txt")
	rcpt, err := Keygen(path)
	if err != nil {
		tb.Fatal(err)
	}
	ids, err := LoadIdentities(path)
	if err != nil {
		tb.Fatal(err)
	}
	rs, err := ParseRecipients([]string{rcpt})
	if err != nil {
		tb.Fatal(err)
	}
	return path, ids, rs
}

func TestKeygenEncryptDecrypt(t *testing.T) {
	path, ids, rs := MustKey(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file mode = %v, want 0600", fi.Mode().Perm())
	}
	if _, err := Keygen(path); err == nil {
		t.Fatal("Keygen overwrote an existing identity")
	}
	v, err := Encrypt([]byte(plaintext), rs...)
	if err != nil {
		t.Fatal(err)
	}
	if !IsEncrypted(v) || strings.Contains(v, plaintext) {
		t.Fatalf("Encrypt = %q", v)
	}
	got, err := Decrypt(v, ids...)
	if err != nil || string(got) != plaintext {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	_, otherIDs, _ := MustKey(t)
	if _, err := Decrypt(v, otherIDs...); hotreload.ErrorCode(err) != hotreload.CodeInvalid {
		t.Fatalf("Decrypt with the wrong identity = %v, want invalid", err)
	}
}

func TestLoadIdentitiesFromEnv(t *testing.T) {
	path, _, _ := MustKey(t)
	t.Setenv(IdentityEnv, path)
	if ids, err := LoadIdentities(""); err != nil || len(ids) != 1 {
		t.Fatalf("from a path in $%s: %v, %v", IdentityEnv, ids, err)
	}
	data, _ := os.ReadFile(path)
	var key string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "AGE-SECRET-KEY-") {
			key = line
		}
	}
	t.Setenv(IdentityEnv, key)
	if ids, err := LoadIdentities(""); err != nil || len(ids) != 1 {
		t.Fatalf("from a key in $%s: %v, %v", IdentityEnv, ids, err)
	}
	t.Setenv(IdentityEnv, "")
	if ids, err := LoadIdentities(""); err != nil || ids != nil {
		t.Fatalf("with nothing set: %v, %v", ids, err)
	}
}

func TestTransformAndRedact(t *testing.T) {
	_, ids, rs := MustKey(t)
	enc, err := Encrypt([]byte(plaintext), rs...)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{
		"db":    map[string]any{"host": "db.local", "password": enc},
		"users": []any{map[string]any{"name": "a", "token": enc}},
		"plain": "unchanged",
	}
	before, _ := json.Marshal(doc)
	d := NewDecrypter(ids...)
	out, err := d.Transform(doc)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := json.Marshal(doc)
	if !bytes.Equal(before, after) {
		t.Fatal("Transform modified its input")
	}
	m := out.(map[string]any)
	if m["db"].(map[string]any)["password"] != plaintext || m["users"].([]any)[0].(map[string]any)["token"] != plaintext {
		t.Fatalf("Transform = %v", out)
	}
	if got := d.Paths(); strings.Join(got, ",") != "/db/password,/users/0/token" {
		t.Fatalf("Paths = %v", got)
	}

	d.AddPaths("/db/host") // as a schema's writeOnly would
	red, _ := json.Marshal(d.Redact(out))
	if bytes.Contains(red, []byte(plaintext)) || bytes.Contains(red, []byte("db.local")) || !bytes.Contains(red, []byte("unchanged")) {
		t.Fatalf("Redact = %s", red)
	}
	// A copy of the secret somewhere else is scrubbed by value.
	copied := map[string]any{"note": "the password is " + plaintext}
	if got := d.Redact(copied).(map[string]any)["note"]; got != "the password is "+Redacted {
		t.Fatalf("Redact by value = %v", got)
	}
	changes := d.RedactChanges([]hotreload.PathChange{
		{Path: "/db", Old: map[string]any{"password": "old"}, New: m["db"]},
		{Path: "/users/0/token", Old: "x", New: plaintext},
	})
	cj, _ := json.Marshal(changes)
	if bytes.Contains(cj, []byte(plaintext)) || bytes.Contains(cj, []byte(`"password":"old"`)) {
		t.Fatalf("RedactChanges = %s", cj)
	}

	var buf bytes.Buffer
	log := slog.New(d.LogHandler(slog.NewJSONHandler(&buf, nil))).With("conn", "postgres://u:"+plaintext+"@h")
	log.Info("loaded "+plaintext, "doc", out, "err", os.ErrNotExist, slog.Group("g", "v", plaintext))
	if bytes.Contains(buf.Bytes(), []byte(plaintext)) {
		t.Fatalf("log holds the secret: %s", buf.Bytes())
	}
	if !bytes.Contains(buf.Bytes(), []byte(Redacted)) {
		t.Fatalf("log lost its content: %s", buf.Bytes())
	}
}

func TestTransformErrorsNamePathsNotValues(t *testing.T) {
	_, ids, rs := MustKey(t)
	_, _, otherRs := MustKey(t)
	wrong, _ := Encrypt([]byte(plaintext), otherRs...)
	good, _ := Encrypt([]byte(plaintext), rs...)
	doc := map[string]any{"a": wrong, "b": "x" + good, "c": "ENC[age:!!]", "ok": good}
	_, err := NewDecrypter(ids...).Transform(doc)
	details := hotreload.ErrorDetails(err)
	if hotreload.ErrorCode(err) != hotreload.CodeInvalid || len(details) != 3 {
		t.Fatalf("Transform = %v (%d details), want 3 problems", err, len(details))
	}
	if strings.Contains(err.Error(), plaintext) {
		t.Fatal("the error reveals the secret")
	}
	_, err = NewDecrypter().Transform(map[string]any{"k": good})
	if err == nil || !strings.Contains(err.Error(), "/k: encrypted value but no age identity") {
		t.Fatalf("without identities: %v", err)
	}
}

func TestRotate(t *testing.T) {
	_, oldIDs, oldRs := MustKey(t)
	_, newIDs, newRs := MustKey(t)
	v1, _ := Encrypt([]byte(plaintext), oldRs...)
	v2, _ := Encrypt([]byte("second"), oldRs...)
	path := filepath.Join(t.TempDir(), "app.yaml")
	content := "db:\n  password: " + v1 + "\napi: \"" + v2 + "\"\nport: 80\n"
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}

	t.Run("ErrUnverifiable", func(t *testing.T) {
		// Nobody could decrypt the result: refuse and leave the file.
		if _, err := Rotate(path, oldIDs, newRs, nil); err == nil || !strings.Contains(err.Error(), "--verify-identity") {
			t.Fatalf("Rotate = %v", err)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Fatal("a failed rotation changed the file")
		}
	})
	t.Run("ErrWrongIdentity", func(t *testing.T) {
		if _, err := Rotate(path, newIDs, newRs, newIDs); err == nil {
			t.Fatal("Rotate decrypted with the wrong identity")
		}
	})
	t.Run("OK", func(t *testing.T) {
		n, err := Rotate(path, oldIDs, newRs, newIDs)
		if err != nil || n != 2 {
			t.Fatalf("Rotate = %d, %v", n, err)
		}
		got, _ := os.ReadFile(path)
		if strings.Contains(string(got), v1) || !strings.Contains(string(got), "port: 80\n") {
			t.Fatalf("rotated file:\n%s", got)
		}
		vals := encrypted.FindAllString(string(got), -1)
		p, err := Decrypt(vals[0], newIDs...)
		if err != nil || string(p) != plaintext {
			t.Fatalf("new value decrypts to %q, %v", p, err)
		}
		if _, err := Decrypt(vals[0], oldIDs...); err == nil {
			t.Fatal("the old identity still decrypts the rotated value")
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
			t.Fatalf("mode = %v, want 0640 kept", fi.Mode().Perm())
		}
	})
}

func FuzzTransform(f *testing.F) {
	_, ids, rs := MustKey(f)
	good, _ := Encrypt([]byte("v"), rs...)
	f.Add(`{"a":"` + good + `"}`)
	f.Add(`{"a":["ENC[age:AAAA]", {"b": "ENC[age:"}]}`)
	d := NewDecrypter(ids...)
	f.Fuzz(func(t *testing.T, in string) {
		var doc any
		if json.Unmarshal([]byte(in), &doc) != nil {
			return
		}
		out, err := d.Transform(doc)
		if err != nil && len(hotreload.ErrorDetails(err)) == 0 {
			t.Fatalf("an error without a path: %v", err)
		}
		_ = d.Redact(out)
	})
}

type collect []any

func (c *collect) Publish(e any) { *c = append(*c, e) }

func TestPublisherRedactsEvents(t *testing.T) {
	_, ids, rs := MustKey(t)
	enc, _ := Encrypt([]byte(plaintext), rs...)
	d := NewDecrypter(ids...)
	if _, err := d.Transform(map[string]any{"pw": enc}); err != nil {
		t.Fatal(err)
	}
	var got collect
	p := d.Publisher(&got)
	changes := []hotreload.PathChange{{Path: "/pw", Old: "old-value", New: plaintext}}
	p.Publish(hotreload.ConfigReloadEvent{Changes: changes, Reason: "bad " + plaintext,
		Errors: []hotreload.FieldError{{Path: "/pw", Message: "no " + plaintext}}})
	p.Publish(hotreload.ReloadEvent{Outcome: hotreload.Outcome{Reason: plaintext, Targets: []hotreload.TargetOutcome{{Target: "c", Changes: changes}}}})
	p.Publish(hotreload.CodeReloadEvent{Reason: plaintext})
	p.Publish("other " + plaintext) // not an engine event: passed through as is
	b, _ := json.Marshal(got[:3])
	if bytes.Contains(b, []byte(plaintext)) || bytes.Contains(b, []byte("old-value")) || len(got) != 4 {
		t.Fatalf("events = %s", b)
	}
	if changes[0].New != plaintext {
		t.Fatal("the publisher modified the engine's event")
	}
}

func TestHistoryScrubsRecords(t *testing.T) {
	_, ids, rs := MustKey(t)
	enc, _ := Encrypt([]byte(plaintext), rs...)
	d := NewDecrypter(ids...)
	if _, err := d.Transform(map[string]any{"pw": enc}); err != nil {
		t.Fatal(err)
	}
	store, err := history.Open(history.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	rec := hotreload.Record{Version: 1, Result: hotreload.Rejected, Reason: "bad " + plaintext,
		Errors: []hotreload.FieldError{{Path: "/plugins/p/pw", Message: "'" + plaintext + "' does not match pattern"}}}
	if err := d.History(store).Put(ctx, hotreload.Entry{Record: rec}); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(got); bytes.Contains(b, []byte(plaintext)) || !bytes.Contains(b, []byte(Redacted)) {
		t.Fatalf("record = %s", b)
	}
	if !strings.Contains(rec.Errors[0].Message, plaintext) {
		t.Fatal("the decorator modified the engine's record")
	}
}
