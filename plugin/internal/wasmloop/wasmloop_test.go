package wasmloop_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cybercorp/hotreload/internal/testwait"
	"github.com/cybercorp/hotreload/plugin/internal/wasmloop"
)

// A tiny assembler for the modules of these tests.

func uleb(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func vec(items ...[]byte) []byte { return cat(append([][]byte{uleb(uint64(len(items)))}, items...)...) }

func name(s string) []byte { return cat(uleb(uint64(len(s))), []byte(s)) }

func section(id byte, payload []byte) []byte {
	return cat([]byte{id}, uleb(uint64(len(payload))), payload)
}

var header = []byte("\x00asm\x01\x00\x00\x00")

const end = 0x0b

// module is a module with one memory, one funcref table of 1, the types
// () -> () and () -> i32, a passive data segment (with its count), and one
// function of type 0 per body, exported as f0, f1, ... Extra sections go
// where their id says, among the others.
func module(extra map[byte][]byte, bodies ...[]byte) []byte {
	var decls, exports, code [][]byte
	for i, b := range bodies {
		decls = append(decls, []byte{0})
		exports = append(exports, cat(name("f"+string(rune('0'+i))), []byte{0}, uleb(uint64(i))))
		body := cat([]byte{0}, b) // no locals
		code = append(code, cat(uleb(uint64(len(body))), body))
	}
	secs := map[byte][]byte{
		1:  vec([]byte{0x60, 0, 0}, []byte{0x60, 0, 1, 0x7f}),
		3:  vec(decls...),
		4:  vec([]byte{0x70, 0, 1}),
		5:  vec([]byte{0, 1}),
		7:  vec(exports...),
		12: uleb(1),
		10: vec(code...),
		11: vec(cat([]byte{1}, name("hi"))),
	}
	for id, p := range extra {
		secs[id] = p
	}
	out := append([]byte(nil), header...)
	for _, id := range []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11} {
		if p, ok := secs[id]; ok && p != nil {
			out = append(out, section(id, p)...)
		}
	}
	return out
}

func compile(t testing.TB, rt wazero.Runtime, wasm []byte) wazero.CompiledModule {
	t.Helper()
	code, err := rt.CompileModule(context.Background(), wasm)
	if err != nil {
		t.Fatalf("compiling: %v", err)
	}
	return code
}

// TestStopsAnEndlessLoop runs an endless loop in compiled code, collects
// garbage meanwhile (a stop of the world, which compiled code would hold up
// for ever if it never passed through Go), and stops the loop by setting the
// exported flag from another goroutine: the call traps with unreachable. Run
// it with -race: the flag's store is the only thing the two goroutines
// share.
func TestStopsAnEndlessLoop(t *testing.T) {
	ctx := context.Background()
	loop := []byte{0x03, 0x40, 0x0c, 0, end, end} // loop br 0 end
	wasm, err := wasmloop.Instrument(module(nil, loop))
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.InstantiateModule(ctx, compile(t, rt, wasm), wazero.NewModuleConfig())
	if err != nil {
		t.Fatal(err)
	}
	stop, ok := mod.ExportedGlobal(wasmloop.StopExport).(api.MutableGlobal)
	if !ok {
		t.Fatalf("%s is not an exported mutable global", wasmloop.StopExport)
	}
	done := make(chan error, 1)
	go func() { _, err := mod.ExportedFunction("f0").Call(ctx); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("the loop returned before it was stopped: %v", err)
	case <-time.After(testwait.D(20 * time.Millisecond)): // a bound on a loop that must not end: no condition to wait for
	}
	collected := make(chan struct{})
	go func() { runtime.GC(); close(collected) }()
	select {
	case <-collected:
	case <-time.After(testwait.D(10 * time.Second)):
		t.Fatal("a garbage collection did not finish while the loop ran: the loop never yields to the Go runtime")
	}
	stop.Set(1)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("stopped loop: %v, want the unreachable trap", err)
		}
	case <-time.After(testwait.D(5 * time.Second)):
		t.Fatal("the loop did not stop after its flag was set")
	}
}

