package config

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// checkSource refuses, before any parser sees it, a source that is not
// UTF-8 or nests deeper than maxNesting: parsers recurse, and a few hundred
// kilobytes of '[' would cost them gigabytes. The scan is linear and
// allocates nothing; it follows each format's quoting and comments closely
// enough to count brackets, and leaves every other check to the parser.
func checkSource(file string, src []byte, f Format) error {
	if !utf8.Valid(src) {
		off := 0
		for off < len(src) {
			r, n := utf8.DecodeRune(src[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		line, col := newLineIndex(src).at(off)
		return syntaxError(file, line, col, "", "invalid UTF-8: a config file must be text")
	}
	return checkNesting(file, src, f)
}

// checkNesting is checkSource's second half: it refuses a YAML or TOML
// source that nests deeper than maxNesting.
func checkNesting(file string, src []byte, f Format) error {
	s := nestScan{src: src, f: f}
	if off := s.run(); off >= 0 {
		line, col := newLineIndex(src).at(off)
		return syntaxError(file, line, col, "", fmt.Sprintf("nested deeper than %d levels", maxNesting))
	}
	return nil
}

// nestScan counts how deep a YAML or TOML source nests: flow brackets, and
// in YAML also block indentation and compact "- " entries, and in TOML the
// parts of a dotted key.
type nestScan struct {
	src     []byte
	f       Format
	flow    int   // open brackets
	indents []int // YAML: indentation of the open block levels
}

// run returns the offset where the source nests too deep, or -1.
func (s *nestScan) run() int {
	lineStart := true
	for i := 0; i < len(s.src); i++ {
		c := s.src[i]
		if lineStart {
			lineStart = false
			if off := s.lineLevels(i); off >= 0 {
				return off
			}
		}
		switch c {
		case '\n':
			lineStart = true
		case '#':
			if s.f == TOML || i == 0 || isBlank(s.src[i-1]) {
				i = s.skipLine(i) - 1
			}
		case '"', '\'':
			if s.f == YAML && !s.quoteStarts(i) {
				continue
			}
			i = s.skipString(i) - 1
		case '[', '{':
			if s.f == TOML && s.flow == 0 && s.atLineStart(i) {
				if off := s.header(i); off >= 0 {
					return off
				}
				i = s.skipLine(i) - 1
				continue
			}
			if s.flow++; s.flow+len(s.indents) > maxNesting {
				return i
			}
		case ']', '}':
			if s.flow > 0 {
				s.flow--
			}
		}
	}
	return -1
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// atLineStart reports whether only blanks precede i on its line.
func (s *nestScan) atLineStart(i int) bool {
	for j := i - 1; j >= 0 && s.src[j] != '\n'; j-- {
		if s.src[j] != ' ' && s.src[j] != '\t' {
			return false
		}
	}
	return true
}

// quoteStarts reports whether a YAML quote at i opens a quoted scalar
// rather than sitting inside a plain one (it's).
func (s *nestScan) quoteStarts(i int) bool {
	if i == 0 {
		return true
	}
	return bytes.IndexByte([]byte(" \t\n[{,:-?"), s.src[i-1]) >= 0
}

// skipLine returns the offset of the newline ending the line holding i.
func (s *nestScan) skipLine(i int) int {
	if j := bytes.IndexByte(s.src[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(s.src)
}

// skipString returns the offset just past the string quoted at i (TOML's
// multi-line strings included), or the end of the source.
func (s *nestScan) skipString(i int) int {
	q := s.src[i]
	if s.f == TOML && bytes.HasPrefix(s.src[i:], []byte{q, q, q}) {
		if j := bytes.Index(s.src[i+3:], []byte{q, q, q}); j >= 0 {
			return i + 3 + j + 3
		}
		return len(s.src)
	}
	for j := i + 1; j < len(s.src); j++ {
		switch c := s.src[j]; {
		case c == '\\' && q == '"':
			j++
		case c == q && s.f == YAML && q == '\'' && j+1 < len(s.src) && s.src[j+1] == '\'':
			j++
		case c == q:
			return j + 1
		case c == '\n' && s.f == TOML:
			return j // an unterminated string: the parser says so
		}
	}
	return len(s.src)
}

// header checks a TOML table header at i: the parts of its dotted name.
func (s *nestScan) header(i int) int {
	end := s.skipLine(i)
	if parts := bytes.Count(s.src[i:end], []byte{'.'}) + 1; parts > maxNesting {
		return i
	}
	return -1
}

// lineLevels accounts for the levels a line opens by its start: in YAML
// its indentation and its compact "- " entries, in TOML a dotted key. In
// YAML it counts them inside flow brackets too: a bracket in a plain
// scalar ("a: x[") opens nothing, and must not hide the block nesting
// after it; a multi-line flow collection merely counts a few levels twice.
func (s *nestScan) lineLevels(i int) int {
	if s.flow > 0 && s.f == TOML {
		return -1 // inside an array or inline table, a line is no key
	}
	j := i
	for j < len(s.src) && s.src[j] == ' ' {
		j++
	}
	if j >= len(s.src) || s.src[j] == '\n' || s.src[j] == '\r' || s.src[j] == '#' {
		return -1
	}
	if s.f == TOML {
		end := s.skipLine(j)
		key, _, _ := bytes.Cut(s.src[j:end], []byte{'='})
		if bytes.Count(key, []byte{'.'})+1 > maxNesting {
			return j
		}
		return -1
	}
	indent := j - i
	for len(s.indents) > 0 && s.indents[len(s.indents)-1] >= indent {
		s.indents = s.indents[:len(s.indents)-1]
	}
	s.indents = append(s.indents, indent)
	for j+1 < len(s.src) && (s.src[j] == '-' || s.src[j] == '?') && (s.src[j+1] == ' ' || s.src[j+1] == '\t') {
		j += 2
		for j < len(s.src) && s.src[j] == ' ' {
			j++
		}
		s.indents = append(s.indents, j-i)
		if len(s.indents) > maxNesting {
			return j
		}
	}
	if len(s.indents) > maxNesting {
		return j
	}
	return -1
}

// maxExpansion bounds how many nodes a YAML document may grow to once its
// aliases are expanded, relative to the nodes written: a generous factor,
// and a floor so that small documents may reuse anchors freely.
const (
	expansionFactor = 64
	expansionFloor  = 100_000
)

// checkAliases refuses a YAML document whose aliases expand it far beyond
// what was written (the "billion laughs"), before it is expanded. It counts
// the nodes of the expanded document without building it.
func checkAliases(file string, body ast.Node) error {
	c := aliasCount{anchors: map[string]ast.Node{}, memo: map[ast.Node]int{}}
	written := c.count(body, false)
	limit := max(expansionFloor, expansionFactor*written)
	c.anchors, c.memo = map[string]ast.Node{}, map[ast.Node]int{}
	c.limit = limit
	if n := c.count(body, true); n > limit {
		at := c.at
		if at == nil {
			at = body
		}
		line, col := tokenPosition(at.GetToken())
		return syntaxError(file, line, col, "", fmt.Sprintf("aliases expand the document to more than %d nodes (%d written): refused as an alias bomb", limit, written))
	}
	return nil
}

// aliasCount counts the nodes of a YAML tree, with aliases expanded when
// expand is set.
type aliasCount struct {
	anchors map[string]ast.Node
	memo    map[ast.Node]int // expanded size of an anchor's value
	limit   int
	total   int
	at      ast.Node // the alias that went over the limit
}

func (c *aliasCount) count(n ast.Node, expand bool) int {
	k := c.size(n, expand)
	if expand {
		k = min(k, c.limit+1) // saturates: a bomb must not overflow the count
	}
	return k
}

func (c *aliasCount) size(n ast.Node, expand bool) int {
	if n == nil {
		return 0
	}
	switch t := n.(type) {
	case *ast.AnchorNode:
		k := c.count(t.Value, expand)
		if name, ok := t.Name.(ast.ScalarNode); ok {
			c.anchors[fmt.Sprint(name.GetValue())] = t.Value
			c.memo[t.Value] = k
		}
		return k
	case *ast.AliasNode:
		if !expand {
			return 1
		}
		name, ok := t.Value.(ast.ScalarNode)
		if !ok {
			return 1
		}
		k := c.memo[c.anchors[fmt.Sprint(name.GetValue())]]
		if c.total += k; c.total > c.limit && c.at == nil {
			c.at = t
		}
		return max(k, 1)
	case *ast.TagNode:
		return c.count(t.Value, expand)
	case *ast.MappingNode:
		k := 1
		for _, v := range t.Values {
			k += c.count(v, expand)
		}
		return k
	case *ast.MappingValueNode:
		return 1 + c.count(t.Key, expand) + c.count(t.Value, expand)
	case *ast.SequenceNode:
		k := 1
		for _, v := range t.Values {
			k += c.count(v, expand)
		}
		return k
	}
	return 1
}

// maxKeyCost bounds the sum, over a YAML document's block mappings, of the
// square of each one's number of keys: go-yaml parses a block mapping in
// time and memory quadratic in its keys (each key re-copies the ones after
// it; goccy/go-yaml#889), so a file of a few hundred kilobytes of keys
// would cost minutes and gigabytes. One mapping of 5,000 keys spends the
// whole budget; flow mappings ({...}) and sequences cost linear time and
// are not counted.
const maxKeyCost = 5000 * 5000

// checkBlockMappings refuses a YAML document, given as its tokens, whose
// block mappings hold more keys than go-yaml parses in bounded time. A
// key's mapping is told by its column, as the parser tells it: the column
// of the first token of its line after any "- " or "? " indicators.
func checkBlockMappings(file string, toks token.Tokens) error {
	type level struct{ col, keys int }
	var (
		levels   []level
		flow     int
		cost     int
		line     = -1
		firstCol int  // column of the line's first token after indicators
		counted  bool // the line's key is counted
	)
	for _, tk := range toks {
		if tk.Position == nil || tk.Type == token.CommentType {
			continue
		}
		p := tk.Position
		if p.Line != line {
			line, firstCol, counted = p.Line, 0, false
		}
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			flow = max(flow-1, 0)
		case token.DocumentHeaderType, token.DocumentEndType:
			levels, flow = levels[:0], 0
		case token.SequenceEntryType, token.MappingKeyType:
			if flow == 0 && firstCol == 0 {
				for len(levels) > 0 && levels[len(levels)-1].col > p.Column {
					levels = levels[:len(levels)-1]
				}
				continue // the line's key, if any, starts after it
			}
		case token.MappingValueType:
			if flow > 0 || counted || firstCol == 0 {
				break
			}
			counted = true
			for len(levels) > 0 && levels[len(levels)-1].col > firstCol {
				levels = levels[:len(levels)-1]
			}
			if n := len(levels); n > 0 && levels[n-1].col == firstCol {
				levels[n-1].keys++
				cost += 2*levels[n-1].keys - 1 // keys² grows by 2k-1
			} else {
				levels = append(levels, level{col: firstCol, keys: 1})
				cost++
			}
			if cost > maxKeyCost {
				return syntaxError(file, p.Line, firstCol, "", fmt.Sprintf(
					"too many keys in block mappings for the YAML parser, whose time grows with the square of a mapping's keys "+
						"(this mapping has %d; the document may hold one mapping of 5000 keys, or more smaller ones): "+
						"split it, or write it as a flow mapping {...} or as JSON", levels[len(levels)-1].keys))
			}
		}
		if firstCol == 0 {
			firstCol = p.Column
		}
	}
	return nil
}
