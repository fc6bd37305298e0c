package config

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// Position is where a value was written: the file, the 1-based line and
// column of the value, and the line and column of its key (zero for array
// elements and for the document root).
type Position struct {
	File      string
	Line      int
	Column    int
	KeyLine   int
	KeyColumn int
}

// Positions maps the JSON Pointer of every key and value of a document to
// the place it was written.
type Positions map[string]Position

// lazyPositions are the positions of a document, computed by build on the
// first call of get; a document and its copies share them.
type lazyPositions struct {
	once  sync.Once
	build func() Positions
	pos   Positions
}

func (l *lazyPositions) get() Positions {
	l.once.Do(func() { l.pos, l.build = l.build(), nil })
	return l.pos
}

// located returns a document of v with the positions pos.
func located(v any, pos Positions) Document {
	return Document{Value: v, pos: &lazyPositions{pos: pos, build: func() Positions { return pos }}}
}

// lazily returns a document of v whose positions build computes when they
// are first asked for.
func lazily(v any, build func() Positions) Document {
	return Document{Value: v, pos: &lazyPositions{build: build}}
}

// withValue returns a document of v, a value derived from d's (defaults
// filled, transformed), located by d's positions.
func (d Document) withValue(v any) Document {
	return Document{Value: v, pos: d.pos, size: d.size}
}

// Locate returns the position of the value at pointer, or of its nearest
// ancestor that has one (a value filled from a default has none of its own).
func (p Positions) Locate(pointer string) Position {
	for {
		if pos, ok := p[pointer]; ok {
			return pos
		}
		if pointer == "" {
			return Position{}
		}
		i := strings.LastIndexByte(pointer, '/')
		if i < 0 {
			return Position{}
		}
		pointer = pointer[:i]
	}
}

// locateKey is like Locate but prefers the position of the key.
func (p Positions) locateKey(pointer string) Position {
	pos := p.Locate(pointer)
	if pos.KeyLine > 0 {
		pos.Line, pos.Column = pos.KeyLine, pos.KeyColumn
	}
	return pos
}

// lineIndex converts byte offsets of one source into lines and columns;
// columns count characters, not bytes. Decoders ask for offsets mostly in
// increasing order, so it remembers the last answer and counts on from it:
// a long one-line document costs linear time, not quadratic.
type lineIndex struct {
	src   []byte
	start []int // byte offset where each line starts

	lastLine, lastOff, lastCol int // the last answer, 0-based line
}

func newLineIndex(src []byte) *lineIndex {
	li := &lineIndex{src: src, start: []int{0}, lastCol: 1}
	for i, c := range src {
		if c == '\n' {
			li.start = append(li.start, i+1)
		}
	}
	return li
}

// at returns the 1-based line and column of a byte offset.
func (li *lineIndex) at(off int) (line, col int) {
	off = max(0, min(off, len(li.src)))
	lo, hi := 0, len(li.start)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if li.start[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	from, col := li.start[lo], 1
	if li.lastLine == lo && li.lastOff >= from && li.lastOff <= off {
		from, col = li.lastOff, li.lastCol
	}
	col += utf8.RuneCount(li.src[from:off])
	li.lastLine, li.lastOff, li.lastCol = lo, off, col
	return lo + 1, col
}

// mergePositions locates every value of v, the merge of several layers, in
// the last layer that has its pointer: that layer supplied it.
func mergePositions(v any, layers ...Positions) Positions {
	out := Positions{}
	var visit func(ptr string, v any)
	visit = func(ptr string, v any) {
		for i := len(layers) - 1; i >= 0; i-- {
			if p, ok := layers[i][ptr]; ok {
				out[ptr] = p
				break
			}
		}
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				visit(jsondiff.Join(ptr, k), e)
			}
		case []any:
			for i, e := range x {
				visit(jsondiff.JoinIndex(ptr, i), e)
			}
		}
	}
	visit("", v)
	return out
}
