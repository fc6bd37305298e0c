// Command greet is the sample Wasm plugin the dev loop tests edit: Call
// answers with the greeting in greeting.go.
package main

import "github.com/cybercorp/hotreload/plugin/guest"

type greet struct{}

func (greet) Call(input []byte) ([]byte, error) {
	return []byte(`"` + greeting + `"`), nil
}

func init() { guest.Register(greet{}) }

func main() {}
