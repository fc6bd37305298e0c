package plugin_test

import (
	"context"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/secret"
)

// TestEncryptedSettingsStayEncrypted gives plugin p an encrypted setting:
// the plugin gets the plaintext, the target's snapshot keeps it encrypted.
func TestEncryptedSettingsStayEncrypted(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	const plain = "Plain-Tag-9:"
	enc, err := secret.Encrypt([]byte(plain), id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, plugin.Options{Reveal: secret.NewDecrypter(id).Reveal})
	f.install(faultyDir, "p", manifest("p", "1", ""))
	f.setConfig("p", map[string]any{"tag": enc})
	wantResult(t, f.sync(), hotreload.Committed)
	f.mustCall("p", "x", plain+"x")

	f.setConfig("p", map[string]any{"tag": enc, "other": "y"})
	ch, err := f.host.Prepare(context.Background(), hotreload.Candidate{})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Rollback(context.Background())
	snap := string(ch.Summary().Snapshot)
	if strings.Contains(snap, plain) || !strings.Contains(snap, secret.Prefix) {
		t.Fatalf("snapshot %s", snap)
	}
}
