package secret

import (
	"context"

	"github.com/cybercorp/hotreload"
)

// History returns a hotreload.History that scrubs every decrypted plaintext
// from the reason and error messages of each record before next stores it
// (a plugin's or a validator's message may quote a value). Snapshots are
// stored as given: the engine's are taken before decryption. Give it to the
// engine in place of the store.
func (d *Decrypter) History(next hotreload.History) hotreload.History {
	return scrubbedHistory{History: next, d: d}
}

type scrubbedHistory struct {
	hotreload.History
	d *Decrypter
}

func (h scrubbedHistory) Put(ctx context.Context, entries ...hotreload.Entry) error {
	scrubbed := make([]hotreload.Entry, len(entries))
	for i, en := range entries {
		en.Record.Reason = h.d.Scrub(en.Record.Reason)
		en.Record.Errors = h.d.scrubErrors(en.Record.Errors)
		scrubbed[i] = en
	}
	return h.History.Put(ctx, scrubbed...)
}
