// Package wasmloop instruments a WebAssembly module so that its host can
// stop it at any loop, and so that a loop never keeps the Go runtime from
// stopping the world. It appends two mutable i32 globals, the stop flag
// (exported as StopExport) and a tick counter, and inserts at the head of
// every loop
//
//	global.get $stop
//	if
//	  unreachable
//	end
//	global.get $ticks  i32.const 1  i32.add  global.set $ticks
//	global.get $ticks  i32.const YieldEvery-1  i32.and  i32.eqz
//	if
//	  i32.const 0  memory.grow  drop
//	end
//
// A running call traps (unreachable) at its next loop iteration once the
// host sets the flag to a non-zero value. That is how a plugin host stops
// an endless loop in compiled code without wazero's WithCloseOnContextDone,
// which costs a goroutine per call.
//
// The second check matters as much: compiled Wasm code cannot be preempted
// by the Go runtime, so a loop that never leaves it holds up every
// stop-the-world (a garbage collection, runtime.Stack of all goroutines)
// until it ends, and the stalled world includes the goroutine that would
// set the flag: an endless loop would freeze the process. wazero's
// memory.grow leaves compiled code for Go (the same way
// WithCloseOnContextDone's check at every loop header does), and growing by
// zero pages changes nothing, so every YieldEvery loop iterations the code
// passes through Go, where the runtime can stop it. A module must therefore
// have a memory (every plugin exports one).
//
// Only the global, export and code sections change, and the start section
// when there is one: defined globals follow the imported ones, so the new
// globals move no index, and no function index moves either. A start
// section is removed and its function exported instead (see StartExport),
// so that the host runs it as a call it can stop. Custom sections that
// point into the code by offset (DWARF, ".debug_*") would be wrong after the
// rewrite and are dropped; the "name" section stays.
//
// Before anything else, Instrument reads every section that wazero
// decodes, item by item (see walks), and refuses a count or length that
// claims more than the bytes left in its section: wazero 1.12 allocates for
// a count before it reads the items, and a module of a few dozen bytes
// could otherwise kill the process with a fatal out of memory. The "name"
// section is read the same way; a tag section (exception handling) is
// refused.
//
// Instrument reads the instructions of every function body fully: the
// WebAssembly 2.0 instruction set (MVP, sign extension, non-trapping
// float-to-int, bulk memory, reference types, multi-value, fixed-width
// SIMD). Anything else (threads, tail calls, exception handling, GC,
// multi-memory, memory64) is refused with an error that names it and its
// offset, rather than guessed at. It does not validate the module beyond
// what it reads; the runtime's compiler does that.
//
// Instrument is a pure function, safe for concurrent use.
package wasmloop

import (
	"fmt"
	"strings"
)

// StopExport is the name under which Instrument exports the stop flag.
const StopExport = "hotreload.stop"

// YieldEvery is how many loop iterations (of all loops of an instance)
// pass between two trips through Go; a power of two.
const YieldEvery = 1 << 14

// maxLocals is the most locals a function may declare, the limit browsers
// set (wazero allows 2³², and allocates them all before it compiles).
const maxLocals = 50_000

// StartExport is the name under which Instrument exports the function of a
// start section it removed.
const StartExport = "hotreload.start"

// The ids of the sections Instrument reads or writes.
const (
	secCustom    = 0
	secImport    = 2
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secCode      = 10
	secDataCount = 12
)

// rank is the order in which sections must appear, by id: the data count
// section (12) sits between element (9) and code (10), the tag section
// (13) between memory (5) and global (6).
var rank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// Error is what Instrument returns for a module it cannot rewrite: Offset
// is the byte offset in the module where it stopped.
type Error struct {
	Offset int    // where in the module
	Msg    string // what is wrong or not supported
}

func (e *Error) Error() string {
	return fmt.Sprintf("instrumenting loops: at offset %#x: %s", e.Offset, e.Msg)
}

type section struct {
	id      byte
	payload []byte
	at      int // offset of the payload in the module
}

