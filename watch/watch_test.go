package watch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload/internal/testwait"
	"github.com/cybercorp/hotreload/watch/watchtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait is how long a test waits for a batch that must come.
const wait = 10 * time.Second

// saveGrace is the grace period of the save-pattern tests: far longer than
// any save, even on a loaded machine, so a file missing mid-save is never
// reported.
const saveGrace = 2 * time.Second

// quiet is how long a test waits to be sure no further batch comes.
const quiet = 150 * time.Millisecond

// MustNew starts a watcher that is closed when the test ends.
func MustNew(tb testing.TB, opts Options) *Watcher {
	tb.Helper()
	w, err := New(opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := w.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return w
}

// next returns the next batch, failing the test if none comes in time.
func next(tb testing.TB, w *Watcher) Batch {
	tb.Helper()
	select {
	case b, ok := <-w.Events():
		if !ok {
			tb.Fatal("Events closed")
		}
		return b
	case <-time.After(wait):
		tb.Fatalf("no batch within %v", wait)
		return Batch{}
	}
}

// expectQuiet fails the test if a batch comes within d.
func expectQuiet(tb testing.TB, w *Watcher, d time.Duration) {
	tb.Helper()
	select {
	case b := <-w.Events():
		tb.Fatalf("unexpected batch: paths %q removed %q errors %v", b.Paths, b.Removed, b.Errors)
	case <-time.After(d):
	}
}

// body returns the i-th distinct file content, all of the same length.
func body(i int) []byte {
	return []byte(fmt.Sprintf("version: %06d\nname: demo\nlimits:\n  rps: %d\n", i+1, 1000+i%7))
}

// TestSavePatterns saves a watched file 50 times with each pattern, with
// no debounce, and 10 times with a debounce. It checks that each final
// content is delivered exactly once, none is missed, no content is
// delivered twice in a row, and the last delivery of each save is its final
// content; atomic saves, and every save when debounced, deliver only the
// final content.
func TestSavePatterns(t *testing.T) {
	for _, mode := range []struct {
		name     string
		debounce time.Duration
		saves    int
	}{{"Immediate", Off, 50}, {"Debounced", 50 * time.Millisecond, 10}} {
		for _, p := range watchtest.Patterns {
			t.Run(mode.name+"/"+p.Name, func(t *testing.T) {
				testSavePattern(t, p, mode.debounce, mode.saves)
			})
		}
	}
}

func testSavePattern(t *testing.T, p watchtest.Pattern, debounce time.Duration, saves int) {
	path := p.Setup(t, t.TempDir(), body(-1))
	w := MustNew(t, Options{Files: []string{path}, Debounce: debounce, Poll: Off, Grace: saveGrace, Contents: true})
	strict := p.Atomic || debounce != Off
	var intermediate int
	prev := body(-1)
	for i := range saves {
		want := body(i)
		p.Save(t, path, want)
		for {
			b := next(t, w)
			if len(b.Errors) > 0 {
				t.Fatalf("save %d: errors: %v", i, b.Errors)
			}
			if len(b.Removed) > 0 || !slices.Equal(b.Paths, []string{path}) {
				t.Fatalf("save %d: batch names paths %q removed %q, want only %q", i, b.Paths, b.Removed, path)
			}
			got := b.Contents[path]
			if bytes.Equal(got, prev) {
				t.Fatalf("save %d: content %q delivered twice", i, got)
			}
			prev = got
			if bytes.Equal(got, want) {
				break
			}
			if strict {
				t.Fatalf("save %d: delivered intermediate content %q", i, got)
			}
			intermediate++
		}
		if strict {
			expectQuiet(t, w, 5*time.Millisecond)
		}
	}
	expectQuiet(t, w, quiet)
	if got, _ := os.ReadFile(path); !bytes.Equal(got, body(saves-1)) {
		t.Fatalf("file holds %q", got)
	}
	st := w.Stats()
	t.Logf("%d saves: %d intermediate deliveries, stats %+v", saves, intermediate, st)
	if st.Errors != 0 {
		t.Fatalf("Stats.Errors = %d", st.Errors)
	}
}

// TestSavePatternsReread checks the re-read contract without
// Options.Contents: after the last batch, the consumer reads the final
// content, and atomic saves are delivered once each.
func TestSavePatternsReread(t *testing.T) {
	const saves = 10
	for _, p := range watchtest.Patterns {
		if !p.Atomic {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			path := p.Setup(t, t.TempDir(), body(-1))
			w := MustNew(t, Options{Files: []string{path}, Debounce: Off, Poll: Off, Grace: saveGrace})
			for i := range saves {
				p.Save(t, path, body(i))
				b := next(t, w)
				if !slices.Equal(b.Paths, []string{path}) || b.Contents != nil {
					t.Fatalf("save %d: batch %+v", i, b)
				}
				if got, _ := os.ReadFile(path); !bytes.Equal(got, body(i)) {
					t.Fatalf("save %d: read %q after the batch", i, got)
				}
				expectQuiet(t, w, 5*time.Millisecond)
			}
		})
	}
}

