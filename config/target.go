package config

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"

	"strings"
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// Validator is a Go check of the decoded configuration, registered by the
// library user. It returns nil to accept v or an error to reject it; an
// error made by [Reject] names the path that is wrong, so that the problem
// is reported with its file, line and column.
type Validator[T any] func(v *T) error

// Reject returns the error a Validator uses to reject the value at path (a
// JSON Pointer such as "/limits/rps") with a message.
func Reject(path, format string, args ...any) error {
	return &hotreload.Error{
		Code:    hotreload.CodeInvalid,
		Message: "rejected by a validator",
		Details: []hotreload.FieldError{{Path: path, Message: fmt.Sprintf(format, args...)}},
	}
}

// Options configure a Target. They are copied by NewTarget.
type Options[T any] struct {
	// Name names the target in history, metrics and the API; "config"
	// when empty.
	Name string
	// Files are the configuration files, merged in order: a later file
	// overrides the keys of an earlier one, objects merging key by key.
	// Each file's format comes from its extension.
	Files []string
	// Schema, when set, fills defaults and validates every candidate.
	Schema *Schema
	// Strict rejects keys the schema does not declare (use it in
	// production, where a typo must not pass silently).
	Strict bool
	// Format is the format of Candidate.Content; the first file's format
	// when empty.
	Format Format
	// Transform, when set, rewrites the merged document before defaults
	// and validation, such as to decrypt secrets. It must not modify its
	// argument. Snapshots and history keep the document before Transform,
	// so they never hold what it decrypted.
	Transform func(doc any) (any, error)
	// Validators run on the typed value after the schema accepted it.
	Validators []Validator[T]
	// ReadOnlyFiles keeps a merge patch (Candidate.Patch) in memory only.
	// By default, when the target has exactly one file, a committed patch
	// is written back to it atomically in its own format so that a
	// restart keeps it, edited in place so that the file's comments, key
	// order and formatting stay.
	ReadOnlyFiles bool
	// NotifyTimeout bounds how long Apply and Rollback wait for
	// subscribers; DefaultNotifyTimeout when zero.
	NotifyTimeout time.Duration
	// Logger receives subscriber warnings; nil discards.
	Logger *slog.Logger
	// Limits bound the files read (size, links out of their directory).
	Limits Limits
	// Encrypt, when set, encrypts a secret that a merge patch sets in
	// plaintext (see Target.seal); without it such a patch is refused.
	Encrypt func(plaintext []byte) (string, error)
	// SecretPaths, when set, names more secret values of a document than
	// the schema marks (a plugin's settings its manifest marks secret):
	// JSON Pointers that a patch seals like the schema's.
	SecretPaths func(doc any) []string
}

// Target is the configuration as a hotreload.Target: it reads and merges
// its files, validates them and publishes the typed value in its Store.
//
// Candidates are read as follows: all empty reads the files; Content is
// the full configuration in Options.Format; Patch is a JSON merge patch
// (RFC 7396) applied to the live document before Transform and defaults;
// Snapshot restores exactly a state from history (it is never written back
// to the files, so an operator's pending edit is not lost). A patch is not
// written back, and is refused, when the file changed on disk since the
// live state was read from it.
type Target[T any] struct {
	opts  Options[T]
	store *Store[T]

	mu         sync.Mutex // guards live, validators and wrote
	live       *state[T]
	validators []Validator[T]
	// wrote is the SHA-256 of what the target last wrote to its file; nil
	// once the file was seen holding anything else. A read that finds it
	// is the target's own write-back, not an operator's edit.
	wrote *[sha256.Size]byte
}

// state is one configuration: the source document, the document after
// Transform and defaults, and the typed value.
type state[T any] struct {
	// disk is the SHA-256 of the single file's content this state was read
	// from or written to; nil when the state did not come from the file.
	disk *[sha256.Size]byte
	// from is, for a state whose write-back has not run yet, the SHA-256
	// of the file's content the write was made from: the file holds it
	// until the commit.
	from   *[sha256.Size]byte
	source Document // merged, before Transform and defaults
	final  Document
	snap   *Snapshot[T]
}

