package config

import "strings"

// yamlPlain reads anchors (&name), aliases (*name) and merge keys
// (<<: *name, <<: [*a, *b]) as go-yaml's path (NodeToValue, then
// normalize) resolves them, learnt by experiment (the cases of TestYAMLPlain):
//
//   - an alias is the value of the anchor of its name defined before it;
//     an alias of an anchor not yet defined, or still being read (its own
//     value's), go-yaml reports or reads as null: left to it;
//   - go-yaml gives every alias of an anchor one shared value, which
//     normalize copies, so that no two places of the tree share a map or
//     a slice: each alias gets its own copy. Nothing in config/ writes
//     into a decoded tree (Defaults, Merge, setAt and typed decoding copy
//     what they change), but Document.Value is handed to callers, and a
//     copy keeps the value go-yaml's path returns;
//   - a merge key puts the keys of the mappings it names in its mapping,
//     in order, each over the key the mapping holds: go-yaml merges a
//     mapping's keys as they come, so a merged key overrides a key written
//     before the "<<" line, a key written after it overrides the merged
//     one, and in a list a later mapping overrides an earlier one (YAML's
//     merge key spec has the mapping's own keys and earlier mappings win);
//   - while it reads an anchor's value, go-yaml reads as null an alias of
//     any anchor defined inside that value so far, as if it were the
//     anchor's own (its set of anchors being read only grows, until the
//     outermost anchor's value is read): left to it;
//   - go-yaml merges a mapping by reading its nodes again, which defines
//     again the anchors inside it and resolves its aliases anew, to the
//     anchors of their names defined last: a merge key after an anchor
//     name defined twice is left to it, and so is a merge of a mapping
//     holding an anchor, so that every reading is the same; and so is a
//     merge of a mapping whose merges nest two deep (go-yaml stops at
//     10,000 levels of its reading, which merges nested deeper would pass
//     in a deep document).
//
// It also leaves to go-yaml an anchor on a key ("&a k: v", which go-yaml
// takes for the key's), on a null, on an alias or before a "- " on its
// line, a merge key in a flow mapping or whose value is not one alias or a
// one-line flow sequence of aliases, each of a mapping, and names of other
// characters than letters, digits, '-' and '_' (see name). It counts the nodes
// aliases expand to as checkAliases does, and gives up once they pass its
// bound, which go-yaml's path then refuses as an alias bomb.

// anchor is an anchor read: its value, the nodes it expands to, as
// checkAliases counts them, how deep the merge keys in its value nest (0
// without any, 1 with merges of mappings of level 0, and so on), its rank
// among the anchors in the order they start, and whether its value holds
// another anchor.
type anchor struct {
	v       any
	size    int
	level   int
	serial  int
	anchors bool
}

// anchored reads the anchor at p.i and, by read, the block value it is
// on, and defines the anchor. It leaves to go-yaml an anchor before a key
// or a "- " on its line.
func (p *yamlPlain) anchored(read func() (any, bool)) (any, bool) {
	name, next, ok := p.anchorAt(p.i)
	if !ok {
		return nil, false
	}
	p.i = next
	if _, _, key := p.keyAt(p.i); key || p.entryAt(p.i) || p.mergeAt(p.i) {
		return nil, false
	}
	return p.define(name, read)
}

// anchorAt reads the anchor at i, '&' and a name, and the blanks after it.
// It returns the name and the offset of what follows, neither the end of
// the source nor another anchor, an alias, !!map, !!seq or a local tag
// (go-yaml refuses a merge key of an alias of a tagged mapping).
func (p *yamlPlain) anchorAt(i int) (name string, next int, ok bool) {
	name, end := p.name(i)
	if name == "" || end == len(p.src) || p.src[end] != ' ' && p.src[end] != '\n' {
		return "", 0, false
	}
	next = p.flowBlanks(end)
	if next == len(p.src) || p.src[next] == '&' || p.src[next] == '*' {
		return "", 0, false
	}
	if tag, _, tagged := p.tagAt(next); tagged && (tag == "map" || tag == "seq" || tag == localTag) {
		return "", 0, false
	}
	return name, next, true
}

// define reads, by read, the value an anchor named name is on, and defines
// the anchor, in place of one of the same name defined before, as go-yaml
// does. It leaves to go-yaml an alias of the name in the value, which
// go-yaml reads otherwise, a name defined inside the value, and an anchor
// on a null.
func (p *yamlPlain) define(name string, read func() (any, bool)) (any, bool) {
	a := anchor{serial: p.started}
	if p.reading == 0 {
		p.outermost = a.serial
	}
	p.started++
	p.reading++
	if _, again := p.anchors[name]; again {
		p.redefined = true
		delete(p.anchors, name) // an alias of it in the value is left to go-yaml
	}
	expanded, level := p.expanded, p.level
	p.level = 0
	v, ok := read()
	p.reading--
	if _, again := p.anchors[name]; !ok || again || v == nil {
		return nil, false
	}
	a.v, a.size, a.level, a.anchors = v, p.expanded-expanded, p.level, p.started > a.serial+1
	if p.anchors == nil {
		p.anchors = map[string]anchor{}
	}
	p.anchors[name] = a
	p.level = max(level, p.level)
	return v, true
}