// TestKeepsBehaviour instruments a module and checks that, with the flag
// clear, each function returns what it did before.
func TestKeepsBehaviour(t *testing.T) {
	// f0 counts to 1000 in a loop and stores the count at address 0.
	count := []byte{
		0x03, 0x40, // loop
		0x41, 0, 0x41, 0, 0x28, 2, 0, 0x41, 1, 0x6a, 0x36, 2, 0, // mem[0] = mem[0] + 1
		0x41, 0, 0x28, 2, 0, 0x41, 0xe8, 0x07, 0x49, 0x0d, 0, // br_if 0 (mem[0] < 1000)
		end, end,
	}
	mem := callF0(t, count)
	if v, _ := mem.ReadUint32Le(0); v != 1000 {
		t.Fatalf("count = %d, want 1000", v)
	}
}

// TestSections checks where the flag goes and what else changes.
func TestSections(t *testing.T) {
	importGlobal := vec(cat(name("env"), name("g"), []byte{0x03, 0x7f, 0x00}))
	ownGlobal := vec([]byte{0x7f, 0x01, 0x41, 0x07, end})
	for _, tc := range []struct {
		name     string
		extra    map[byte][]byte
		stopAt   uint32 // index of the flag
		start    bool   // StartExport is exported
		droppedC string // a custom section that must be gone
	}{
		{name: "NoGlobals", stopAt: 0},
		{name: "DefinedGlobal", extra: map[byte][]byte{6: ownGlobal}, stopAt: 1},
		{name: "ImportedAndDefined", extra: map[byte][]byte{2: importGlobal, 6: ownGlobal}, stopAt: 2},
		{name: "NoExports", extra: map[byte][]byte{7: nil}, stopAt: 0},
		{name: "ImportedMemory", extra: map[byte][]byte{2: vec(cat(name("env"), name("m"), []byte{0x02, 0x00, 1})), 5: nil}, stopAt: 0},
		{name: "StartSection", extra: map[byte][]byte{8: uleb(0)}, stopAt: 0, start: true},
		{name: "DebugSectionDropped", extra: map[byte][]byte{0: cat(name(".debug_line"), []byte{1, 2, 3})}, droppedC: ".debug_line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := module(tc.extra, []byte{0x03, 0x40, end, end})
			out, err := wasmloop.Instrument(in)
			if err != nil {
				t.Fatal(err)
			}
			rt := wazero.NewRuntime(context.Background())
			defer rt.Close(context.Background())
			code := compile(t, rt, out)
			if d, ok := code.ExportedFunctions()[wasmloop.StartExport]; ok != tc.start {
				t.Errorf("%s exported: %v, want %v", wasmloop.StartExport, ok, tc.start)
			} else if ok && d.Index() != 0 {
				t.Errorf("%s is function %d, want 0", wasmloop.StartExport, d.Index())
			}
			if bytes.Contains(out, []byte{8, 1, 0}) == tc.start && tc.start {
				t.Error("the start section is still there")
			}
			check := cat([]byte{0x03, 0x40, 0x23}, uleb(uint64(tc.stopAt)), []byte{0x04, 0x40, 0x00, end})
			if !bytes.Contains(out, check) {
				t.Errorf("no check of global %d after the loop in % x", tc.stopAt, out)
			}
			if tc.droppedC != "" && bytes.Contains(out, []byte(tc.droppedC)) {
				t.Errorf("custom section %s kept", tc.droppedC)
			}
		})
	}
}

