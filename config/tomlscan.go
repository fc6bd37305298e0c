package config

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// tomlScanner finds where each key and value of a TOML document is written.
// It runs only on a source that toml.Decode accepted, so it follows the
// grammar loosely; on anything unexpected it moves on rather than fail, and
// a value it misses is located at its nearest ancestor.
type tomlScanner struct {
	depth  int // of values within values; beyond maxNesting nothing is recorded
	file   string
	src    []byte
	i      int
	lines  *lineIndex
	pos    Positions
	arrays map[string]int // pointer of an array of tables -> elements so far
}

// tomlKey is one part of a dotted key and where it starts.
type tomlKey struct {
	name string
	off  int
}

func scanTOML(file string, src []byte) Positions {
	s := &tomlScanner{file: file, src: src, lines: newLineIndex(src), pos: Positions{}, arrays: map[string]int{}}
	s.pos[""] = Position{File: file, Line: 1, Column: 1}
	s.i = len(src) - len(bytes.TrimPrefix(src, []byte("\uFEFF")))
	table := ""
	for {
		s.skipBlank(true)
		if s.i >= len(src) {
			return s.pos
		}
		start := s.i
		if s.peek(0) == '[' {
			table = s.header()
		} else {
			s.keyValue(table)
		}
		if s.i == start {
			s.i++ // never loop on input the scanner does not understand
		}
	}
}

func (s *tomlScanner) peek(k int) byte {
	if s.i+k < len(s.src) {
		return s.src[s.i+k]
	}
	return 0
}

// skipBlank skips spaces and tabs, and also newlines and comments when
// lines is true.
func (s *tomlScanner) skipBlank(lines bool) {
	for s.i < len(s.src) {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t':
			s.i++
		case lines && (c == '\r' || c == '\n'):
			s.i++
		case lines && c == '#':
			for s.i < len(s.src) && s.src[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

// set records ptr's key at keyOff and its value at valOff, unless the
// scanner is nested too deep to index (a value there is located at its
// nearest indexed ancestor).
func (s *tomlScanner) set(ptr string, keyOff, valOff int) {
	if s.depth > maxNesting {
		return
	}
	p := Position{File: s.file}
	if keyOff >= 0 {
		p.KeyLine, p.KeyColumn = s.lines.at(keyOff)
	}
	p.Line, p.Column = s.lines.at(valOff)
	s.pos[ptr] = p
}

// header reads a [table] or [[array.of.tables]] header and returns the
// pointer of the table it opens.
func (s *tomlScanner) header() string {
	start := s.i
	array := s.peek(1) == '['
	s.i++
	if array {
		s.i++
	}
	keys := s.key()
	for s.i < len(s.src) && s.src[s.i] != '\n' && s.src[s.i] != '#' {
		s.i++ // the closing ] or ]]
	}
	ptr := ""
	for j, k := range keys {
		ptr = jsondiff.Join(ptr, k.name)
		last := j == len(keys)-1
		if _, ok := s.pos[ptr]; !ok || (last && !array) {
			s.set(ptr, k.off, k.off)
		}
		switch n, ok := s.arrays[ptr]; {
		case last && array:
			s.arrays[ptr] = n + 1
			ptr = jsondiff.JoinIndex(ptr, n)
			s.set(ptr, -1, start)
		case ok:
			ptr = jsondiff.JoinIndex(ptr, n-1)
		}
	}
	return ptr
}

// key reads a possibly dotted key.
func (s *tomlScanner) key() []tomlKey {
	var keys []tomlKey
	for {
		s.skipBlank(false)
		off := s.i
		var name string
		switch s.peek(0) {
		case '"':
			end := s.stringEnd()
			name = string(s.src[off+1 : max(off+1, end-1)])
			if u, err := strconv.Unquote(string(s.src[off:end])); err == nil {
				name = u
			}
			s.i = end
		case '\'':
			end := s.stringEnd()
			name = string(s.src[off+1 : max(off+1, end-1)])
			s.i = end
		default:
			for s.i < len(s.src) && isBareKeyByte(s.src[s.i]) {
				s.i++
			}
			name = string(s.src[off:s.i])
		}
		if s.i == off {
			return keys
		}
		keys = append(keys, tomlKey{name: name, off: off})
		s.skipBlank(false)
		if s.peek(0) != '.' {
			return keys
		}
		s.i++
	}
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// keyValue reads key = value under the table at base.
func (s *tomlScanner) keyValue(base string) {
	keys := s.key()
	if len(keys) == 0 {
		return
	}
	s.skipBlank(false)
	if s.peek(0) != '=' {
		return
	}
	s.i++
	s.skipBlank(false)
	ptr := base
	for _, k := range keys[:len(keys)-1] {
		ptr = jsondiff.Join(ptr, k.name)
		if _, ok := s.pos[ptr]; !ok {
			s.set(ptr, k.off, k.off)
		}
	}
	last := keys[len(keys)-1]
	s.value(jsondiff.Join(ptr, last.name), last.off)
}

// value reads the value at ptr; keyOff is where its key starts, or -1.
func (s *tomlScanner) value(ptr string, keyOff int) {
	s.depth++
	defer func() { s.depth-- }()
	s.set(ptr, keyOff, s.i)
	switch s.peek(0) {
	case '"', '\'':
		s.i = s.stringEnd()
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.skipBlank(true)
			if c := s.peek(0); c == ']' || c == 0 {
				s.i++
				return
			}
			start := s.i
			s.value(jsondiff.JoinIndex(ptr, n), -1)
			s.skipBlank(true)
			if s.peek(0) == ',' {
				s.i++
			} else if s.i == start {
				s.i++
			}
		}
	case '{':
		s.i++
		for {
			s.skipBlank(true)
			if c := s.peek(0); c == '}' || c == 0 {
				s.i++
				return
			}
			start := s.i
			s.keyValue(ptr)
			s.skipBlank(true)
			if s.peek(0) == ',' {
				s.i++
			} else if s.i == start {
				s.i++
			}
		}
	default: // number, boolean, date or time; a date may hold a space
		for s.i < len(s.src) && strings.IndexByte(",]}#\r\n", s.src[s.i]) < 0 {
			s.i++
		}
	}
}

// stringEnd returns the offset just past the string starting at s.i, in any
// of TOML's four string forms.
func (s *tomlScanner) stringEnd() int {
	q := s.src[s.i]
	i := s.i + 1
	multi := s.peek(1) == q && s.peek(2) == q
	if multi {
		i = s.i + 3
	}
	for i < len(s.src) {
		c := s.src[i]
		switch {
		case c == '\\' && q == '"':
			i += 2
		case c == q && !multi:
			return i + 1
		case c == q && i+2 < len(s.src) && s.src[i+1] == q && s.src[i+2] == q:
			i += 3
			for n := 0; n < 2 && i < len(s.src) && s.src[i] == q; n++ {
				i++ // up to two quotes may end the content
			}
			return i
		case c == '\n' && !multi:
			return i
		default:
			i++
		}
	}
	return len(s.src)
}
