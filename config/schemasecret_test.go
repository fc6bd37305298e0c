package config

import (
	"context"
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
