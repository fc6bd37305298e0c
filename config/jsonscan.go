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

// jsonScanner reads a JSON document in one pass without a tokenizer,
// checking that it is valid JSON as it builds its value. What valid JSON
// can still get wrong for a config — a duplicate key, a number beyond
// float64, too deep a nesting — it reports too. With lines set it also
// records where each key and value starts, and locates what it reports;
// without, it records nothing and reports errUnlocated.
type jsonScanner struct {
	file  string
	src   []byte
	i     int
	depth int
	lines *lineIndex // nil: nothing recorded
	pos   Positions
	keys  map[string]string // the plain keys read so far, to share
}

// errUnlocated is what the scan reports for a source that is not valid
// JSON, and for any problem when it records no position: decodeJSON then
// finds what and where with encoding/json's tokenizer or with the scan
// that records positions.
var errUnlocated = errors.New("invalid config")

// decodeJSON decodes a JSON document and the positions of its values. A
// document that is valid (the usual case) is read by one scan that records
// no position: the document computes them, by a second scan of a copy of
// src, when first asked for. A document that is not valid is read again
// to report its first problem: by the scan that records positions when it
// is valid JSON, by encoding/json's tokenizer, which says precisely what
// is wrong, when it is not.
func decodeJSON(file string, src []byte) (Document, error) {
	s := &jsonScanner{src: src}
	v, err := s.document()
	if err == nil {
		src = bytes.Clone(src) // the caller may reuse its buffer
		return lazily(v, func() Positions {
			pos, _ := scanJSONPositions(file, src)
			return pos
		}), nil
	}
	if json.Valid(src) {
		_, err = scanJSONPositions(file, src)
		return Document{}, err
	}
	if _, err := tokenJSON(file, src); err != nil {
		return Document{}, err
	}
	return Document{}, syntaxError(file, 1, 1, "", "invalid JSON") // json.Valid and Token disagree
}

// scanJSONPositions scans src, valid JSON, recording the position of every
// key and value, and returns them with the located error of a document
// that breaks a rule of configs.
func scanJSONPositions(file string, src []byte) (Positions, error) {
	// Every value but the first follows a ',' or opens a container: sizing
	// the index from them up front saves growing it.
	n := bytes.Count(src, []byte(",")) + bytes.Count(src, []byte("{")) + bytes.Count(src, []byte("[")) + 1
	s := &jsonScanner{file: file, src: src, lines: newLineIndex(src), pos: make(Positions, n)}
	_, err := s.document()
	return s.pos, err
}

// document reads the whole source: one value between blanks.
func (s *jsonScanner) document() (any, error) {
	v, err := s.value("", Position{})
	if err != nil {
		return nil, err
	}
	if s.skipSpace(); s.i < len(s.src) {
		return nil, errUnlocated
	}
	return v, nil
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
	if start == len(s.src) {
		return nil, errUnlocated
	}
	if s.lines != nil {
		pos := key
		pos.File = s.file
		pos.Line, pos.Column = s.lines.at(start)
		s.pos[ptr] = pos
	}
	switch c := s.src[start]; c {
	case '{', '[':
		if s.depth++; s.depth > maxNesting {
			return nil, s.errorAt(start, "", fmt.Sprintf("nested deeper than %d levels", maxNesting))
		}
		defer func() { s.depth-- }()
		s.i++
		if c == '{' {
			return s.object(ptr)
		}
		return s.array(ptr)
	case '"':
		return s.string()
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return nil, s.literal("null")
	}
	if !s.number() {
		return nil, errUnlocated
	}
	lit := s.src[start:s.i]
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return nil, s.errorAt(start, ptr, fmt.Sprintf("number %s does not fit a 64-bit float", excerpt(string(lit))))
	}
	if math.Abs(f) >= maxExactInt && !bytes.ContainsAny(lit, ".eE") && !exactInteger(string(lit), f) {
		return nil, s.errorAt(start, ptr, inexactInteger(string(lit)))
	}
	return f, nil
}

// literal reads the literal lit (true, false or null) at s.i.
func (s *jsonScanner) literal(lit string) error {
	if !bytes.HasPrefix(s.src[s.i:], []byte(lit)) {
		return errUnlocated
	}
	s.i += len(lit)
	return nil
}

// number reads the number at s.i, reporting whether it is written as JSON
// writes numbers: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() bool {
	i := s.i
	if i < len(s.src) && s.src[i] == '-' {
		i++
	}
	switch {
	case i == len(s.src) || !isDigit(s.src[i]):
		return false
	case s.src[i] == '0':
		i++
	default:
		i = s.digits(i)
	}
	if i < len(s.src) && s.src[i] == '.' {
		if i = s.digits(i + 1); !isDigit(s.src[i-1]) {
			return false
		}
	}
	if i < len(s.src) && (s.src[i] == 'e' || s.src[i] == 'E') {
		i++
		if i < len(s.src) && (s.src[i] == '+' || s.src[i] == '-') {
			i++
		}
		if i = s.digits(i); !isDigit(s.src[i-1]) {
			return false
		}
	}
	s.i = i
	return true
}

