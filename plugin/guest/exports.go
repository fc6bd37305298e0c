//go:build wasip1

package guest

import (
	"errors"
	"unicode/utf8"
	"unsafe"
)

// input is the buffer the host writes each argument into; alloc replaces it
// when an argument does not fit. Holding it in a package variable keeps it
// alive, and Go's collector does not move objects, so its address is stable.
var input []byte

// output holds the last result until the next export is called, so the host
// can read it.
var output []byte

// Result buffers start with one of these tags.
const (
	tagOK    = 0
	tagError = 1
)

// alloc returns the address of a buffer of at least size bytes for the host
// to write the next argument into.
//
//go:wasmexport alloc
func alloc(size uint32) uint32 {
	if uint32(cap(input)) < size {
		input = make([]byte, size)
	}
	input = input[:cap(input)]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input))))
}

//go:wasmexport initialize
func initialize(ptr, size uint32) uint64 {
	cfg, err := argument(ptr, size, true)
	if err == nil {
		err = initializePlugin(cfg)
	}
	return respond(nil, err)
}

//go:wasmexport update_config
func updateConfig(ptr, size uint32) uint64 {
	cfg, err := argument(ptr, size, true)
	if err == nil {
		if u, ok := registered.(Updater); ok {
			err = u.UpdateConfig(cfg)
		} else {
			err = initializePlugin(cfg)
		}
	}
	return respond(nil, err)
}

//go:wasmexport call
func call(ptr, size uint32) uint64 {
	in, err := argument(ptr, size, false)
	if err != nil {
		return respond(nil, err)
	}
	out, err := registered.Call(in)
	return respond(out, err)
}

//go:wasmexport get_status
func getStatus() uint64 {
	st := Status{State: StateOK}
	if registered == nil {
		st = Status{State: StateFailed, Message: "no plugin registered: call guest.Register from an init function"}
	} else if r, ok := registered.(StatusReporter); ok {
		st = r.Status()
	}
	out := append([]byte(`{"state":`), quote(st.State)...)
	if st.Message != "" {
		out = append(append(out, `,"message":`...), quote(st.Message)...)
	}
	return respond(append(out, '}'), nil)
}

// quote writes s as a JSON string. It avoids encoding/json, which would
// double the size of a plugin that does not use it.
func quote(s string) []byte {
	const hex = "0123456789abcdef"
	out := []byte{'"'}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			out = append(out, '\\', byte(r))
		case r < 0x20:
			out = append(out, `\u00`...)
			out = append(out, hex[r>>4], hex[r&0xf])
		case r == utf8.RuneError:
			out = append(out, `\ufffd`...)
		default:
			out = utf8.AppendRune(out, r)
		}
	}
	return append(out, '"')
}

//go:wasmexport cleanup
func cleanup() uint64 {
	var err error
	if c, ok := registered.(CleanerUpper); ok {
		err = c.Cleanup()
	}
	return respond(nil, err)
}

func initializePlugin(cfg []byte) error {
	if registered == nil {
		return errors.New("no plugin registered: call guest.Register from an init function")
	}
	if i, ok := registered.(Initializer); ok {
		return i.Initialize(cfg)
	}
	return nil
}

// argument returns the size bytes the host wrote at ptr, which must be the
// buffer alloc returned; keep copies them so the plugin may retain them.
func argument(ptr, size uint32, keep bool) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	if registered == nil {
		return nil, errors.New("no plugin registered: call guest.Register from an init function")
	}
	if len(input) < int(size) || uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input)))) != ptr {
		return nil, errors.New("argument is not in the buffer alloc returned")
	}
	in := input[:size]
	if keep {
		in = append([]byte(nil), in...)
	}
	return in, nil
}

// respond stores the result and returns its address and length packed as
// address<<32 | length.
func respond(out []byte, err error) uint64 {
	tag := byte(tagOK)
	if err != nil {
		tag, out = tagError, []byte(err.Error())
	}
	output = append(append(output[:0], tag), out...)
	ptr := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(output))))
	return ptr<<32 | uint64(len(output))
}
