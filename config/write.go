package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/atomicfile"
	"github.com/goccy/go-yaml"
)

// fileWrite is a document encoded for its file, written on commit.
type fileWrite struct {
	file string
	data []byte
	mode os.FileMode
	from *[sha256.Size]byte // the digest of the content it edits; nil when unknown
}

// newFileWrite renders doc for file, whose content is now src (nil when
// unknown): src edited in place where that reproduces doc, keeping the
// operator's comments and layout, or else doc encoded whole. It fails when
// the format cannot hold the document (TOML has no null).
func newFileWrite(file string, src []byte, doc any) (*fileWrite, error) {
	f := mustFormat(file)
	data, ok := editSource(file, src, f, doc)
	if !ok {
		var err error
		if data, err = Encode(doc, f); err != nil {
			return nil, hotreload.Errorf(hotreload.CodeInvalid, "the patched config cannot be written back to %q: %w", file, err)
		}
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(file); err == nil {
		mode = fi.Mode().Perm()
	}
	w := &fileWrite{file: file, data: data, mode: mode}
	if src != nil {
		sum := sha256.Sum256(src)
		w.from = &sum
	}
	return w, nil
}

func mustFormat(file string) Format {
	f, _ := FormatOf(file)
	return f
}

// run replaces the file atomically and durably.
func (w *fileWrite) run() error {
	if err := atomicfile.Write(w.file, w.data, w.mode); err != nil {
		return hotreload.Errorf(hotreload.CodeInternal, "writing the patched config back: %w", err)
	}
	return nil
}

// Encode renders a document in a format: JSON indented by two spaces, YAML
// in block style, TOML with tables. Keys come out sorted; there are no
// comments.
func Encode(doc any, f Format) ([]byte, error) {
	switch f {
	case YAML:
		return yaml.MarshalWithOptions(yamlNumbers(doc), yaml.Indent(2))
	case TOML:
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(wholeInts(doc, func(x float64) any { return x })); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// yamlFloat is a number that go-yaml would write in a form it reads back as
// a string (1e+21): it is written with a decimal point in its mantissa.
type yamlFloat float64

// MarshalYAML writes f so that it reads back as the same number: a whole
// number with all its digits while it fits an int64.
func (f yamlFloat) MarshalYAML() ([]byte, error) {
	if s, ok := wholeNumber(float64(f)); ok {
		return []byte(s), nil
	}
	s := strconv.FormatFloat(float64(f), 'g', -1, 64)
	if mant, exp, ok := strings.Cut(s, "e"); ok && !strings.Contains(mant, ".") {
		s = mant + ".0e" + exp
	}
	return []byte(s), nil
}

// yamlNumbers returns doc with every number made safe for go-yaml: whole
// numbers up to 2^53 as integers, others as yamlFloat.
func yamlNumbers(doc any) any {
	return wholeInts(doc, func(x float64) any { return yamlFloat(x) })
}

// wholeInts returns doc with every whole number up to ±2^53 as an int64,
// so that it is written as an integer, and every other number as other
// returns it.
func wholeInts(doc any, other func(float64) any) any {
	switch x := doc.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= maxExactInt {
			return int64(x)
		}
		return other(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = wholeInts(v, other)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = wholeInts(v, other)
		}
		return out
	}
	return doc
}