// name returns the name of the anchor or alias at i, after its '&' or '*',
// and the offset after it. go-yaml reads a name as the scalar after the
// '&' or '*', and ends it as well in a flow collection as in a block at a
// character other than a letter, a digit, '-' and '_', where this ends it;
// name is "" for a name that does not start with a letter, a digit or '_',
// or might resolve other than as a string.
func (p *yamlPlain) name(i int) (string, int) {
	j := i + 1
	for j < len(p.src) {
		c := p.src[j]
		if !isDigit(c) && (c|0x20 < 'a' || c|0x20 > 'z') && c != '-' && c != '_' {
			break
		}
		j++
	}
	name := p.src[i+1 : j]
	if name == "" || name[0] == '-' {
		return "", j
	}
	if !plainString(name) {
		return "", j
	}
	return name, j
}

// alias reads the alias at i, '*' and the name of an anchor defined
// before (and not inside the value of an anchor being read), and counts
// the nodes it expands to. It gives up once the nodes expanded pass
// checkAliases' bound for the nodes read so far (which the whole document
// can only raise): go-yaml's path refuses the document, or reads it. It
// returns the anchor and the offset after its name.
func (p *yamlPlain) alias(i int) (anchor, int, bool) {
	name, end := p.name(i)
	a, ok := p.anchors[name]
	if !ok || p.reading > 0 && a.serial >= p.outermost { // "" is never defined
		return anchor{}, 0, false
	}
	p.written++
	p.expanded += a.size
	return a, end, p.expanded <= max(expansionFloor, expansionFactor*p.written)
}

// aliasValue reads the alias at i, and returns a copy of its anchor's
// value and the offset after its name.
func (p *yamlPlain) aliasValue(i int) (any, int, bool) {
	a, end, ok := p.alias(i)
	if !ok {
		return nil, 0, false
	}
	v, ok := copyTree(a.v, p.depth)
	return v, end, ok
}

// flowAliasEnds reports whether go-yaml ends an alias in a flow collection
// at end, where this ends it: before a blank, or before ',', ']' and '}'
// followed by a blank or the end of the line. Until a blank, go-yaml reads
// what follows an alias otherwise ({k: *a,l: 1}, [*a,x y]).
func (p *yamlPlain) flowAliasEnds(end int) bool {
	rest := p.src[end:]
	if j := strings.IndexAny(rest, " \n"); j >= 0 {
		rest = rest[:j]
	}
	return strings.Trim(rest, ",]}") == ""
}

// mergeAt reports whether a merge key, "<<: ", starts at i.
func (p *yamlPlain) mergeAt(i int) bool { return strings.HasPrefix(p.src[i:], "<<: ") }

// merge reads the value of a merge key at p.i, an alias or a one-line flow
// sequence of aliases, each of a mapping, and moves to the next line. It
// returns the mappings, appended to dst, for mapping to put in m when it
// ends, under the keys written after the merge key; but if they hold a key
// written before it, which they override, it puts them in m at once, and
// returns the keys written, "<<" included, instead.
func (p *yamlPlain) merge(m map[string]any, dst []map[string]any) ([]map[string]any, map[string]bool, bool) {
	i, list := p.i, p.at('[')
	if list {
		p.count(1) // the sequence
		i = p.flowBlanks(i + 1)
	}
	for {
		if i == len(p.src) || p.src[i] != '*' {
			return nil, nil, false
		}
		a, end, ok := p.alias(i)
		from, isMapping := a.v.(map[string]any)
		if !ok || !isMapping || a.level > 1 || a.anchors || p.redefined {
			return nil, nil, false
		}
		dst = append(dst, from)
		p.level = max(p.level, a.level+1)
		i = p.flowBlanks(end)
		if !list {
			break
		}
		if i < len(p.src) && p.src[i] == ']' {
			i++
			break
		}
		if i == len(p.src) || p.src[i] != ',' {
			return nil, nil, false
		}
		i = p.flowBlanks(i + 1)
	}
	p.i = i
	if !p.endLine() {
		return nil, nil, false
	}
	for _, from := range dst {
		for k := range from {
			if _, written := m[k]; written {
				keys := make(map[string]bool, len(m)+1)
				for k := range m {
					keys[k] = true
				}
				keys["<<"] = true
				return nil, keys, p.put(m, dst, true)
			}
		}
	}
	return dst, nil, true
}

// put puts a copy of the keys of each mapping of from in m, in order: over
// the keys m holds if over is set, else under them (a later mapping's over
// an earlier one's, still).
func (p *yamlPlain) put(m map[string]any, from []map[string]any, over bool) bool {
	for j := range from {
		if !over {
			j = len(from) - 1 - j
		}
		for k, e := range from[j] {
			if _, held := m[k]; held && !over {
				continue
			}
			switch e.(type) {
			case map[string]any, []any:
				var ok bool
				if m[k], ok = copyTree(e, p.depth); !ok {
					return false
				}
			default:
				m[k] = e // a scalar: nothing to share
			}
		}
	}
	return true
}
