package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cybercorp/hotreload/plugin"
	"github.com/cybercorp/hotreload/plugin/plugintest"
)

// TestPluginsCommand drives "hotreload plugins" against a real plugin
// host's API (the tiny echo module, run by an engine).
func TestPluginsCommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), plugintest.Echo(), 0o644); err != nil {
		t.Fatal(err)
	}
	h := plugintest.NewHost(t, plugin.Options{Dir: dir}, nil).Host // loads echo
	srv := httptest.NewServer(h.Handler(nil))
	defer srv.Close()
	t.Setenv(envAddr, srv.URL)

	run := func(args ...string) (exit int, stdout, stderr string) {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := newPluginsCmd()
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		cmd.SetErr(&errb)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			var ee exitError
			if !errors.As(err, &ee) {
				t.Fatalf("plugins %v: %v", args, err)
			}
			exit = ee.code
		}
		return exit, out.String(), errb.String()
	}
	for _, tc := range []struct {
		args []string
		exit int
		want string
	}{
		{[]string{"list"}, 0, "echo  -        ready"},
		{[]string{"list", "--json"}, 0, `"state": "ready"`},
		{[]string{"unload", "echo"}, 0, "committed"},
		{[]string{"list"}, 0, "unloaded"},
		{[]string{"unload", "echo"}, 1, `plugin "echo" is not loaded (404 not_found)`},
		{[]string{"reload", "echo"}, 1, "load it first (409 conflict)"},
		{[]string{"load", "echo"}, 0, "committed"},
		{[]string{"load", "missing"}, 1, "no module missing.wasm"},
		{[]string{"load", "Not A Name"}, 2, "is not a plugin name"},
		{[]string{"list", "--addr", "127.0.0.1:1"}, 1, "cannot reach the admin API"},
	} {
		exit, stdout, stderr := run(tc.args...)
		if exit != tc.exit || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("plugins %s: exit %d, output %q%q; want exit %d with %q", strings.Join(tc.args, " "), exit, stdout, stderr, tc.exit, tc.want)
		}
	}
}
