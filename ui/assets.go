package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/inputfile"
)

// ThemeFile is the file, at the root of the UI folder, that holds the
// theme: a JSON object of CSS custom properties ({"--accent": "#0a7"}).
const ThemeFile = "theme.json"

// ComponentDir is the folder, at the root of the UI folder, whose modules
// each define one custom element named after the file
// (components/x-counter.js defines <x-counter>).
const ComponentDir = "components"

// AssetsOptions configure Assets. Only Dir is required.
type AssetsOptions struct {
	// Dir is the UI folder.
	Dir string
	// Hub is told what changed (nil tells nobody); Dir is added to its
	// Roots.
	Hub *Hub
	// Name is the target's name; empty means "ui".
	Name string
	// Prefix is the URL path the folder is served under, ending in "/";
	// empty means "/ui/".
	Prefix string
	// MaxBytes bounds the folder's total size (the snapshot history keeps
	// holds every file); zero means 32 MiB.
	MaxBytes int64
	// Debounce is the quiet time Watch waits after a change before it
	// reloads; zero means watch.DefaultDebounce, watch.Off reloads at once.
	Debounce time.Duration
	// Logger logs what Watch cannot submit; nil discards.
	Logger *slog.Logger
}

// Assets is the hotreload.Target of a UI folder: the engine validates the
// folder, makes it live and, on rollback, brings back the previous files.
// Its snapshot holds the content of every file, so any committed version can
// be restored exactly. Assets serves the live files over HTTP and tells the
// Hub what to reload in the browsers.
type Assets struct {
	dir  string
	hub  *Hub
	opts AssetsOptions
	log  *slog.Logger
	live atomic.Pointer[fileSet]
}

// ThemeCSS is the stylesheet Assets derives from ThemeFile (unless the
// folder has a file of that name), so that a page can link the theme for
// its first paint; later theme changes arrive over the socket.
const ThemeCSS = "theme.css"

// fileSet is one immutable version of the folder.
type fileSet struct {
	files    map[string]file // by slash-separated path relative to the folder
	theme    map[string]string
	themeCSS file   // derived from theme; not part of the snapshot
	version  string // hotreload.Digest of the snapshot
}

type file struct {
	data []byte
	hash string // first 16 hex digits of its SHA-256
}

// snapshotDoc is the durable form of a file set.
type snapshotDoc struct {
	Files map[string][]byte `json:"files"`
}

// NewAssets returns the target of the folder opts.Dir. It serves nothing
// until the engine applies a first version.
func NewAssets(opts AssetsOptions) *Assets {
	dir, hub := opts.Dir, opts.Hub
	if opts.Name == "" {
		opts.Name = "ui"
	}
	if opts.Prefix == "" {
		opts.Prefix = "/ui/"
	}
	if !strings.HasSuffix(opts.Prefix, "/") {
		opts.Prefix += "/"
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 32 << 20
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if hub != nil {
		hub.addRoot(dir) // the overlay shows the folder's files relative to it
	}
	return &Assets{dir: dir, hub: hub, opts: opts, log: log}
}

// Name returns the target's name.
func (a *Assets) Name() string { return a.opts.Name }

// Kind returns hotreload.KindUI.
func (a *Assets) Kind() hotreload.Kind { return hotreload.KindUI }

// Dir returns the folder, for the watcher.
func (a *Assets) Dir() string { return a.dir }

// Version returns the digest of the live snapshot, "" before the first
// apply.
func (a *Assets) Version() string {
	if s := a.live.Load(); s != nil {
		return s.version
	}
	return ""
}

// Prepare reads and validates a candidate: the folder itself when the
// candidate is empty, or a snapshot from history. Content and patches are
// refused: a UI folder has no single document to patch.
func (a *Assets) Prepare(ctx context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	var files map[string][]byte
	var err error
	switch {
	case c.Content != nil || c.Patch != nil:
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "the %s target reloads from its folder or a history snapshot, not from content or a patch", a.opts.Name)
	case c.Snapshot != nil:
		var doc snapshotDoc
		if err := json.Unmarshal(c.Snapshot, &doc); err != nil {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "decoding the %s snapshot: %w", a.opts.Name, err)
		}
		files = doc.Files
	default:
		files, err = readFolder(ctx, a.dir, a.opts.MaxBytes)
		if err != nil {
			return nil, err
		}
	}
	next, err := a.build(files, c.Snapshot != nil)
	if err != nil {
		return nil, err
	}
	return &assetsChange{a: a, next: next, prev: a.live.Load()}, nil
}