// NewTarget returns a target with nothing loaded yet; Store().Load()
// returns nil until its first change is applied.
func NewTarget[T any](opts Options[T]) (*Target[T], error) {
	if opts.Name == "" {
		opts.Name = "config"
	}
	opts.Files = append([]string(nil), opts.Files...)
	for _, f := range opts.Files {
		if _, err := FormatOf(f); err != nil {
			return nil, err
		}
	}
	if opts.Format == "" {
		opts.Format = JSON
		if len(opts.Files) > 0 {
			opts.Format, _ = FormatOf(opts.Files[0])
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Target[T]{opts: opts, store: newStore[T](opts.NotifyTimeout, opts.Logger)}
	t.validators = append(t.validators, opts.Validators...)
	return t, nil
}

// Name returns the target's name.
func (t *Target[T]) Name() string { return t.opts.Name }

// Kind returns hotreload.KindConfig.
func (t *Target[T]) Kind() hotreload.Kind { return hotreload.KindConfig }

// Store returns the store the target publishes to.
func (t *Target[T]) Store() *Store[T] { return t.store }

// Encrypted returns the live document (defaults filled) with the values
// that were encrypted in the source still encrypted, or nil before the
// first load.
func (t *Target[T]) Encrypted() any {
	t.mu.Lock()
	live := t.live
	t.mu.Unlock()
	if live == nil {
		return nil
	}
	return live.encrypted()
}

// Schema returns the target's schema, or nil.
func (t *Target[T]) Schema() *Schema { return t.opts.Schema }

// AddValidator registers a validator; it applies from the next Prepare on.
func (t *Target[T]) AddValidator(v Validator[T]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.validators = append(t.validators, v)
}

// Redacted returns the live document with its secrets redacted, or nil
// before the first load. The admin API serves it.
func (t *Target[T]) Redacted() any {
	s := t.store.Snapshot()
	if s == nil {
		return nil
	}
	return t.opts.Schema.Redact(s.Data)
}

// Close ends the store's subscriptions.
func (t *Target[T]) Close() { t.store.Close() }

// Prepare reads, decodes and validates a candidate without touching the
// live configuration.
func (t *Target[T]) Prepare(ctx context.Context, c hotreload.Candidate) (hotreload.Change, error) {
	return interruptible(ctx, "preparing config "+t.opts.Name, func() (hotreload.Change, error) { return t.prepare(c) })
}

// prepare is Prepare without the context, which the parsers do not take.
func (t *Target[T]) prepare(c hotreload.Candidate) (hotreload.Change, error) {
	t.mu.Lock()
	live, validators, wrote := t.live, t.validators, t.wrote
	t.mu.Unlock()

	var (
		source Document
		err    error
		write  *fileWrite
		disk   *[sha256.Size]byte
	)
	switch {
	case len(c.Snapshot) > 0:
		source, err = Decode("snapshot", c.Snapshot, JSON)
		if err == nil && c.Rollback && t.writable() {
			write, err = t.writeBack(live, source.Value)
			if hotreload.ErrorCode(err) == hotreload.CodeConflict {
				// An edit on disk that was not applied (or was rejected)
				// is the operator's: the rollback restores the live state
				// and leaves the file alone.
				t.opts.Logger.Warn("rolled back in memory only: the config file holds an edit that is not live", "file", t.opts.Files[0])
				write, err = nil, nil
			}
		}
	case len(c.Patch) > 0:
		source, err = t.patch(live, c.Patch)
		if err == nil {
			source.Value, err = t.seal(live, source.Value)
		}
		if err == nil && t.writable() {
			write, err = t.writeBack(live, source.Value)
		}
	case len(c.Content) > 0:
		name := c.Meta["file"]
		if name == "" {
			name = "content." + string(t.opts.Format)
		}
		source, err = Decode(name, c.Content, t.opts.Format)
	default:
		source, disk, err = t.read()
		if err == nil && disk != nil && wrote != nil && live != nil {
			if *disk == *wrote {
				// The file holds the target's own write-back (a watcher
				// reading it late): no operator edit, the live state stays.
				source = live.source
			} else {
				t.forget(wrote)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	var from *[sha256.Size]byte
	if write != nil {
		sum := sha256.Sum256(write.data)
		disk, from = &sum, write.from
	}
	snapshot := encodeAside(source)
	next, changes, err := t.build(source, snapshot, validators, live)
	encoded, serr := snapshot()
	if err == nil && serr != nil {
		err = hotreload.Errorf(hotreload.CodeInvalid, "encoding the config snapshot: %w", serr)
	}
	if err != nil {
		return nil, err
	}
	next.disk, next.from = disk, from
	ch := &change[T]{t: t, next: next, write: write, changes: changes}
	var prevData any
	if live != nil {
		prevData = live.final.Value
	}
	ch.summary = hotreload.Summary{
		Kind:     hotreload.KindConfig,
		Snapshot: encoded,
		Changes:  t.redactChanges(ch.changes, prevData, next.final.Value),
		Meta:     c.Meta,
	}
	return ch, nil
}

// read decodes and merges the files, reporting the syntax errors of all of
// them at once. With a single file it also returns the digest of what it
// read.
func (t *Target[T]) read() (Document, *[sha256.Size]byte, error) {
	switch len(t.opts.Files) {
	case 0:
		return Document{}, nil, hotreload.Errorf(hotreload.CodeInvalid, "config %q has no files to read", t.opts.Name)
	case 1:
		file := t.opts.Files[0]
		src, err := t.opts.Limits.read(file)
		if err != nil {
			return Document{}, nil, err
		}
		doc, err := Decode(file, src, mustFormat(file))
		sum := sha256.Sum256(src)
		return doc, &sum, err
	}
	docs, err := t.opts.Limits.decodeFiles(t.opts.Files...)
	if err != nil {
		return Document{}, nil, err
	}
	return Merge(docs...), nil, nil
}

// writeBack prepares the write of a patched document to the single file.
// It refuses when the file's content changed on disk since the live state
// was read from it (an edit the watcher has not applied yet), which the
// write would silently destroy; a change of comments or layout alone is
// kept by the edit in place.
func (t *Target[T]) writeBack(live *state[T], doc any) (*fileWrite, error) {
	file := t.opts.Files[0]
	src, err := t.opts.Limits.read(file)
	if err != nil {
		src = nil // written whole
	}
	if live != nil && live.disk != nil && src != nil && !t.expected(live, sha256.Sum256(src)) && !t.sameContent(file, src, live) {
		return nil, hotreload.Errorf(hotreload.CodeConflict,
			"config file %q changed on disk since it was loaded: reload it first, then patch", file)
	}
	return newFileWrite(file, src, doc)
}

// expected reports whether a file whose content has the digest sum holds
// what the target expects there, no edit of the operator's: the live
// state, the content the live state's pending write-back was made from, or
// what the target wrote last.
func (t *Target[T]) expected(live *state[T], sum [sha256.Size]byte) bool {
	t.mu.Lock()
	wrote := t.wrote
	t.mu.Unlock()
	return sum == *live.disk || live.from != nil && sum == *live.from || wrote != nil && sum == *wrote
}

// forget drops the digest of the target's last write once the file was
// seen holding something else.
func (t *Target[T]) forget(wrote *[sha256.Size]byte) {
	t.mu.Lock()
	if t.wrote == wrote {
		t.wrote = nil
	}
	t.mu.Unlock()
}

// ReadSource returns the snapshot the files hold now, as Prepare of an
// empty candidate would take it, without validating it
// (hotreload.SourceReader).
func (t *Target[T]) ReadSource(context.Context) ([]byte, error) {
	doc, _, err := t.read()
	if err != nil {
		return nil, err
	}
	return jsondiff.Marshal(doc.Value)
}

// writable reports whether a patch or a rollback is written back to the
// source: a single file, not read-only.
func (t *Target[T]) writable() bool { return len(t.opts.Files) == 1 && !t.opts.ReadOnlyFiles }

// sameContent reports whether src, the file's bytes now, decodes to the
// live source document: an edit of comments or layout only, which the write
// keeps, is no conflict.
func (t *Target[T]) sameContent(file string, src []byte, live *state[T]) bool {
	doc, err := Decode(file, src, mustFormat(file))
	return err == nil && jsondiff.Equal(doc.Value, live.source.Value)
}

// patch applies a JSON merge patch to the live source document.
func (t *Target[T]) patch(live *state[T], patch []byte) (Document, error) {
	p, err := Decode("patch", patch, JSON)
	if err != nil {
		return Document{}, err
	}
	if _, ok := p.Value.(map[string]any); !ok {
		return Document{}, syntaxError("patch", 1, 1, "", "a merge patch must be a JSON object")
	}
	var base Document
	if live != nil {
		base = live.source
	}
	v := jsondiff.MergePatch(base.Value, p.Value)
	// Located now, not lazily: a lazy document would hold on to the live
	// one, which holds on to the one it was patched from, and so on.
	return located(v, mergePositions(v, base.Positions(), p.Positions())), nil
}

// encodeAsideFrom is the source size from which encodeAside encodes on
// another goroutine: below it, handing the work over costs more than it
// saves (10 µs against 30 at 1 KB).
const encodeAsideFrom = 32 << 10

// encodeAside encodes a source document as its snapshot, a large one on
// another goroutine while the caller validates it: the returned function
// waits for the encoding. Nothing may change doc until it has returned.
func encodeAside(doc Document) (snapshot func() ([]byte, error)) {
	var (
		b    []byte
		err  error
		done = make(chan struct{})
	)
	if doc.size < encodeAsideFrom {
		b, err = jsondiff.Marshal(doc.Value)
		close(done)
	} else {
		go func() {
			defer close(done)
			b, err = jsondiff.Marshal(doc.Value)
		}()
	}
	return func() ([]byte, error) {
		<-done
		return b, err
	}
}

// build turns a source document, encoded by snapshot, into a validated
// state (Transform, defaults, schema, typed decoding, validators), and
// lists where it differs from live, the live state (which the schema
// accepted) or nil. It waits for snapshot before anything that could
// change the document in place.
func (t *Target[T]) build(source Document, snapshot func() ([]byte, error), validators []Validator[T], live *state[T]) (*state[T], []hotreload.PathChange, error) {
	doc := source.Value
	if t.opts.Transform != nil {
		if _, err := snapshot(); err != nil { // Transform may change doc in place
			return nil, nil, hotreload.Errorf(hotreload.CodeInvalid, "encoding the config snapshot: %w", err)
		}
		var err error
		if doc, err = t.opts.Transform(doc); err != nil {
			return nil, nil, t.invalid(source, "transforming the config", err)
		}
	}
	filled, err := t.opts.Schema.Defaults(doc)
	if err != nil {
		return nil, nil, err
	}
	final := source.withValue(filled)
	var prev, known any // known: what the schema found unchanged since prev
	if live != nil {
		prev = live.final.Value
	}
	if t.opts.Schema != nil {
		var errs []hotreload.FieldError
		if errs, known = t.opts.Schema.validate(final, t.opts.Strict, source.Value, prev); len(errs) > 0 {
			return nil, nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: fmt.Sprintf("config %q does not match its schema", t.opts.Name), Details: errs}
		}
	}
	encoded := snapshot // what the typed value is decoded from
	if t.opts.Transform != nil || t.opts.Schema.hasDefaults() && !jsondiff.Equal(final.Value, source.Value) {
		encoded = nil
	}
	value, err := decodeTyped[T](final, encoded)
	if err != nil {
		return nil, nil, err
	}
	var details []hotreload.FieldError
	for _, v := range validators {
		if err := v(value); err != nil {
			details = append(details, locate(final, err)...)
		}
	}
	if len(details) > 0 {
		sortFieldErrors(details)
		return nil, nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: fmt.Sprintf("config %q was rejected by a validator", t.opts.Name), Details: details}
	}
	next := &state[T]{source: source, final: final, snap: &Snapshot[T]{Value: value, Data: final.Value}}
	return next, jsondiff.DiffKnown(prev, final.Value, known, isUnchanged), nil
}

// invalid wraps an error of Transform, locating its details. The cause is
// kept only when it has no details, which would otherwise be listed twice.
func (t *Target[T]) invalid(doc Document, doing string, err error) error {
	e := &hotreload.Error{Code: hotreload.CodeInvalid, Message: fmt.Sprintf("%s %q: %v", doing, t.opts.Name, hotreload.FirstLine(err.Error())), Details: locate(doc, err)}
	if len(hotreload.ErrorDetails(err)) == 0 {
		e.Err = err
	}
	return e
}

// locate turns an error into located problems: the details of a
// *hotreload.Error get the file, line and column of their paths; any other
// error becomes one problem at the document root.
func locate(doc Document, err error) []hotreload.FieldError {
	details := hotreload.ErrorDetails(err)
	if len(details) == 0 {
		return []hotreload.FieldError{fieldError(doc, "", err.Error(), false)}
	}
	out := make([]hotreload.FieldError, len(details))
	for i, d := range details {
		if d.File == "" {
			l := fieldError(doc, d.Path, d.Message, false)
			d.File, d.Line, d.Column = l.File, l.Line, l.Column
		}
		out[i] = d
	}
	return out
}

// decodeTyped decodes the document into a new T as json.Unmarshal decodes
// its JSON encoding, straight from the tree when fromTree can; a document
// of type any is used as it is. encoded returns the document as JSON, or
// is nil to encode it.
func decodeTyped[T any](doc Document, encoded func() ([]byte, error)) (*T, error) {
	value := new(T)
	if p, ok := any(value).(*any); ok {
		*p = doc.Value
		return value, nil
	}
	if fromTree(reflect.ValueOf(value).Elem(), planOf(reflect.TypeFor[T]()), doc.Value, 0) {
		return value, nil
	}
	value = new(T) // fromTree may have set part of it
	if encoded == nil {
		encoded = func() ([]byte, error) { return jsondiff.Marshal(doc.Value) }
	}
	b, err := encoded()
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "encoding the config: %w", err)
	}
	if err := json.Unmarshal(b, value); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			ptr := ""
			if te.Field != "" {
				for _, f := range strings.Split(te.Field, ".") {
					ptr = jsondiff.Join(ptr, f)
				}
			}
			msg := fmt.Sprintf("must be a value for the Go type %s but found %s", te.Type, te.Value)
			return nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: "config does not fit its Go type", Details: []hotreload.FieldError{fieldError(doc, ptr, msg, false)}, Err: err}
		}
		return nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: "config does not fit its Go type", Details: locate(doc, err), Err: err}
	}
	return value, nil
}

