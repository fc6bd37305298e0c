package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cybercorp/hotreload/internal/jsondiff"
	"github.com/goccy/go-yaml"
)

// errNoEdit is why a document cannot be changed in place; the caller then
// writes the whole document.
var errNoEdit = errors.New("no edit in place")

// editSource returns src, a document of file in format f, changed in place
// so that it decodes to next: only the values that differ are rewritten, and
// comments, key order and formatting of everything else are kept. ok is
// false when no edit in place reproduces next exactly (an alias, a
// multi-line string, a TOML table that would have to move); the caller then
// encodes the whole document.
func editSource(file string, src []byte, f Format, next any) (out []byte, ok bool) {
	if len(src) == 0 {
		return nil, false
	}
	doc, err := Decode(file, src, f)
	if err != nil {
		return nil, false
	}
	e := &editor{f: f, src: src, pos: doc.Positions(), lines: newLineIndex(src).start}
	if e.diff("", doc.Value, next) != nil {
		return nil, false
	}
	out, err = e.apply()
	if err != nil {
		return nil, false
	}
	got, err := Decode(file, out, f)
	if err != nil || !sameJSON(got.Value, next) {
		return nil, false
	}
	return out, true
}

// sameJSON reports whether a and b encode to the same JSON.
func sameJSON(a, b any) bool {
	ja, err := json.Marshal(a)
	if err != nil {
		return false
	}
	jb, err := json.Marshal(b)
	return err == nil && bytes.Equal(ja, jb)
}

// edit replaces src[from:to] with text.
type edit struct {
	from, to int
	text     string
}

// editor collects the edits that turn one document into another.
type editor struct {
	f     Format
	src   []byte
	pos   Positions
	lines []int // byte offset where each line starts
	edits []edit
}

