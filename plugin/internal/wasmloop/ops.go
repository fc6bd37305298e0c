package wasmloop

import "fmt"

// immediates reads the immediates of instruction op, read at offset at;
// block, loop, if and end are the caller's. An opcode outside WebAssembly
// 2.0 is refused.
func (r *reader) immediates(at int, op byte) {
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0f, // unreachable, nop, else, return
		op == 0x1a, op == 0x1b, // drop, select
		op >= 0x45 && op <= 0xc4, // numeric, sign extension
		op == 0xd1:               // ref.is_null
	case op == 0x0c, op == 0x0d, // br, br_if
		op == 0x10,               // call
		op >= 0x20 && op <= 0x26, // local.*, global.*, table.get, table.set
		op == 0xd2:               // ref.func
		r.u32()
	case op == 0x0e: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11: // call_indirect: type, table
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.valType()
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f, op == 0x40: // memory.size, memory.grow
		r.memIndex()
	case op == 0x41:
		r.leb(32, true)
	case op == 0x42:
		r.leb(64, true)
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op == 0xd0: // ref.null
		r.refType()
	case op == 0xfc:
		r.misc(at)
	case op == 0xfd:
		r.simd(at)
	default:
		r.fail(at, fmt.Sprintf("opcode %#x (%s) is not supported", op, opName(op)))
	}
}

// misc reads a 0xFC instruction: saturating truncation, bulk memory and
// table instructions.
func (r *reader) misc(at int) {
	switch sub := r.u32(); {
	case r.err != nil:
	case sub <= 7: // iNN.trunc_sat_fMM_s/u
	case sub == 8: // memory.init: data, memory
		r.u32()
		r.memIndex()
	case sub == 9, sub == 13: // data.drop, elem.drop
		r.u32()
	case sub == 10: // memory.copy: memory, memory
		r.memIndex()
		r.memIndex()
	case sub == 11: // memory.fill
		r.memIndex()
	case sub == 12, sub == 14: // table.init: elem, table; table.copy: table, table
		r.u32()
		r.u32()
	case sub >= 15 && sub <= 17: // table.grow, table.size, table.fill
		r.u32()
	default:
		r.fail(at, fmt.Sprintf("opcode 0xfc %d is not supported", sub))
	}
}

// simdUnused are the opcodes below 256 that the fixed-width SIMD proposal
// leaves unassigned.
var simdUnused = map[uint32]bool{154: true, 162: true, 165: true, 166: true, 175: true, 176: true,
	178: true, 179: true, 180: true, 187: true, 194: true, 197: true, 198: true, 207: true,
	208: true, 210: true, 211: true, 212: true, 226: true, 238: true}

// simd reads a 0xFD instruction (fixed-width SIMD; relaxed SIMD is
// refused). The specification encodes the opcode as a LEB128, two bytes
// from 128 on (the second one 0x01); wazero 1.12 reads one byte and then
// the 0x01 as a nop. Both read the instruction alike only in that
// encoding, so any other is refused.
func (r *reader) simd(at int) {
	sub := uint32(r.byte())
	if sub >= 0x80 && r.byte() != 0x01 && r.err == nil {
		r.fail(at, "a SIMD opcode encoding that wazero reads otherwise than the specification")
	}
	switch {
	case r.err != nil:
	case sub <= 11, sub == 92, sub == 93: // v128 loads and stores
		r.memarg()
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		r.skip(16)
	case sub >= 21 && sub <= 34: // extract_lane, replace_lane
		r.skip(1)
	case sub >= 84 && sub <= 91: // load_lane, store_lane
		r.memarg()
		r.skip(1)
	case sub <= 255 && !simdUnused[sub]:
	default:
		r.fail(at, fmt.Sprintf("opcode 0xfd %d is not supported", sub))
	}
}

// opName names the opcodes Instrument refuses that a module may well hold.
func opName(op byte) string {
	switch op {
	case 0x06, 0x07, 0x08, 0x09, 0x0a, 0x18, 0x19, 0x1f:
		return "exception handling"
	case 0x12, 0x13, 0x15:
		return "tail calls"
	case 0x14, 0xd3, 0xd4, 0xd5, 0xd6, 0xfb:
		return "function references or GC"
	case 0xfe:
		return "threads"
	}
	return "unassigned"
}