// redactChanges replaces the values of changes touching secrets by their
// redacted form.
func (t *Target[T]) redactChanges(changes []hotreload.PathChange, prev, next any) []hotreload.PathChange {
	if t.opts.Schema == nil || len(changes) == 0 {
		return changes
	}
	rp, rn := t.opts.Schema.Redact(prev), t.opts.Schema.Redact(next)
	out := make([]hotreload.PathChange, len(changes))
	for i, c := range changes {
		out[i] = hotreload.PathChange{Path: c.Path}
		if c.Old != nil {
			out[i].Old = jsondiff.At(rp, c.Path)
		}
		if c.New != nil {
			out[i].New = jsondiff.At(rn, c.Path)
		}
	}
	return out
}

// change is a prepared configuration.
type change[T any] struct {
	t       *Target[T]
	next    *state[T]
	prev    *state[T]
	applied bool
	changes []hotreload.PathChange // unredacted, for subscribers
	summary hotreload.Summary
	write   *fileWrite
	wrote   bool // the file holds next after Commit
}

// Summary describes the candidate: its snapshot (the merged document
// before Transform) and its changed paths, secrets redacted.
func (c *change[T]) Summary() hotreload.Summary { return c.summary }

// Data returns the candidate document: transformed, with defaults filled.
func (c *change[T]) Data() any { return c.next.final.Value }

