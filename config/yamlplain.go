package config

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/goccy/go-yaml/token"
)

// yamlPlain reads the common subset of block YAML without go-yaml: block
// mappings of plain or quoted keys, or explicit ones (see explicitKey),
// block sequences (compact "- key: v" entries included), plain and quoted
// scalars (see quoted), over several lines too (see plainLines), flow
// collections of those as a value, on one line or over several (see
// flow), or as the document (JSON is), literal and folded block scalars as
// a value (see blockScalar), a standard or local tag on a plain or quoted
// scalar or on a collection, the document's too (see tagAt and
// taggedBlock), anchors on values, aliases and merge keys of aliases (see
// yamlplain_alias.go), a value on the line below its key (see
// mappingValue), comments, blank lines, a leading "---", alone or after a
// directive (see directive), a "..." that ends the document (see
// documentEnd), lines that end with "\r\n", and tabs where blank tells. It builds the value alone, no positions, and gives up (ok
// false) on anything else: the tags and tagged values tagAt and retag
// leave, the anchors, aliases and merge keys yamlplain_alias.go leaves, the
// block scalars blockScalar leaves, the flow collections flow leaves, the
// scalars over several lines plainLines and quotedLines leave, the
// explicit keys explicitKey leaves, other directives, a second document,
// other tabs, a carriage return not before a line feed, duplicate keys,
// more keys than checkBlockMappings lets go-yaml parse, aliases expanding
// to more nodes than checkAliases lets through, a scalar that may resolve
// other than as a string, a bool, a null or a number JSON holds.
// decodeYAML then runs go-yaml, which accepts or refuses the document as
// before; FuzzYAMLPlain checks that what this accepts go-yaml decodes to
// the same value.
type yamlPlain struct {
	src       string
	i         int  // the next byte to read
	lineStart int  // the offset where the line holding i starts
	depth     int  // mappings and sequences open
	crlf      bool // whether lines ended with "\r\n", read as "\n" (see document)
	keyCost   int  // the sum of the squares of each mapping's keys, as checkBlockMappings counts it

	// Anchors, aliases and merge keys (yamlplain_alias.go).
	anchors   map[string]anchor // the anchors defined so far, by name
	written   int               // the nodes read, as checkAliases counts them
	expanded  int               // the same, with aliases expanded
	level     int               // how deep merge keys nest in the anchor being read (see anchor)
	started   int               // the anchors started
	reading   int               // the anchors whose values are being read
	outermost int               // the serial of the outermost of them
	redefined bool              // whether an anchor name was defined twice
}

// decodePlainYAML decodes src when it is in the subset yamlPlain reads.
func decodePlainYAML(src string) (any, bool) {
	p := yamlPlain{src: src}
	return p.document()
}

// document reads p.src, one document.
func (p *yamlPlain) document() (any, bool) {
	if strings.IndexByte(p.src, '\r') >= 0 {
		// Lines that end with "\r\n", as editors on Windows write them, all
		// or some: go-yaml reads them as lines that end with "\n" but in
		// quoted scalars over several lines, which quotedLines leaves to it.
		// A '\r' alone is left to go-yaml too.
		lf := strings.ReplaceAll(p.src, "\r\n", "\n")
		if strings.IndexByte(lf, '\r') >= 0 {
			return nil, false
		}
		p.src, p.crlf = lf, true
	}
	p.i = -1 // before the first line
	p.src = p.src[:documentEnd(p.src)]
	start := directive(p.src)
	if strings.HasPrefix(p.src[start:], "---\n") {
		p.i = start + 3
	}
	if !p.nextLine() || p.eof() {
		return nil, false // an empty document: go-yaml says where
	}
	if v, tagged, ok := p.taggedBlock(-1); tagged { // a tag on a line of its own, as in "!sum"
		return v, ok && p.eof()
	}
	if p.at('{') || p.at('[') { // a flow collection, as JSON saved as YAML is
		v, end, ok := p.flow(p.i)
		if !ok {
			return nil, false
		}
		p.i = end
		return v, p.endLine() && p.eof()
	}
	v, ok := p.block()
	return v, ok && p.eof()
}

// directive returns the length of the directive line src starts with
// before a "---" line, one go-yaml reads as if it were not there, or 0: a
// version directive, "%YAML 1.1" or "%YAML 1.2", or a %TAG directive of a
// handle other than "!!", which would change the standard tags for
// go-yaml, such as "%TAG !e! tag:example.com,2000:". go-yaml refuses a
// second directive.
func directive(src string) int {
	line, rest, ok := strings.Cut(src, "\n")
	if !ok || !strings.HasPrefix(rest, "---\n") {
		return 0
	}
	if line != "%YAML 1.1" && line != "%YAML 1.2" {
		tag, isTag := strings.CutPrefix(line, "%TAG ")
		handle, prefix, ok := strings.Cut(tag, " ")
		if !isTag || !ok || !tagHandle(handle) || prefix == "" || uriEnd(prefix, 0) < len(prefix) {
			return 0
		}
	}
	return len(line) + 1
}