// TestEveryInstruction instruments a body that holds an instruction of
// every immediate shape of WebAssembly 2.0, loops among them, and checks
// the result compiles and has one check per loop.
func TestEveryInstruction(t *testing.T) {
	// Built up piece by piece, each piece leaving the stack as it found it,
	// so that the whole compiles.
	pieces := [][]byte{
		{0x02, 0x40, 0x03, 0x7f, 0x41, 0x01, 0x0d, 0x00, 0x41, 0x02, end, 0x1a, end},
		{0x41, 0, 0x04, 0x40, 0x01, 0x05, 0x01, end},
		{0x02, 0x40, 0x41, 0, 0x0e, 2, 0, 0, 0, end},
		{0x03, 0x01, 0x41, 0, end, 0x1a}, // a loop of type index 1
		{0x41, 0, 0x11, 0, 0},
		{0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x1a},
		{0x43, 0, 0, 0x80, 0x3f, 0x1a, 0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x1a},
		{0x41, 0, 0x41, 0, 0x28, 2, 4, 0x36, 2, 0},
		{0x3f, 0, 0x40, 0, 0x1a},
		{0x41, 1, 0x41, 2, 0x41, 1, 0x1c, 1, 0x7f, 0x1a},
		{0x41, 1, 0xc0, 0x1a},
		{0x43, 0, 0, 0, 0, 0xfc, 0, 0x1a},
		{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 0},
		{0xfc, 9, 0},
		{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 10, 0, 0},
		{0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 11, 0},
		{0xd0, 0x70, 0x41, 1, 0xfc, 15, 0, 0x1a},
		{0xfc, 16, 0, 0x1a},
		{0x41, 0, 0x25, 0, 0xd1, 0x1a},
		{0x41, 0, 0xd2, 0, 0x26, 0},
		{0x41, 0, 0xfd, 0, 4, 0, 0x1a},
		cat([]byte{0xfd, 12}, make([]byte, 16), []byte{0x1a}),
		cat([]byte{0xfd, 12}, make([]byte, 16), []byte{0xfd, 12}, make([]byte, 16), []byte{0xfd, 13}, make([]byte, 16), []byte{0x1a}),
		cat([]byte{0xfd, 12}, make([]byte, 16), []byte{0xfd, 21, 3, 0x1a}),
		cat([]byte{0x41, 0}, []byte{0xfd, 12}, make([]byte, 16), []byte{0xfd, 84, 0, 0, 1, 0x1a}), // v128.load8_lane
		cat([]byte{0xfd, 12}, make([]byte, 16), []byte{0xfd, 0xff, 0x01, 0x1a}),                   // f64x2.convert_low_i32x4_u
	}
	var elems []byte
	elems = append(elems, 0x03, 0x40) // an outer loop around everything
	for _, p := range pieces {
		elems = append(elems, p...)
	}
	elems = append(elems, end, end)
	wasm := module(nil, elems)
	rt := wazero.NewRuntime(context.Background())
	defer rt.Close(context.Background())
	compile(t, rt, wasm) // the test's own module is valid
	out, err := wasmloop.Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	compile(t, rt, out)
	if n := bytes.Count(out, []byte{0x23, 0, 0x04, 0x40, 0x00, end}); n != 3 {
		t.Errorf("%d checks, want 3 (one per loop)", n)
	}
}