// build validates files and makes a file set of them.
func (a *Assets) build(files map[string][]byte, fromSnapshot bool) (*fileSet, error) {
	set := &fileSet{files: make(map[string]file, len(files))}
	var problems []hotreload.FieldError
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		if !fs.ValidPath(name) {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "the %s snapshot holds an invalid path %q", a.opts.Name, name)
		}
		shown := name
		if !fromSnapshot {
			shown = filepath.Join(a.dir, filepath.FromSlash(name))
		}
		switch {
		case name == ThemeFile:
			theme, errs := parseTheme(shown, data)
			problems = append(problems, errs...)
			set.theme = theme
		case path.Ext(name) == ".css":
			problems = append(problems, checkCSS(shown, data)...)
		case isScript(name):
			problems = append(problems, checkJS(shown, data)...)
		}
		set.files[name] = newFile(data)
	}
	if len(problems) > 0 {
		return nil, &hotreload.Error{
			Code:    hotreload.CodeInvalid,
			Message: fmt.Sprintf("validating the %s folder: %d problem(s)", a.opts.Name, len(problems)),
			Details: problems,
		}
	}
	set.version = hotreload.Digest(set.snapshot())
	if set.theme != nil {
		set.themeCSS = newFile(themeStylesheet(set.theme))
	}
	return set, nil
}

func newFile(data []byte) file {
	sum := sha256.Sum256(data)
	return file{data: data, hash: hex.EncodeToString(sum[:8])}
}

// themeStylesheet renders theme properties as one :root rule, sorted.
func themeStylesheet(theme map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString(":root {\n")
	for _, k := range slices.Sorted(maps.Keys(theme)) {
		fmt.Fprintf(&b, "  %s: %s;\n", k, theme[k])
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func isScript(name string) bool {
	ext := path.Ext(name)
	return ext == ".js" || ext == ".mjs"
}

// snapshot encodes the set deterministically (encoding/json sorts map keys).
func (s *fileSet) snapshot() []byte {
	doc := snapshotDoc{Files: make(map[string][]byte, len(s.files))}
	for name, f := range s.files {
		doc.Files[name] = f.data
	}
	b, _ := json.Marshal(doc)
	return b
}

// readFolder reads every regular file under dir, skipping hidden files and
// editor leftovers.
func readFolder(ctx context.Context, dir string, maxBytes int64) (map[string][]byte, error) {
	files := map[string][]byte{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if p != dir && ignored(name) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		data, err := inputfile.Read(p, inputfile.Options{MaxBytes: maxBytes, AllowOutsideLinks: true})
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking; the next event reloads again
			}
			return err
		}
		total += int64(len(data))
		if total > maxBytes {
			return hotreload.Errorf(hotreload.CodeTooLarge, "the UI folder %s is larger than %d bytes", dir, maxBytes)
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		var he *hotreload.Error
		if errors.As(err, &he) {
			return nil, err
		}
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "reading the UI folder %s: %w", dir, err)
	}
	return files, nil
}

func ignored(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".tmp")
}

// entries lists the update a browser would need to load each file.
func (a *Assets) entries(s *fileSet) []Update {
	out := make([]Update, 0, len(s.files))
	for name, f := range s.files {
		out = append(out, a.updateFor(s, name, f.hash))
	}
	return out
}