// TestIdenticalRewriteIsSilent saves the same bytes again with every
// pattern: nothing is reported, by inotify or by the poll.
func TestIdenticalRewriteIsSilent(t *testing.T) {
	for _, p := range watchtest.Patterns {
		t.Run(p.Name, func(t *testing.T) {
			path := p.Setup(t, t.TempDir(), body(-1))
			debounce := Off // a non-atomic save shows real intermediate content
			if !p.Atomic {
				debounce = 50 * time.Millisecond
			}
			w := MustNew(t, Options{Files: []string{path}, Debounce: debounce, Poll: 20 * time.Millisecond, Grace: saveGrace})
			for range 5 {
				p.Save(t, path, body(-1))
			}
			expectQuiet(t, w, quiet)
		})
	}
}

func TestDebounceCoalesces(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	watchtest.MustWrite(t, a, body(0))
	w := MustNew(t, Options{Files: []string{a, b}, Debounce: 100 * time.Millisecond, Poll: Off, Contents: true})
	start := time.Now()
	for i := range 5 {
		watchtest.MustWrite(t, a, body(i+1))
		watchtest.MustWrite(t, b, body(i+1))
		time.Sleep(10 * time.Millisecond)
	}
	// Ten saves make one batch; a loaded machine may split it, once.
	final := map[string]bool{}
	batches := 0
	for len(final) < 2 {
		got := next(t, w)
		batches++
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("batch after %v, before the debounce", d)
		}
		for _, p := range got.Paths {
			if bytes.Equal(got.Contents[p], body(5)) {
				final[p] = true
			}
		}
	}
	if batches > 2 {
		t.Errorf("%d batches for two files saved five times each", batches)
	}
	expectQuiet(t, w, quiet)
}

func TestRemovedAfterGrace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	watchtest.MustWrite(t, p, body(0))
	w := MustNew(t, Options{Files: []string{p}, Debounce: Off, Poll: Off, Grace: 30 * time.Millisecond})
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	b := next(t, w)
	if len(b.Paths) != 0 || !slices.Equal(b.Removed, []string{p}) {
		t.Fatalf("batch %+v, want %q removed", b, p)
	}
	watchtest.MustWrite(t, p, body(0)) // same bytes as before removal: still a change
	b = next(t, w)
	if !slices.Equal(b.Paths, []string{p}) {
		t.Fatalf("batch %+v, want %q changed", b, p)
	}
	expectQuiet(t, w, quiet)
}