// digits returns the offset of the first byte from i on that is no digit.
func (s *jsonScanner) digits(i int) int {
	for i < len(s.src) && isDigit(s.src[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// object reads the members of an object whose '{' was read.
func (s *jsonScanner) object(ptr string) (any, error) {
	obj := map[string]any{}
	if s.skipSpace(); s.i < len(s.src) && s.src[s.i] == '}' {
		s.i++
		return obj, nil
	}
	for {
		s.skipSpace()
		keyStart := s.i
		k, err := s.key()
		if err != nil {
			return nil, err
		}
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
		if s.skipSpace(); s.i == len(s.src) || s.src[s.i] != ':' {
			return nil, errUnlocated
		}
		s.i++
		v, err := s.value(child, key)
		if err != nil {
			return nil, err
		}
		obj[k] = v
		if done, err := s.next('}'); done || err != nil {
			return obj, err
		}
	}
}

// array reads the elements of an array whose '[' was read.
func (s *jsonScanner) array(ptr string) (any, error) {
	arr := []any{}
	if s.skipSpace(); s.i < len(s.src) && s.src[s.i] == ']' {
		s.i++
		return arr, nil
	}
	for {
		var child string
		if s.lines != nil {
			child = jsondiff.JoinIndex(ptr, len(arr))
		}
		v, err := s.value(child, Position{})
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		if done, err := s.next(']'); done || err != nil {
			return arr, err
		}
	}
}

// next reads what follows a member or an element: a ',' before the next
// one, or end, which ends the container.
func (s *jsonScanner) next(end byte) (done bool, err error) {
	s.skipSpace()
	switch {
	case s.i == len(s.src):
		return false, errUnlocated
	case s.src[s.i] == ',':
		s.i++
		return false, nil
	case s.src[s.i] == end:
		s.i++
		return true, nil
	}
	return false, errUnlocated
}

// string reads the string at s.i. A plain one is copied as is; one with
// escapes or invalid UTF-8 is decoded by encoding/json, as Unmarshal would.
func (s *jsonScanner) string() (string, error) {
	raw, plain, err := s.rawString()
	if err != nil {
		return "", err
	}
	if plain {
		return string(raw), nil
	}
	return unquote(raw), nil
}

// key reads the key at s.i like string, but a plain key the document
// already holds is shared, not copied again: a config repeats the same few
// keys in every element of its arrays.
func (s *jsonScanner) key() (string, error) {
	raw, plain, err := s.rawString()
	if err != nil {
		return "", err
	}
	if !plain {
		return unquote(raw), nil
	}
	if k, ok := s.keys[string(raw)]; ok {
		return k, nil
	}
	k := string(raw)
	if len(s.keys) < maxSharedKeys {
		if s.keys == nil {
			s.keys = map[string]string{}
		}
		s.keys[k] = k
	}
	return k, nil
}

// maxSharedKeys bounds the distinct keys a scan shares.
const maxSharedKeys = 1024

// rawString reads the string at s.i, checking that it is a JSON string,
// and returns it: without its quotes when it is plain (valid UTF-8 without
// escapes), with them when it is not.
func (s *jsonScanner) rawString() ([]byte, bool, error) {
	start := s.i
	if start == len(s.src) || s.src[start] != '"' {
		return nil, false, errUnlocated
	}
	j, plain := start+1, true
	for ; j < len(s.src) && s.src[j] != '"'; j++ {
		switch c := s.src[j]; {
		case c < 0x20:
			return nil, false, errUnlocated
		case c == '\\':
			plain = false
			if j++; j == len(s.src) {
				return nil, false, errUnlocated
			}
			switch s.src[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.src) || !isHex(s.src[j+1]) || !isHex(s.src[j+2]) || !isHex(s.src[j+3]) || !isHex(s.src[j+4]) {
					return nil, false, errUnlocated
				}
				j += 4
			default:
				return nil, false, errUnlocated
			}
		}
	}
	if j == len(s.src) {
		return nil, false, errUnlocated
	}
	s.i = j + 1
	if raw := s.src[start:s.i]; !plain || !utf8.Valid(raw) {
		return raw, false, nil
	}
	return s.src[start+1 : j], true, nil
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// unquote decodes a JSON string with escapes or invalid UTF-8 as Unmarshal
// would.
func unquote(raw []byte) string {
	var out string
	_ = json.Unmarshal(raw, &out) // cannot fail: rawString checked it
	return out
}
