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

func (h scrubbedHistory) Put(ctx context.Context, rec hotreload.Record, snapshots map[string][]byte) error {
	rec.Reason = h.d.Scrub(rec.Reason)
	rec.Errors = h.d.scrubErrors(rec.Errors)
	return h.History.Put(ctx, rec, snapshots)
}