func TestEmptiedFileReportedAfterGrace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	watchtest.MustWrite(t, p, body(0))
	w := MustNew(t, Options{Files: []string{p}, Debounce: Off, Poll: Off, Grace: 30 * time.Millisecond, Contents: true})
	start := time.Now()
	watchtest.MustWrite(t, p, nil)
	b := next(t, w)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("empty file reported after %v, within the grace period", d)
	}
	if !slices.Equal(b.Paths, []string{p}) || len(b.Contents[p]) != 0 {
		t.Fatalf("batch %+v, want %q empty", b, p)
	}
}

// TestSymlinkTargetElsewhere writes in place to the target of a symlink
// that lives in another directory: only a watch on the target's directory
// sees it (the poll is off).
func TestSymlinkTargetElsewhere(t *testing.T) {
	real := filepath.Join(t.TempDir(), "real.yaml")
	watchtest.MustWrite(t, real, body(0))
	link := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	w := MustNew(t, Options{Files: []string{link}, Debounce: Off, Poll: Off})
	for i := 1; i <= 3; i++ {
		watchtest.MustWrite(t, real, body(i))
		if b := next(t, w); !slices.Equal(b.Paths, []string{link}) {
			t.Fatalf("batch %+v", b)
		}
	}
	expectQuiet(t, w, quiet)
}

// TestMissingDirectoryArms watches a file whose directory (and parent)
// do not exist yet.
func TestMissingDirectoryArms(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "a", "b", "config.yaml")
	w := MustNew(t, Options{Files: []string{p}, Debounce: Off, Poll: Off})
	watchtest.MustWrite(t, p, body(0))
	if b := next(t, w); !slices.Equal(b.Paths, []string{p}) {
		t.Fatalf("batch %+v", b)
	}
	if err := os.RemoveAll(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	if b := next(t, w); !slices.Equal(b.Removed, []string{p}) {
		t.Fatalf("batch %+v, want removal", b)
	}
	watchtest.MustWrite(t, p, body(1))
	if b := next(t, w); !slices.Equal(b.Paths, []string{p}) {
		t.Fatalf("batch %+v", b)
	}
	if st := w.Stats(); st.Rearms < 1 {
		t.Errorf("Stats.Rearms = %d, want >= 1", st.Rearms)
	}
}

func TestDirsRecursiveWithGlobs(t *testing.T) {
	root := t.TempDir()
	watchtest.MustWrite(t, filepath.Join(root, "main.go"), []byte("package main"))
	watchtest.MustWrite(t, filepath.Join(root, "node_modules", "x.go"), []byte("x"))
	w := MustNew(t, Options{
		Dirs:      []string{root},
		Recursive: true,
		Include:   []string{"*.go", "static/**"},
		Exclude:   []string{"node_modules", "*_test.go"},
		Debounce:  20 * time.Millisecond,
		Poll:      Off,
	})
	rel := func(ps []string) []string {
		out := []string{}
		for _, p := range ps {
			r, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(r))
		}
		return out
	}

	watchtest.MustWrite(t, filepath.Join(root, "main.go"), []byte("package main // changed"))
	watchtest.MustWrite(t, filepath.Join(root, "pkg", "deep", "lib.go"), []byte("package deep"))
	watchtest.MustWrite(t, filepath.Join(root, "pkg", "lib_test.go"), []byte("package pkg"))
	watchtest.MustWrite(t, filepath.Join(root, "static", "css", "app.css"), []byte("body{}"))
	watchtest.MustWrite(t, filepath.Join(root, "README.md"), []byte("# hi"))
	watchtest.MustWrite(t, filepath.Join(root, "node_modules", "x.go"), []byte("y"))
	want := []string{"main.go", "pkg/deep/lib.go", "static/css/app.css"}
	var got []string
	for len(got) < len(want) { // the writes may straddle a debounce period
		got = append(got, rel(next(t, w).Paths)...)
	}
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Fatalf("Paths = %q, want %q", got, want)
	}
	expectQuiet(t, w, quiet)

	if err := os.RemoveAll(filepath.Join(root, "pkg")); err != nil {
		t.Fatal(err)
	}
	b := next(t, w)
	if got := rel(b.Removed); !slices.Equal(got, []string{"pkg/deep/lib.go"}) {
		t.Fatalf("Removed = %q", got)
	}

	// A file created and removed within one debounce period is not news.
	tmp := filepath.Join(root, "scratch.go")
	watchtest.MustWrite(t, tmp, []byte("x"))
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	expectQuiet(t, w, quiet)
}

