package checkfile

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/health"
)

var update = flag.Bool("update", false, "rewrite testdata/*.bad.err from the parser's output")

// TestParseTestdata parses every testdata/*.good.yaml without error and
// every *.bad.yaml with exactly the problems listed in its .bad.err.
func TestParseTestdata(t *testing.T) {
	good, _ := filepath.Glob("testdata/*.good.yaml")
	bad, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(good) < 3 || len(bad) < 6 {
		t.Fatalf("found %d good and %d bad fixtures", len(good), len(bad))
	}
	for _, name := range good {
		t.Run(filepath.Base(name), func(t *testing.T) {
			if _, err := Parse(name, mustRead(t, name)); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, name := range bad {
		t.Run(filepath.Base(name), func(t *testing.T) {
			_, err := Parse(name, mustRead(t, name))
			if hotreload.ErrorCode(err) != hotreload.CodeInvalid {
				t.Fatalf("err %v, want an invalid error", err)
			}
			var lines []string
			for _, d := range hotreload.ErrorDetails(err) {
				lines = append(lines, d.String())
			}
			got := strings.Join(lines, "\n") + "\n"
			golden := strings.TrimSuffix(name, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := string(mustRead(t, golden)); got != want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestParseFull(t *testing.T) {
	f, err := Parse("full", mustRead(t, "testdata/full.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Gate == nil || f.Gate.Window != 90*time.Second || len(f.Checks) != 6 {
		t.Fatalf("file %+v", f)
	}
	up := f.Checks[0]
	want := health.CheckOptions{Interval: 10 * time.Second, Timeout: 3 * time.Second, Critical: true, FailureThreshold: 3, SuccessThreshold: 2}
	if got := up.CheckOptions(f.Defaults); got != want {
		t.Errorf("upstream options %+v, want %+v", got, want)
	}
	if got := f.Checks[3].CheckOptions(f.Defaults); got.Interval != 30*time.Second || got.Critical {
		t.Errorf("memory options %+v, want the defaults", got)
	}
	built, err := f.Build()
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(built)
	if c, ok := built[0].Check.(health.HTTPCheck); !ok || c.URL != "http://127.0.0.1:9000/healthz" || c.MaxLatency != 2*time.Second || c.Status != 200 {
		t.Errorf("upstream check %#v", built[0].Check)
	}
	if _, ok := built[1].Check.(health.SQLCheck); !ok || built[1].closer == nil {
		t.Errorf("db check %#v owns nothing", built[1])
	}
}

// FuzzParse feeds arbitrary bytes to Parse: it never panics, and it
// returns either a file whose checks all build or a CodeInvalid error with
// at least one detail.
func FuzzParse(f *testing.F) {
	fixtures, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range fixtures {
		f.Add(mustRead(f, name))
	}
	f.Add([]byte("checks: [{name: a, kind: cpu, window: 0s}]"))
	f.Add([]byte("gate: null\nchecks: ~"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("checks:\n  - !!binary aGVsbG8="))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			if hotreload.ErrorCode(err) != hotreload.CodeInvalid || len(hotreload.ErrorDetails(err)) == 0 {
				t.Fatalf("error without code or details: %v", err)
			}
			return
		}
		built, err := file.Build()
		if err != nil {
			t.Fatalf("a parsed file does not build: %v", err)
		}
		closeAll(built)
	})
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
