package secret

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"filippo.io/age"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// Redacted replaces a secret value wherever a redacted document goes.
const Redacted = "[REDACTED]"

// minScrub is the shortest plaintext Scrub cuts out of free text; shorter
// ones would mangle ordinary words (they are still redacted by path).
const minScrub = 4

// Decrypter decrypts ENC[age:...] values and remembers what it revealed.
// Create it with NewDecrypter.
type Decrypter struct {
	ids []age.Identity

	mu    sync.Mutex // serialises updates of known
	known atomic.Pointer[revealed]
}

// revealed is an immutable set of secret paths and plaintexts.
type revealed struct {
	paths  map[string]bool
	values map[string]bool
	scrub  *strings.Replacer
}

// NewDecrypter returns a Decrypter using the identities (none is allowed:
// Transform then fails on the first encrypted value, naming it).
func NewDecrypter(identities ...age.Identity) *Decrypter {
	d := &Decrypter{ids: identities}
	d.known.Store(&revealed{paths: map[string]bool{}, values: map[string]bool{}, scrub: strings.NewReplacer()})
	return d
}

// Transform returns doc with every ENC[age:...] string replaced by its
// plaintext; doc itself is not modified. It is the config target's
// Transform option. A value that does not decrypt rejects the document
// with an error naming its path (never the value).
func (d *Decrypter) Transform(doc any) (any, error) {
	var problems []hotreload.FieldError
	paths := map[string]bool{}
	values := map[string]bool{}
	out, _ := d.decrypt(doc, "", paths, values, &problems)
	if len(problems) > 0 {
		return nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: "decrypting secrets", Details: problems}
	}
	d.remember(paths, values)
	return out, nil
}

// decrypt returns v with its encrypted strings decrypted, and whether
// anything changed; unchanged maps and slices are returned as they are.
func (d *Decrypter) decrypt(v any, ptr string, paths, values map[string]bool, problems *[]hotreload.FieldError) (any, bool) {
	switch x := v.(type) {
	case string:
		if !strings.Contains(x, Prefix) {
			return v, false
		}
		if !IsEncrypted(x) {
			*problems = append(*problems, hotreload.FieldError{Path: ptr, Message: "an ENC[age:...] value must be the whole string"})
			return v, false
		}
		if len(d.ids) == 0 {
			*problems = append(*problems, hotreload.FieldError{Path: ptr, Message: "encrypted value but no age identity is configured (--age-identity or $" + IdentityEnv + ")"})
			return v, false
		}
		p, err := Decrypt(x, d.ids...)
		if err != nil {
			*problems = append(*problems, hotreload.FieldError{Path: ptr, Message: err.Error()})
			return v, false
		}
		paths[ptr] = true
		values[string(p)] = true
		return string(p), true
	case map[string]any:
		return jsondiff.RewriteMembers(x, func(k string, e any) (any, bool) {
			return d.decrypt(e, jsondiff.Join(ptr, k), paths, values, problems)
		})
	case []any:
		return jsondiff.RewriteElements(x, func(i int, e any) (any, bool) {
			return d.decrypt(e, jsondiff.JoinIndex(ptr, i), paths, values, problems)
		})
	}
	return v, false
}

// Encrypt encrypts plaintext to the recipients of the Decrypter's own
// identities (those that have one, as X25519 identities do), so that it can
// decrypt what it encrypted. With no such identity it is an error.
func (d *Decrypter) Encrypt(plaintext []byte) (string, error) {
	var rs []age.Recipient
	for _, id := range d.ids {
		if x, ok := id.(*age.X25519Identity); ok {
			rs = append(rs, x.Recipient())
		}
	}
	if len(rs) == 0 {
		return "", hotreload.Errorf(hotreload.CodeInvalid, "no age identity with a recipient is configured (--age-identity or $%s)", IdentityEnv)
	}
	return Encrypt(plaintext, rs...)
}

// Reveal returns doc with every ENC[age:...] string decrypted, like
// Transform, but remembers only the plaintexts (for Scrub), not their
// paths: doc is a part of a document, such as a plugin's settings, whose
// paths are not the config's.
func (d *Decrypter) Reveal(doc any) (any, error) {
	var problems []hotreload.FieldError
	values := map[string]bool{}
	out, _ := d.decrypt(doc, "", map[string]bool{}, values, &problems)
	if len(problems) > 0 {
		return nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: "decrypting secrets", Details: problems}
	}
	d.remember(nil, values)
	return out, nil
}

