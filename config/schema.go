package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// messagePrinter renders the messages of keywords that describe does not
// phrase itself.
var messagePrinter = message.NewPrinter(language.English)

// Schema is a compiled JSON Schema (draft 2020-12 unless its $schema says
// otherwise). It validates documents, fills their defaults and knows which
// of their values are secrets. A Schema is immutable and safe for
// concurrent use.
type Schema struct {
	root *jsonschema.Schema
	// secrets is false when no subschema is marked secret, so that
	// SecretPaths need not walk documents; defaults is false when none has
	// a default, so that Defaults need not either.
	secrets, defaults bool
	// linear is true when no document can make the schema too costly (see
	// linear), so that validate need not count evaluations first.
	linear bool
	// incremental is true when the validator need only see what changed
	// since a valid document (see incremental).
	incremental bool
}

// LoadSchema reads and compiles the schema file at path, written in JSON,
// YAML or TOML (by extension; JSON when the extension is unknown).
func LoadSchema(path string) (*Schema, error) {
	src, err := readSchemaFile(path)
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "reading schema: %w", err)
	}
	return CompileSchema(path, src)
}

// maxSchemaSize bounds the size of a schema file.
const maxSchemaSize = 16 << 20

// readSchemaFile reads a schema file, refusing anything but a regular file
// of at most maxSchemaSize bytes; it opens without blocking, so a FIFO is
// refused instead of waited on.
func readSchemaFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	src, err := io.ReadAll(io.LimitReader(f, maxSchemaSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > maxSchemaSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSchemaSize)
	}
	return src, nil
}

// schemaLoader loads the files a schema refers to with $ref: only regular
// files inside the directory of the schema (after following symlinks), and
// never anything over the network. The draft metaschemas are built in.
// Without a directory it loads nothing.
type schemaLoader struct {
	dir      string
	secrets  bool // whether a loaded file marks a value secret
	defaults bool // whether a loaded file has a default
}

// Load implements jsonschema.URLLoader.
func (l *schemaLoader) Load(url string) (any, error) {
	if l.dir == "" {
		return nil, fmt.Errorf("$ref %q is not loaded: this schema must stand alone (no files, no network)", url)
	}
	path, err := jsonschema.FileLoader{}.ToFile(url)
	if err != nil {
		return nil, fmt.Errorf("$ref %q is not loaded: hotreload never fetches a remote schema, only files in %s", url, l.dir)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(l.dir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("$ref %q is outside the schema's directory %s", url, l.dir)
	}
	src, err := readSchemaFile(real)
	if err != nil {
		return nil, err
	}
	f, err := FormatOf(path)
	if err != nil {
		f = JSON
	}
	doc, err := Decode(path, src, f)
	if err != nil {
		return nil, err
	}
	marked := markSecrets(doc.Value)
	l.secrets = l.secrets || hasWriteOnly(marked)
	l.defaults = l.defaults || hasDefault(marked)
	return marked, nil
}

// CompileSchema compiles the schema src read from file. A property marked
// "x-secret": true is a secret, like one marked "writeOnly": true. Errors
// name the place in the schema file that is wrong. A $ref may name files
// in the schema's directory, never the network.
func CompileSchema(file string, src []byte) (*Schema, error) {
	loc := file
	if abs, err := filepath.Abs(file); err == nil {
		loc = abs
	}
	dir := filepath.Dir(loc)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return compileSchema(file, loc, src, &schemaLoader{dir: dir})
}

// CompileStandaloneSchema compiles a schema that refers to nothing outside
// itself, such as a plugin manifest's config schema, named name in
// messages: a $ref to a file or the network is refused. Secrets are marked
// as for CompileSchema.
func CompileStandaloneSchema(name string, src []byte) (*Schema, error) {
	return compileSchema(name, "standalone:///"+url.PathEscape(name), src, &schemaLoader{})
}

func compileSchema(file, loc string, src []byte, loader *schemaLoader) (*Schema, error) {
	f, err := FormatOf(file)
	if err != nil {
		f = JSON
	}
	doc, err := Decode(file, src, f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(loader)
	c.AssertFormat()
	marked := markSecrets(doc.Value)
	if err := c.AddResource(loc, marked); err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "compiling schema %q: %w", file, err)
	}
	root, err := c.Compile(loc)
	if err != nil {
		e := hotreload.Errorf(hotreload.CodeInvalid, "compiling schema %q: %w", file, err)
		var sve *jsonschema.SchemaValidationError
		var ve *jsonschema.ValidationError
		if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
			e.Message = fmt.Sprintf("schema %q is not a valid JSON Schema", file)
			e.Details = validationErrors(ve, doc, nil)
		}
		return nil, e
	}
	return &Schema{root: root, secrets: hasWriteOnly(marked) || loader.secrets, defaults: hasDefault(marked) || loader.defaults,
		linear: linear(root), incremental: incremental(root)}, nil
}