// Instrument returns a copy of module with the stop flag and its checks;
// see the package comment. It fails on a malformed module and on
// instructions outside WebAssembly 2.0.
func Instrument(module []byte) ([]byte, error) {
	if len(module) < 8 || string(module[:4]) != "\x00asm" {
		return nil, &Error{0, "invalid magic number"}
	}
	if string(module[4:8]) != "\x01\x00\x00\x00" {
		return nil, &Error{4, fmt.Sprintf("unsupported binary version % x", module[4:8])}
	}
	var secs []section
	last := 0
	r := reader{b: module, pos: 8}
	for !r.done() {
		start := r.pos
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			return nil, r.error()
		}
		if id != secCustom {
			k, ok := rank[id]
			switch {
			case !ok:
				return nil, &Error{start, fmt.Sprintf("unknown section id %d", id)}
			case k <= last:
				return nil, &Error{start, fmt.Sprintf("section %d out of order or repeated", id)}
			}
			last = k
		}
		if uint64(size) > uint64(len(module)-r.pos) {
			return nil, &Error{start, fmt.Sprintf("section %d: size %d runs past the end of the module", id, size)}
		}
		s := section{id: id, payload: module[r.pos : r.pos+int(size)], at: r.pos}
		if err := s.check(); err != nil {
			return nil, err
		}
		secs = append(secs, s)
		r.pos += int(size)
	}

	var imported, defined, memories uint32
	var exports *section
	start := -1
	for i := range secs {
		s := &secs[i]
		var err error
		switch s.id {
		case secImport:
			imported, memories, err = importedGlobals(s)
		case secMemory:
			var n uint32
			n, err = vecLen(s)
			memories += n
		case secGlobal:
			defined, err = vecLen(s)
		case secExport:
			exports = s
		case secStart:
			sr := s.reader()
			start = int(sr.u32())
			err = sr.end()
		}
		if err != nil {
			return nil, err
		}
	}
	stop := imported + defined // then ticks, stop+1
	if memories == 0 {
		return nil, &Error{8, "the module has no memory, which its loops need to yield to the Go runtime (memory.grow)"}
	}

	var names []string
	if exports != nil {
		var err error
		if names, err = exportNames(exports); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		if n == StopExport || n == StartExport {
			return nil, &Error{exports.at, fmt.Sprintf("the module already exports %q, a name the host reserves", n)}
		}
	}

	global := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b} // two mutable i32, initially 0
	export := appendName(nil, StopExport)
	export = append(export, 0x03)
	export = appendU32(export, stop)
	added := uint32(1)
	if start >= 0 {
		export = appendName(export, StartExport)
		export = append(export, 0x00)
		export = appendU32(export, uint32(start))
		added++
	}

	out := make([]byte, 0, len(module)+len(module)/16+64)
	out = append(out, module[:8]...)
	put := func(id byte, parts ...[]byte) {
		size := 0
		for _, p := range parts {
			size += len(p)
		}
		out = append(out, id)
		out = appendU32(out, uint32(size))
		for _, p := range parts {
			out = append(out, p...)
		}
	}
	// A module without a global or export section gets one, in its place.
	hasGlobal, hasExport := false, exports != nil
	for _, s := range secs {
		hasGlobal = hasGlobal || s.id == secGlobal
	}
	addBefore := func(k int) {
		if !hasGlobal && k > rank[secGlobal] {
			put(secGlobal, appendU32(nil, 2), global)
			hasGlobal = true
		}
		if !hasExport && k > rank[secExport] {
			put(secExport, appendU32(nil, added), export)
			hasExport = true
		}
	}
	for _, s := range secs {
		if s.id == secCustom {
			if !customDropped(s) {
				put(s.id, s.payload)
			}
			continue
		}
		addBefore(rank[s.id])
		switch s.id {
		case secGlobal:
			put(secGlobal, appendU32(nil, defined+2), skipU32(s.payload), global)
		case secExport:
			put(secExport, appendU32(nil, uint32(len(names))+added), skipU32(s.payload), export)
		case secStart:
			// Dropped: the host calls its function as StartExport.
		case secTable:
			put(secTable, capTables(s))
		case secCode:
			p, err := instrumentCode(s, stop)
			if err != nil {
				return nil, err
			}
			put(secCode, p)
		default:
			put(s.id, s.payload)
		}
	}
	addBefore(len(rank) + 1)
	return out, nil
}

// customDropped reports whether custom section s holds code offsets
// (DWARF), which the rewrite invalidates.
func customDropped(s section) bool {
	r := s.reader()
	n := r.name()
	return r.err == nil && strings.HasPrefix(n, ".debug_")
}

// importedGlobals counts the globals and memories among the imports of s.
func importedGlobals(s *section) (globals, memories uint32, err error) {
	r := s.reader()
	n := r.count("imports")
	for range n {
		r.name()
		r.name()
		at := r.pos
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
		case 0x01: // table: reference type, limits
			r.table()
		case 0x02: // memory: limits
			r.limits(true)
			memories++
		case 0x03: // global: value type, mutability
			r.valType()
			r.mutability()
			globals++
		default:
			r.fail(at, fmt.Sprintf("import kind %#x is not supported", kind))
		}
		if r.err != nil {
			return 0, 0, r.error()
		}
	}
	return globals, memories, r.end()
}

