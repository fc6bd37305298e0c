package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/cybercorp/hotreload"
)

// The checks here are sanity checks, not full parsers: they find what breaks
// a reload in practice (an unclosed brace, string or comment; a stray
// closing bracket; a malformed theme) and say where, as file:line:col.

// position turns a byte offset into a 1-based line and column (in bytes).
func position(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = off - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

func problemAt(file string, data []byte, off int, format string, args ...any) hotreload.FieldError {
	line, col := position(data, off)
	return hotreload.FieldError{File: file, Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
}

var (
	themeProperty = regexp.MustCompile(`^--[A-Za-z0-9_-]+$`)
	themeBadValue = regexp.MustCompile(`[;{}<>]`)
)

// parseTheme decodes theme.json: one JSON object of custom properties to
// string values.
func parseTheme(file string, data []byte) (map[string]string, []hotreload.FieldError) {
	dec := json.NewDecoder(bytes.NewReader(data))
	fail := func(off int64, format string, args ...any) []hotreload.FieldError {
		return []hotreload.FieldError{problemAt(file, data, int(off), format, args...)}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fail(dec.InputOffset(), "decoding the theme: %v", jsonMessage(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fail(0, "the theme must be a JSON object of custom properties")
	}
	theme := map[string]string{}
	var problems []hotreload.FieldError
	for dec.More() {
		keyOff := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(dec.InputOffset(), "decoding the theme: %v", jsonMessage(err))
		}
		key := tok.(string) // object keys are always strings
		keyOff += int64(bytes.IndexByte(data[keyOff:], '"'))
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fail(dec.InputOffset(), "decoding the theme: %v", jsonMessage(err))
		}
		p := problemAt(file, data, int(keyOff), "")
		p.Path = "/" + strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
		s, isString := v.(string)
		switch {
		case !themeProperty.MatchString(key):
			p.Message = "a theme property must be a CSS custom property name such as --accent"
		case !isString:
			p.Message = "a theme value must be a string"
		case themeBadValue.MatchString(s):
			p.Message = "a theme value must not contain ; { } < or >"
		default:
			theme[key] = s
			continue
		}
		problems = append(problems, p)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fail(dec.InputOffset(), "decoding the theme: %v", jsonMessage(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail(dec.InputOffset(), "unexpected data after the theme object")
	}
	return theme, problems
}

func jsonMessage(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of file"
	}
	return err.Error()
}

// bracketCheck tracks open brackets for the CSS and JS checks.
type bracketCheck struct {
	file  string
	data  []byte
	stack []int // offsets of open brackets
}

var closer = map[byte]byte{'{': '}', '(': ')', '[': ']'}

// open pushes an opening bracket.
func (b *bracketCheck) open(off int) { b.stack = append(b.stack, off) }

// close pops the bracket that c closes, or reports a mismatch.
func (b *bracketCheck) close(off int) *hotreload.FieldError {
	c := b.data[off]
	if len(b.stack) == 0 {
		p := problemAt(b.file, b.data, off, "unexpected %q: nothing to close", c)
		return &p
	}
	top := b.stack[len(b.stack)-1]
	if want := closer[b.data[top]]; want != c {
		line, col := position(b.data, top)
		p := problemAt(b.file, b.data, off, "unexpected %q: %q opened at %d:%d is still open", c, b.data[top], line, col)
		return &p
	}
	b.stack = b.stack[:len(b.stack)-1]
	return nil
}

// end reports the innermost bracket left open.
func (b *bracketCheck) end() []hotreload.FieldError {
	if len(b.stack) == 0 {
		return nil
	}
	top := b.stack[len(b.stack)-1]
	return []hotreload.FieldError{problemAt(b.file, b.data, top, "%q is never closed", b.data[top])}
}

// skipComment skips a /* */ comment at off, returning the offset after it,
// or -1 when it is not closed.
func skipComment(data []byte, off int) int {
	end := bytes.Index(data[off+2:], []byte("*/"))
	if end < 0 {
		return -1
	}
	return off + 2 + end + 2
}

// skipString skips a quoted string at off, returning the offset after it, or
// -1 when a newline or the end comes first.
func skipString(data []byte, off int) int {
	q := data[off]
	for i := off + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '\n':
			return -1
		case q:
			return i + 1
		}
	}
	return -1
}

// checkCSS checks that comments and strings end and that brackets balance.
func checkCSS(file string, data []byte) []hotreload.FieldError {
	b := &bracketCheck{file: file, data: data}
	for i := 0; i < len(data); {
		switch c := data[i]; {
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			next := skipComment(data, i)
			if next < 0 {
				return []hotreload.FieldError{problemAt(file, data, i, "comment is never closed")}
			}
			i = next
			continue
		case c == '"' || c == '\'':
			next := skipString(data, i)
			if next < 0 {
				return []hotreload.FieldError{problemAt(file, data, i, "string is never closed")}
			}
			i = next
			continue
		case c == '\\':
			i += 2
			continue
		case c == '{' || c == '(' || c == '[':
			b.open(i)
		case c == '}' || c == ')' || c == ']':
			if p := b.close(i); p != nil {
				return []hotreload.FieldError{*p}
			}
		}
		i++
	}
	return b.end()
}

// regexAfter holds the characters after which a "/" starts a regular
// expression rather than a division.
const regexAfter = "(,=:[!&|?{};+-*%<>~^"

var regexKeywords = map[string]bool{
	"return": true, "typeof": true, "case": true, "do": true, "else": true, "in": true,
	"of": true, "new": true, "delete": true, "void": true, "throw": true, "yield": true, "await": true,
}

// checkJS checks that comments, strings, template literals and regular
// expressions end and that brackets balance.
func checkJS(file string, data []byte) []hotreload.FieldError {
	b := &bracketCheck{file: file, data: data}
	var templates []int       // stack depth at each open ${ of a template literal
	prev, word := byte(0), "" // last significant character and identifier
	fail := func(off int, msg string) []hotreload.FieldError {
		return []hotreload.FieldError{problemAt(file, data, off, "%s", msg)}
	}
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '/' && i+1 < len(data) && data[i+1] == '/':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			next := skipComment(data, i)
			if next < 0 {
				return fail(i, "comment is never closed")
			}
			i = next
			continue
		case c == '"' || c == '\'':
			next := skipString(data, i)
			if next < 0 {
				return fail(i, "string is never closed")
			}
			i, prev, word = next, '"', ""
			continue
		case c == '`' || (c == '}' && len(templates) > 0 && templates[len(templates)-1] == len(b.stack)):
			if c == '}' {
				templates = templates[:len(templates)-1]
			}
			next, inner := skipTemplate(data, i)
			if next < 0 {
				return fail(i, "template literal is never closed")
			}
			if inner {
				templates = append(templates, len(b.stack))
			}
			i, prev, word = next, '`', ""
			continue
		case c == '/' && (prev == 0 || strings.IndexByte(regexAfter, prev) >= 0 || regexKeywords[word]):
			next := skipRegex(data, i)
			if next < 0 {
				return fail(i, "regular expression is never closed")
			}
			i, prev, word = next, '/', ""
			continue
		case c == '{' || c == '(' || c == '[':
			b.open(i)
		case c == '}' || c == ')' || c == ']':
			if p := b.close(i); p != nil {
				return []hotreload.FieldError{*p}
			}
		}
		switch {
		case isIdent(c):
			start := i
			for i < len(data) && isIdent(data[i]) {
				i++
			}
			word, prev = string(data[start:i]), 'a'
			continue
		case c != ' ' && c != '\t' && c != '\n' && c != '\r':
			prev, word = c, ""
		}
		i++
	}
	return b.end()
}

func isIdent(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// skipTemplate skips template text starting at the backquote or the "}"
// that ends a substitution. It returns the offset after the text and
// whether it stopped at a "${" (inner true) rather than the closing
// backquote; -1 when the end comes first.
func skipTemplate(data []byte, off int) (int, bool) {
	for i := off + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '`':
			return i + 1, false
		case '$':
			if i+1 < len(data) && data[i+1] == '{' {
				return i + 2, true
			}
		}
	}
	return -1, false
}

// skipRegex skips a regular expression literal and its flags.
func skipRegex(data []byte, off int) int {
	inClass := false
	for i := off + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '\n':
			return -1
		case '[':
			inClass = true
		case ']':
			inClass = false
		case '/':
			if !inClass {
				i++
				for i < len(data) && isIdent(data[i]) {
					i++
				}
				return i
			}
		}
	}
	return -1
}
