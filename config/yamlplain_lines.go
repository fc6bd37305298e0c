package config

import (
	"strings"
	"unicode/utf8"
)

// oneLine is the column quoted takes for a scalar that must end on its
// line: a key, or an entry of a flow collection.
const oneLine = -1

// mayContinue reports whether a line may continue the plain scalar that
// ends at end, the value of a key or an entry in column col: the next
// line is empty or indented more than col. It spares most scalars the
// call of plainLines.
func (p *yamlPlain) mayContinue(end, col int) bool {
	j := end
	for j < len(p.src) && p.src[j] == ' ' {
		j++
	}
	if j == len(p.src) || p.src[j] != '\n' {
		return false
	}
	k := j + 1
	for k < len(p.src) && p.src[k] == ' ' {
		k++
	}
	return k < len(p.src) && (p.src[k] == '\n' || k-(j+1) > col)
}

// plainLines reads the lines that continue the plain scalar from start to
// end, on one line, the value of a key or an entry in column col: the
// lines below indented more than col, among empty lines. go-yaml folds
// them as the YAML spec says: the line break between two lines becomes a
// blank, each empty line among them a line break, the blanks around a
// line are dropped, and the text is a string whatever its words. It
// returns the text and the offset after it, or ok false when no line
// continues the scalar, or when one holds what the reader leaves to
// go-yaml: a ": " or "<<", or what go-yaml reads oddly, a '-' first (it
// takes a comment after it for text, and keeps the line break and blanks
// of some lines after it), "..." first, or a line of blanks among them. A
// line may start with any other indicator, as in "> 0.01" or "* item",
// which go-yaml reads as text as the spec says. Then the line below,
// indented more, makes the reader give up.
func (p *yamlPlain) plainLines(start, end, col int) (s string, next int, ok bool) {
	var buf []byte
	breaks := 0
	for j := p.flowBlanks(end); j < len(p.src) && p.src[j] == '\n'; {
		k := p.flowBlanks(j + 1)
		if k < len(p.src) && p.src[k] == '\n' {
			if k > j+1 {
				return "", 0, false // a line of blanks, which go-yaml reads oddly
			}
			breaks++ // an empty line
			j = k
			continue
		}
		if k == len(p.src) || k-(j+1) <= col || p.src[k] == '#' {
			break // the scalar ends on the line before
		}
		lineEnd, ok := p.plainText(k, false)
		if !ok || lineEnd == k || p.src[k] == '-' || p.src[k] == '.' && marker(p.src[k:]) {
			return "", 0, false
		}
		if buf == nil {
			buf = append(buf, p.src[start:end]...)
		}
		if breaks == 0 {
			buf = append(buf, ' ')
		}
		for ; breaks > 0; breaks-- {
			buf = append(buf, '\n')
		}
		buf = append(buf, p.src[k:lineEnd]...)
		end = lineEnd
		j = p.flowBlanks(end)
	}
	if buf == nil {
		return "", 0, false
	}
	return string(buf), end, true
}

// quotedLines reads the rest of a quoted scalar, quoted by q, from j, a
// line break or, in a double-quoted one, an escaped line break, having
// read buf before it, as go-yaml's scanner does (scanSingleQuote,
// scanDoubleQuote): a line break drops the blanks before it and becomes a
// blank, or a line break after an empty line; the blanks starting a line
// are dropped; an escaped line break becomes nothing. It gives up on a
// line whose text is not indented more than col, the column of the key or
// entry whose value the scalar is, and on a line whose text starts with
// two single quotes in a single-quoted one (go-yaml drops the blanks
// after them). It returns the string and the offset after the closing
// quote.
func (p *yamlPlain) quotedLines(buf []byte, j, col int, q byte) (s string, end int, ok bool) {
	if p.crlf {
		return "", 0, false // go-yaml keeps a line break where "\r\n" ended the line
	}
	first, lineStart := false, 0 // first: before the text of the line starting at lineStart
	for ; j < len(p.src); j++ {
		c := p.src[j]
		switch {
		case c == '\n':
			for len(buf) > 0 && buf[len(buf)-1] == ' ' {
				buf = buf[:len(buf)-1]
			}
			if first {
				buf = append(buf, '\n')
			} else {
				buf = append(buf, ' ')
			}
			first, lineStart = true, j+1
			continue
		case first && c == ' ':
			continue
		case q == '"' && c == '\\' && j+1 < len(p.src) && p.src[j+1] == '\n':
			j++
			first, lineStart = true, j+1
			continue
		}
		if first && j-lineStart <= col {
			return "", 0, false
		}
		if first && c == '\'' && q == '\'' && j+1 < len(p.src) && p.src[j+1] == '\'' {
			return "", 0, false // go-yaml drops the blanks after a line's first ''
		}
		first = false
		switch {
		case c == q && q == '\'' && j+1 < len(p.src) && p.src[j+1] == '\'':
			buf = append(buf, '\'')
			j++
		case c == q:
			return string(buf), j + 1, true
		case c == '\\' && q == '"':
			r, n := escape(p.src[j+1:])
			if n == 0 {
				return "", 0, false
			}
			buf = utf8.AppendRune(buf, r)
			j += n
		case c < ' ' || c == 0x7f:
			return "", 0, false
		default:
			buf = append(buf, c)
		}
	}
	return "", 0, false
}

// marker reports whether s starts like a document marker, "---" or "...".
func marker(s string) bool {
	return strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...")
}
