// Command noabi is a Wasm module that exports only some of the plugin ABI,
// for the host's missing-exports test.
package main

//go:wasmexport call
func call(ptr, size uint32) uint64 { return 0 }

//go:wasmexport initialize
func initialize(ptr uint32) uint32 { return 0 }

func main() {}