// TestDirsRootRecreated deletes a watched UI-style folder and creates it
// again with new files, quickly and then slowly.
func TestDirsRootRecreated(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ui")
	css := filepath.Join(root, "app.css")
	watchtest.MustWrite(t, css, []byte("body{}"))
	w := MustNew(t, Options{Dirs: []string{root}, Debounce: Off, Poll: Off, Grace: 30 * time.Millisecond})

	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	watchtest.MustWrite(t, css, []byte("body{}")) // back within the grace period, same bytes
	expectQuiet(t, w, quiet)

	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if b := next(t, w); !slices.Equal(b.Removed, []string{css}) {
		t.Fatalf("batch %+v, want %q removed", b, css)
	}
	js := filepath.Join(root, "app.js")
	watchtest.MustWrite(t, js, []byte("x()"))
	if b := next(t, w); !slices.Equal(b.Paths, []string{js}) {
		t.Fatalf("batch %+v, want %q", b, js)
	}
}

func TestPollOnly(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	watchtest.MustWrite(t, p, body(0))
	w := MustNew(t, Options{Files: []string{p}, PollOnly: true, Poll: 20 * time.Millisecond, Debounce: Off})
	for i := 1; i <= 3; i++ {
		watchtest.MustWrite(t, p, body(i))
		if b := next(t, w); !slices.Equal(b.Paths, []string{p}) {
			t.Fatalf("batch %+v", b)
		}
	}
	// The count may be taken just after the batch is delivered.
	testwait.Until(t, "three poll catches counted", 10*time.Second, func() error {
		if st := w.Stats(); st.PollCatches != 3 {
			return fmt.Errorf("Stats.PollCatches = %d, want 3", st.PollCatches)
		}
		return nil
	})
}

// TestPollCatchesLostEvents removes the inotify watch behind the
// watcher's back, as if its events had been lost: the poll still finds the
// change.
func TestPollCatchesLostEvents(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	watchtest.MustWrite(t, p, body(0))
	w := MustNew(t, Options{Files: []string{p}, Poll: 50 * time.Millisecond, Debounce: Off, Contents: true})
	if err := w.fsw.Remove(dir); err != nil {
		t.Fatal(err)
	}
	watchtest.MustWrite(t, p, body(1))
	b := next(t, w)
	if !bytes.Equal(b.Contents[p], body(1)) {
		t.Fatalf("batch %+v", b)
	}
	if st := w.Stats(); st.PollCatches != 1 {
		t.Errorf("Stats.PollCatches = %d, want 1", st.PollCatches)
	}
}

// TestOverflowRescans injects the overflow error fsnotify reports when the
// kernel queue overflows: the error is delivered and counted, and the
// rescan finds the change whose event was lost.
func TestOverflowRescans(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	watchtest.MustWrite(t, p, body(0))
	var hooked []error
	w := MustNew(t, Options{Files: []string{p}, Poll: Off, Debounce: Off, OnError: func(err error) { hooked = append(hooked, err) }})
	if err := w.fsw.Remove(dir); err != nil { // lose the events
		t.Fatal(err)
	}
	watchtest.MustWrite(t, p, body(1))
	w.fsw.Errors <- ErrOverflow
	b := next(t, w)
	if !slices.Equal(b.Paths, []string{p}) || len(b.Errors) != 1 || !errors.Is(b.Errors[0], ErrOverflow) {
		t.Fatalf("batch %+v, want the change and the overflow", b)
	}
	st := w.Stats()
	if st.Overflows != 1 || st.Errors != 1 || st.PollCatches != 1 {
		t.Errorf("Stats = %+v", st)
	}
	if len(hooked) != 1 {
		t.Errorf("OnError called %d times", len(hooked))
	}
}

