package checkfile

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/health"
	"github.com/cybercorp/hotreload/health/internal/testenv"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/hotreloadtest"
)

// files are three valid checks files that differ in checks and gate.
var files = []string{
	"gate: {window: 1s}\nchecks:\n  - {name: mem, kind: memory, interval: 1h}\n",
	"gate: {window: 2s}\nchecks:\n  - {name: mem, kind: memory, interval: 1h}\n  - {name: disk, kind: disk, path: /, max: 1}\n",
	"checks:\n  - {name: disk, kind: disk, path: /, max: 0.99, critical: true}\n",
}

// fixture is a monitor, a gate and a checks-file target over a temp file.
type fixture struct {
	mon    *health.Monitor
	gate   *health.Gate
	target *Target
	path   string
}

func newFixture(tb testing.TB, content string) *fixture {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "checks.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	m := health.NewMonitor(health.MonitorOptions{})
	g, err := health.NewGate(m, health.GateOptions{Window: 200 * time.Millisecond, Rounds: 2, Memory: lowMemory})
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{mon: m, gate: g, target: NewTarget(TargetOptions{Path: path, Monitor: m, Gate: g}), path: path}
}

func lowMemory(context.Context) (health.MemoryUsage, error) {
	return health.MemoryUsage{Used: 1, Limit: 10, Source: "test"}, nil
}

// live is what the target serves: the monitor's checks with their options
// and the gate's window.
func (f *fixture) live() any {
	var out []string
	for _, st := range f.mon.Summary().Checks {
		out = append(out, fmt.Sprintf("%s %+v", st.Name, st.Options))
	}
	return append(out, "gate window "+f.gate.Options().Window.String())
}

func TestTargetContract(t *testing.T) {
	fixtures := map[hotreload.Target]*fixture{}
	hotreloadtest.Run(t, hotreloadtest.Harness{
		New: func(tb testing.TB) hotreload.Target {
			f := newFixture(tb, files[0])
			fixtures[f.target] = f
			return f.target
		},
		Valid: func(testing.TB) []hotreload.Candidate {
			var out []hotreload.Candidate
			for _, c := range files {
				out = append(out, hotreload.Candidate{Target: "checks", Content: []byte(c)})
			}
			return out
		},
		Invalid: func(testing.TB) []hotreload.Candidate {
			return []hotreload.Candidate{
				{Target: "checks", Content: []byte("checks: [{name: x, kind: nope}]")},
				{Target: "checks", Content: []byte("checks:\n - name: [")},
				{Target: "checks", Patch: []byte(`{"checks": []}`)},
			}
		},
		Live: func(_ testing.TB, target hotreload.Target) any { return fixtures[target.(*Target)].live() },
		History: func(tb testing.TB) hotreload.History {
			s, err := history.Open(history.Options{Dir: tb.TempDir()})
			if err != nil {
				tb.Fatal(err)
			}
			return s
		},
	})
}

func TestTargetKeepsUnchangedChecks(t *testing.T) {
	f := newFixture(t, files[1])
	hotreloadtest.MustApply(t, f.target, hotreload.Candidate{})
	f.mon.CheckAll(t.Context())
	before, _ := f.mon.Status("mem")
	if before.LastRun.IsZero() || len(f.target.Checks()) != 2 {
		t.Fatalf("mem never ran, or checks %v", f.target.Checks())
	}
	// Same mem, changed disk.
	s := hotreloadtest.MustApply(t, f.target, hotreload.Candidate{Content: []byte(strings.Replace(files[1], "max: 1}", "max: 0.999}", 1))})
	after, _ := f.mon.Status("mem")
	if !after.LastRun.Equal(before.LastRun) {
		t.Error("an unchanged check was replaced and lost its state")
	}
	if disk, _ := f.mon.Status("disk"); !disk.LastRun.IsZero() {
		t.Error("a changed check kept the old one's state")
	}
	if len(s.Changes) != 1 || s.Changes[0].Path != "/checks/disk" {
		t.Errorf("changes %+v, want /checks/disk alone", s.Changes)
	}
	s = hotreloadtest.MustApply(t, f.target, hotreload.Candidate{Content: []byte(files[0])})
	if len(s.Changes) != 2 || s.Changes[0].Path != "/checks/disk" || s.Changes[0].New != nil || s.Changes[1].Path != "/gate" {
		t.Errorf("changes %+v, want /checks/disk removed and /gate", s.Changes)
	}
}

func TestTargetGateSettings(t *testing.T) {
	f := newFixture(t, "checks: []\n")
	if err := f.gate.SetOptions(health.GateOptions{Window: time.Minute, IgnorePreexisting: true, Memory: lowMemory}); err != nil {
		t.Fatal(err)
	}
	f.target = NewTarget(TargetOptions{Path: f.path, Monitor: f.mon, Gate: f.gate}) // the base: what the daemon set
	hotreloadtest.MustApply(t, f.target, hotreload.Candidate{Content: []byte("gate: {window: 2s, max_memory: 0.8}\n")})
	o := f.gate.Options()
	if o.Window != 2*time.Second || o.MaxMemory != 0.8 || !o.IgnorePreexisting || o.Rounds != health.DefaultRounds {
		t.Errorf("after a gate section: %+v", o)
	}
	hotreloadtest.MustApply(t, f.target, hotreload.Candidate{Content: []byte("gate: {ignore_preexisting: false}\n")})
	if o := f.gate.Options(); o.IgnorePreexisting || o.Window != time.Minute {
		t.Errorf("ignore_preexisting: false: %+v", o)
	}
	hotreloadtest.MustApply(t, f.target, hotreload.Candidate{Content: []byte("checks: []\n")})
	if o := f.gate.Options(); !o.IgnorePreexisting || o.Window != time.Minute || o.MaxMemory != health.DefaultMaxMemory {
		t.Errorf("without a gate section the base is back: %+v", o)
	}
}