// vecLen reads the length of the vector that s holds.
func vecLen(s *section) (uint32, error) {
	r := s.reader()
	n := r.u32()
	return n, r.error()
}

// exportNames reads the names of the export section s.
func exportNames(s *section) ([]string, error) {
	r := s.reader()
	n := r.count("exports")
	var names []string
	for range n {
		names = append(names, r.name())
		r.byte()
		r.u32()
		if r.err != nil {
			return nil, r.error()
		}
	}
	return names, r.end()
}

// instrumentCode rewrites the code section s, checking global stop and
// counting global stop+1 at every loop header (see the package comment).
func instrumentCode(s section, stop uint32) ([]byte, error) {
	getStop := appendU32([]byte{0x23}, stop)
	getTicks := appendU32([]byte{0x23}, stop+1)
	setTicks := appendU32([]byte{0x24}, stop+1)
	var check []byte
	check = append(check, getStop...)
	check = append(check, 0x04, 0x40, 0x00, 0x0b) // if unreachable end
	check = append(check, getTicks...)
	check = append(check, 0x41, 0x01, 0x6a) // i32.const 1 i32.add
	check = append(check, setTicks...)
	check = append(check, getTicks...)
	check = append(check, 0x41)
	check = appendS32(check, YieldEvery-1)
	check = append(check, 0x71, 0x45)                                     // i32.and i32.eqz
	check = append(check, 0x04, 0x40, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x0b) // if (memory.grow 0) drop end

	r := s.reader()
	n := r.count("function bodies")
	if r.err != nil {
		return nil, r.error()
	}
	out := appendU32(make([]byte, 0, len(s.payload)+len(s.payload)/16), n)
	var body []byte
	for range n {
		size := r.count("function body bytes")
		if r.err != nil {
			return nil, r.error()
		}
		fr := r
		fr.b = r.b[:r.pos+int(size)]
		var err error
		if body, err = instrumentBody(body[:0], &fr, check); err != nil {
			return nil, err
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
		r.pos += int(size)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return out, nil
}

// instrumentBody appends to out the function body r holds (up to its end),
// with check after every loop's block type.
func instrumentBody(out []byte, r *reader, check []byte) ([]byte, error) {
	from := r.pos
	var locals uint64
	for groups := r.count("local groups"); groups > 0 && r.err == nil; groups-- {
		at := r.pos
		if locals += uint64(r.u32()); locals > maxLocals {
			r.fail(at, fmt.Sprintf("more than %d locals in a function", maxLocals))
		}
		r.valType()
	}
	depth := 1
	for depth > 0 && r.err == nil {
		if r.done() {
			r.fail(r.pos, "function body ends inside an expression")
			break
		}
		at := r.pos
		op := r.byte()
		switch op {
		case 0x02, 0x04: // block, if
			r.blockType()
			depth++
		case 0x03: // loop
			r.blockType()
			depth++
			out = append(out, r.b[from:r.pos]...)
			out = append(out, check...)
			from = r.pos
		case 0x0b: // end
			depth--
		default:
			r.immediates(at, op)
		}
	}
	if r.err != nil {
		return nil, r.error()
	}
	if !r.done() {
		return nil, &Error{r.base + r.pos, "function body continues after its final end"}
	}
	return append(out, r.b[from:r.pos]...), nil
}

// appendU32 appends v as an unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendS32 appends v as a signed LEB128.
func appendS32(b []byte, v int32) []byte {
	for v < -64 || v >= 64 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v)&0x7f)
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}

// skipU32 returns b after the unsigned LEB128 it starts with, which was
// read before.
func skipU32(b []byte) []byte {
	r := reader{b: b}
	r.u32()
	return b[r.pos:]
}

// capTables returns the table section s with every table's maximum at most
// maxTableElements: wazero 1.12 allocates a table.grow's elements at once,
// and a table without a maximum (Go's) could be grown by 2^32-2 elements.
// Beyond the cap table.grow returns -1, as the specification allows any
// growth to fail. s has been checked.
func capTables(s section) []byte {
	r := s.reader()
	n := r.u32()
	out := appendU32(nil, n)
	for range n {
		out = append(out, r.byte()) // reference type
		flag, least := r.byte(), r.u32()
		most := uint32(maxTableElements)
		if flag == 0x01 {
			most = min(most, r.u32())
		}
		out = appendU32(append(out, 0x01), least)
		out = appendU32(out, most)
	}
	return out
}