func TestReadErrorIsDelivered(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	watchtest.MustWrite(t, p, body(0))
	w := MustNew(t, Options{Files: []string{p}, Poll: Off, Debounce: Off, Grace: Off})
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if b := next(t, w); !slices.Equal(b.Removed, []string{p}) {
		t.Fatalf("batch %+v", b)
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	b := next(t, w)
	if len(b.Errors) != 1 || !strings.Contains(b.Errors[0].Error(), "is a directory") {
		t.Fatalf("batch %+v, want a read error", b)
	}
	// The watcher is still alive.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	watchtest.MustWrite(t, p, body(1))
	if b := next(t, w); !slices.Equal(b.Paths, []string{p}) {
		t.Fatalf("batch %+v", b)
	}
}

// TestSlowConsumer does not read while many changes happen: the watcher
// keeps reading inotify and hands over one batch holding every changed
// file with its newest content.
func TestSlowConsumer(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i := range 20 {
		p := filepath.Join(dir, fmt.Sprintf("f%02d.yaml", i))
		watchtest.MustWrite(t, p, body(0))
		files = append(files, p)
	}
	w := MustNew(t, Options{Files: files, Poll: Off, Debounce: Off, Contents: true})
	for round := 1; round <= 50; round++ {
		for _, p := range files {
			watchtest.MustWrite(t, p, body(round))
		}
	}
	time.Sleep(100 * time.Millisecond)
	var got []string
	for len(got) < len(files) {
		b := next(t, w)
		for _, p := range b.Paths {
			if c := b.Contents[p]; bytes.Equal(c, body(50)) {
				got = append(got, p)
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, files) {
		t.Fatalf("final contents delivered for %q", got)
	}
	expectQuiet(t, w, quiet)
}

func TestNewRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	watchtest.MustWrite(t, file, nil)
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"ErrNothingToWatch", Options{}, "no Files and no Dirs"},
		{"ErrEmptyPath", Options{Files: []string{""}}, "empty file path"},
		{"ErrEmptyDirPath", Options{Dirs: []string{""}}, "empty directory path"},
		{"ErrFileIsDirectory", Options{Files: []string{dir}}, "is a directory"},
		{"ErrDirIsFile", Options{Dirs: []string{file}}, "is not a directory"},
		{"ErrBadGlob", Options{Dirs: []string{dir}, Include: []string{"[a-"}}, `glob "[a-"`},
		{"ErrPollOnlyWithoutPoll", Options{Files: []string{file}, PollOnly: true, Poll: Off}, "PollOnly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(tc.opts)
			if err == nil {
				w.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestCloseAlwaysWorks(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	w, err := New(Options{Files: []string{p}, Debounce: Off})
	if err != nil {
		t.Fatal(err)
	}
	watchtest.MustWrite(t, p, body(0)) // a batch nobody reads
	time.Sleep(20 * time.Millisecond)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for range w.Events() {
	}
}

// TestNoLeaks opens and closes many watchers, each with work in flight,
// and checks that no goroutine and no file descriptor is left behind.
func TestNoLeaks(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	watchtest.MustWrite(t, p, body(0))
	before := openFDs(t)
	for i := range 200 {
		w, err := New(Options{Files: []string{p}, Dirs: []string{filepath.Join(dir, "d")}, Debounce: Off, Poll: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		watchtest.MustWrite(t, p, body(i%3))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	goleak.VerifyNone(t)
	if after := openFDs(t); after != before {
		t.Fatalf("open descriptors: %d before, %d after", before, after)
	}
}

func openFDs(tb testing.TB) int {
	tb.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(entries)
}