// TestRefuses checks that what Instrument does not read is refused, with
// an error that says what and where.
func TestRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		wasm       []byte
	}{
		{"NotWasm", "invalid magic number", []byte("#!/bin/sh\n")},
		{"Garbage", "unknown section id 103", []byte("\x00asm\x01\x00\x00\x00garbage")},
		{"Version2", "unsupported binary version", []byte("\x00asm\x02\x00\x00\x00")},
		{"Truncated", "runs past the end", module(nil, []byte{end})[:30]},
		{"ReservedName", `already exports "hotreload.stop"`, module(map[byte][]byte{7: vec(cat(name(wasmloop.StopExport), []byte{0, 0}))}, []byte{end})},
		{"ExceptionHandling", "opcode 0x8 (exception handling)", module(nil, []byte{0x08, 0, end})},
		{"TailCall", "opcode 0x12 (tail calls)", module(nil, []byte{0x12, 0, end})},
		{"Threads", "opcode 0xfe (threads)", module(nil, []byte{0xfe, 0, end})},
		{"UnassignedSIMD", "opcode 0xfd 154", module(nil, []byte{0xfd, 0x9a, 0x01, end})},
		{"RelaxedSIMD", "wazero reads otherwise", module(nil, []byte{0xfd, 0x80, 0x02, end})},
		{"SIMDOpcodeWazeroMisreads", "wazero reads otherwise", module(nil, []byte{0xfd, 0x88, 0x1a, end})},
		{"SharedMemory", "memory limits flag 0x3", module(map[byte][]byte{2: vec(cat(name("env"), name("m"), []byte{0x02, 0x03, 1, 1}))}, []byte{end})},
		{"MultiMemory", "multi-memory", module(nil, []byte{0x3f, 1, 0x1a, end})},
		{"UnendedBody", "ends inside an expression", module(nil, []byte{0x03, 0x40, end})},
		{"TrailingBytes", "continues after its final end", module(nil, []byte{end, 0x01})},
		{"NoMemory", "has no memory", module(map[byte][]byte{5: nil}, []byte{end})},
		{"HugeTableCount", "table section: tables: 9874778 claimed, 0 bytes remain", []byte("\x00asm\x01\x00\x00\x00\x04\x04\xda\xda\xda\x04")},
		{"TableTooLarge", "table section: table minimum of 134217728 elements is more than 1048576", module(map[byte][]byte{4: vec(cat([]byte{0x70, 0}, uleb(1<<27)))}, []byte{end})},
		{"ImportedTableTooLarge", "import section: table minimum of 134217728 elements is more than 1048576", module(map[byte][]byte{2: vec(cat(name("env"), name("t"), []byte{0x01, 0x70, 0}, uleb(1<<27)))}, []byte{end})},
		{"TooManyLocals", "more than 50000 locals", module(map[byte][]byte{10: vec([]byte{8, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, end})}, []byte{end})},
		{"LongLEB", "too long", module(nil, []byte{0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a, end})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wasmloop.Instrument(tc.wasm)
			var e *wasmloop.Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a *wasmloop.Error containing %q", err, tc.want)
			}
		})
	}
}

// TestTableGrowthIsCapped: a table without a maximum gets maxTableElements
// as its maximum, so a table.grow by 2^31-1 elements fails with -1 (as the
// specification allows) instead of wazero allocating 16 GiB at once and
// killing the process.
func TestTableGrowthIsCapped(t *testing.T) {
	grow := []byte{
		0x41, 0x00, // i32.const 0 (address)
		0xd0, 0x70, // ref.null func
		0x41, 0xff, 0xff, 0xff, 0xff, 0x07, // i32.const 2^31-1
		0xfc, 0x0f, 0x00, // table.grow 0
		0x36, 0x02, 0x00, // i32.store
		0x41, 0x04, // i32.const 4
		0xfc, 0x10, 0x00, // table.size 0
		0x36, 0x02, 0x00, // i32.store
		end,
	}
	mem := callF0(t, grow)
	got, _ := mem.ReadUint32Le(0)
	size, _ := mem.ReadUint32Le(4)
	if got != 0xffffffff || size != 1 {
		t.Fatalf("table.grow returned %#x and the table has %d elements; want -1 and 1", got, size)
	}
}

// callF0 instruments module(nil, body), calls its f0 with the flag clear and
// returns the instance's memory; the runtime closes when the test ends.
func callF0(t *testing.T, body []byte) api.Memory {
	t.Helper()
	ctx := context.Background()
	wasm, err := wasmloop.Instrument(module(nil, body))
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.InstantiateModule(ctx, compile(t, rt, wasm), wazero.NewModuleConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mod.ExportedFunction("f0").Call(ctx); err != nil {
		t.Fatal(err)
	}
	return mod.Memory()
}