// hasWriteOnly reports whether "writeOnly": true appears anywhere in a
// schema document (an over-approximation of "some value is secret").
func hasWriteOnly(v any) bool {
	return hasKeyword(v, func(k string, e any) bool { return k == "writeOnly" && e == true })
}

// hasDefault reports whether a "default" keyword appears anywhere in a
// schema document (an over-approximation of "some value has a default").
func hasDefault(v any) bool {
	return hasKeyword(v, func(k string, _ any) bool { return k == "default" })
}

// hasKeyword reports whether some member of an object anywhere in v
// satisfies is.
func hasKeyword(v any, is func(k string, e any) bool) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if is(k, e) || hasKeyword(e, is) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasKeyword(e, is) {
				return true
			}
		}
	}
	return false
}

// markSecrets returns the schema document with "writeOnly": true added
// beside every "x-secret": true, so that the compiled schema carries it.
func markSecrets(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x)+1)
		for k, e := range x {
			out[k] = markSecrets(e)
		}
		if x["x-secret"] == true {
			out["writeOnly"] = true
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = markSecrets(e)
		}
		return out
	}
	return v
}

// Validate checks doc against the schema and returns every problem, located
// through doc's positions, in the order they appear in the files. In strict
// mode a key the schema does not declare is a problem too. A schema that
// would take more than maxEvaluations evaluations on doc (counted first, in
// time linear in doc and the schema, unless the schema is shown at compile
// time never to take that many) is one problem, and is not run. A
// message about a secret value, or a value holding one, shows [REDACTED]
// in its place.
func (s *Schema) Validate(doc Document, strict bool) []hotreload.FieldError {
	errs, _ := s.validate(doc, strict, nil, nil)
	return errs
}

// validate is Validate with more secrets, the values that were encrypted
// in source, the document before Transform (see Target.build), looked for
// only when a message could show one; and, unless nil, valid: a document
// this schema accepted, whose values the validator is not shown again
// where doc holds them unchanged when the schema is incremental. It also
// returns, unless nil, what it found unchanged: doc's value pruned against
// valid, for jsondiff.DiffKnown with isUnchanged.
func (s *Schema) validate(doc Document, strict bool, source, valid any) (errs []hotreload.FieldError, known any) {
	if !s.linear && !evaluationsWithin(s.root, doc.Value) {
		return []hotreload.FieldError{fieldError(doc, "", fmt.Sprintf("the schema is too costly to validate this config: it applies its subschemas more than %d times (plus %d per value); a $ref or allOf applies the same subschema many times over", maxEvaluations, maxEvaluationsPerValue), false)}, nil
	}
	v := doc.Value
	if s.incremental && valid != nil {
		v, _ = pruned(v, valid)
		known = v
	}
	var out []hotreload.FieldError
	err := s.root.Validate(v)
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		if ve = withoutUnchanged(ve, v); ve != nil {
			out = validationErrors(ve, doc, append(s.SecretPaths(doc.Value), encryptedPaths(source, "")...))
		}
	} else if err != nil {
		out = append(out, fieldError(doc, "", err.Error(), false))
	}
	if strict {
		out = append(out, s.unknownKeys(doc)...)
	}
	sortFieldErrors(out)
	return slices.CompactFunc(out, func(a, b hotreload.FieldError) bool { return a == b }), known
}

func sortFieldErrors(errs []hotreload.FieldError) {
	slices.SortStableFunc(errs, func(a, b hotreload.FieldError) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		if a.Column != b.Column {
			return a.Column - b.Column
		}
		return strings.Compare(a.Path, b.Path)
	})
}

// fieldError locates a problem at ptr; atKey prefers the key's position.
func fieldError(doc Document, ptr, msg string, atKey bool) hotreload.FieldError {
	pos := doc.Positions()
	p := pos.Locate(ptr)
	switch jsondiff.At(doc.Value, ptr).(type) {
	case map[string]any, []any:
		atKey = true // a container is best shown by its key
	}
	if atKey {
		p = pos.locateKey(ptr)
	}
	return hotreload.FieldError{File: p.File, Line: p.Line, Column: p.Column, Path: ptr, Message: msg}
}

