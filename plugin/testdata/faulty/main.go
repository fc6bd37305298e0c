// Command faulty is a plugin that misbehaves on request, for the host's
// fault tests. Its config picks the fault and the export it happens in:
//
//	{"fault": "panic|loop|grow|fail|degraded", "in": "initialize|update_config|call|cleanup"}
//
// Without a fault it echoes its input, prefixed with its config's "tag". It
// reads its config by hand to stay small (encoding/json doubles a module's
// size, and its compile time).
package main

import (
	"errors"
	"strings"

	"github.com/cybercorp/hotreload/plugin/guest"
)

type config struct {
	Fault string `json:"fault"`
	In    string `json:"in"`
	Tag   string `json:"tag"`
}

type faulty struct{ cfg config }

var sink [][]byte

func (f *faulty) misbehave(where string) error {
	if f.cfg.In != where {
		return nil
	}
	switch f.cfg.Fault {
	case "panic":
		panic("faulty: boom in " + where)
	case "loop":
		for {
		}
	case "grow":
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case "fail":
		return errors.New("faulty: refusing in " + where)
	}
	return nil
}

// parse reads the string fields of a flat JSON object without escapes.
func parse(raw []byte) config {
	field := func(key string) string {
		s := string(raw)
		i := strings.Index(s, `"`+key+`":"`)
		if i < 0 {
			return ""
		}
		s = s[i+len(key)+4:]
		return s[:strings.IndexByte(s, '"')]
	}
	return config{Fault: field("fault"), In: field("in"), Tag: field("tag")}
}

func (f *faulty) Initialize(raw []byte) error {
	f.cfg = parse(raw)
	return f.misbehave("initialize")
}

func (f *faulty) UpdateConfig(raw []byte) error {
	c := parse(raw)
	if c.In == "update_config" {
		f.cfg = c
		return f.misbehave("update_config")
	}
	f.cfg = c
	return nil
}

func (f *faulty) Call(input []byte) ([]byte, error) {
	if err := f.misbehave("call"); err != nil {
		return nil, err
	}
	return append([]byte(f.cfg.Tag), input...), nil
}

func (f *faulty) Status() guest.Status {
	if f.cfg.Fault == "degraded" {
		return guest.Status{State: guest.StateDegraded, Message: "faulty: degraded on request"}
	}
	return guest.Status{State: guest.StateOK}
}

func (f *faulty) Cleanup() error { return f.misbehave("cleanup") }

func init() { guest.Register(&faulty{}) }

func main() {}