// documentEnd returns where the line "..." that ends the document in src
// starts, which only blanks, comments and empty lines follow, or len(src)
// when no such line ends it. go-yaml reads what follows as if it were not
// there.
func documentEnd(src string) int {
	end := len(src) // the end of a line, after the lines of blanks and comments that follow
	if strings.HasSuffix(src, "\n") {
		end--
	}
	for {
		start := strings.LastIndexByte(src[:end], '\n') + 1
		line := src[start:end]
		if rest := strings.TrimLeft(line, " "); rest != "" && rest[0] != '#' {
			if rest, ok := strings.CutPrefix(line, "..."); ok && (rest == "" || rest[0] == ' ') {
				if rest = strings.TrimLeft(rest, " "); rest == "" || rest[0] == '#' {
					return start
				}
			}
			return len(src)
		}
		if start == 0 {
			return len(src)
		}
		end = start - 1
	}
}

// tagHandle reports whether h is the primary tag handle, "!", or a named
// one, '!', a name (see tagName) and '!'.
func tagHandle(h string) bool {
	if h == "!" {
		return true
	}
	end, ok := tagName(h, 1)
	return ok && h[0] == '!' && end == len(h)-1 && h[end] == '!'
}

// eof reports whether the whole source has been read.
func (p *yamlPlain) eof() bool { return p.i >= len(p.src) }

// col is the column of p.i, 0-based: all that precedes it on its line is
// indentation and "- " indicators, one byte a column.
func (p *yamlPlain) col() int { return p.i - p.lineStart }

// nextLine moves p.i from the '\n' that ends a line (or from -1, before
// the source) to the first character of the next line that holds more
// than blanks and a comment. It refuses a document marker ("---", "...")
// at the start of a line, which would end the document.
func (p *yamlPlain) nextLine() bool {
	for p.i < len(p.src) {
		p.i++ // past the '\n' that ends the line read
		p.lineStart = p.i
		for p.i < len(p.src) && p.src[p.i] == ' ' {
			p.i++
		}
		if p.i == len(p.src) {
			return true
		}
		switch p.src[p.i] {
		case '\n':
			continue
		case '#':
			p.toLineEnd()
			continue
		}
		if p.col() == 0 && marker(p.src[p.i:]) {
			return false
		}
		return true
	}
	return true
}

// toLineEnd moves p.i to the '\n' that ends its line, or the end.
func (p *yamlPlain) toLineEnd() {
	if j := strings.IndexByte(p.src[p.i:], '\n'); j >= 0 {
		p.i += j
	} else {
		p.i = len(p.src)
	}
}

// endLine reads the rest of a line after a value, blanks and a comment,
// and moves to the next line.
func (p *yamlPlain) endLine() bool {
	p.i = p.pastBlanks(p.i)
	if p.i < len(p.src) && p.src[p.i] == '#' && blank(p.src[p.i-1]) {
		p.toLineEnd()
	}
	if p.i < len(p.src) && p.src[p.i] != '\n' {
		return false
	}
	return p.nextLine()
}

// entryAt reports whether a sequence entry ("-" and a blank) starts at i.
func (p *yamlPlain) entryAt(i int) bool {
	return i < len(p.src) && p.src[i] == '-' && (i+1 == len(p.src) || p.src[i+1] == ' ' || p.src[i+1] == '\n')
}

// block reads the mapping or sequence starting at p.i.
func (p *yamlPlain) block() (any, bool) {
	if p.entryAt(p.i) {
		return p.sequence(p.col())
	}
	return p.mapping(p.col())
}

// open counts a mapping or sequence opened, refusing one too deep.
func (p *yamlPlain) open() bool {
	p.count(1)
	p.depth++
	return p.depth <= maxNesting
}

// count counts n nodes read, as checkAliases counts them: a mapping, a
// sequence, a scalar, or a key and its pair.
func (p *yamlPlain) count(n int) {
	p.written += n
	p.expanded += n
}

// at reports whether the byte at p.i is c.
func (p *yamlPlain) at(c byte) bool { return p.i < len(p.src) && p.src[p.i] == c }

// sequence reads the block sequence whose first "- " is at p.i, in column
// col.
func (p *yamlPlain) sequence(col int) (any, bool) {
	if !p.open() {
		return nil, false
	}
	var s []any
	for {
		p.i++ // the '-'
		for p.i < len(p.src) && p.src[p.i] == ' ' {
			p.i++
		}
		v, ok := p.entry(col)
		if !ok {
			return nil, false
		}
		s = append(s, v)
		if p.eof() || p.col() < col || p.col() == col && !p.entryAt(p.i) {
			p.depth--
			return s, true
		}
		if p.col() > col {
			return nil, false
		}
	}
}

// entry reads the value of a sequence entry in column col, at p.i after
// its "- ": on the same line a nested sequence, a mapping or a scalar, or
// on the lines below a block indented more than the entry, or nothing
// before the next entry or a line indented less; any of them but nothing
// after an anchor.
func (p *yamlPlain) entry(col int) (any, bool) {
	if p.at('&') {
		return p.anchored(func() (any, bool) { return p.entry(col) })
	}
	if v, tagged, ok := p.taggedBlock(col); tagged {
		return v, ok
	}
	if p.lineRest() {
		if !p.endLine() {
			return nil, false
		}
		switch {
		case p.eof() || p.col() < col || p.col() == col && p.entryAt(p.i):
			p.count(1)
			return nil, true
		case p.col() == col:
			return nil, false // go-yaml takes a key in the entry's column for the entry's value
		}
		return p.block()
	}
	if p.entryAt(p.i) {
		return p.sequence(p.col())
	}
	if p.mappingAt(p.i) {
		return p.mapping(p.col())
	}
	return p.scalar(col)
}

