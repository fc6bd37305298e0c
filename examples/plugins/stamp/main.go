// Command stamp is an example plugin with state: it stamps each HTTP reply
// with a header carrying how many replies its instance has stamped. A
// config change (update_config) renames the header and keeps the count; a
// reload of the module starts counting again.
//
//	plugins:
//	  stamp:
//	    header: X-Stamp
//
// Build it with the Go toolchain alone:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o stamp.wasm .
package main

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/cybercorp/hotreload/plugin/guest"
)

type config struct {
	Header string `json:"header"`
}

type reply struct {
	Status int               `json:"status,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	Body   string            `json:"body"`
}

type stamp struct {
	cfg   config
	count int
}

func parse(raw []byte) (config, error) {
	c := config{Header: "X-Stamp"}
	if err := json.Unmarshal(raw, &c); err != nil {
		return config{}, err
	}
	if c.Header == "" {
		return config{}, errors.New("header must not be empty")
	}
	return c, nil
}

// Initialize starts counting from zero.
func (s *stamp) Initialize(raw []byte) error {
	c, err := parse(raw)
	if err != nil {
		return err
	}
	s.cfg, s.count = c, 0
	return nil
}

// UpdateConfig renames the header and keeps the count.
func (s *stamp) UpdateConfig(raw []byte) error {
	c, err := parse(raw)
	if err != nil {
		return err
	}
	s.cfg = c
	return nil
}

func (s *stamp) Call(input []byte) ([]byte, error) {
	var r reply
	if err := json.Unmarshal(input, &r); err != nil {
		return nil, err
	}
	s.count++
	if r.Header == nil {
		r.Header = map[string]string{}
	}
	r.Header[s.cfg.Header] = strconv.Itoa(s.count)
	return json.Marshal(r)
}

func (s *stamp) Status() guest.Status { return guest.Status{State: guest.StateOK} }

func init() { guest.Register(&stamp{}) }

func main() {}
