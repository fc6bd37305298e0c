package wasmloop_test

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/cybercorp/hotreload/plugin/internal/wasmloop"
)

// huge is the count or length every module of TestRefusesHugeCounts
// claims, once: 2³²-1, for which wazero 1.12 would allocate up to
// hundreds of gigabytes before reading an item.
var huge = uleb(1<<32 - 1)

// TestRefusesHugeCounts claims a huge count or length in each place
// wazero 1.12 allocates for one before it reads the items: Instrument
// refuses each, saying the section, what was claimed, how many bytes
// remain and where (the offset of the count), and it allocates next to
// nothing doing so. Instrument runs before wazero sees a module (see
// plugin/version.go), so wazero never sees these.
func TestRefusesHugeCounts(t *testing.T) {
	body := func(b ...byte) []byte { return vec(cat(uleb(uint64(len(b))), b)) } // a code section of one body
	customName := func(subs ...[]byte) []byte { return cat(name("name"), cat(subs...)) }
	for _, tc := range []struct {
		name, want string
		extra      map[byte][]byte
	}{
		{"TypeCount", "type section: types", map[byte][]byte{1: huge}},
		{"TypeParameters", "type section: parameters", map[byte][]byte{1: cat([]byte{1, 0x60}, huge)}},
		{"TypeResults", "type section: results", map[byte][]byte{1: cat([]byte{1, 0x60, 0}, huge)}},
		{"ImportCount", "import section: imports", map[byte][]byte{2: huge}},
		{"ImportModuleName", "import section: name length", map[byte][]byte{2: cat([]byte{1}, huge)}},
		{"ImportName", "import section: name length", map[byte][]byte{2: cat([]byte{1}, name("env"), huge)}},
		{"FunctionCount", "function section: functions", map[byte][]byte{3: huge}},
		{"TableCount", "table section: tables", map[byte][]byte{4: huge}},
		{"MemoryCount", "memory section: memories", map[byte][]byte{5: huge}},
		{"GlobalCount", "global section: globals", map[byte][]byte{6: huge}},
		{"ExportCount", "export section: exports", map[byte][]byte{7: huge}},
		{"ExportName", "export section: name length", map[byte][]byte{7: cat([]byte{1}, huge)}},
		{"ElementCount", "element section: element segments", map[byte][]byte{9: huge}},
		{"ElementFunctions", "element section: element function indices", map[byte][]byte{9: cat([]byte{1, 0, 0x41, 0, end}, huge)}},
		{"ElementExpressions", "element section: element expressions", map[byte][]byte{9: cat([]byte{1, 5, 0x70}, huge)}},
		{"CodeCount", "code section: function bodies", map[byte][]byte{10: huge}},
		{"CodeBodySize", "code section: function body bytes", map[byte][]byte{10: cat([]byte{1}, huge)}},
		{"CodeLocalGroups", "code section: local groups", map[byte][]byte{10: body(cat(huge, []byte{end})...)}},
		{"DataCount", "data section: data segments", map[byte][]byte{11: huge}},
		{"DataBytes", "data section: data segment bytes", map[byte][]byte{11: cat([]byte{1, 0, 0x41, 0, end}, huge)}},
		{"CustomSectionName", "custom section: name length", map[byte][]byte{0: huge}},
		{"NameSubsection", "custom section: name subsection bytes", map[byte][]byte{0: customName([]byte{1}, huge)}},
		{"ModuleName", "custom section: name length", map[byte][]byte{0: customName(cat([]byte{0, 5}, huge))}},
		{"FunctionNames", "custom section: names", map[byte][]byte{0: customName(cat([]byte{1, 5}, huge))}},
		{"LocalNameFunctions", "custom section: functions of local names", map[byte][]byte{0: customName(cat([]byte{2, 5}, huge))}},
		{"LocalNames", "custom section: names", map[byte][]byte{0: customName(cat([]byte{2, 7, 1, 0}, huge))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := module(tc.extra, []byte{end})
			at := bytes.Index(wasm, huge)
			_, err := wasmloop.Instrument(wasm)
			var e *wasmloop.Error
			want := fmt.Sprintf("%s: %d claimed", tc.want, 1<<32-1)
			if !errors.As(err, &e) || !bytes.Contains([]byte(e.Msg), []byte(want)) || !bytes.Contains([]byte(e.Msg), []byte("bytes remain")) {
				t.Fatalf("error %v, want a *wasmloop.Error saying %q and the bytes that remain", err, want)
			}
			if e.Offset != at {
				t.Errorf("error at offset %#x, want %#x (the count)", e.Offset, at)
			}
			var before, after runtime.MemStats
			const runs = 10
			runtime.ReadMemStats(&before)
			for range runs {
				_, _ = wasmloop.Instrument(wasm)
			}
			runtime.ReadMemStats(&after)
			if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 16<<10 {
				t.Errorf("refusing the module allocated %d bytes, want under 16 KiB", perRun)
			}
		})
	}
}

// TestTagSection refuses the tag section of exception handling, which
// wazero decodes only with that feature on.
func TestTagSection(t *testing.T) {
	_, err := wasmloop.Instrument(cat(header, section(13, []byte{1, 0, 0})))
	var e *wasmloop.Error
	if !errors.As(err, &e) || e.Msg != "tag section: exception handling is not supported" {
		t.Fatalf("error %v, want the tag section refused", err)
	}
}