// mappingAt reports whether a mapping entry starts at i: a key, a merge
// key or an explicit key.
func (p *yamlPlain) mappingAt(i int) bool {
	_, _, ok := p.keyAt(i)
	return ok || p.mergeAt(i) || strings.HasPrefix(p.src[i:], "? ")
}

// lineRest reports whether only a comment, if anything, follows p.i on
// its line, after the blanks p.i follows.
func (p *yamlPlain) lineRest() bool {
	return p.i == len(p.src) || p.src[p.i] == '\n' || p.src[p.i] == '#' && blank(p.src[p.i-1])
}

// blank reports whether c is a blank, ' ' or '\t'. A tab is read as a
// blank between a value and a comment or the end of its line (see
// plainText), between the entries of a flow collection (see flowSpace), or
// in a comment or a block scalar's text; anywhere else, go-yaml reads it
// oddly (it drops it from a plain scalar, refuses the keys after a quoted
// one holding it) and the reader gives up.
func blank(c byte) bool { return c == ' ' || c == '\t' }

// blankRest reports whether only blanks, and a comment, follow j on its
// line.
func (p *yamlPlain) blankRest(j int) bool {
	j = p.pastBlanks(j)
	return j == len(p.src) || p.src[j] == '\n' || p.src[j] == '#'
}

// mapping reads the block mapping whose first key is at p.i, in column
// col. A merge key ("<<: ") puts the keys of other mappings in it (see
// merge); its own keys, "<<" included, may not repeat.
func (p *yamlPlain) mapping(col int) (any, bool) {
	if !p.open() {
		return nil, false
	}
	m := map[string]any{}
	var (
		buf    [1]map[string]any
		merged []map[string]any // the mappings a merge key names, put in m at its end
		keys   map[string]bool  // the keys written, once a merge key has put others in m
	)
	for n := 0; ; n++ {
		k, next, ok := p.keyAt(p.i)
		merge := !ok && p.mergeAt(p.i)
		if merge {
			k, next, ok = "<<", p.i+3, true
		} else if !ok {
			k, next, ok = p.explicitKey(col)
		}
		if !ok {
			return nil, false
		}
		if _, dup := m[k]; keys == nil && dup || keys[k] || k == "<<" && merged != nil {
			return nil, false
		}
		if keys != nil {
			keys[k] = true
		}
		if p.keyCost += 2*n + 1; p.keyCost > maxKeyCost { // keys² grows by 2k-1
			return nil, false
		}
		p.count(2) // the key and its pair
		p.i = next
		for p.i < len(p.src) && p.src[p.i] == ' ' {
			p.i++
		}
		if merge {
			merged, keys, ok = p.merge(m, buf[:0])
		} else {
			m[k], ok = p.mappingValue(col)
		}
		if !ok {
			return nil, false
		}
		if p.eof() || p.col() < col {
			ok = p.put(m, merged, false)
			p.depth--
			return m, ok
		}
		if p.col() > col || p.entryAt(p.i) {
			return nil, false
		}
	}
}

// mappingValue reads the value of a key in column col, at p.i after its
// ": ": a scalar on the same line, or on the lines below a block or a
// scalar indented more than the key (as in "help:" over a line of text) or
// a sequence in the key's column, or nothing; any of them but nothing
// after an anchor.
func (p *yamlPlain) mappingValue(col int) (any, bool) {
	if p.at('&') {
		return p.anchored(func() (any, bool) { return p.mappingValue(col) })
	}
	if v, tagged, ok := p.taggedBlock(col); tagged {
		return v, ok
	}
	if !p.lineRest() {
		return p.scalar(col)
	}
	if !p.endLine() {
		return nil, false
	}
	switch {
	case p.eof() || p.col() < col:
	case p.col() > col && (p.entryAt(p.i) || p.mappingAt(p.i)):
		return p.block()
	case p.col() > col:
		if p.at('!') && p.reading > 0 {
			return nil, false // go-yaml refuses a merge key of an alias of a tagged mapping
		}
		return p.scalar(col)
	case p.entryAt(p.i):
		return p.sequence(col)
	}
	p.count(1)
	return nil, true
}

// explicitKey reads the explicit key of a mapping entry at p.i, in column
// col: "? " and a plain key as keyAt reads it but for the ':', on one line,
// then on the next line that holds more than blanks and a comment, in
// column col, the ':' of its value and a blank or the line's end. go-yaml reads
// it as the key written without "? ". It moves p.i to that line and
// returns the key and the offset after the ':'. It leaves to go-yaml an
// explicit key of any other kind (quoted, which go-yaml reads oddly before
// some values, over several lines, a block scalar, a collection, after an
// anchor or a tag) and one without a value.
func (p *yamlPlain) explicitKey(col int) (k string, next int, ok bool) {
	if !strings.HasPrefix(p.src[p.i:], "? ") {
		return "", 0, false
	}
	i := p.flowBlanks(p.i + 2)
	if i == len(p.src) {
		return "", 0, false
	}
	end, ok := p.plainEnd(i, false)
	if !ok || end == i || !plainKey(p.src[i:end]) {
		return "", 0, false
	}
	k = p.src[i:end]
	p.i = end
	if !p.endLine() || p.eof() || p.col() != col || !p.at(':') {
		return "", 0, false
	}
	if next = p.i + 1; next < len(p.src) && p.src[next] != ' ' && p.src[next] != '\n' {
		return "", 0, false
	}
	return k, next, true
}

