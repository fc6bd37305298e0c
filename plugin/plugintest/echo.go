package plugintest

// Echo returns a hand-assembled Wasm module of a few hundred bytes that
// implements the plugin ABI with no runtime inside: call returns its input
// unchanged, initialize, update_config and cleanup succeed, get_status
// says ok. It compiles and instantiates in microseconds, for tests that
// reload thousands of times and for measuring the host's own overhead.
func Echo() []byte {
	const (
		i32, i64 = 0x7f, 0x7e
		funcType = 0x60
		end      = 0x0b
	)
	status := append([]byte{0}, `{"state":"ok"}`...) // tag 0, then the JSON
	const statusAt, bufferAt = 16, 1024
	types := vec(
		[]byte{funcType, 1, i32, 1, i32},      // 0: alloc
		[]byte{funcType, 2, i32, i32, 1, i64}, // 1: (ptr, len) -> result
		[]byte{funcType, 0, 1, i64},           // 2: () -> result
	)
	// Function indices follow the order of funcs.
	funcs := []struct {
		name string
		typ  byte
		body []byte
	}{
		{"alloc", 0, cat([]byte{0x41}, sleb(bufferAt), []byte{end})},
		{"initialize", 1, []byte{0x42, 0, end}},
		{"update_config", 1, []byte{0x42, 0, end}},
		{"call", 1, []byte{
			// memory[ptr-1] = 0 (the ok tag) ...
			0x20, 0, 0x41, 1, 0x6b, 0x41, 0, 0x3a, 0, 0,
			// ... return (ptr-1)<<32 | (len+1)
			0x20, 0, 0x41, 1, 0x6b, 0xad, 0x42, 32, 0x86,
			0x20, 1, 0x41, 1, 0x6a, 0xad, 0x84, end,
		}},
		{"get_status", 2, cat([]byte{0x42}, sleb(statusAt<<32|int64(len(status))), []byte{end})},
		{"cleanup", 2, []byte{0x42, 0, end}},
	}
	var decls, exports, bodies [][]byte
	exports = append(exports, cat(name("memory"), []byte{2, 0}))
	for i, f := range funcs {
		decls = append(decls, []byte{f.typ})
		exports = append(exports, cat(name(f.name), []byte{0, byte(i)}))
		body := cat([]byte{0}, f.body) // no locals
		bodies = append(bodies, cat(uleb(uint64(len(body))), body))
	}
	data := vec(cat([]byte{0, 0x41}, sleb(statusAt), []byte{end}, uleb(uint64(len(status))), status))
	return cat(
		[]byte{0, 'a', 's', 'm', 1, 0, 0, 0},
		section(1, types),
		section(3, vec(decls...)),
		section(5, vec([]byte{0, 1})), // one memory, at least one page
		section(7, vec(exports...)),
		section(10, vec(bodies...)),
		section(11, data),
	)
}

func section(id byte, payload []byte) []byte {
	return cat([]byte{id}, uleb(uint64(len(payload))), payload)
}

func vec(items ...[]byte) []byte { return cat(append([][]byte{uleb(uint64(len(items)))}, items...)...) }

func name(s string) []byte { return cat(uleb(uint64(len(s))), []byte(s)) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// uleb encodes n as unsigned LEB128.
func uleb(n uint64) []byte {
	var out []byte
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// sleb encodes n as signed LEB128.
func sleb(n int64) []byte {
	var out []byte
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if (n == 0 && b&0x40 == 0) || (n == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}
