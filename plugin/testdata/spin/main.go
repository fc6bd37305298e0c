// Command spin is a plugin that starts like any other and loops forever in
// every call, for the fault tests: its calls end at call_timeout.
package main

import "github.com/cybercorp/hotreload/plugin/guest"

type spin struct{}

var n int

func (spin) Call([]byte) ([]byte, error) {
	for {
		n++
	}
}

func init() { guest.Register(spin{}) }

func main() {}
