package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/history"
	"github.com/cybercorp/hotreload/hotreloadtest"
	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/cybercorp/hotreload/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writeFile writes content to dir/name and returns its path.
func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// MustHistory opens a history store in a temporary directory.
func MustHistory(tb testing.TB) hotreload.History {
	tb.Helper()
	h, err := history.Open(history.Options{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

func yamlCandidate(s string) hotreload.Candidate {
	return hotreload.Candidate{Target: "config", Content: []byte(s)}
}

func TestContract(t *testing.T) {
	valid := []string{
		"name: a\nlimits: {rps: 1}\n",
		"name: b\nlimits: {rps: 2, burst: 3}\ndb: {password: s1}\n",
		"name: c\nmode: prod\nlimits: {rps: 3}\ntags: [x]\n",
	}
	hotreloadtest.Run(t, hotreloadtest.Harness{
		New: func(tb testing.TB) hotreload.Target {
			file := writeFile(tb, tb.TempDir(), "app.yaml", valid[0])
			return MustTarget(tb, Options[App]{Files: []string{file}, ReadOnlyFiles: true})
		},
		Valid: func(testing.TB) []hotreload.Candidate {
			return []hotreload.Candidate{yamlCandidate(valid[0]), yamlCandidate(valid[1]), yamlCandidate(valid[2])}
		},
		Invalid: func(testing.TB) []hotreload.Candidate {
			return []hotreload.Candidate{
				yamlCandidate("name: a\nlimits: {rps: 0}\n"),
				yamlCandidate("name: [\n"),
				{Target: "config", Patch: []byte(`{"limits": {"rps": "x"}}`)},
				{Target: "config", Snapshot: []byte(`{"name": ""}`)},
			}
		},
		Live: func(tb testing.TB, target hotreload.Target) any {
			v := target.(*Target[App]).Store().Load()
			if v == nil {
				return nil
			}
			return *v
		},
		History: MustHistory,
	})
}

func TestMergeLocatesEachValueInItsFile(t *testing.T) {
	dir := t.TempDir()
	base := writeFile(t, dir, "base.yaml", "name: shop\nlimits:\n  rps: 5\n  burst: 7\ntags: [a]\n")
	over := writeFile(t, dir, "prod.toml", "[limits]\nburst = 5000\n")
	local := writeFile(t, dir, "local.json", "{\"tags\": [\"b\", \"b\"]}\n")
	target := MustTarget(t, Options[App]{Files: []string{base, over, local}})
	err := load(target)
	want := local + ":1:2: /tags: must hold unique items but items 0 and 1 are equal\n" +
		over + ":2:9: /limits/burst: must be <= 1000 but found 5000\n"
	if got := renderDetails(err); got != want {
		t.Fatalf("errors:\n%s\nwant:\n%s", got, want)
	}

	writeFile(t, dir, "prod.toml", "[limits]\nburst = 50\n")
	writeFile(t, dir, "local.json", "{\"limits\": {\"rps\": 0}}\n")
	if got, want := renderDetails(load(target)), local+":1:20: /limits/rps: must be >= 1 but found 0\n"; got != want {
		t.Fatalf("errors:\n%s\nwant:\n%s", got, want)
	}

	writeFile(t, dir, "local.json", "{}\n")
	if err := load(target); err != nil {
		t.Fatal(err)
	}
	v := target.Store().Load()
	if v.Limits.RPS != 5 || v.Limits.Burst != 50 || !reflect.DeepEqual(v.Tags, []string{"a"}) {
		t.Fatalf("merged value %+v", v)
	}
}

func TestSyntaxErrorsOfEveryFile(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.json", "{\"name\": }")
	b := writeFile(t, dir, "b.toml", "x = \n")
	c := filepath.Join(dir, "missing.yaml")
	err := load(MustTarget(t, Options[App]{Files: []string{a, b, c}}))
	want := a + ":1:10: /name: invalid character '}' looking for beginning of value\n" +
		b + ":1:5: /x: expected value but found '\\n' instead\n" +
		c + ": open: no such file or directory\n"
	if got := renderDetails(err); got != want {
		t.Fatalf("errors:\n%s\nwant:\n%s", got, want)
	}
}

func TestPatchWritesTheSingleFileBack(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"app.yaml", "app.json", "app.toml"} {
		t.Run(name, func(t *testing.T) {
			orig, err := os.ReadFile("testdata/app.good." + strings.TrimPrefix(filepath.Ext(name), "."))
			if err != nil {
				t.Fatal(err)
			}
			file := writeFile(t, t.TempDir(), name, string(orig))
			target := MustTarget(t, Options[App]{Files: []string{file}})
			if err := load(target); err != nil {
				t.Fatal(err)
			}

			// An invalid patch is located in the patch.
			_, err = target.Prepare(ctx, hotreload.Candidate{Patch: []byte(`{"limits": {"rps": 0}}`)})
			if got, want := renderDetails(err), "patch:1:20: /limits/rps: must be >= 1 but found 0\n"; got != want {
				t.Fatalf("errors %q, want %q", got, want)
			}

			ch, err := target.Prepare(ctx, hotreload.Candidate{Patch: []byte(`{"limits": {"rps": 7}, "tags": null}`)})
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.Apply(ctx); err != nil {
				t.Fatal(err)
			}
			if v := target.Store().Load(); v.Limits.RPS != 7 || v.Tags != nil || v.Limits.Burst != 20 {
				t.Fatalf("patched value %+v", v)
			}
			if got, _ := os.ReadFile(file); string(got) != string(orig) {
				t.Fatal("the file was written before commit")
			}
			if err := ch.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			// Only the patched values changed: comments and the order of
			// the other keys are as the operator wrote them.
			got, _ := os.ReadFile(file)
			for _, line := range strings.Split(string(orig), "\n") {
				if !strings.Contains(line, "rps") && !strings.Contains(line, "tags") && !strings.Contains(string(got), line) {
					t.Fatalf("line %q of the original is gone from\n%s", line, got)
				}
			}
			// The file now holds the patched document, which decodes to
			// the same snapshot: a watcher sees no change.
			again, err := target.Prepare(ctx, hotreload.Candidate{})
			if err != nil {
				t.Fatal(err)
			}
			defer again.Rollback(ctx)
			if string(again.Summary().Snapshot) != string(ch.Summary().Snapshot) {
				t.Fatalf("file reads back as %s, want %s", again.Summary().Snapshot, ch.Summary().Snapshot)
			}
		})
	}
}

func TestPatchKeepsFilesWhenReadOnlyOrRolledBack(t *testing.T) {
	ctx := context.Background()
	src := "# comment\nname: shop\nlimits: {rps: 1}\n"
	for _, readOnly := range []bool{true, false} {
		file := writeFile(t, t.TempDir(), "app.yaml", src)
		target := MustTarget(t, Options[App]{Files: []string{file}, ReadOnlyFiles: readOnly})
		if err := load(target); err != nil {
			t.Fatal(err)
		}
		ch, err := target.Prepare(ctx, hotreload.Candidate{Patch: []byte(`{"name": "x"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Apply(ctx); err != nil {
			t.Fatal(err)
		}
		if readOnly {
			err = ch.Commit(ctx)
		} else {
			err = ch.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(file); string(got) != src {
			t.Fatalf("readOnly=%v: file rewritten to %q", readOnly, got)
		}
	}
}

// enc is the toy cipher of the transform tests: "enc:" + reversed text.
func decryptAll(doc any) (any, error) {
	switch x := doc.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, v := range x {
			d, err := decryptAll(v)
			if err != nil {
				return nil, err
			}
			out[k] = d
		}
		return out, nil
	case string:
		if rest, ok := strings.CutPrefix(x, "enc:"); ok {
			if rest == "" {
				return nil, Reject("/db/password", "cannot decrypt an empty value")
			}
			r := []rune(rest)
			for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
				r[i], r[j] = r[j], r[i]
			}
			return string(r), nil
		}
	}
	return doc, nil
}

func TestTransformKeepsSecretsOutOfSnapshotsAndChanges(t *testing.T) {
	ctx := context.Background()
	target := MustTarget(t, Options[App]{Transform: decryptAll, Format: YAML})
	MustApplyContent(t, target, "name: shop\nlimits: {rps: 1}\ndb: {password: 'enc:1terces'}\n")
	ch, err := target.Prepare(ctx, yamlCandidate("name: shop\nlimits: {rps: 1}\ndb: {password: 'enc:2terces'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Rollback(ctx)
	sum := ch.Summary()
	if strings.Contains(string(sum.Snapshot), "secret") || !strings.Contains(string(sum.Snapshot), "enc:2terces") {
		t.Fatalf("snapshot %s", sum.Snapshot)
	}
	want := []hotreload.PathChange{{Path: "/db/password", Old: Redacted, New: Redacted}}
	if !reflect.DeepEqual(sum.Changes, want) {
		t.Fatalf("changes %+v, want %+v", sum.Changes, want)
	}
	data := ch.(hotreload.DataChange).Data()
	if jsondiff.At(data, "/db/password") != "secret2" || jsondiff.At(data, "/mode") != "dev" {
		t.Fatalf("Data() = %v", data)
	}
	if got := target.Redacted(); jsondiff.At(got, "/db/password") != Redacted {
		t.Fatalf("Redacted() = %v", got)
	}
	if target.Store().Load().DB.Password != "secret1" {
		t.Fatal("the live value is not decrypted")
	}

	_, err = target.Prepare(ctx, yamlCandidate("name: shop\nlimits: {rps: 1}\ndb: {password: 'enc:'}\n"))
	if got, want := renderDetails(err), "content.yaml:3:16: /db/password: cannot decrypt an empty value\n"; got != want {
		t.Fatalf("errors %q, want %q", got, want)
	}
}

// TestLargeSnapshotIsEncodedBeforeTransform checks that a large source,
// whose snapshot is encoded beside its validation, is encoded before a
// Transform that changes the document in place (go test -race sees a
// Transform that does not wait).
func TestLargeSnapshotIsEncodedBeforeTransform(t *testing.T) {
	ctx := context.Background()
	inPlace := func(doc any) (any, error) {
		doc.(map[string]any)["added"] = true
		return doc, nil
	}
	target, err := NewTarget(Options[any]{Format: JSON, Transform: inPlace})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	content := fmt.Appendf(nil, `{"pad": %q}`, strings.Repeat("x", 2*encodeAsideFrom))
	ch, err := target.Prepare(ctx, hotreload.Candidate{Target: "config", Content: content})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Rollback(ctx)
	if snap := ch.Summary().Snapshot; strings.Contains(string(snap), "added") || len(snap) < 2*encodeAsideFrom {
		t.Fatalf("the snapshot holds %d bytes, with Transform's key: %t", len(snap), strings.Contains(string(snap), "added"))
	}
	if jsondiff.At(ch.(hotreload.DataChange).Data(), "/added") != true {
		t.Fatal("Transform did not run")
	}
}

// MustApplyContent applies YAML content to the target.
func MustApplyContent(tb testing.TB, target *Target[App], content string) {
	tb.Helper()
	hotreloadtest.MustApply(tb, target, yamlCandidate(content))
}

func TestValidators(t *testing.T) {
	target := MustTarget(t, Options[App]{Format: YAML, Validators: []Validator[App]{
		func(a *App) error {
			if a.Limits.Burst < a.Limits.RPS {
				return Reject("/limits/burst", "must be >= rps (%d) but found %d", a.Limits.RPS, a.Limits.Burst)
			}
			return nil
		},
	}})
	target.AddValidator(func(a *App) error {
		if a.Mode == "prod" && a.DB.DSN == "" {
			return errors.New("prod needs a database")
		}
		return nil
	})
	_, err := target.Prepare(context.Background(), yamlCandidate("name: shop\nmode: prod\nlimits:\n  rps: 50\n  burst: 20\n"))
	want := "content.yaml:1:1: prod needs a database\ncontent.yaml:5:10: /limits/burst: must be >= rps (50) but found 20\n"
	if got := renderDetails(err); got != want {
		t.Fatalf("errors:\n%s\nwant:\n%s", got, want)
	}
}

func TestTypedDecodeError(t *testing.T) {
	target, err := NewTarget(Options[App]{Format: JSON})
	if err != nil {
		t.Fatal(err)
	}
	_, err = target.Prepare(context.Background(), hotreload.Candidate{Content: []byte("{\"limits\": {\n  \"rps\": \"fast\"}}")})
	if got, want := renderDetails(err), "content.json:2:10: /limits/rps: must be a value for the Go type int but found string\n"; got != want {
		t.Fatalf("errors %q, want %q", got, want)
	}
}

func TestUntypedTarget(t *testing.T) {
	target, err := NewTarget(Options[any]{Format: TOML, Schema: MustSchema(t)})
	if err != nil {
		t.Fatal(err)
	}
	hotreloadtest.MustApply(t, target, hotreload.Candidate{Content: []byte("name = 'x'\nlimits.rps = 2\n")})
	if v := *target.Store().Load(); jsondiff.At(v, "/limits/burst") != 10.0 {
		t.Fatalf("value %v", v)
	}
}

func TestLoadDoesNotAllocate(t *testing.T) {
	target := MustTarget(t, Options[App]{Format: YAML})
	MustApplyContent(t, target, "name: shop\nlimits: {rps: 1}\n")
	s := target.Store()
	n := 0
	if allocs := testing.AllocsPerRun(1000, func() { n += s.Load().Limits.RPS }); allocs != 0 {
		t.Fatalf("Load allocates %v times", allocs)
	}
}

func TestSubscribers(t *testing.T) {
	target := MustTarget(t, Options[App]{Format: YAML})
	s := target.Store()
	var mu sync.Mutex
	got := map[string][]Update[App]{}
	for _, path := range []string{"", "/limits", "/db"} {
		s.Subscribe(path, func(u Update[App]) {
			mu.Lock()
			defer mu.Unlock()
			got[path] = append(got[path], u)
		})
	}
	ctx := context.Background()
	MustApplyContent(t, target, "name: shop\nlimits: {rps: 1}\n")
	MustApplyContent(t, target, "name: shop2\nlimits: {rps: 1}\n")
	ch, err := target.Prepare(ctx, yamlCandidate("name: shop2\nlimits: {rps: 9}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	// Apply returns after the subscribers ran.
	mu.Lock()
	if n := len(got["/limits"]); n != 2 {
		t.Fatalf("/limits saw %d updates before Apply returned, want 2", n)
	}
	mu.Unlock()
	if err := ch.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(got[""]); n != 4 {
		t.Fatalf("all-paths subscriber saw %d updates, want 4", n)
	}
	if n := len(got["/db"]); n != 1 { // only the first load (a parent: the whole document)
		t.Fatalf("/db saw %d updates, want 1", n)
	}
	lim := got["/limits"]
	if len(lim) != 3 {
		t.Fatalf("/limits saw %d updates, want 3", len(lim))
	}
	if lim[0].Old != nil || lim[0].New.Value.Limits.RPS != 1 {
		t.Fatalf("first load update %+v", lim[0])
	}
	if u := lim[1]; u.Rollback || u.Old.Value.Limits.RPS != 1 || u.New.Value.Limits.RPS != 9 ||
		!reflect.DeepEqual(u.Changes, []hotreload.PathChange{{Path: "/limits/rps", Old: 1.0, New: 9.0}}) {
		t.Fatalf("apply update %+v", u)
	}
	if u := lim[2]; !u.Rollback || u.New.Value.Limits.RPS != 1 || u.New != lim[1].Old {
		t.Fatalf("rollback update %+v", u)
	}
}

func TestSlowSubscriberDoesNotBlockAndCoalesces(t *testing.T) {
	target := MustTarget(t, Options[App]{Format: YAML, NotifyTimeout: 50 * time.Millisecond})
	release := make(chan struct{})
	updates := make(chan Update[App], 10)
	cancel := target.Store().Subscribe("/limits", func(u Update[App]) {
		updates <- u
		<-release
	})
	defer cancel()
	start := time.Now()
	for rps := 1; rps <= 4; rps++ {
		MustApplyContent(t, target, "name: shop\nlimits: {rps: "+string(rune('0'+rps))+"}\n")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("four applies took %v with a blocked subscriber", d)
	}
	first := <-updates
	close(release)
	second := <-updates
	if first.Old != nil || first.New.Value.Limits.RPS != 1 {
		t.Fatalf("first update %+v", first)
	}
	// Updates 2, 3 and 4 arrived while the subscriber was blocked: it sees
	// them as one, from rps 1 to rps 4.
	if second.Old.Value.Limits.RPS != 1 || second.New.Value.Limits.RPS != 4 ||
		!reflect.DeepEqual(second.Changes, []hotreload.PathChange{{Path: "/limits/rps", Old: 1.0, New: 4.0}}) {
		t.Fatalf("coalesced update %+v", second)
	}
	select {
	case u := <-updates:
		t.Fatalf("extra update %+v", u)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestSubscriberPanicIsContained(t *testing.T) {
	target := MustTarget(t, Options[App]{Format: YAML})
	target.Store().Subscribe("", func(Update[App]) { panic("boom") })
	MustApplyContent(t, target, "name: shop\nlimits: {rps: 1}\n")
	MustApplyContent(t, target, "name: shop\nlimits: {rps: 2}\n")
	if target.Store().Load().Limits.RPS != 2 {
		t.Fatal("a panicking subscriber stopped the store")
	}
}

func TestOpen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := hotreload.New(hotreload.Options{History: MustHistory(t)})
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()

	file := writeFile(t, t.TempDir(), "app.json", `{"name": "shop", "limits": {"rps": 1}}`)
	cfg, _, err := Open(ctx, e, Options[App]{Files: []string{file}, Schema: MustSchema(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close(context.Background())
	if cfg.Load().Limits.RPS != 1 {
		t.Fatal("not loaded")
	}

	o, err := cfg.Update(ctx, []byte(`{"limits": {"rps": 2}}`), "alice")
	if err != nil || o.Result != hotreload.Committed || cfg.Load().Limits.RPS != 2 {
		t.Fatalf("Update: %+v, %v", o, err)
	}
	var onDisk map[string]any
	if b, _ := os.ReadFile(file); json.Unmarshal(b, &onDisk) != nil || jsondiff.At(onDisk, "/limits/rps") != 2.0 {
		t.Fatalf("file after Update: %s", b)
	}

	writeFile(t, filepath.Dir(file), "app.json", `{"name": "shop", "limits": {"rps": -1}}`)
	o, err = cfg.Reload(ctx, "bob")
	if o.Result != hotreload.Rejected || hotreload.ErrorCode(err) != hotreload.CodeInvalid {
		t.Fatalf("Reload of an invalid file: %+v, %v", o, err)
	}
	if got, want := renderDetails(err), file+":1:36: /limits/rps: must be >= 1 but found -1\n"; got != want {
		t.Fatalf("errors %q, want %q", got, want)
	}
	if cfg.Load().Limits.RPS != 2 {
		t.Fatal("a rejected reload changed the live config")
	}

	o, err = cfg.Rollback(ctx, 0, "carol")
	if err != nil || o.Result != hotreload.Committed || cfg.Load().Limits.RPS != 1 {
		t.Fatalf("Rollback: %+v, %v (rps %d)", o, err, cfg.Load().Limits.RPS)
	}
}

func TestPatchRefusesToOverwriteAPendingEdit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := writeFile(t, dir, "app.yaml", "name: shop\nlimits: {rps: 1}\n")
	target := MustTarget(t, Options[App]{Files: []string{file}})
	if err := load(target); err != nil {
		t.Fatal(err)
	}
	// Two patches in a row: the second sees the file the first wrote.
	for _, p := range []string{`{"limits": {"rps": 2}}`, `{"limits": {"rps": 3}}`} {
		hotreloadtest.MustApply(t, target, hotreload.Candidate{Patch: []byte(p)})
	}
	edit := "name: edited\nlimits: {rps: 4}\n"
	writeFile(t, dir, "app.yaml", edit)
	_, err := target.Prepare(ctx, hotreload.Candidate{Patch: []byte(`{"name": "api"}`)})
	if hotreload.ErrorCode(err) != hotreload.CodeConflict {
		t.Fatalf("patch over a pending edit: %v", err)
	}
	if got, _ := os.ReadFile(file); string(got) != edit {
		t.Fatalf("the pending edit was overwritten: %q", got)
	}
	if err := load(target); err != nil {
		t.Fatal(err)
	}
	hotreloadtest.MustApply(t, target, hotreload.Candidate{Patch: []byte(`{"name": "api"}`)})
	if v := target.Store().Load(); v.Name != "api" || v.Limits.RPS != 4 {
		t.Fatalf("after reload and patch: %+v", v)
	}

	// A comment added by hand changes no content: the next patch is no
	// conflict (the guard compares content, not bytes) and keeps it.
	now, _ := os.ReadFile(file)
	commented := "# tuned by hand\n" + string(now)
	writeFile(t, dir, "app.yaml", commented)
	ch, err := target.Prepare(ctx, hotreload.Candidate{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Summary().Changes) != 0 {
		t.Fatalf("a comment changed %+v", ch.Summary().Changes)
	}
	ch.Rollback(ctx) // the engine's "unchanged"
	hotreloadtest.MustApply(t, target, hotreload.Candidate{Patch: []byte(`{"name": "again"}`)})
	if got, _ := os.ReadFile(file); !strings.HasPrefix(string(got), "# tuned by hand\nname: again\n") {
		t.Fatalf("file after the patch %q", got)
	}
}

// TestCommitKeepsAnEditMadeInFlight: an edit saved between a patch's
// Prepare and its Commit (in the health window) is never overwritten: one
// of comments alone is kept by writing the patch over it in place, any
// other stays whole, unwritten, for the watcher to read next.
func TestCommitKeepsAnEditMadeInFlight(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, edit string
		want       string // the file after Commit
		wrote      bool
	}{
		{"comment", "# tuned by hand\nname: shop\nlimits: {rps: 1}\n", "# tuned by hand\nname: api\nlimits: {rps: 1}\n", true},
		{"value", "name: edited\nlimits: {rps: 4}\n", "name: edited\nlimits: {rps: 4}\n", false},
		{"removed", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := writeFile(t, dir, "app.yaml", "name: shop\nlimits: {rps: 1}\n")
			target := MustTarget(t, Options[App]{Files: []string{file}})
			if err := load(target); err != nil {
				t.Fatal(err)
			}
			ch, err := target.Prepare(ctx, hotreload.Candidate{Patch: []byte(`{"name": "api"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.Apply(ctx); err != nil {
				t.Fatal(err)
			}
			if tc.edit == "" {
				if err := os.Remove(file); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, dir, "app.yaml", tc.edit)
			}
			if err := ch.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(file)
			if tc.edit == "" && !errors.Is(err, os.ErrNotExist) || string(got) != tc.want {
				t.Fatalf("file after Commit %q (%v), want %q", got, err, tc.want)
			}
			if w := ch.(hotreload.SourceWriter).WroteSource(); w != tc.wrote {
				t.Fatalf("WroteSource() = %v, want %v", w, tc.wrote)
			}
		})
	}
}

func TestCancelAndClose(t *testing.T) {
	target := MustTarget(t, Options[App]{Format: YAML})
	var mu sync.Mutex
	calls := map[string]int{}
	count := func(name string) func(Update[App]) {
		return func(Update[App]) { mu.Lock(); calls[name]++; mu.Unlock() }
	}
	cancel := target.Store().Subscribe("", count("cancelled"))
	target.Store().Subscribe("", count("closed"))
	MustApplyContent(t, target, "name: a\nlimits: {rps: 1}\n")
	cancel()
	cancel() // idempotent
	MustApplyContent(t, target, "name: b\nlimits: {rps: 1}\n")
	target.Close()
	target.Store().Subscribe("", count("late"))
	MustApplyContent(t, target, "name: c\nlimits: {rps: 1}\n")
	mu.Lock()
	defer mu.Unlock()
	if want := map[string]int{"cancelled": 1, "closed": 2}; !reflect.DeepEqual(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	if s := target.Store().Snapshot(); s.Value.Name != "c" || jsondiff.At(s.Data, "/name") != "c" {
		t.Fatalf("snapshot after close: %+v", s)
	}
}

// TestReadersNeverSeeAnInvalidConfig runs 8 readers that check an invariant
// across fields while 1,000 reloads run, half of them invalid (rejected by
// the schema or by a validator that guards the invariant).
func TestReadersNeverSeeAnInvalidConfig(t *testing.T) {
	invariant := func(a *App) error {
		if a.Limits.Burst != 10*a.Limits.RPS || a.Name != fmt.Sprintf("gen-%d", a.Limits.RPS) {
			return Reject("/limits/burst", "breaks the invariant: %+v", *a)
		}
		return nil
	}
	target := MustTarget(t, Options[App]{Format: JSON, Validators: []Validator[App]{invariant}})
	content := func(name string, rps, burst int) hotreload.Candidate {
		return hotreload.Candidate{Content: fmt.Appendf(nil, `{"name": %q, "limits": {"rps": %d, "burst": %d}}`, name, rps, burst)}
	}
	hotreloadtest.MustApply(t, target, content("gen-1", 1, 10))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := invariant(target.Store().Load()); err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	ctx := context.Background()
	rejected := 0
	for i := range 1000 {
		rps := i%90 + 1
		var c hotreload.Candidate
		switch i % 4 {
		case 0, 2:
			c = content(fmt.Sprintf("gen-%d", rps), rps, 10*rps)
		case 1:
			c = content(fmt.Sprintf("gen-%d", rps), rps, 10*rps+1) // breaks the invariant
		case 3:
			c = content("gen-0", 0, 0) // rps below the schema's minimum
		}
		ch, err := target.Prepare(ctx, c)
		if err != nil {
			rejected++
			continue
		}
		if err := ch.Apply(ctx); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			err = ch.Rollback(ctx)
		} else {
			err = ch.Commit(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if rejected != 500 {
		t.Fatalf("%d candidates rejected, want 500", rejected)
	}
	if reads.Load() == 0 {
		t.Fatal("the readers never read")
	}
}

// Integers beyond 2^53 are never rounded on any path: a file or a merge
// patch holding one that a float64 cannot hold exactly is rejected with
// the digits it would lose, and those it can hold (2^53, round numbers)
// stay exact through decode, validation, typed decode, the merge patch and
// the write-back, in every format, with all their digits (never as
// 1.152921504606847e+18).
func TestLargeIntegersStayExactOrAreRefused(t *testing.T) {
	type Big struct {
		RPS  int64  `json:"rps"`
		Huge uint64 `json:"huge"`
	}
	ctx := context.Background()
	for _, tc := range []struct{ name, content string }{
		{"app.yaml", "rps: 1\nhuge: 1\n"},
		{"app.json", `{"rps": 1, "huge": 1}`},
		{"app.toml", "rps = 1\nhuge = 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), tc.name, tc.content)
			schema, err := CompileSchema("big.json", []byte(`{"type": "object", "properties": {"rps": {"type": "integer", "minimum": 1}, "huge": {"type": "integer"}}}`))
			if err != nil {
				t.Fatal(err)
			}
			target, err := NewTarget(Options[Big]{Files: []string{file}, Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(target.Close)
			load, err := target.Prepare(ctx, hotreload.Candidate{})
			if err != nil {
				t.Fatal(err)
			}
			load.Apply(ctx)
			load.Commit(ctx)
			_, err = target.Prepare(ctx, hotreload.Candidate{Patch: []byte(`{"rps": 9007199254740993}`)})
			if got := renderDetails(err); !strings.Contains(got, "patch:1:9: /rps: integer 9007199254740993 is beyond ±2^53 and cannot be held exactly (it would become 9007199254740992)") {
				t.Fatalf("inexact patch: %q", got)
			}
			ch, err := target.Prepare(ctx, hotreload.Candidate{Patch: []byte(`{"rps": 9007199254740992, "huge": 1152921504606847000}`)})
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.Apply(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ch.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if v := target.Store().Load(); v.RPS != 9007199254740992 || v.Huge != 1152921504606847000 {
				t.Fatalf("typed value %+v", v)
			}
			written, _ := os.ReadFile(file)
			if !strings.Contains(string(written), "9007199254740992") || !strings.Contains(string(written), "1152921504606847000") || strings.Contains(string(written), "e+") {
				t.Fatalf("written back as\n%s", written)
			}
			// A file edited to an inexact integer is rejected, located.
			os.WriteFile(file, []byte(strings.Replace(string(written), "9007199254740992", "9007199254740993", 1)), 0o644)
			_, err = target.Prepare(ctx, hotreload.Candidate{})
			if got := renderDetails(err); !strings.Contains(got, file+":") || !strings.Contains(got, "/rps: integer 9007199254740993 is beyond ±2^53") {
				t.Fatalf("inexact file: %q", got)
			}
		})
	}
}

// A cancelled Prepare returns at once, even in the middle of a decode the
// parser cannot interrupt; the decode finishes on its own and is dropped.
func TestPrepareReturnsWhenCancelled(t *testing.T) {
	var b strings.Builder
	for i := range 200_000 {
		fmt.Fprintf(&b, "[t%d]\na = %d\n", i, i)
	}
	file := writeFile(t, t.TempDir(), "big.toml", b.String())
	target, err := NewTarget(Options[any]{Files: []string{file}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(target.Close)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		testwait.For(t, "the decode to start", testwait.D(10*time.Second), func() bool { return runtime.NumGoroutine() > before+1 }) // this one and the decode
		cancel()
	}()
	start := time.Now()
	_, err = target.Prepare(ctx, hotreload.Candidate{})
	if hotreload.ErrorCode(err) != hotreload.CodeUnavailable || !errors.Is(err, context.Canceled) {
		t.Fatalf("Prepare = %v, want unavailable: canceled", err)
	}
	if d := time.Since(start); d > testwait.D(time.Second) {
		t.Fatalf("returned %s after the start, want at once after the cancel", d)
	}
	testwait.For(t, "the dropped decode to end", testwait.D(time.Minute), func() bool { return runtime.NumGoroutine() <= before })
}
