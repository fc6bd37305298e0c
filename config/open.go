package config

import (
	"context"

	"github.com/cybercorp/hotreload"
)

// Config is a configuration registered with an engine: its Store for
// reading, and the operations that change it, each run as one transaction
// of the engine (validate, back up, apply, notify, health gate, commit or
// roll back).
type Config[T any] struct {
	*Store[T]
	target *Target[T]
	engine *hotreload.Engine
	stop   func() // Watch's: stops the watch and the engine it owns
}

// Open creates a Target from opts and adds it to the engine, which must be
// running (see hotreload.Engine.Run). The engine restores the last known
// good state from its history, then loads the files; if they are invalid
// while a last known good state exists, Open succeeds and serves that state
// (the returned outcome is rejected). With nothing to serve, Open fails.
func Open[T any](ctx context.Context, e *hotreload.Engine, opts Options[T]) (*Config[T], hotreload.Outcome, error) {
	t, err := NewTarget(opts)
	if err != nil {
		return nil, hotreload.Outcome{}, err
	}
	o, err := e.Add(ctx, t)
	if err != nil {
		t.Close()
		return nil, o, err
	}
	return &Config[T]{Store: t.Store(), target: t, engine: e}, o, nil
}

// Target returns the underlying target.
func (c *Config[T]) Target() *Target[T] { return c.target }

// Reload reads the files again and applies them if they are valid. The
// outcome says what happened; the error is non-nil when the reload did not
// commit (it carries the precise problems of a rejected candidate).
func (c *Config[T]) Reload(ctx context.Context, author string) (hotreload.Outcome, error) {
	return outcomeError(c.engine.Reload(ctx, hotreload.Request{Source: hotreload.SourceAPI, Author: author, Targets: []string{c.target.Name()}}))
}

// Update applies a JSON merge patch (RFC 7396) to the live configuration
// through the same pipeline; with a single file, the file is rewritten on
// commit (see Options.ReadOnlyFiles).
func (c *Config[T]) Update(ctx context.Context, patch []byte, author string) (hotreload.Outcome, error) {
	return outcomeError(c.engine.Reload(ctx, hotreload.Request{Source: hotreload.SourceAPI, Author: author,
		Candidates: []hotreload.Candidate{{Target: c.target.Name(), Patch: patch}}}))
}

// Rollback restores the committed version given (0 for the one before the
// active one), as a new transaction.
func (c *Config[T]) Rollback(ctx context.Context, version uint64, author string) (hotreload.Outcome, error) {
	return outcomeError(c.engine.Rollback(ctx, version, hotreload.Actor{Source: hotreload.SourceRollback, Author: author}))
}

// Close removes the target from the engine and ends its subscriptions; the
// last value stays readable. A Config from Watch also stops its watch and
// engine and releases its history.
func (c *Config[T]) Close(ctx context.Context) error {
	c.target.Close()
	err := c.engine.Remove(ctx, c.target.Name())
	if c.stop != nil {
		c.stop()
	}
	return err
}

// outcomeError turns a rejected or rolled-back outcome into an error too.
func outcomeError(o hotreload.Outcome, err error) (hotreload.Outcome, error) {
	if err != nil {
		return o, err
	}
	switch o.Result {
	case hotreload.Rejected:
		return o, &hotreload.Error{Code: hotreload.CodeInvalid, Message: o.Reason, Details: o.Errors}
	case hotreload.RolledBack:
		return o, hotreload.Errorf(hotreload.CodeConflict, "rolled back: %s", o.Reason)
	}
	return o, nil
}
