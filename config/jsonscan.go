package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// jsonScanner reads a JSON document that json.Valid accepted, building its
// value in one pass without a tokenizer. What valid JSON can still get
// wrong for a config — a duplicate key, a number beyond float64, too deep a
// nesting — it reports. With lines set it also records where each key and
// value starts, and locates what it reports; without, it records nothing
// and reports errUnlocated.
type jsonScanner struct {
	file  string
	src   []byte
	i     int
	depth int
	lines *lineIndex // nil: nothing recorded
	pos   Positions
	keys  map[string]string // the plain keys read so far, to share
}

// errUnlocated is what a scan that records no position reports: the scan
// that records them says what and where.
var errUnlocated = errors.New("invalid config")

// scanJSON decodes src without recording positions: the document computes
// them, by a second scan of a copy of src, when first asked for; a
// document that is valid (the usual case) never is. The error of a
// document that is not valid comes from that second scan too.
func scanJSON(file string, src []byte) (Document, error) {
	s := &jsonScanner{src: src}
	v, err := s.value("", Position{})
	if err != nil {
		_, err = scanJSONPositions(file, src)
		return Document{}, err
	}
	src = bytes.Clone(src) // the caller may reuse its buffer
	return lazily(v, func() Positions {
		pos, _ := scanJSONPositions(file, src)
		return pos
	}), nil
}

// scanJSONPositions scans src recording the position of every key and
// value, and returns them with the located error of a document that is not
// valid.
func scanJSONPositions(file string, src []byte) (Positions, error) {
	// Every value but the first follows a ',' or opens a container: sizing
	// the index from them up front saves growing it.
	n := bytes.Count(src, []byte(",")) + bytes.Count(src, []byte("{")) + bytes.Count(src, []byte("[")) + 1
	s := &jsonScanner{file: file, src: src, lines: newLineIndex(src), pos: make(Positions, n)}
	_, err := s.value("", Position{})
	return s.pos, err
}

func (s *jsonScanner) skipSpace() {
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) errorAt(off int, ptr, msg string) error {
	if s.lines == nil {
		return errUnlocated
	}
	line, col := s.lines.at(off)
	return syntaxError(s.file, line, col, ptr, msg)
}

// value reads the value at s.i, found at ptr under key.
func (s *jsonScanner) value(ptr string, key Position) (any, error) {
	s.skipSpace()
	start := s.i
	if s.lines != nil {
		pos := key
		pos.File = s.file
		pos.Line, pos.Column = s.lines.at(start)
		s.pos[ptr] = pos
	}
	switch s.src[start] {
	case '{', '[':
		if s.depth++; s.depth > maxNesting {
			return nil, s.errorAt(start, "", fmt.Sprintf("nested deeper than %d levels", maxNesting))
		}
		defer func() { s.depth-- }()
		s.i++
		if s.src[start] == '{' {
			return s.object(ptr)
		}
		return s.array(ptr)
	case '"':
		return s.string(), nil
	case 't':
		s.i += len("true")
		return true, nil
	case 'f':
		s.i += len("false")
		return false, nil
	case 'n':
		s.i += len("null")
		return nil, nil
	}
	for s.i < len(s.src) && isNumberByte(s.src[s.i]) {
		s.i++
	}
	lit := s.src[start:s.i]
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return nil, s.errorAt(start, ptr, fmt.Sprintf("number %s does not fit a 64-bit float", excerpt(string(lit))))
	}
	if !bytes.ContainsAny(lit, ".eE") && math.Abs(f) >= maxExactInt && !exactInteger(string(lit), f) {
		return nil, s.errorAt(start, ptr, inexactInteger(string(lit)))
	}
	return f, nil
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// object reads the members of an object whose '{' was read.
func (s *jsonScanner) object(ptr string) (any, error) {
	obj := map[string]any{}
	for {
		s.skipSpace()
		if s.src[s.i] == '}' {
			s.i++
			return obj, nil
		}
		if s.src[s.i] == ',' {
			s.i++
			s.skipSpace()
		}
		keyStart := s.i
		k := s.key()
		var (
			child string
			key   Position
		)
		if s.lines != nil {
			child = jsondiff.Join(ptr, k)
			key.KeyLine, key.KeyColumn = s.lines.at(keyStart)
		}
		if _, dup := obj[k]; dup {
			return nil, s.errorAt(keyStart, child, fmt.Sprintf("duplicate key %q", k))
		}
		s.skipSpace()
		s.i++ // ':'
		v, err := s.value(child, key)
		if err != nil {
			return nil, err
		}
		obj[k] = v
	}
}

// array reads the elements of an array whose '[' was read.
func (s *jsonScanner) array(ptr string) (any, error) {
	arr := []any{}
	for {
		s.skipSpace()
		if s.src[s.i] == ']' {
			s.i++
			return arr, nil
		}
		if s.src[s.i] == ',' {
			s.i++
		}
		var child string
		if s.lines != nil {
			child = jsondiff.JoinIndex(ptr, len(arr))
		}
		v, err := s.value(child, Position{})
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
}

// string reads the string at s.i. A plain one is copied as is; one with
// escapes or invalid UTF-8 is decoded by encoding/json, as Unmarshal would.
func (s *jsonScanner) string() string {
	raw, plain := s.rawString()
	if plain {
		return string(raw[1 : len(raw)-1])
	}
	return unquote(raw)
}

// key reads the key at s.i like string, but a plain key the document
// already holds is shared, not copied again: a config repeats the same few
// keys in every element of its arrays.
func (s *jsonScanner) key() string {
	raw, plain := s.rawString()
	if !plain {
		return unquote(raw)
	}
	if k, ok := s.keys[string(raw[1:len(raw)-1])]; ok {
		return k
	}
	k := string(raw[1 : len(raw)-1])
	if len(s.keys) < maxSharedKeys {
		if s.keys == nil {
			s.keys = map[string]string{}
		}
		s.keys[k] = k
	}
	return k
}

// maxSharedKeys bounds the distinct keys a scan shares.
const maxSharedKeys = 1024

// rawString reads the string at s.i and returns it with its quotes, and
// whether it is plain: valid UTF-8 without escapes.
func (s *jsonScanner) rawString() ([]byte, bool) {
	start := s.i
	j, plain := start+1, true
	for s.src[j] != '"' {
		if s.src[j] == '\\' {
			plain = false
			j++
		}
		j++
	}
	s.i = j + 1
	raw := s.src[start:s.i]
	return raw, plain && utf8.Valid(raw)
}

// unquote decodes a string with escapes or invalid UTF-8 as Unmarshal
// would.
func unquote(raw []byte) string {
	var out string
	_ = json.Unmarshal(raw, &out) // cannot fail: json.Valid accepted the document
	return out
}