// Encrypted returns the candidate document as Data does, but with the
// values that were encrypted in the source still encrypted.
func (c *change[T]) Encrypted() any { return c.next.encrypted() }

// Apply swaps the candidate in, keeping the old state for Rollback, then
// notifies the subscribers (see the package documentation).
func (c *change[T]) Apply(ctx context.Context) error {
	c.t.mu.Lock()
	c.prev, c.t.live = c.t.live, c.next
	c.t.mu.Unlock()
	c.applied = true
	c.t.store.publish(ctx, c.next.snap, c.changes, false)
	return nil
}

// Rollback swaps the old state back and notifies the subscribers again, or
// drops the candidate if it was never applied.
func (c *change[T]) Rollback(ctx context.Context) error {
	if !c.applied {
		c.next, c.write = nil, nil
		return nil
	}
	c.applied = false
	c.t.mu.Lock()
	c.t.live = c.prev
	c.t.mu.Unlock()
	var prev *Snapshot[T]
	var prevData any
	if c.prev != nil {
		prev, prevData = c.prev.snap, c.prev.final.Value
	}
	c.t.store.publish(context.WithoutCancel(ctx), prev, jsondiff.Diff(c.next.final.Value, prevData), true)
	return nil
}

// Commit releases the old state and, for a merge patch or a rollback on a
// single file, writes the new document back to that file. A change that a
// newer one superseded (the live state is no longer its own) writes
// nothing: the newer change writes, or the file already holds the newer
// state. Neither is an edit made on disk since the write was prepared
// overwritten: an edit of comments or layout alone is kept by writing over
// it in place, any other is the operator's and stays, for the watcher to
// apply.
func (c *change[T]) Commit(context.Context) error {
	prev := c.prev
	c.prev = nil
	w := c.write
	c.write = nil
	c.t.mu.Lock()
	superseded := c.t.live != c.next
	c.t.mu.Unlock()
	if w == nil || superseded {
		return nil
	}
	src, err := c.t.opts.Limits.read(w.file)
	var now *[sha256.Size]byte // nil when the file cannot be read
	if err == nil {
		s := sha256.Sum256(src)
		now = &s
	}
	sum := sha256.Sum256(w.data)
	switch {
	case now != nil && *now == sum:
		// Already there: nothing to write.
	case now == nil && w.from == nil || now != nil && w.from != nil && *now == *w.from:
		if err := w.run(); err != nil {
			return err
		}
	case err == nil && prev != nil && c.t.sameContent(w.file, src, prev):
		again, err := newFileWrite(w.file, src, c.next.source.Value)
		if err == nil {
			err = again.run()
		}
		if err != nil {
			return err
		}
		sum = sha256.Sum256(again.data)
	default:
		c.t.opts.Logger.Warn("not written back: the config file changed on disk since the change was prepared; the edit stays and is read as the next change", "file", w.file)
		return nil
	}
	c.wrote = true
	c.t.mu.Lock()
	c.t.wrote = &sum
	c.t.mu.Unlock()
	return nil
}

// WroteSource reports whether Commit left the file holding the change's
// document (hotreload.SourceWriter).
func (c *change[T]) WroteSource() bool { return c.wrote }