func TestTargetLeavesCodeChecksAlone(t *testing.T) {
	f := newFixture(t, files[0])
	if err := f.mon.Add("mem", health.CheckFunc(func(context.Context) error { return nil }), health.CheckOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := f.target.Prepare(t.Context(), hotreload.Candidate{})
	if hotreload.ErrorCode(err) != hotreload.CodeConflict || !strings.Contains(err.Error(), `check "mem" is already declared in code`) {
		t.Fatalf("Prepare: %v, want a conflict over mem", err)
	}
	hotreloadtest.MustApply(t, f.target, hotreload.Candidate{Content: []byte("checks: []")})
	if _, ok := f.mon.Status("mem"); !ok {
		t.Error("an empty checks file removed a check declared in code")
	}
}

func TestTargetApplyFailureRestores(t *testing.T) {
	f := newFixture(t, files[0])
	hotreloadtest.MustApply(t, f.target, hotreload.Candidate{})
	ch, err := f.target.Prepare(t.Context(), hotreload.Candidate{Content: []byte(files[1])})
	if err != nil {
		t.Fatal(err)
	}
	// Someone declares "disk" in code between Prepare and Apply.
	if err := f.mon.Add("disk", health.CheckFunc(func(context.Context) error { return nil }), health.CheckOptions{}); err != nil {
		t.Fatal(err)
	}
	want := f.live()
	if err := ch.Apply(t.Context()); err == nil {
		t.Fatal("Apply succeeded over a taken name")
	}
	if got := f.live(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after a failed Apply: %v, want %v", got, want)
	}
	if err := ch.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestTargetSQLCheckPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	f := newFixture(t, fmt.Sprintf("checks:\n  - {name: db, kind: sql, dsn: %q, query: SELECT 1, critical: true}\n", dsn))
	hotreloadtest.MustApply(t, f.target, hotreload.Candidate{})
	if s := f.mon.CheckAll(t.Context()); s.Passing != 1 {
		t.Fatalf("db check: %+v", s.Checks)
	}
	// Replacing the file closes the pool the old check owned.
	var pool *sql.DB
	f.target.mu.Lock()
	pool = f.target.live["db"].Check.(health.SQLCheck).DB
	f.target.mu.Unlock()
	hotreloadtest.MustApply(t, f.target, hotreload.Candidate{Content: []byte("checks: []")})
	if err := pool.PingContext(t.Context()); err == nil || !strings.Contains(err.Error(), "database is closed") {
		t.Errorf("the removed check's pool: %v, want closed", err)
	}
}

// TestEngineRollsBackBadChecksFile runs the real engine with the health
// gate: a checks file adding a critical check that fails is applied, fails
// the gate and is rolled back, leaving the previous checks; a good one
// commits.
func TestEngineRollsBackBadChecksFile(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer upstream.Close()
	good := fmt.Sprintf("gate: {window: 300ms, rounds: 3}\nchecks:\n  - {name: upstream, kind: http, url: %q, critical: true}\n", upstream.URL)
	f := newFixture(t, good)
	store, err := history.Open(history.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	e := hotreload.New(hotreload.Options{History: store, Gate: f.gate})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if o, err := e.Add(ctx, f.target); err != nil || o.Result != hotreload.Committed {
		t.Fatalf("Add: %+v %v", o, err)
	}

	refused := "http://127.0.0.1:" + testenv.FreePort(t)
	bad := strings.Replace(good, upstream.URL, refused, 1)
	start := time.Now()
	o, err := e.Reload(ctx, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{{Target: "checks", Content: []byte(bad)}}})
	if err != nil {
		t.Fatal(err)
	}
	if o.Result != hotreload.RolledBack || o.Cause != "health" || !strings.Contains(o.Reason, `critical check "upstream" failing`) {
		t.Fatalf("outcome %s (%s): %s; want rolled back by the health gate", o.Result, o.Cause, o.Reason)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the rollback took %s with a 300ms window", d)
	}
	if c, ok := f.target.live["upstream"].Check.(health.HTTPCheck); !ok || c.URL != upstream.URL {
		t.Errorf("after rollback the target serves %#v", f.target.live["upstream"])
	}
	if st, _ := f.mon.Status("upstream"); st.Options.Critical != true {
		t.Errorf("the previous upstream check is not back: %+v", st)
	}
	if s := f.mon.CheckAll(ctx); s.Passing != 1 {
		t.Errorf("after rollback: %+v", s.Checks)
	}

	o, err = e.Reload(ctx, hotreload.Request{Source: "api", Candidates: []hotreload.Candidate{{Target: "checks", Content: []byte(strings.Replace(good, "rounds: 3", "rounds: 2", 1))}}})
	if err != nil || o.Result != hotreload.Committed {
		t.Fatalf("good file: %+v %v", o, err)
	}
	if f.gate.Options().Rounds != 2 {
		t.Errorf("gate rounds %d after commit, want 2", f.gate.Options().Rounds)
	}
}