// keyAt reads the key of a mapping entry at i: a quoted scalar or a plain
// one go-yaml reads as the key it spells (see plainKey), then ':' and a
// blank. It returns the key and the offset after the ':'.
func (p *yamlPlain) keyAt(i int) (k string, next int, ok bool) {
	var end int
	if c := p.src[i]; c == '"' || c == '\'' {
		k, end, ok = p.quoted(i, oneLine)
	} else {
		end, ok = p.plainEnd(i, true)
		if ok {
			k = p.src[i:end]
			ok = plainKey(k)
		}
	}
	if !ok || end == len(p.src) || p.src[end] != ':' {
		return "", 0, false
	}
	if end+1 < len(p.src) && p.src[end+1] != ' ' && p.src[end+1] != '\n' {
		return "", 0, false
	}
	return k, end + 1, true
}

// scalar reads the scalar at p.i, the value of a key or an entry in
// column col: the rest of its line (a flow collection or an alias among
// them), or a block scalar and its lines; a plain or quoted one after a
// standard tag (see tagAt).
func (p *yamlPlain) scalar(col int) (any, bool) {
	var (
		v   any
		end int
		ok  bool
	)
	tag, start := "", p.i
	if p.at('!') {
		if tag, start, ok = p.tagAt(p.i); !ok || start == len(p.src) {
			return nil, false
		}
		p.i = start
	}
	switch c := p.src[p.i]; {
	case tag != "" && !tagFits(tag, c):
		return nil, false
	case c == '[' || c == '{':
		v, end, ok = p.flow(p.i)
	case c == '*':
		v, end, ok = p.aliasValue(p.i)
	case c == '|' || c == '>':
		p.count(1)
		return p.blockScalar(col)
	case c == '"' || c == '\'':
		p.count(1)
		v, end, ok = p.quoted(p.i, col)
	default:
		p.count(1)
		if end, ok = p.plainEnd(p.i, false); ok && end > p.i {
			v, ok = plainScalar(p.src[p.i:end])
			if ok && tag == "" && p.mayContinue(end, col) {
				if s, next, more := p.plainLines(p.i, end, col); more {
					v, end = s, next
				}
			}
		} else {
			ok = false
		}
	}
	if ok && tag != "" {
		v, ok = retag(tag, p.src[start:end], v)
	}
	if !ok {
		return nil, false
	}
	p.i = end
	return v, p.endLine()
}

// tagAt reads the tag at i, then blanks or a line break: a standard one,
// "!!" and str, int, float, bool or null (of a scalar) or map or seq (of a
// collection), whose name it returns, or one go-yaml ignores, for which it
// returns localTag: a local one, '!' and a name (!Ref, !vault), one with a
// named handle, '!', a name, '!' and a name (!e!x), or a verbatim one,
// "!<", letters, digits or any of "-_.:,/!~%", and '>'
// (!<tag:yaml.org,2002:str>). A name is a letter, then letters, digits, '-'
// or '_'. It returns the offset after the blanks. It leaves to go-yaml any
// other tag, such as !!binary and !!timestamp.
func (p *yamlPlain) tagAt(i int) (tag string, next int, ok bool) {
	end := i + 1
	local := !strings.HasPrefix(p.src[i:], "!!")
	if local {
		named := false
		if strings.HasPrefix(p.src[i:], "!<") {
			end, named = verbatimEnd(p.src, i+2)
		} else if end, named = tagName(p.src, end); named && end < len(p.src) && p.src[end] == '!' {
			end, named = tagName(p.src, end+1)
		}
		if !named {
			return "", 0, false
		}
		tag = localTag
	} else {
		for end++; end < len(p.src) && p.src[end] >= 'a' && p.src[end] <= 'z'; end++ {
		}
		tag = p.src[i+2 : end]
	}
	switch {
	case end == len(p.src) || p.src[end] != ' ' && p.src[end] != '\n':
		return "", 0, false
	case local:
		return tag, p.flowBlanks(end), true
	}
	switch tag {
	case "str", "int", "float", "bool", "null", "map", "seq":
		return tag, p.flowBlanks(end), true
	}
	return "", 0, false
}

// localTag is what tagAt returns for a tag go-yaml ignores.
const localTag = "!"

// tagName reads the name of a tag starting at i, a letter, then letters,
// digits, '-' or '_', and returns the offset after it.
func tagName(src string, i int) (end int, ok bool) {
	end = i
	for end < len(src) && (isLetter(src[end]) || end > i && (isDigit(src[end]) || src[end] == '-' || src[end] == '_')) {
		end++
	}
	return end, end > i
}

// verbatimEnd reads the text of a verbatim tag starting at i, letters,
// digits or any of "-_.:,/!~%", and returns the offset after the '>' that
// closes it.
func verbatimEnd(src string, i int) (end int, ok bool) {
	end = uriEnd(src, i)
	if end == i || end == len(src) || src[end] != '>' {
		return 0, false
	}
	return end + 1, true
}

// uriEnd returns the offset of the first byte from i on that is not a
// letter, a digit or any of "-_.:,/!~%".
func uriEnd(src string, i int) int {
	for i < len(src) && (isLetter(src[i]) || isDigit(src[i]) || strings.IndexByte("-_.:,/!~%", src[i]) >= 0) {
		i++
	}
	return i
}

