package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// jsonDecoder walks the tokens of a JSON document with encoding/json's
// Decoder.Token, which says precisely what is wrong with invalid JSON; it
// is slow (every scalar is a top-level value to it), so decodeJSON uses it
// only to locate syntax errors and reads valid JSON with jsonScanner.
type jsonDecoder struct {
	depth int
	file  string
	src   []byte
	lines *lineIndex
	dec   *json.Decoder
	pos   Positions
}

// tokenJSON decodes src with encoding/json's tokenizer.
func tokenJSON(file string, src []byte) (Document, error) {
	d := &jsonDecoder{file: file, src: src, lines: newLineIndex(src), dec: json.NewDecoder(bytes.NewReader(src)), pos: Positions{}}
	v, err := d.value("", Position{})
	if err != nil {
		return Document{}, err
	}
	if off := d.next(); off < len(src) {
		return Document{}, d.errorAt(off, "", "unexpected data after the end of the document")
	}
	return located(v, d.pos), nil
}

// next returns the offset of the next token, skipping the blanks and the
// separators the json.Decoder has not consumed yet.
func (d *jsonDecoder) next() int {
	off := int(d.dec.InputOffset())
	for off < len(d.src) {
		switch d.src[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

func (d *jsonDecoder) errorAt(off int, ptr, msg string) error {
	line, col := d.lines.at(off)
	return syntaxError(d.file, line, col, ptr, msg)
}

// tokenError converts an error of json.Decoder.Token into a positioned one.
func (d *jsonDecoder) tokenError(err error, start int, ptr string) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return d.errorAt(d.badCharacter(se, start), ptr, se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return d.errorAt(len(d.src), ptr, "unexpected end of the document")
	}
	return d.errorAt(start, ptr, err.Error())
}

// badCharacter finds the offset of the character a syntax error names: its
// first occurrence from start, where the failing token starts. The error's
// own offset cannot be used: depending on where encoding/json noticed the
// problem it is absolute or relative to the value, at the character or
// after it.
func (d *jsonDecoder) badCharacter(se *json.SyntaxError, start int) int {
	from := min(start, len(d.src))
	rest, ok := strings.CutPrefix(se.Error(), "invalid character ")
	if !ok || len(rest) < 3 {
		return from
	}
	end := 2 // 'x'
	if rest[1] == '\\' {
		end = strings.IndexByte(rest[2:], '\'') + 2
	}
	char, err := strconv.Unquote(rest[:end+1])
	if i := bytes.Index(d.src[from:], []byte(char)); err == nil && i >= 0 {
		return from + i
	}
	return from
}

func (d *jsonDecoder) value(ptr string, key Position) (any, error) {
	start := d.next()
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.tokenError(err, start, ptr)
	}
	pos := key
	pos.File = d.file
	pos.Line, pos.Column = d.lines.at(start)
	d.pos[ptr] = pos
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' || t == '[' {
			if d.depth++; d.depth > maxNesting {
				return nil, d.errorAt(start, "", fmt.Sprintf("nested deeper than %d levels", maxNesting))
			}
			defer func() { d.depth-- }()
		}
		if t == '{' {
			return d.object(ptr)
		}
		if t == '[' {
			return d.array(ptr)
		}
		return nil, d.errorAt(start, ptr, fmt.Sprintf("unexpected %q", rune(t)))
	case string, float64, bool, nil:
		return t, nil
	}
	return nil, d.errorAt(start, ptr, fmt.Sprintf("unexpected token %v", tok))
}

func (d *jsonDecoder) object(ptr string) (any, error) {
	obj := map[string]any{}
	for d.dec.More() {
		start := d.next()
		tok, err := d.dec.Token()
		if err != nil {
			return nil, d.tokenError(err, start, ptr)
		}
		k, ok := tok.(string)
		if !ok {
			return nil, d.errorAt(start, ptr, "object key must be a string")
		}
		child := jsondiff.Join(ptr, k)
		if _, dup := obj[k]; dup {
			return nil, d.errorAt(start, child, fmt.Sprintf("duplicate key %q", k))
		}
		var key Position
		key.KeyLine, key.KeyColumn = d.lines.at(start)
		v, err := d.value(child, key)
		if err != nil {
			return nil, err
		}
		obj[k] = v
	}
	return obj, d.closing(ptr)
}

func (d *jsonDecoder) array(ptr string) (any, error) {
	arr := []any{}
	for d.dec.More() {
		v, err := d.value(jsondiff.JoinIndex(ptr, len(arr)), Position{})
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	return arr, d.closing(ptr)
}

// closing consumes the ']' or '}' that ends a container.
func (d *jsonDecoder) closing(ptr string) error {
	start := d.next()
	if _, err := d.dec.Token(); err != nil {
		return d.tokenError(err, start, ptr)
	}
	return nil
}
