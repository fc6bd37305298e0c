// Command picky is a plugin for the fault tests that serves until it meets
// an input it cannot take: it answers every call with its input unchanged,
// and panics on every input that contains "boom". A module can so pass its
// load and its health window and fail later, when such input arrives.
package main

import (
	"bytes"

	"github.com/cybercorp/hotreload/plugin/guest"
)

type picky struct{}

func (picky) Call(input []byte) ([]byte, error) {
	if bytes.Contains(input, []byte("boom")) {
		panic("picky: cannot take " + string(input))
	}
	return input, nil
}

func init() { guest.Register(picky{}) }

func main() {}