// isLetter reports whether c is an ASCII letter.
func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// tagFits reports whether a value starting with c may follow tag (see
// tagAt): a flow mapping after !!map, a flow sequence after !!seq, which
// go-yaml ignores, a plain or quoted scalar after the others, and after a
// local tag also a flow collection or a block scalar.
func tagFits(tag string, c byte) bool {
	switch tag {
	case "map":
		return c == '{'
	case "seq":
		return c == '['
	case localTag:
		return strings.IndexByte("*&!\n#", c) < 0
	}
	return strings.IndexByte("[{*|>&!\n#", c) < 0
}

// taggedBlock reports whether "!!map", "!!seq" or a local tag ends the
// line at p.i, and if so reads the block mapping or sequence it tags
// below, indented more than col (the value of a key or an entry in column
// col); if not, p.i stays. It leaves to go-yaml a block of the other kind
// than a standard tag names (an error), nothing (go-yaml reads !!seq and
// nothing as [], and takes a key in the tagged key's column for the
// tagged mapping's) and a sequence in the key's or entry's column
// (go-yaml takes the next entries for the tagged sequence's).
func (p *yamlPlain) taggedBlock(col int) (v any, tagged, ok bool) {
	if !p.at('!') {
		return nil, false, false
	}
	tag, next, ok := p.tagAt(p.i)
	if !ok || tag != "map" && tag != "seq" && tag != localTag {
		return nil, false, false
	}
	start := p.i
	if p.i = next; !p.lineRest() {
		p.i = start
		return nil, false, false
	}
	if !p.endLine() || p.eof() || p.col() <= col || tag != localTag && p.entryAt(p.i) != (tag == "seq") {
		return nil, true, false
	}
	v, ok = p.block()
	return v, true, ok
}

// retag converts v, read from the plain or quoted scalar raw, as go-yaml's
// tag does (Decoder.nodeToValue): a local one gives the text of a plain
// scalar and leaves the others as they are; !!null gives null whatever the
// scalar, !!str the text of v as fmt.Sprint writes it ("1.1" for 1.10, ""
// for null), !!int, !!float and !!bool parse that text. ok is false where
// go-yaml fails or falls back on a zero value, or might: for !!int and
// !!float a text decimal does not read (or with a '.' for !!int), for
// !!bool another than true, false, yes or no in any case, and for !!str a
// number decimal does not read.
func retag(tag, raw string, v any) (any, bool) {
	quoted := raw[0] == '"' || raw[0] == '\''
	s := raw
	if quoted {
		s = v.(string)
	}
	switch tag {
	case "map", "seq":
		return v, true
	case localTag:
		if quoted || raw[0] == '[' || raw[0] == '{' {
			return v, true
		}
		return raw, true
	case "null":
		return nil, true
	case "bool":
		switch strings.ToLower(s) {
		case "true", "yes":
			return true, true
		case "false", "no":
			return false, true
		}
		return nil, false
	case "str":
		switch x := v.(type) {
		case string:
			return x, true
		case bool:
			return strconv.FormatBool(x), true
		case nil:
			return "", true
		}
	}
	f, ok := decimal(s)
	isFloat := strings.IndexByte(s, '.') >= 0
	switch {
	case !ok || tag == "int" && isFloat:
		return nil, false
	case tag != "str":
		return f, true
	}
	var buf [32]byte
	t := numberText(buf[:0], f, isFloat)
	if string(t) == s {
		return s, true // the usual case, without a copy
	}
	return string(t), true
}

// numberText appends to buf the text go-yaml writes for the number f, a
// float if isFloat: an integer in decimal, a float as fmt.Sprint does
// ("1e-06", "1.2345675e+06").
func numberText(buf []byte, f float64, isFloat bool) []byte {
	if isFloat {
		return strconv.AppendFloat(buf, f, 'g', -1, 64)
	}
	return strconv.AppendFloat(buf, f, 'f', -1, 64)
}

// flow reads the flow sequence or mapping at i, on one line or over
// several, whose entries are plain scalars, one-line quoted scalars or
// nested flow collections, separated by ',', a trailing ',' or not.
// Blanks, line breaks, empty lines and comments after a blank may come
// around entries and ','s; go-yaml takes a continuation line at any
// indentation, column 0 included, where a document marker ends the
// document (see nextLine). It returns the value and the offset after the
// closing bracket. It leaves to go-yaml an empty entry, a '?' key, a key
// without ": " and a value on its line, a ':' or '#' inside a plain
// scalar, a '#' right after a ',', a plain scalar continued on the next
// line, a quoted key not followed at once by ": ", and duplicate keys.
// checkBlockMappings does not count the keys of a flow mapping.
func (p *yamlPlain) flow(i int) (v any, end int, ok bool) {
	if !p.open() {
		return nil, 0, false
	}
	closer := byte(']')
	var (
		s []any
		m map[string]any
	)
	if p.src[i] == '{' {
		closer, m = '}', map[string]any{}
	} else {
		s = []any{}
	}
	if i, ok = p.flowSpace(i + 1); !ok {
		return nil, 0, false
	}
	for i < len(p.src) && p.src[i] != closer {
		if m != nil {
			k, next, ok := p.flowKey(i)
			if !ok || p.tabbedPlainKey(i) {
				return nil, 0, false
			}
			if _, dup := m[k]; dup {
				return nil, 0, false
			}
			p.count(2) // the key and its pair
			v, next, ok := p.flowNode(p.pastBlanks(next))
			if !ok {
				return nil, 0, false
			}
			m[k], i = v, next
		} else {
			v, next, ok := p.flowNode(i)
			if !ok {
				return nil, 0, false
			}
			s, i = append(s, v), next
		}
		if i, ok = p.flowSpace(i); !ok || i == len(p.src) {
			return nil, 0, false
		}
		if c := p.src[i]; c == ',' {
			if i, ok = p.flowSpace(i + 1); !ok {
				return nil, 0, false
			}
		} else if c != closer {
			return nil, 0, false
		}
	}
	if i == len(p.src) {
		return nil, 0, false
	}
	p.depth--
	if m != nil {
		return m, i + 1, true
	}
	return s, i + 1, true
}

