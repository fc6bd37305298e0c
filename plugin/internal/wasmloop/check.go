package wasmloop

import "fmt"

// sectionNames names the sections of WebAssembly 2.0 (and the tag section
// of exception handling), by id, for errors.
var sectionNames = map[byte]string{0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory",
	6: "global", 7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "data count", 13: "tag"}

// reader returns a reader of s's payload whose errors name the section.
func (s section) reader() reader {
	return reader{b: s.payload, base: s.at, what: sectionNames[s.id] + " section"}
}

// walks read the sections the rewrite passes through, item by item, so
// that every count and length in them is refused when it claims more than
// the bytes that remain (reader.count): wazero 1.12 allocates for a count
// before it reads the items, and a module of a few dozen bytes could make
// it ask for gigabytes and kill the process (a fatal out of memory, not a
// panic). The import, export, start and code sections are read the same
// way by the rewrite itself (importedGlobals, exportNames, instrumentCode).
var walks = map[byte]func(r *reader){
	0: (*reader).customSection,
	1: func(r *reader) { r.vec("types", r.funcType) },
	3: func(r *reader) { r.vec("functions", func() { r.u32() }) },
	4: func(r *reader) { r.vec("tables", r.table) },
	5: func(r *reader) { r.vec("memories", func() { r.limits(true) }) },
	6: func(r *reader) { r.vec("globals", func() { r.valType(); r.mutability(); r.constExpr() }) },
	9: func(r *reader) { r.vec("element segments", r.elementSegment) },
	11: func(r *reader) {
		r.vec("data segments", func() {
			at := r.pos
			switch flag := r.u32(); {
			case r.err != nil:
			case flag == 0: // active, memory 0
				r.constExpr()
			case flag == 1: // passive
			case flag == 2: // active, memory index
				r.memIndex()
				r.constExpr()
			default:
				r.fail(at, fmt.Sprintf("data segment flag %d is not supported", flag))
			}
			r.bytes("data segment bytes")
		})
	},
	12: func(r *reader) { r.u32() },
	13: func(r *reader) { r.fail(0, "exception handling is not supported") },
}

// check reads section s through its walk, if it has one; see walks.
func (s section) check() error {
	walk, ok := walks[s.id]
	if !ok {
		return nil
	}
	r := s.reader()
	walk(&r)
	return r.end()
}

// maxTableElements is the most elements a table may start with: wazero
// 1.12 allocates a table's minimum, 8 bytes an element, at every
// instantiation. A Go program's table holds one element per function
// called indirectly. An imported table is allocated by the module that
// exports it (the host exports none), but its minimum is held to the same
// bound, so one rule covers every table a module declares.
const maxTableElements = 1 << 20

// table reads a table type, refusing a minimum beyond maxTableElements.
func (r *reader) table() {
	r.refType()
	at := r.pos
	if min := r.limits(false); r.err == nil && min > maxTableElements {
		r.fail(at, fmt.Sprintf("table minimum of %d elements is more than %d", min, maxTableElements))
	}
}

// funcType reads a function type: 0x60, its parameter types, its result
// types.
func (r *reader) funcType() {
	at := r.pos
	if form := r.byte(); r.err == nil && form != 0x60 {
		r.fail(at, fmt.Sprintf("type form %#x is not supported (only function types, 0x60)", form))
	}
	r.vec("parameters", r.valType)
	r.vec("results", r.valType)
}

// elementSegment reads an element segment. Its flag's bit 0 says passive
// or declarative, bit 1 an explicit table index (active) or declarative,
// bit 2 that its items are expressions rather than function indices.
func (r *reader) elementSegment() {
	at := r.pos
	flag := r.u32()
	if r.err == nil && flag > 7 {
		r.fail(at, fmt.Sprintf("element segment flag %d is not supported", flag))
	}
	active := flag&1 == 0
	if active && flag&2 != 0 {
		r.u32() // table index
	}
	if active {
		r.constExpr()
	}
	switch {
	case flag&3 == 0: // active in table 0: funcref implied
	case flag&4 != 0:
		r.refType()
	default:
		if at := r.pos; r.byte() != 0 && r.err == nil {
			r.fail(at, "element kind other than 0 (funcref) is not supported")
		}
	}
	if flag&4 != 0 {
		r.vec("element expressions", r.constExpr)
	} else {
		r.vec("element function indices", func() { r.u32() })
	}
}

// constExpr reads a constant expression of WebAssembly 2.0, up to its end.
func (r *reader) constExpr() {
	for r.err == nil {
		at := r.pos
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41, 0x42, 0x43, 0x44, 0x23, 0xd0, 0xd2, 0xfd: // t.const, global.get, ref.null, ref.func, v128.const
			r.immediates(at, op)
		default:
			if r.err == nil {
				r.fail(at, fmt.Sprintf("opcode %#x is not supported in a constant expression", op))
			}
		}
	}
}

// customSection reads the name of a custom section and, for the name
// section (which wazero decodes; it skips the others but for DWARF, which
// Instrument drops), its subsections: the module's name, the functions'
// names and their locals' names, each read to its end.
func (r *reader) customSection() {
	if r.name() != "name" {
		r.pos = len(r.b)
		return
	}
	for !r.done() {
		id := r.byte()
		size := int(r.count("name subsection bytes"))
		if r.err != nil {
			return
		}
		sub := *r
		sub.b = r.b[:r.pos+size]
		switch id {
		case 0: // module name
			sub.name()
		case 1: // function names
			sub.nameMap()
		case 2: // local names, by function
			sub.vec("functions of local names", func() { sub.u32(); sub.nameMap() })
		default:
			sub.pos = len(sub.b)
		}
		if sub.end() != nil {
			r.err, r.pos = sub.err, len(r.b)
			return
		}
		r.pos += size
	}
}

// nameMap reads a name map: index and name pairs.
func (r *reader) nameMap() {
	r.vec("names", func() { r.u32(); r.name() })
}
