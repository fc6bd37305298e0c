package config

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cybercorp/hotreload"
)

var update = flag.Bool("update", false, "rewrite the expected errors of testdata/*.bad.* from the current output")

// App is the typed configuration the tests decode into.
type App struct {
	Name   string `json:"name"`
	Mode   string `json:"mode"`
	Limits struct {
		RPS   int `json:"rps"`
		Burst int `json:"burst"`
	} `json:"limits"`
	Listen string   `json:"listen"`
	Tags   []string `json:"tags"`
	DB     struct {
		DSN      string `json:"dsn"`
		Password string `json:"password"`
	} `json:"db"`
	Backends []struct {
		URL    string  `json:"url"`
		Weight float64 `json:"weight"`
	} `json:"backends"`
}

// MustSchema compiles testdata/schema.json.
func MustSchema(tb testing.TB) *Schema {
	tb.Helper()
	s, err := LoadSchema("testdata/schema.json")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustTarget returns a target over files with the test schema.
func MustTarget(tb testing.TB, opts Options[App]) *Target[App] {
	tb.Helper()
	if opts.Schema == nil {
		opts.Schema = MustSchema(tb)
	}
	t, err := NewTarget(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(t.Close)
	return t
}

// load prepares the target's files and, when valid, applies and commits them.
func load(t *Target[App]) error {
	ctx := context.Background()
	ch, err := t.Prepare(ctx, hotreload.Candidate{Target: t.Name()})
	if err != nil {
		return err
	}
	if err := ch.Apply(ctx); err != nil {
		return err
	}
	return ch.Commit(ctx)
}

// renderDetails renders the field errors of err one per line.
func renderDetails(err error) string {
	var b strings.Builder
	for _, d := range hotreload.ErrorDetails(err) {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestTestdata loads every testdata/*.good.* file, which must be valid, and
// every *.bad.* file, whose problems must be exactly those in the .err file
// beside it.
func TestTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.*.*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".err") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			target := MustTarget(t, Options[App]{Files: []string{f}, Strict: true})
			err := load(target)
			if strings.Contains(f, ".good.") {
				if err != nil {
					t.Fatalf("valid file rejected: %v", err)
				}
				if v := target.Store().Load(); v.Name != "shop" || v.Limits.RPS < 1 || v.Limits.Burst == 0 || v.Listen == "" {
					t.Fatalf("decoded %+v", v)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid file accepted")
			}
			if code := hotreload.ErrorCode(err); code != hotreload.CodeInvalid {
				t.Fatalf("code %q, want %q", code, hotreload.CodeInvalid)
			}
			got := renderDetails(err)
			if *update {
				if err := os.WriteFile(f+".err", []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(f + ".err")
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, want)
			}
			if target.Store().Load() != nil {
				t.Fatal("a rejected file was published")
			}
		})
	}
	if n < 15 {
		t.Fatalf("found %d fixtures, want at least 15", n)
	}
}
