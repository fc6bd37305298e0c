package config

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/secret"
)

// TestSchemaErrorsNeverShowSecrets rejects secrets (encrypted in the file,
// or marked secret by the schema) that fail a keyword, and checks that no
// message shows their plaintext.
func TestSchemaErrorsNeverShowSecrets(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	const plain = "LeakyS3cret-42"
	enc, err := secret.Encrypt([]byte(plain), id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	schema, err := CompileSchema("s.json", []byte(`{"type": "object", "properties": {
		"db": {"type": "object", "properties": {"password": {"type": "string", "pattern": "^[a-z]+$"}}},
		"token": {"x-secret": true, "type": "string", "format": "email"},
		"pin": {"x-secret": true, "minimum": 1000000, "enum": [1, 2]},
		"nested": {"type": "string"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"EncryptedPattern":  "db:\n  password: " + enc + "\n",
		"EncryptedInObject": "nested:\n  password: " + enc + "\n",
		"MarkedFormat":      "token: " + plain + "\n",
		"MarkedNumber":      "pin: 42424242\n",
		"MarkedObject":      "token: {v: " + plain + "}\n",
	} {
		t.Run(name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "app.yaml", content)
			target, err := NewTarget(Options[any]{Files: []string{file}, Schema: schema, Transform: secret.NewDecrypter(id).Transform})
			if err != nil {
				t.Fatal(err)
			}
			_, err = target.Prepare(context.Background(), hotreload.Candidate{})
			details := hotreload.ErrorDetails(err)
			if len(details) == 0 {
				t.Fatalf("Prepare = %v, want schema problems", err)
			}
			for _, d := range details {
				if strings.Contains(d.String(), plain) || strings.Contains(d.String(), "42424242") {
					t.Fatalf("message shows the secret: %s", d)
				}
			}
			if strings.Contains(err.Error(), plain) || !strings.Contains(details[0].String(), Redacted) {
				t.Fatalf("error %v: %v", err, details)
			}
		})
	}
}

// TestPatchSealsPlaintextSecrets patches secrets in plaintext: with an
// identity they are encrypted before anything keeps them, without one the
// patch is refused.
func TestPatchSealsPlaintextSecrets(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := secret.Encrypt([]byte("old-password"), id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	schema, err := CompileSchema("s.json", []byte(`{"type": "object", "properties": {"token": {"x-secret": true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	const plain = "PlainPatchedPW99"
	for name, tc := range map[string]struct {
		patch   string
		encrypt bool
		refused string
	}{
		"EncryptedBefore": {`{"db": {"password": "` + plain + `"}}`, true, ""},
		"MarkedBySchema":  {`{"token": "` + plain + `"}`, true, ""},
		"NoIdentity":      {`{"db": {"password": "` + plain + `"}}`, false, "no age identity is configured"},
		"NotAString":      {`{"token": {"v": "` + plain + `"}}`, true, "a secret must be a string"},
	} {
		t.Run(name, func(t *testing.T) {
			d := secret.NewDecrypter(id)
			opts := Options[any]{Files: []string{writeFile(t, t.TempDir(), "app.yaml", "db:\n  password: "+enc+"\n")}, Schema: schema, Transform: d.Transform}
			if tc.encrypt {
				opts.Encrypt = d.Encrypt
			}
			target, err := NewTarget(opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			first, err := target.Prepare(ctx, hotreload.Candidate{})
			if err != nil {
				t.Fatal(err)
			}
			if err := first.Apply(ctx); err != nil {
				t.Fatal(err)
			}
			first.Commit(ctx)
			ch, err := target.Prepare(ctx, hotreload.Candidate{Patch: []byte(tc.patch)})
			if tc.refused != "" {
				if hotreload.ErrorCode(err) != hotreload.CodeInvalid || !strings.Contains(fmtDetails(err), tc.refused) || strings.Contains(fmtDetails(err), plain) {
					t.Fatalf("Prepare = %v %s, want refused: %s", err, fmtDetails(err), tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			snap := string(ch.Summary().Snapshot)
			if strings.Contains(snap, plain) || !strings.Contains(snap, secret.Prefix) {
				t.Fatalf("snapshot holds the plaintext: %s", snap)
			}
			if !strings.Contains(fmt.Sprint(ch.(hotreload.DataChange).Data()), plain) {
				t.Fatal("the decrypted value is not the patched one")
			}
			ch.Rollback(ctx)
		})
	}
}

func fmtDetails(err error) string {
	var b strings.Builder
	for _, d := range hotreload.ErrorDetails(err) {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}