// flowSpace returns the offset of the first byte from i that is not a
// blank, a tab, a line break, or a comment after a blank or a tab; on
// another line, it moves p.i and p.lineStart there (see nextLine). ok is
// false for a document marker. go-yaml reads a tab as a blank between the
// entries of a flow collection, where JSON indented with tabs has them.
func (p *yamlPlain) flowSpace(i int) (int, bool) {
	for {
		i = p.pastBlanks(i)
		if i == len(p.src) || p.src[i] != '\n' && (p.src[i] != '#' || !blank(p.src[i-1])) {
			return i, true
		}
		p.i = i
		p.toLineEnd()
		if !p.nextLine() {
			return p.i, false
		}
		i = p.i
	}
}

// tabbedPlainKey reports whether the key of a flow mapping at i is plain
// and a tab is among the blanks before it, which go-yaml refuses ("tab
// character cannot use as a map key directly"); a quoted key it reads.
func (p *yamlPlain) tabbedPlainKey(i int) bool {
	if p.src[i] == '"' || p.src[i] == '\'' {
		return false
	}
	for j := i - 1; j >= 0 && blank(p.src[j]); j-- {
		if p.src[j] == '\t' {
			return true
		}
	}
	return false
}

// pastBlanks returns the offset of the first byte from i that is neither a
// blank nor a tab.
func (p *yamlPlain) pastBlanks(i int) int {
	for i < len(p.src) && blank(p.src[i]) {
		i++
	}
	return i
}

// flowBlanks returns the offset of the first byte from i that is not a
// blank.
func (p *yamlPlain) flowBlanks(i int) int {
	for i < len(p.src) && p.src[i] == ' ' {
		i++
	}
	return i
}

// flowNode reads the entry of a flow collection at i: a nested flow
// collection, a quoted scalar or a plain one, after an anchor or a
// standard tag (see tagAt) or not, or an alias. It returns the value and
// the offset after it, trailing blanks excluded.
func (p *yamlPlain) flowNode(i int) (v any, end int, ok bool) {
	if i == len(p.src) {
		return nil, 0, false
	}
	switch p.src[i] {
	case '[', '{':
		return p.flow(i)
	case '&':
		name, next, named := p.anchorAt(i)
		if !named {
			return nil, 0, false
		}
		v, ok = p.define(name, func() (v any, ok bool) {
			v, end, ok = p.flowNode(next)
			return v, ok
		})
		return v, end, ok
	case '!':
		tag, next, ok := p.tagAt(i)
		// go-yaml's lexer ends a verbatim tag at a ',' in a flow collection.
		if !ok || next == len(p.src) || !tagFits(tag, p.src[next]) || strings.IndexByte(p.src[i:next], ',') >= 0 {
			return nil, 0, false
		}
		if v, end, ok = p.flowNode(next); ok {
			v, ok = retag(tag, p.src[next:end], v)
		}
		return v, end, ok
	case '*':
		if v, end, ok = p.aliasValue(i); ok && !p.flowAliasEnds(end) {
			return nil, 0, false
		}
	case '"', '\'':
		p.count(1)
		v, end, ok = p.quoted(i, oneLine)
	default:
		p.count(1)
		end, ok = p.flowPlainEnd(i)
		if !ok || end < len(p.src) && p.src[end] == ':' {
			return nil, 0, false // a single-pair mapping, or an error
		}
		v, ok = plainScalar(p.src[i:end])
		return v, end, ok
	}
	if !ok || end == len(p.src) {
		return nil, 0, false
	}
	switch p.src[end] {
	case ' ', '\t', '\n', ',', ']', '}':
		return v, end, true
	}
	return nil, 0, false
}

// flowKey reads the key of a flow mapping's entry at i, a quoted scalar or
// a plain one go-yaml reads as the key it spells (see plainKey), followed
// at once by ": ", or a quoted one followed at once by ':' and a tab or a
// value that starts with a quote, a bracket, a letter, a digit or '-', as
// JSON writes it ("port":80). It returns the key and the offset after the
// ':'.
func (p *yamlPlain) flowKey(i int) (k string, next int, ok bool) {
	if i == len(p.src) {
		return "", 0, false
	}
	var end int
	quoted := p.src[i] == '"' || p.src[i] == '\''
	if quoted {
		k, end, ok = p.quoted(i, oneLine)
	} else if end, ok = p.flowPlainEnd(i); ok {
		k = p.src[i:end]
		ok = plainKey(k)
	}
	if !ok || end+1 >= len(p.src) || p.src[end] != ':' {
		return "", 0, false
	}
	if c := p.src[end+1]; c != ' ' && !(quoted && (strings.IndexByte("\t\"'[{-", c) >= 0 || isLetter(c) || isDigit(c))) {
		return "", 0, false
	}
	return k, end + 1, true
}