// AddPaths marks more paths secret, such as those a schema marks
// writeOnly or x-secret, so that Redact covers them too.
func (d *Decrypter) AddPaths(paths ...string) {
	set := map[string]bool{}
	for _, p := range paths {
		set[p] = true
	}
	d.remember(set, nil)
}

func (d *Decrypter) remember(paths, values map[string]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.known.Load()
	next := &revealed{paths: maps.Clone(old.paths), values: maps.Clone(old.values), scrub: old.scrub}
	grew := false
	for p := range paths {
		grew = grew || !next.paths[p]
		next.paths[p] = true
	}
	newValues := false
	for v := range values {
		newValues = newValues || !next.values[v]
		next.values[v] = true
	}
	if newValues {
		// Longest first, so a secret containing another is cut whole.
		var vs []string
		for v := range next.values {
			if len(v) >= minScrub {
				vs = append(vs, v)
			}
		}
		slices.SortFunc(vs, func(a, b string) int { return len(b) - len(a) })
		var pairs []string
		for _, v := range vs {
			pairs = append(pairs, v, Redacted)
		}
		next.scrub = strings.NewReplacer(pairs...)
	}
	if grew || newValues {
		d.known.Store(next)
	}
}

// Paths returns the JSON Pointers known to hold secrets, sorted.
func (d *Decrypter) Paths() []string {
	return slices.Sorted(maps.Keys(d.known.Load().paths))
}

// Redact returns doc with every value at a secret path, and every string
// containing a decrypted plaintext, replaced by Redacted. doc is not
// modified.
func (d *Decrypter) Redact(doc any) any { return d.redact(d.known.Load(), doc, "") }

// RedactAt redacts v, the value found at JSON Pointer ptr of a document.
func (d *Decrypter) RedactAt(v any, ptr string) any { return d.redact(d.known.Load(), v, ptr) }

// RedactChanges returns the changes with secret old and new values
// redacted.
func (d *Decrypter) RedactChanges(changes []hotreload.PathChange) []hotreload.PathChange {
	k := d.known.Load()
	out := make([]hotreload.PathChange, len(changes))
	for i, c := range changes {
		out[i] = hotreload.PathChange{Path: c.Path, Old: d.redact(k, c.Old, c.Path), New: d.redact(k, c.New, c.Path)}
	}
	return out
}

func (d *Decrypter) redact(k *revealed, v any, ptr string) any {
	if v == nil {
		return nil
	}
	if k.paths[ptr] {
		return Redacted
	}
	switch x := v.(type) {
	case string:
		return k.scrub.Replace(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for key, e := range x {
			out[key] = d.redact(k, e, jsondiff.Join(ptr, key))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = d.redact(k, e, jsondiff.JoinIndex(ptr, i))
		}
		return out
	}
	return v
}

// Scrub replaces every decrypted plaintext in s by Redacted.
func (d *Decrypter) Scrub(s string) string { return d.known.Load().scrub.Replace(s) }

// LogHandler wraps h so that every decrypted plaintext is cut out of log
// messages and attribute values before h sees them.
func (d *Decrypter) LogHandler(h slog.Handler) slog.Handler { return &scrubHandler{d: d, h: h} }

type scrubHandler struct {
	d *Decrypter
	h slog.Handler
}

func (s *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }

func (s *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, s.d.Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(s.attr(a))
		return true
	})
	return s.h.Handle(ctx, out)
}

func (s *scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	scrubbed := make([]slog.Attr, len(as))
	for i, a := range as {
		scrubbed[i] = s.attr(a)
	}
	return &scrubHandler{d: s.d, h: s.h.WithAttrs(scrubbed)}
}

func (s *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{d: s.d, h: s.h.WithGroup(name)}
}

func (s *scrubHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, s.d.Scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, e := range g {
			out[i] = s.attr(e)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		text := fmt.Sprint(v.Any())
		if scrubbed := s.d.Scrub(text); scrubbed != text {
			return slog.String(a.Key, scrubbed)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
