package plugin_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
	"github.com/cybercorp/hotreload/secret"
)

// TestSecretSettings: a setting the manifest's schema marks secret is
// named by SecretPaths (so the daemon redacts and seals it), and the
// message about a value that fails its schema does not show the value.
func TestSecretSettings(t *testing.T) {
	f := newFixture(t, plugin.Options{})
	f.setConfig("echo", map[string]any{"key": "fine"})
	if err := os.WriteFile(filepath.Join(f.dir, "echo.wasm"), plugintest.Echo(), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := `{"name": "echo", "config_schema": {"type": "object", "properties": {"key": {"type": "string", "x-secret": true, "pattern": "^[a-z]+$"}}}}`
	if err := os.WriteFile(filepath.Join(f.dir, "echo.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	wantResult(t, f.sync(), hotreload.Committed)

	doc := map[string]any{"plugins": map[string]any{"echo": map[string]any{"key": "x"}}}
	if got := f.host.SecretPaths(doc); !slices.Equal(got, []string{"/plugins/echo/key"}) {
		t.Fatalf("SecretPaths = %v", got)
	}

	f.setConfig("echo", map[string]any{"key": "Leaky!Value"})
	o, err := f.host.Reload(context.Background(), "echo", hotreload.Request{Source: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Result != hotreload.Rejected || len(o.Errors) != 1 {
		t.Fatalf("outcome %s %+v, want one error", o.Result, o.Errors)
	}
	if e := o.Errors[0]; e.Path != "/plugins/echo/key" || !strings.Contains(e.Message, secret.Redacted) || strings.Contains(e.String(), "Leaky") {
		t.Fatalf("error %+v, want it at /plugins/echo/key with the value %s", e, secret.Redacted)
	}
}