// flowPlainEnd returns where the plain scalar at i in a flow collection
// ends, its trailing blanks excluded: before ',', ']', '}', a ':' and a
// blank, a comment, tabs before any of those, or the end of its line
// (flow checks that the next line does not continue it). ok is false for
// an empty scalar, one that starts with an indicator, and one that holds a
// '[', '{', a '#' after another byte than a blank, a ':' not followed by a
// blank, a control character or "<<".
func (p *yamlPlain) flowPlainEnd(i int) (end int, ok bool) {
	if i == len(p.src) {
		return 0, false
	}
	switch c := p.src[i]; c {
	case '-':
		if i+1 == len(p.src) {
			return 0, false
		}
		switch p.src[i+1] {
		case ' ', '\t', '\n', ',', '[', ']', '{', '}', '#', ':':
			return 0, false
		}
	default:
		if indicator(c) {
			return 0, false
		}
	}
	end = i
	for j := i; j < len(p.src); j++ {
		switch c := p.src[j]; {
		case c == ',' || c == ']' || c == '}':
			return end, true
		case c == ':':
			if j+1 < len(p.src) && p.src[j+1] == ' ' && end == j {
				return end, true
			}
			return 0, false
		case c == '\n' || c == '#' && p.src[j-1] == ' ':
			return end, true
		case c == '[' || c == '{' || c == '#':
			return 0, false
		case c == '\t':
			if k := p.pastBlanks(j); k < len(p.src) && strings.IndexByte(",]}\n#", p.src[k]) >= 0 {
				return end, end > i // tabs after the scalar
			}
			return 0, false
		case c < ' ' || c == 0x7f || c == '<' && j+1 < len(p.src) && p.src[j+1] == '<':
			return 0, false
		case c != ' ':
			end = j + 1
		}
	}
	return 0, false
}

// indicator reports whether a plain scalar may not start with c: an
// indicator of YAML's syntax, a quote or a blank.
func indicator(c byte) bool {
	return strings.IndexByte("?:,[]{}#&*!|>'\"%@` \n", c) >= 0
}

// plainEnd returns where the plain scalar at i ends, as plainText does.
// ok is false too for a scalar that starts with an indicator.
func (p *yamlPlain) plainEnd(i int, key bool) (end int, ok bool) {
	switch c := p.src[i]; c {
	case '-':
		if p.entryAt(i) || strings.HasPrefix(p.src[i+1:], "\t") { // an entry for go-yaml
			return 0, false
		}
	default:
		if indicator(c) {
			return 0, false
		}
	}
	return p.plainText(i, key)
}

// plainText returns where the text of a plain scalar from i on its line
// ends, its trailing blanks excluded: before a ':' and a blank (the end of
// a key, if key is set; an error in a value), a comment, or the end of the
// line. ok is false for text that holds a control character or "<<", and
// for a key that does not end with ':'.
func (p *yamlPlain) plainText(i int, key bool) (end int, ok bool) {
	end = i
	for j := i; j < len(p.src); j++ {
		switch c := p.src[j]; {
		case c == '\n':
			return end, !key
		case c == ':' && (j+1 == len(p.src) || p.src[j+1] == ' ' || p.src[j+1] == '\n'):
			return end, key && end == j
		case c == ':' && p.src[j+1] == '\t':
			return 0, false // a key for go-yaml, which the reader leaves to it
		case c == '#' && p.src[j-1] == ' ':
			return end, !key
		case c == '\t':
			return end, !key && end > i && p.blankRest(j)
		case c < ' ' || c == 0x7f || c == '<' && j+1 < len(p.src) && p.src[j+1] == '<':
			return 0, false // go-yaml may take "<<" for a merge key
		case c != ' ':
			end = j + 1
		}
	}
	return end, !key
}

// quoted reads the quoted scalar at i: single-quoted, where a quote is
// written twice, or double-quoted, with the escapes escape reads; it
// leaves the others to go-yaml. It reads a scalar over several lines (see
// quotedLines) as the value of a key or an entry in column col, and one
// on one line if col is oneLine. It returns the string and the offset
// after the closing quote.
func (p *yamlPlain) quoted(i, col int) (s string, end int, ok bool) {
	q := p.src[i]
	var b strings.Builder // used for '' and escapes only
	from, built := i+1, false
	for j := from; j < len(p.src); j++ {
		switch c := p.src[j]; {
		case col != oneLine && (c == '\n' || c == '\\' && q == '"' && j+1 < len(p.src) && p.src[j+1] == '\n'):
			return p.quotedLines(append([]byte(b.String()), p.src[from:j]...), j, col, q)
		case c == q && q == '\'' && j+1 < len(p.src) && p.src[j+1] == '\'':
			b.WriteString(p.src[from : j+1])
			from, built = j+2, true
			j++
		case c == q:
			if !built {
				return p.src[from:j], j + 1, true
			}
			b.WriteString(p.src[from:j])
			return b.String(), j + 1, true
		case c == '\\' && q == '"':
			r, n := escape(p.src[j+1:])
			if n == 0 {
				return "", 0, false
			}
			b.WriteString(p.src[from:j])
			b.WriteRune(r)
			from, built = j+1+n, true
			j += n
		case c < ' ' || c == 0x7f: // a tab too: go-yaml may refuse the keys after it
			return "", 0, false
		}
	}
	return "", 0, false
}