// updateFor classifies one file of set s.
func (a *Assets) updateFor(s *fileSet, name, hash string) Update {
	u := Update{Path: a.opts.Prefix + name, Hash: hash, Version: s.version}
	dir, base := path.Split(name)
	ext := path.Ext(name)
	switch {
	case name == ThemeFile:
		u.Kind, u.Key, u.Theme = KindTheme, string(KindTheme), s.theme
	case ext == ".css":
		u.Kind = KindStyles
	case isScript(name) && dir == ComponentDir+"/" && strings.Contains(strings.TrimSuffix(base, ext), "-"):
		u.Kind, u.Name = KindComponent, strings.TrimSuffix(base, ext)
		u.Key = "component:" + u.Name
	case isScript(name):
		u.Kind = KindModule
	default:
		u.Kind = KindPage
		u.Key = "page:" + u.Path // a state entry; the broadcast is one page reload
	}
	return u
}

// publish records set as the hub's state and, when from is a previous set,
// broadcasts what changed: one full page reload when any file changed that
// cannot be patched in place (or was removed), else one update per file.
func (a *Assets) publish(from, to *fileSet) {
	if a.hub == nil {
		return
	}
	a.hub.setState(a.entries(to), to.version)
	if from == nil {
		return
	}
	var updates []Update
	page := false
	for _, name := range changedNames(from, to) {
		f, ok := to.files[name]
		if !ok {
			page = true
			continue
		}
		u := a.updateFor(to, name, f.hash)
		page = page || u.Kind == KindPage
		updates = append(updates, u)
	}
	if page {
		a.hub.broadcast(Update{Kind: KindPage, Key: string(KindPage), Version: to.version})
		return
	}
	for _, u := range updates {
		a.hub.broadcast(u)
	}
}

// changedNames lists, sorted, the files added, changed or removed from a to b.
func changedNames(a, b *fileSet) []string {
	var out []string
	for name, f := range b.files {
		if g, ok := a.files[name]; !ok || g.hash != f.hash {
			out = append(out, name)
		}
	}
	for name := range a.files {
		if _, ok := b.files[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// ServeHTTP serves the live files under the prefix, with the content hash as
// ETag. A path ending in "/" serves its index.html; ThemeCSS is derived
// from ThemeFile when the folder has no such file.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := a.live.Load()
	name, ok := strings.CutPrefix(r.URL.Path, a.opts.Prefix)
	if !ok && r.URL.Path+"/" == a.opts.Prefix {
		name, ok = "", true
	}
	if s == nil || !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" || strings.HasSuffix(name, "/") {
		name += "index.html"
	}
	f, ok := s.files[name]
	if !ok && name == ThemeCSS && s.themeCSS.data != nil {
		f, ok = s.themeCSS, true
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", `"`+f.hash+`"`)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}

// assetsChange is a prepared file set.
type assetsChange struct {
	a       *Assets
	next    *fileSet
	prev    *fileSet
	applied bool
}

func (c *assetsChange) Summary() hotreload.Summary {
	var changes []hotreload.PathChange
	prev := c.prev
	if prev == nil {
		prev = &fileSet{}
	}
	for _, name := range changedNames(prev, c.next) {
		pc := hotreload.PathChange{Path: "/" + name}
		if f, ok := prev.files[name]; ok {
			pc.Old = f.hash
		}
		if f, ok := c.next.files[name]; ok {
			pc.New = f.hash
		}
		changes = append(changes, pc)
	}
	return hotreload.Summary{Kind: hotreload.KindUI, Snapshot: c.next.snapshot(), Changes: changes}
}

// Apply serves the new files and tells the browsers. The previous set stays
// in memory for Rollback.
func (c *assetsChange) Apply(context.Context) error {
	c.a.live.Store(c.next)
	c.applied = true
	c.a.publish(c.prev, c.next)
	return nil
}

// Rollback serves the previous files again and tells the browsers; before
// Apply it only drops the candidate.
func (c *assetsChange) Rollback(context.Context) error {
	if !c.applied {
		return nil
	}
	c.a.live.Store(c.prev)
	if c.prev != nil {
		c.a.publish(c.next, c.prev)
	}
	c.applied = false
	return nil
}

// Commit releases the previous set.
func (c *assetsChange) Commit(context.Context) error {
	c.prev = nil
	return nil
}
