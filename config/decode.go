package config

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// Format is a configuration file format.
type Format string

// The formats a Target decodes.
const (
	JSON Format = "json"
	YAML Format = "yaml"
	TOML Format = "toml"
)

// FormatOf returns the format of a file from its extension (.json, .yaml,
// .yml, .toml), or a CodeInvalid error naming the file.
func FormatOf(file string) (Format, error) {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".json":
		return JSON, nil
	case ".yaml", ".yml":
		return YAML, nil
	case ".toml":
		return TOML, nil
	}
	return "", &hotreload.Error{
		Code:    hotreload.CodeInvalid,
		Message: fmt.Sprintf("config file %q has an unknown format", file),
		Details: []hotreload.FieldError{{File: file, Message: "unknown format: the extension must be .json, .yaml, .yml or .toml"}},
	}
}

// maxNesting bounds how deep objects and arrays may nest in a config: far
// beyond any real configuration, it keeps a hostile document from costing
// quadratic time (every level spells its whole JSON Pointer).
const maxNesting = 1000

// maxExactInt bounds the integers a config value holds exactly whatever
// their digits: values are JSON numbers (float64).
const maxExactInt = 1 << 53

// exactInteger reports whether the integer literal lit is exactly the
// number f it decodes to, as JSON writes f back: always up to 2^53, and
// beyond only for round numbers such as 10000000000000000000. Any other is
// refused rather than silently rounded.
func exactInteger(lit string, f float64) bool {
	return math.Abs(f) < maxExactInt || strconv.FormatFloat(f, 'f', -1, 64) == lit
}

// inexactInteger says why an integer literal is refused.
func inexactInteger(lit string) string {
	return fmt.Sprintf("integer %s is beyond ±2^53 and cannot be held exactly (it would become %s); write it as a string to keep every digit",
		excerpt(lit), rounded(lit))
}

// rounded writes the float64 an integer literal would become.
func rounded(lit string) string {
	f, _ := strconv.ParseFloat(lit, 64)
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// excerpt shortens a quoted piece of input for an error message.
func excerpt(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Document is a decoded configuration: a JSON value (map[string]any, []any,
// string, float64, bool or nil, as encoding/json produces) and the position
// of each of its keys and values. A Document is never modified once built.
type Document struct {
	Value any
	pos   *lazyPositions // nil: no positions
	size  int            // bytes of source it was decoded from, 0 if unknown
}

// Positions returns the position of each key and value of the document, or
// nil when it has none. Only error messages and edits of the file need
// them, so a JSON document (or a merge of documents) computes them from its
// source on the first call.
func (d Document) Positions() Positions {
	if d.pos == nil {
		return nil
	}
	return d.pos.get()
}

// Decode decodes src, read from the file named file, in format f. A syntax
// error is returned as a *hotreload.Error with code CodeInvalid whose one
// detail names the file, line and column.
func Decode(file string, src []byte, f Format) (Document, error) {
	var (
		doc Document
		err error
	)
	if f == TOML || !utf8.Valid(src) { // YAML's nesting: see decodeYAML
		if err := checkSource(file, src, f); err != nil {
			return Document{}, err
		}
	}
	switch f {
	case JSON:
		doc, err = decodeJSON(file, src)
	case YAML:
		doc, err = decodeYAML(file, src)
	case TOML:
		doc, err = decodeTOML(file, src)
	default:
		return Document{}, hotreload.Errorf(hotreload.CodeInvalid, "config file %q: unknown format %q", file, f)
	}
	if err != nil {
		return Document{}, err
	}
	doc.size = len(src)
	return doc, nil
}

// interruptible returns what f returns, or as soon as ctx is done an
// error saying what was interrupted: the YAML and TOML parsers take no
// context, so a large file cancelled mid-decode is left to finish on its
// own (within the size limits) and its result is dropped. f must hold
// nothing that needs releasing when its result is dropped.
func interruptible[R any](ctx context.Context, what string, f func() (R, error)) (R, error) {
	if ctx.Done() == nil {
		return f()
	}
	type result struct {
		r   R
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := f()
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-ctx.Done():
		var zero R
		return zero, hotreload.Errorf(hotreload.CodeUnavailable, "%s: %w", what, context.Cause(ctx))
	}
}

// syntaxError builds the error of a document that does not parse.
func syntaxError(file string, line, col int, path, msg string) error {
	return &hotreload.Error{
		Code:    hotreload.CodeInvalid,
		Message: fmt.Sprintf("config file %q does not parse", file),
		Details: []hotreload.FieldError{{File: file, Line: line, Column: col, Path: path, Message: msg}},
	}
}

// normalize turns what a YAML or TOML decoder produced into the values
// encoding/json produces, and reports the first value JSON cannot hold.
func normalize(v any, ptr string) (any, string, error) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, "", nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, ptr, fmt.Errorf("%v is not a JSON number", x)
		}
		return x, "", nil
	case float32:
		return normalize(float64(x), ptr)
	case int:
		return normalize(int64(x), ptr)
	case int64:
		if lit := strconv.FormatInt(x, 10); !exactInteger(lit, float64(x)) {
			return nil, ptr, errors.New(inexactInteger(lit))
		}
		return float64(x), "", nil
	case uint64:
		if lit := strconv.FormatUint(x, 10); !exactInteger(lit, float64(x)) {
			return nil, ptr, errors.New(inexactInteger(lit))
		}
		return float64(x), "", nil
	case time.Time:
		return formatTime(x), "", nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, p, err := normalize(e, jsondiff.JoinIndex(ptr, i))
			if err != nil {
				return nil, p, err
			}
			out[i] = n
		}
		return out, "", nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, p, err := normalize(e, jsondiff.Join(ptr, k))
			if err != nil {
				return nil, p, err
			}
			out[k] = n
		}
		return out, "", nil
	case []map[string]any: // TOML's arrays of tables
		arr := make([]any, len(x))
		for i, e := range x {
			arr[i] = e
		}
		return normalize(arr, ptr)
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks := fmt.Sprint(k)
			n, p, err := normalize(e, jsondiff.Join(ptr, ks))
			if err != nil {
				return nil, p, err
			}
			out[ks] = n
		}
		return out, "", nil
	}
	return nil, ptr, fmt.Errorf("unsupported value of type %T", v)
}
