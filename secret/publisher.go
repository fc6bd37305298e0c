package secret

import "github.com/cybercorp/hotreload"

// Publisher returns a hotreload.Publisher that redacts the engine's events
// before next sees them: the changed paths of config and reload events
// lose their secret values, and reasons and error messages lose every
// decrypted plaintext. Give it to the engine in place of the bus so that
// no subscriber (event stream, UI, logs) ever gets a secret.
func (d *Decrypter) Publisher(next hotreload.Publisher) hotreload.Publisher {
	return publisher{d: d, next: next}
}

type publisher struct {
	d    *Decrypter
	next hotreload.Publisher
}

func (p publisher) Publish(event any) {
	switch e := event.(type) {
	case hotreload.ConfigReloadEvent:
		e.Changes = p.d.RedactChanges(e.Changes)
		e.Errors = p.d.scrubErrors(e.Errors)
		e.Reason = p.d.Scrub(e.Reason)
		event = e
	case hotreload.CodeReloadEvent:
		e.Reason = p.d.Scrub(e.Reason)
		event = e
	case hotreload.ReloadEvent:
		e.Outcome = p.d.RedactOutcome(e.Outcome)
		event = e
	}
	p.next.Publish(event)
}

// RedactOutcome returns o with secret values redacted from its changes,
// reason and errors.
func (d *Decrypter) RedactOutcome(o hotreload.Outcome) hotreload.Outcome {
	o.Reason = d.Scrub(o.Reason)
	o.Errors = d.scrubErrors(o.Errors)
	if len(o.Targets) > 0 {
		targets := make([]hotreload.TargetOutcome, len(o.Targets))
		for i, t := range o.Targets {
			t.Changes = d.RedactChanges(t.Changes)
			targets[i] = t
		}
		o.Targets = targets
	}
	return o
}

func (d *Decrypter) scrubErrors(errs []hotreload.FieldError) []hotreload.FieldError {
	if len(errs) == 0 {
		return errs
	}
	out := make([]hotreload.FieldError, len(errs))
	for i, e := range errs {
		e.Message = d.Scrub(e.Message)
		out[i] = e
	}
	return out
}
