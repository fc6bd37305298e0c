package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdUnit checks the shipped unit against the CLI: it uses the
// notify-reload protocol and every flag it passes to serve exists.
func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile("../../deploy/systemd/hotreload.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(data)
	for _, want := range []string{"Type=notify-reload", "ReloadSignal=SIGHUP", "--mode prod", "--auth-file"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	exec := regexp.MustCompile(`(?s)ExecStart=(.*?[^\\])\n`).FindStringSubmatch(unit)
	if exec == nil {
		t.Fatal("no ExecStart")
	}
	serve := newServeCmd()
	for _, m := range regexp.MustCompile(`--([a-z-]+)`).FindAllStringSubmatch(exec[1], -1) {
		if serve.Flags().Lookup(m[1]) == nil {
			t.Errorf("ExecStart passes --%s, which serve does not have", m[1])
		}
	}
}
