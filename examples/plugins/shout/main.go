// Command shout is the demo's plugin: it decorates the demo app's HTTP
// replies. It upper-cases the body of text replies and adds a suffix, both
// set in its configuration:
//
//	plugins:
//	  shout:
//	    upper: true
//	    suffix: " !!!"
//
// Build it with the Go toolchain alone:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o shout.wasm .
package main

import (
	"encoding/json"
	"strings"

	"github.com/cybercorp/hotreload/plugin/guest"
)

// config is the plugin's section of the host's configuration.
type config struct {
	Upper  bool   `json:"upper"`
	Suffix string `json:"suffix"`
}

// reply is the hook's input and output: an HTTP reply.
type reply struct {
	Status int               `json:"status,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	Body   string            `json:"body"`
}

type shout struct{ cfg config }

func (s *shout) Initialize(raw []byte) error {
	c := config{Upper: true}
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	s.cfg = c
	return nil
}

func (s *shout) Call(input []byte) ([]byte, error) {
	var r reply
	if err := json.Unmarshal(input, &r); err != nil {
		return nil, err
	}
	if s.cfg.Upper {
		r.Body = strings.ToUpper(r.Body)
	}
	r.Body += s.cfg.Suffix
	return json.Marshal(r)
}

func init() { guest.Register(&shout{}) }

func main() {}