// diff records the edits that turn old, found at ptr, into next.
func (e *editor) diff(ptr string, old, next any) error {
	if jsondiff.Equal(old, next) {
		return nil
	}
	if om, ok := old.(map[string]any); ok {
		if nm, ok := next.(map[string]any); ok && len(om) > 0 {
			return e.editMap(ptr, om, nm)
		}
	}
	if oa, ok := old.([]any); ok {
		if na, ok := next.([]any); ok && len(oa) == len(na) {
			for i := range oa {
				if err := e.diff(jsondiff.JoinIndex(ptr, i), oa[i], na[i]); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return e.replace(ptr, old, next)
}

// editMap records the edits of a map that keeps at least one key: changed
// values in place, removed keys cut out, new keys added after the last one.
func (e *editor) editMap(ptr string, old, next map[string]any) error {
	var added, removed []string
	for k := range next {
		if _, ok := old[k]; !ok {
			added = append(added, k)
		}
	}
	for k := range old {
		if _, ok := next[k]; !ok {
			removed = append(removed, k)
		}
	}
	if len(next) == 0 || (len(added)+len(removed) > 0 && e.flow(ptr)) {
		return e.replace(ptr, old, next)
	}
	for k, v := range next {
		if ov, ok := old[k]; ok {
			if err := e.diff(jsondiff.Join(ptr, k), ov, v); err != nil {
				return err
			}
		}
	}
	for _, k := range removed {
		if err := e.remove(ptr, old, k); err != nil {
			return err
		}
	}
	if len(added) == 0 {
		return nil
	}
	sort.Strings(added)
	return e.add(ptr, old, added, next)
}

// at returns the byte offset of a 1-based line and column (in characters).
func (e *editor) at(line, col int) (int, error) {
	if line < 1 || line > len(e.lines) || col < 1 {
		return 0, errNoEdit
	}
	off := e.lines[line-1]
	for ; col > 1; col-- {
		if off >= len(e.src) || e.src[off] == '\n' {
			return 0, errNoEdit
		}
		_, n := utf8.DecodeRune(e.src[off:])
		off += n
	}
	return off, nil
}

// value returns where the value at ptr starts.
func (e *editor) value(ptr string) (int, error) {
	p, ok := e.pos[ptr]
	if !ok {
		return 0, errNoEdit
	}
	return e.at(p.Line, p.Column)
}

// key returns where the key of the value at ptr starts.
func (e *editor) key(ptr string) (int, error) {
	p, ok := e.pos[ptr]
	if !ok || p.KeyLine == 0 {
		return 0, errNoEdit
	}
	return e.at(p.KeyLine, p.KeyColumn)
}

// flow reports whether the map at ptr is written inline: a JSON object, a
// YAML flow mapping or a TOML inline table.
func (e *editor) flow(ptr string) bool {
	if e.f == JSON {
		return false // edited member by member
	}
	off, err := e.value(ptr)
	return err == nil && off < len(e.src) && e.src[off] == '{'
}

// lineStart returns the offset of the start of the line holding off.
func (e *editor) lineStart(off int) int {
	return bytes.LastIndexByte(e.src[:off], '\n') + 1
}

// lineEnd returns the offset just past the newline ending the line that
// holds off (or the end of the source).
func (e *editor) lineEnd(off int) int {
	if i := bytes.IndexByte(e.src[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(e.src)
}

// indent returns the leading spaces and tabs of the line holding off.
func (e *editor) indent(off int) string {
	ls := e.lineStart(off)
	i := ls
	for i < len(e.src) && (e.src[i] == ' ' || e.src[i] == '\t') {
		i++
	}
	return string(e.src[ls:i])
}

// replace rewrites the value at ptr, old, as next.
func (e *editor) replace(ptr string, old, next any) error {
	start, err := e.value(ptr)
	if err != nil {
		return err
	}
	if e.f == YAML && isContainer(old) && !e.flowAt(start) {
		return e.replaceYAMLBlock(ptr, next)
	}
	if e.f == TOML && !e.tomlInline(start) {
		return errNoEdit
	}
	end, err := e.valueEnd(start)
	if err != nil {
		return err
	}
	text, err := e.inline(next, e.indent(start))
	if err != nil {
		return err
	}
	e.edits = append(e.edits, edit{start, end, text})
	return nil
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func (e *editor) flowAt(off int) bool {
	return off < len(e.src) && (e.src[off] == '{' || e.src[off] == '[')
}

// tomlInline reports whether the TOML value at off is written after a key's
// '=' or inside an inline array or table on the same line, rather than as
// a [table] or [[array]] header (where off is at the table's name).
func (e *editor) tomlInline(off int) bool {
	if off >= len(e.src) || strings.IndexByte("\"'[{0123456789+-tfin", e.src[off]) < 0 {
		return false
	}
	i := off - 1
	for i >= 0 && (e.src[i] == ' ' || e.src[i] == '\t') {
		i--
	}
	return i >= 0 && strings.IndexByte("=[,{", e.src[i]) >= 0
}

// replaceYAMLBlock rewrites a block mapping or sequence, from just after
// its key's ':' to the end of its block.
func (e *editor) replaceYAMLBlock(ptr string, next any) error {
	k, err := e.key(ptr)
	if err != nil {
		return err
	}
	colon := bytes.IndexByte(e.src[k:e.lineEnd(k)], ':')
	if colon < 0 {
		return errNoEdit
	}
	from := k + colon + 1
	text, err := e.yamlValue(next, e.pos[ptr].KeyColumn-1)
	if err != nil {
		return err
	}
	end := e.blockEnd(k)
	if end > from && e.src[end-1] == '\n' {
		end--
	}
	e.edits = append(e.edits, edit{from, end, text})
	return nil
}

// yamlValue renders v as the value of a block mapping key indented by
// indent columns: " scalar" on the key's line, or a newline and a block
// indented two more columns, ending without a newline.
func (e *editor) yamlValue(v any, indent int) (string, error) {
	if !isContainer(v) || isEmpty(v) {
		s, err := e.inline(v, "")
		return " " + s, err
	}
	b, err := yaml.MarshalWithOptions(yamlNumbers(v), yaml.Indent(2))
	if err != nil {
		return "", err
	}
	pad := strings.Repeat(" ", indent+2)
	var sb strings.Builder
	for line := range strings.Lines(strings.TrimRight(string(b), "\n")) {
		sb.WriteString("\n" + pad + strings.TrimSuffix(line, "\n"))
	}
	return sb.String(), nil
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// blockEnd returns the end of the YAML block of the key at off: past the
// last line, after the key's, that is indented deeper than the key (or is
// an entry of a sequence at the key's indentation). Blank and comment lines
// at its end belong to what follows.
func (e *editor) blockEnd(off int) int {
	ind := off - e.lineStart(off)
	end := e.lineEnd(off)
	for i := end; i < len(e.src); {
		next := e.lineEnd(i)
		line := e.src[i:next]
		body := bytes.TrimLeft(line, " ")
		n := len(line) - len(body)
		trimmed := bytes.TrimSpace(body)
		switch {
		case len(trimmed) == 0 || trimmed[0] == '#':
		case n > ind || (n == ind && (bytes.HasPrefix(trimmed, []byte("- ")) || string(trimmed) == "-")):
			end = next
		default:
			return end
		}
		i = next
	}
	return end
}

// valueEnd returns the end of the inline value starting at off.
func (e *editor) valueEnd(off int) (int, error) {
	if e.f == JSON {
		d := json.NewDecoder(bytes.NewReader(e.src[off:]))
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return 0, errNoEdit
		}
		return off + int(d.InputOffset()), nil
	}
	if off >= len(e.src) {
		return 0, errNoEdit
	}
	switch e.src[off] {
	case '"':
		if bytes.HasPrefix(e.src[off:], []byte(`"""`)) {
			return 0, errNoEdit
		}
		return e.quoted(off, '"', '\\')
	case '\'':
		if e.f == TOML {
			if bytes.HasPrefix(e.src[off:], []byte(`'''`)) {
				return 0, errNoEdit
			}
			return e.quoted(off, '\'', 0)
		}
		return e.quoted(off, '\'', '\'')
	case '[', '{':
		return e.bracketed(off)
	case '|', '>', '&', '*', '!':
		return 0, errNoEdit
	}
	end := off
	for end < len(e.src) {
		c := e.src[end]
		if c == '\n' || c == '\r' || c == '#' && end > off && (e.src[end-1] == ' ' || e.src[end-1] == '\t') {
			break
		}
		if strings.IndexByte(",]}", c) >= 0 && (e.f == TOML || e.inFlow(off)) {
			break
		}
		if e.f == TOML && (c == ' ' || c == '\t' || c == '#') {
			break
		}
		end++
	}
	for end > off && (e.src[end-1] == ' ' || e.src[end-1] == '\t') {
		end--
	}
	return end, nil
}

// inFlow reports whether off lies inside a YAML flow collection: the
// nearest unclosed bracket before it on its line.
func (e *editor) inFlow(off int) bool {
	depth := 0
	for i := off - 1; i >= e.lineStart(off); i-- {
		switch e.src[i] {
		case ']', '}':
			depth++
		case '[', '{':
			if depth == 0 {
				return true
			}
			depth--
		}
	}
	return false
}

// quoted returns the end of the string quoted by q starting at off; esc
// escapes the next byte ('\\'), or doubles the quote when it is q itself.
func (e *editor) quoted(off int, q, esc byte) (int, error) {
	for i := off + 1; i < len(e.src); i++ {
		c := e.src[i]
		switch {
		case esc == '\\' && c == '\\':
			i++
		case c == q && esc == q && i+1 < len(e.src) && e.src[i+1] == q:
			i++
		case c == q:
			return i + 1, nil
		}
	}
	return 0, errNoEdit
}

// bracketed returns the end of the flow collection starting at off.
func (e *editor) bracketed(off int) (int, error) {
	depth := 0
	for i := off; i < len(e.src); i++ {
		switch c := e.src[i]; c {
		case '"', '\'':
			esc := byte('\\')
			if c == '\'' {
				esc = 0
				if e.f == YAML {
					esc = '\''
				}
			}
			end, err := e.quoted(i, c, esc)
			if err != nil {
				return 0, err
			}
			i = end - 1
		case '#':
			i = e.lineEnd(i) - 1
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, errNoEdit
}

// remove cuts the key k, and its value, out of the map at ptr.
func (e *editor) remove(ptr string, old map[string]any, k string) error {
	child := jsondiff.Join(ptr, k)
	ks, err := e.key(child)
	if err != nil {
		return err
	}
	start, err := e.value(child)
	if err != nil {
		return err
	}
	switch e.f {
	case JSON:
		end, err := e.valueEnd(start)
		if err != nil {
			return err
		}
		keys := e.sortedKeys(ptr, old)
		i := slices.Index(keys, k)
		if i+1 < len(keys) {
			next, err := e.key(jsondiff.Join(ptr, keys[i+1]))
			if err != nil {
				return err
			}
			e.edits = append(e.edits, edit{ks, next, ""})
			return nil
		}
		prev, err := e.value(jsondiff.Join(ptr, keys[i-1]))
		if err != nil {
			return err
		}
		prevEnd, err := e.valueEnd(prev)
		if err != nil {
			return err
		}
		e.edits = append(e.edits, edit{prevEnd, end, ""})
	case YAML:
		if strings.TrimSpace(string(e.src[e.lineStart(ks):ks])) != "" {
			return errNoEdit
		}
		e.edits = append(e.edits, edit{e.lineStart(ks), e.blockEnd(ks), ""})
	case TOML:
		if !e.tomlInline(start) || strings.TrimSpace(string(e.src[e.lineStart(ks):ks])) != "" {
			return errNoEdit
		}
		end, err := e.valueEnd(start)
		if err != nil {
			return err
		}
		e.edits = append(e.edits, edit{e.lineStart(ks), e.lineEnd(end), ""})
	}
	return nil
}

// sortedKeys returns the keys of the map at ptr in the order of the source.
func (e *editor) sortedKeys(ptr string, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	at := func(k string) int {
		off, err := e.key(jsondiff.Join(ptr, k))
		if err != nil {
			return -1
		}
		return off
	}
	sort.Slice(keys, func(i, j int) bool { return at(keys[i]) < at(keys[j]) })
	return keys
}

// add writes the keys added to the map at ptr after its last key, indented
// as that key is.
func (e *editor) add(ptr string, old map[string]any, added []string, next map[string]any) error {
	keys := e.sortedKeys(ptr, old)
	last := jsondiff.Join(ptr, keys[len(keys)-1])
	if e.f == TOML {
		return e.addTOML(ptr, keys, added, next)
	}
	ks, err := e.key(last)
	if err != nil {
		return err
	}
	indent := e.indent(ks)
	var sb strings.Builder
	switch e.f {
	case JSON:
		start, err := e.value(last)
		if err != nil {
			return err
		}
		end, err := e.valueEnd(start)
		if err != nil {
			return err
		}
		for _, k := range added {
			name, _ := jsonText(k)
			v, err := e.inline(next[k], indent)
			if err != nil {
				return err
			}
			sb.WriteString(",\n" + indent + name + ": " + v)
		}
		e.edits = append(e.edits, edit{end, end, sb.String()})
	case YAML:
		if ks-e.lineStart(ks) != len(indent) {
			return errNoEdit // a key that shares its line, as "- key: value"
		}
		for _, k := range added {
			name, err := e.inline(k, "")
			if err != nil {
				return err
			}
			v, err := e.yamlValue(next[k], len(indent))
			if err != nil {
				return err
			}
			sb.WriteString(indent + name + ":" + v + "\n")
		}
		text, end := sb.String(), e.blockEnd(ks)
		if end == len(e.src) && e.src[end-1] != '\n' {
			text = "\n" + strings.TrimSuffix(text, "\n")
		}
		e.edits = append(e.edits, edit{end, end, text})
	}
	return nil
}

// addTOML writes new keys of a TOML table after its last key that holds an
// inline value, or right after the table's header, or at the top of the
// file for the root table.
func (e *editor) addTOML(ptr string, keys, added []string, next map[string]any) error {
	at := -1
	for _, k := range keys {
		start, err := e.value(jsondiff.Join(ptr, k))
		if err != nil || !e.tomlInline(start) {
			continue
		}
		end, err := e.valueEnd(start)
		if err != nil {
			return err
		}
		at = max(at, e.lineEnd(end))
	}
	if at < 0 {
		if ptr != "" {
			return errNoEdit
		}
		at = 0
	}
	var sb strings.Builder
	if at > 0 && e.src[at-1] != '\n' {
		sb.WriteString("\n")
	}
	for _, k := range added {
		v, err := e.inline(next[k], "")
		if err != nil {
			return err
		}
		sb.WriteString(tomlKeyText(k) + " = " + v + "\n")
	}
	e.edits = append(e.edits, edit{at, at, sb.String()})
	return nil
}

// inline renders v as a value written in place, in the editor's format.
// indent is the indentation of the line it is written on.
func (e *editor) inline(v any, indent string) (string, error) {
	switch e.f {
	case JSON:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent(indent, "  ")
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(buf.String(), "\n"), nil
	case YAML:
		b, err := yaml.MarshalWithOptions(yamlNumbers(v), yaml.Flow(true))
		if err != nil {
			return "", err
		}
		s := strings.TrimSuffix(string(b), "\n")
		if strings.Contains(s, "\n") {
			if str, ok := v.(string); ok {
				return jsonText(str) // a JSON string is a YAML double-quoted scalar
			}
			return "", errNoEdit
		}
		return s, nil
	}
	return tomlValue(v)
}

// jsonText encodes v as JSON without escaping HTML characters.
func jsonText(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// tomlValue renders v as an inline TOML value; TOML has no null.
func tomlValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return jsonText(x) // JSON's escapes are TOML basic-string escapes
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		if s, ok := wholeNumber(x); ok {
			return s, nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case json.Number:
		return x.String(), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := tomlValue(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			s, err := tomlValue(x[k])
			if err != nil {
				return "", err
			}
			parts[i] = tomlKeyText(k) + " = " + s
		}
		return "{" + strings.Join(parts, ", ") + "}", nil
	}
	return "", errNoEdit
}

// wholeNumber writes x as an integer literal when it is a whole number
// within int64's range, with the digits JSON writes for it, so that it
// reads back as exactly x (see exactInteger).
func wholeNumber(x float64) (string, bool) {
	if x != math.Trunc(x) || math.Abs(x) >= 1<<63 {
		return "", false
	}
	return strconv.FormatFloat(x, 'f', -1, 64), true
}

// tomlKeyText writes a key bare when TOML allows it, else quoted.
func tomlKeyText(k string) string {
	if k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "" {
		return k
	}
	s, _ := jsonText(k)
	return s
}

// apply returns the source with every edit made; edits must not overlap.
func (e *editor) apply() ([]byte, error) {
	sort.SliceStable(e.edits, func(i, j int) bool { return e.edits[i].from < e.edits[j].from })
	var out bytes.Buffer
	at := 0
	for _, ed := range e.edits {
		if ed.from < at || ed.to < ed.from {
			return nil, errNoEdit
		}
		out.Write(e.src[at:ed.from])
		out.WriteString(ed.text)
		at = ed.to
	}
	out.Write(e.src[at:])
	return out.Bytes(), nil
}