// validationErrors flattens a validation error tree into one located
// problem per failed leaf keyword; the values at the secret paths are not
// shown.
func validationErrors(ve *jsonschema.ValidationError, doc Document, secrets []string) []hotreload.FieldError {
	if len(ve.Causes) > 0 {
		var out []hotreload.FieldError
		for _, c := range ve.Causes {
			out = append(out, validationErrors(c, doc, secrets)...)
		}
		return out
	}
	ptr := ""
	for _, tok := range ve.InstanceLocation {
		ptr = jsondiff.Join(ptr, tok)
	}
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		var out []hotreload.FieldError
		for _, m := range k.Missing {
			out = append(out, fieldError(doc, ptr, fmt.Sprintf("missing required property %q", m), true))
		}
		return out
	case *kind.AdditionalProperties:
		var out []hotreload.FieldError
		for _, name := range k.Properties {
			out = append(out, fieldError(doc, jsondiff.Join(ptr, name), fmt.Sprintf("property %q is not allowed by the schema", name), true))
		}
		return out
	}
	found, hidden := redactedAt(doc.Value, ptr, secrets)
	return []hotreload.FieldError{fieldError(doc, ptr, describe(ve.ErrorKind, found, hidden), false)}
}

// redactedAt returns the value at ptr in v with the values at the secret
// paths replaced by Redacted, and whether any was.
func redactedAt(v any, ptr string, secrets []string) (any, bool) {
	found, hidden := jsondiff.At(v, ptr), false
	for _, p := range secrets {
		switch {
		case p == ptr || strings.HasPrefix(ptr, p+"/"):
			return Redacted, true
		case strings.HasPrefix(p, ptr+"/"):
			found, hidden = setAt(found, jsondiff.Split(strings.TrimPrefix(p, ptr)), Redacted), true
		}
	}
	return found, hidden
}

// describe says what a failed keyword expected and what it found; when
// found is (or holds) a redacted secret, the message shows nothing of the
// value but what found shows.
func describe(k jsonschema.ErrorKind, found any, hidden bool) string {
	if hidden {
		switch k := k.(type) {
		case *kind.Pattern:
			return fmt.Sprintf("must match the pattern %q but found %s", k.Want, Redacted)
		case *kind.Format:
			return fmt.Sprintf("must be a valid %s but found %s", k.Want, Redacted)
		case *kind.Type, *kind.Enum, *kind.Const, *kind.FalseSchema, *kind.OneOf,
			*kind.MinLength, *kind.MaxLength, *kind.MinItems, *kind.MaxItems, *kind.MinProperties, *kind.MaxProperties, *kind.UniqueItems:
			// Their messages show found, or only counts.
		default:
			return fmt.Sprintf("fails the schema's %q keyword (value %s)", strings.Join(k.KeywordPath(), "/"), Redacted)
		}
	}
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s but found %s %s", strings.Join(k.Want, " or "), k.Got, show(found))
	case *kind.Minimum:
		return fmt.Sprintf("must be >= %s but found %s", rat(k.Want), rat(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be <= %s but found %s", rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("must be > %s but found %s", rat(k.Want), rat(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("must be < %s but found %s", rat(k.Want), rat(k.Got))
	case *kind.MultipleOf:
		return fmt.Sprintf("must be a multiple of %s but found %s", rat(k.Want), rat(k.Got))
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long but found %d", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long but found %d", k.Want, k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items but found %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items but found %d", k.Want, k.Got)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d properties but found %d", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d properties but found %d", k.Want, k.Got)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = show(w)
		}
		return fmt.Sprintf("must be one of %s but found %s", strings.Join(want, ", "), show(found))
	case *kind.Const:
		return fmt.Sprintf("must be %s but found %s", show(k.Want), show(found))
	case *kind.Pattern:
		return fmt.Sprintf("must match the pattern %q but found %q", k.Want, k.Got)
	case *kind.Format:
		return fmt.Sprintf("must be a valid %s but found %s (%v)", k.Want, show(found), k.Err)
	case *kind.FalseSchema:
		return "is not allowed by the schema"
	case *kind.UniqueItems:
		return fmt.Sprintf("must hold unique items but items %d and %d are equal", k.Duplicates[0], k.Duplicates[1])
	case *kind.OneOf:
		return fmt.Sprintf("must match exactly one alternative of oneOf but matched %d", len(k.Subschemas))
	}
	return k.LocalizedString(messagePrinter)
}

// rat renders a number of the schema as JSON would.
func rat(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return fmt.Sprint(f)
}

// show renders a found value in JSON, shortened.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const limit = 60
	if len(b) > limit {
		return string(b[:limit]) + "…"
	}
	return string(b)
}
