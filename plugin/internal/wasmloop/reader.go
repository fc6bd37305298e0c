package wasmloop

import "fmt"

// reader reads the binary format from b, starting at pos; base is the
// offset of b in the module, and what names what b is (a section), for
// errors. The first error sticks: every read after it returns zero.
type reader struct {
	b    []byte
	pos  int
	base int
	what string
	err  *Error
}

func (r *reader) done() bool { return r.err != nil || r.pos >= len(r.b) }

func (r *reader) fail(at int, msg string) {
	if r.err == nil {
		if r.what != "" {
			msg = r.what + ": " + msg
		}
		r.err = &Error{r.base + at, msg}
	}
	r.pos = len(r.b)
}

// end fails unless everything was read; it returns the first error.
func (r *reader) end() error {
	if r.err == nil && r.pos != len(r.b) {
		r.fail(r.pos, fmt.Sprintf("%d unexpected bytes at the end of the section", len(r.b)-r.pos))
	}
	return r.error()
}

// error returns the first error, as an error (nil when there is none).
func (r *reader) error() error {
	if r.err != nil {
		return r.err
	}
	return nil
}

func (r *reader) byte() byte {
	if r.pos >= len(r.b) {
		r.fail(r.pos, "unexpected end")
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) skip(n int) {
	if len(r.b)-r.pos < n {
		r.fail(r.pos, "unexpected end")
		return
	}
	r.pos += n
}

// leb reads a LEB128 of at most bits bits (signed or not) and returns its
// raw low 64 bits; it checks the encoding's length and its unused bits as
// the specification requires.
func (r *reader) leb(bits uint, signed bool) uint64 {
	at := r.pos
	var v uint64
	var shift uint
	for {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift > bits {
				// The last byte's bits beyond the width must be zero
				// (unsigned) or a sign extension (signed).
				used := bits - (shift - 7)
				rest := c &^ 0x80 >> used
				if !signed && rest != 0 || signed && rest != 0 && rest != 0x7f>>used {
					r.fail(at, fmt.Sprintf("integer too large for %d bits", bits))
					return 0
				}
			}
			if signed && shift < 64 && c&0x40 != 0 {
				v |= ^uint64(0) << shift
			}
			return v
		}
		if shift >= bits {
			r.fail(at, fmt.Sprintf("integer representation too long for %d bits", bits))
			return 0
		}
	}
}

func (r *reader) u32() uint32 { return uint32(r.leb(32, false)) }

// count reads the count or byte length of a vector of what, and refuses
// one larger than the bytes that remain (an item takes one at least):
// wazero 1.12 allocates for a count before it reads the items.
func (r *reader) count(what string) uint32 {
	at := r.pos
	n := r.u32()
	if left := len(r.b) - r.pos; uint64(n) > uint64(left) {
		r.fail(at, fmt.Sprintf("%s: %d claimed, %d bytes remain", what, n, left))
		return 0
	}
	return n
}

// vec reads a vector of what, calling item for each of its items until an
// error.
func (r *reader) vec(what string, item func()) {
	for n := r.count(what); n > 0 && r.err == nil; n-- {
		item()
	}
}

// bytes reads a vector of bytes (a name, a data segment's contents).
func (r *reader) bytes(what string) []byte {
	n := int(r.count(what))
	b := r.b[r.pos : r.pos+n]
	r.pos += n
	return b
}

func (r *reader) name() string { return string(r.bytes("name length")) }

// Value and reference types of WebAssembly 2.0.
const (
	typeI32       = 0x7f
	typeI64       = 0x7e
	typeF32       = 0x7d
	typeF64       = 0x7c
	typeV128      = 0x7b
	typeFuncref   = 0x70
	typeExternref = 0x6f
	blockEmpty    = 0x40
)

func isValType(c byte) bool {
	switch c {
	case typeI32, typeI64, typeF32, typeF64, typeV128, typeFuncref, typeExternref:
		return true
	}
	return false
}

func (r *reader) valType() {
	at := r.pos
	if c := r.byte(); r.err == nil && !isValType(c) {
		r.fail(at, fmt.Sprintf("value type %#x is not supported", c))
	}
}

func (r *reader) refType() {
	at := r.pos
	if c := r.byte(); r.err == nil && c != typeFuncref && c != typeExternref {
		r.fail(at, fmt.Sprintf("reference type %#x is not supported", c))
	}
}

func (r *reader) mutability() {
	at := r.pos
	if c := r.byte(); r.err == nil && c > 1 {
		r.fail(at, fmt.Sprintf("global mutability %#x is not supported", c))
	}
}

// limits reads a table's or memory's limits and returns the minimum;
// shared memories (threads) and 64-bit ones are refused.
func (r *reader) limits(memory bool) (min uint32) {
	at := r.pos
	switch flag := r.byte(); flag {
	case 0x00:
		min = r.u32()
	case 0x01:
		min = r.u32()
		r.u32()
	default:
		if r.err == nil {
			what := "table"
			if memory {
				what = "memory"
			}
			r.fail(at, fmt.Sprintf("%s limits flag %#x (shared or 64-bit) is not supported", what, flag))
		}
	}
	return min
}

// blockType reads the block type of block, loop or if: empty, one value
// type, or a type index (a non-negative signed 33-bit LEB128).
func (r *reader) blockType() {
	if r.pos < len(r.b) && (r.b[r.pos] == blockEmpty || isValType(r.b[r.pos])) {
		r.pos++
		return
	}
	at := r.pos
	if v := int64(r.leb(33, true)); r.err == nil && v < 0 {
		r.fail(at, fmt.Sprintf("block type %#x is not supported", r.b[at]))
	}
}

// memarg reads a load's or store's alignment and offset; an alignment
// with bit 6 set names a memory (multi-memory) and is refused.
func (r *reader) memarg() {
	at := r.pos
	if align := r.u32(); r.err == nil && align >= 64 {
		r.fail(at, "a memory index in a memarg (multi-memory) is not supported")
	}
	r.u32()
}

// memIndex reads the memory index of memory.size, memory.grow and the bulk
// memory instructions, which must be 0.
func (r *reader) memIndex() {
	at := r.pos
	if r.u32() != 0 && r.err == nil {
		r.fail(at, "a memory index other than 0 (multi-memory) is not supported")
	}
}