// escape decodes the escape that s starts with, after its backslash, as
// go-yaml does: the rune and the bytes it takes, or 0 bytes for one quoted
// leaves to go-yaml (an unknown escape, hex digits missing, a surrogate
// not in a pair, a code point past Unicode's).
func escape(s string) (rune, int) {
	if s == "" {
		return 0, 0
	}
	if r, ok := escapes[s[0]]; ok {
		return r, 1
	}
	switch s[0] {
	case 'x':
		r, ok := hexRune(s[1:], 2)
		if !ok {
			return 0, 0
		}
		return r, 3
	case 'u':
		r, ok := hexRune(s[1:], 4)
		switch {
		case !ok || r >= 0xdc00 && r < 0xe000:
			return 0, 0
		case r >= 0xd800 && r < 0xdc00:
			if !strings.HasPrefix(s[5:], `\u`) {
				return 0, 0
			}
			low, ok := hexRune(s[7:], 4)
			if !ok || low < 0xdc00 || low >= 0xe000 {
				return 0, 0
			}
			return (r-0xd800)<<10 + low - 0xdc00 + 0x10000, 11
		}
		return r, 5
	case 'U':
		r, ok := hexRune(s[1:], 8)
		if !ok || r > unicode.MaxRune || r >= 0xd800 && r < 0xe000 {
			return 0, 0
		}
		return r, 9
	}
	return 0, 0
}

// escapes are the runes of the escapes of one character after the
// backslash.
var escapes = map[byte]rune{'\\': '\\', '"': '"', '/': '/', ' ': ' ', '0': 0, 'a': '\a', 'b': '\b', 't': '\t',
	'n': '\n', 'v': '\v', 'f': '\f', 'r': '\r', 'e': 0x1b, 'N': 0x85, '_': 0xa0, 'L': 0x2028, 'P': 0x2029}

// hexRune reads the n hexadecimal digits s starts with.
func hexRune(s string, n int) (rune, bool) {
	if len(s) < n {
		return 0, false
	}
	var r rune
	for i := range n {
		c := s[i]
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			r = r<<4 | rune(c|0x20-'a'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// plainScalar resolves a plain scalar as go-yaml does (token.New, then
// normalize): the spellings of null and bools it reserves, numbers by its
// own token.ToNumber, strings otherwise. ok is false for .inf and .nan
// and for a number JSON cannot hold, which go-yaml's path reports.
// TestYAMLPlainScalars checks the spellings against token.New.
func plainScalar(s string) (any, bool) {
	switch s {
	case "null", "Null", "NULL", "~":
		return nil, true
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	case ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN":
		return nil, false
	}
	if c := s[0]; c != '+' && c != '-' && c != '.' && !isDigit(c) {
		return s, true // token.ToNumber takes a number's sign, digits or dot first
	}
	if f, ok := decimal(s); ok {
		return f, true
	}
	num := token.ToNumber(s)
	if num == nil {
		return s, true
	}
	v, _, err := normalize(num.Value, "")
	return v, err == nil
}

// plainString reports whether the plain scalar s resolves to the string s,
// as plainScalar would, without boxing s: only a scalar that starts as a
// null, a bool or a number may resolve otherwise.
func plainString(s string) bool {
	switch c := s[0]; {
	case c == '+' || c == '-' || c == '.' || c == '~' || isDigit(c),
		c|0x20 == 'n' || c|0x20 == 't' || c|0x20 == 'f':
		v, ok := plainScalar(s)
		return ok && v == s
	}
	return true
}

// plainKey reports whether go-yaml reads the plain scalar s, a mapping's
// key, as the key s: a string (see plainString), or a null, a bool or a
// number that go-yaml writes back as s ("null", "true", "200", "-1.5",
// see numberText). It writes the others otherwise ("~" as "null", "0x10"
// as "16", "1.50" as "1.5", "0.000001" as "1e-06").
func plainKey(s string) bool {
	if plainString(s) {
		return true
	}
	v, ok := plainScalar(s)
	if !ok {
		return false
	}
	switch v := v.(type) {
	case nil:
		return s == "null"
	case bool:
		return s == strconv.FormatBool(v)
	case float64:
		var buf [32]byte
		return string(numberText(buf[:0], v, strings.IndexByte(s, '.') >= 0)) == s
	}
	return false
}

// decimal reads the two forms of number configs mostly hold, as
// token.ToNumber and normalize would but without allocating: an integer of
// at most 15 digits without a leading zero, or digits, '.' and digits.
func decimal(s string) (float64, bool) {
	digits := strings.TrimPrefix(s, "-")
	intPart, frac, isFloat := strings.Cut(digits, ".")
	if !allDigits(intPart) || isFloat && !allDigits(frac) {
		return 0, false
	}
	if isFloat {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	if len(intPart) > 15 || len(intPart) > 1 && intPart[0] == '0' {
		return 0, false // maybe beyond 2^53, or octal
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return float64(n), err == nil
}

// allDigits reports whether s is one or more decimal digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
