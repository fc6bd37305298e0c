package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"testing"
)

var updateValidate = flag.Bool("update-validate", false, "rewrite testdata/validate/*.golden from the current output")

// TestValidateGolden runs "hotreload validate" in-process and compares its
// standard output with testdata/validate/NAME.golden and its exit status.
func TestValidateGolden(t *testing.T) {
	const dir = "testdata/validate"
	for _, tc := range []struct {
		name string
		args []string
		exit int
	}{
		{"valid", []string{"--schema", "schema.json", "good.yaml"}, 0},
		{"schema-violations", []string{"--schema", "schema.json", "bad.yaml", "bad.toml", "good.yaml"}, 1},
		{"strict-unknown-keys", []string{"--schema", "schema.json", "--strict", "unknown.json"}, 1},
		{"lenient-unknown-keys", []string{"--schema", "schema.json", "unknown.json"}, 0},
		{"syntax-errors", []string{"syntax.json", "syntax.yaml", "good.yaml"}, 1},
		{"merged-layers", []string{"--schema", "schema.json", "--merge", "base.yaml", "override.json"}, 1},
		{"unmerged-layers", []string{"--schema", "schema.json", "base.yaml", "override.json"}, 1},
		{"missing-file", []string{"--schema", "schema.json", "good.yaml", "missing.yaml"}, 1},
		{"broken-schema", []string{"--schema", "broken-schema.json", "good.yaml"}, 1},
		{"no-files", nil, 2},
		{"unknown-flag", []string{"--shema", "schema.json", "good.yaml"}, 2},
		{"unknown-format", []string{"good.ini"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(dir)
			var stdout, stderr bytes.Buffer
			cmd := newValidateCmd()
			cmd.SetArgs(tc.args)
			cmd.SetOut(&stdout)
			cmd.SetErr(&stderr)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.ExecuteContext(context.Background())
			exit := 0
			if err != nil {
				var ee exitError
				if !errors.As(err, &ee) {
					t.Fatalf("error without an exit status: %v", err)
				}
				exit = ee.code
			}
			if exit != tc.exit {
				t.Fatalf("exit status %d, want %d (stdout %q, stderr %q)", exit, tc.exit, stdout.String(), stderr.String())
			}
			if exit == 2 && stderr.Len() == 0 {
				t.Fatal("usage error with nothing on stderr")
			}
			golden := tc.name + ".golden" // the test runs in dir
			if *updateValidate {
				if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if stdout.String() != string(want) {
				t.Fatalf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
			}
		})
	}
}
