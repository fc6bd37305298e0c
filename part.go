package hotreload

import (
	"context"
	"fmt"
	"net/http"
	"slices"
)

// A part is a Target that may also implement the small optional interfaces
// below; whoever hosts it (the daemon, a library user's main) finds them by
// type assertion, as Caddy finds a module's Provisioner or Validator:
//
//	engine.Add(t)                  every Target
//	t.(Trigger).Watch(ctx, submit) runs until ctx ends
//	t.(Router).Routes()            mounted behind the admin API's checks
//	t.(Ungated).Ungated()          read by the engine itself
//
// A Trigger need not be a Target: an etcd source or a file watcher proposes
// changes for a target that is added on its own.

// SubmitFunc sends a request to the engine and waits until its candidate is
// live or the request ended: Engine.Submit.
type SubmitFunc func(ctx context.Context, r Request) (Outcome, error)

// A Trigger proposes changes on its own: a file watcher, the plugin
// directory, the UI folder, the dev loop's builder, an etcd key. Watch
// submits requests until ctx ends and then returns; it returns earlier only
// when it cannot go on, with an error that says why. Whatever it started
// has stopped when it returns.
type Trigger interface {
	Watch(ctx context.Context, submit SubmitFunc) error
}

// TriggerFunc is a function used as a Trigger.
type TriggerFunc func(ctx context.Context, submit SubmitFunc) error

// Watch calls f.
func (f TriggerFunc) Watch(ctx context.Context, submit SubmitFunc) error { return f(ctx, submit) }

// A Router owns admin endpoints. The host mounts each Route behind its one
// authorisation check.
type Router interface {
	Routes() []Route
}

// Route is one admin endpoint.
type Route struct {
	// Pattern is an http.ServeMux pattern with its method:
	// "GET /api/v1/plugins/{name}".
	Pattern string
	// Role is the weakest role allowed to call it.
	Role    Role
	Handler http.Handler
}

// An Ungated target's changes need no health window (a stylesheet, the dev
// loop's program, whose crash restarts it): a transaction whose every
// target is ungated commits as soon as it is applied.
type Ungated interface {
	Ungated() bool
}

// ungated reports whether t says its changes skip the health gate.
func ungated(t Target) bool {
	u, ok := t.(Ungated)
	return ok && u.Ungated()
}

// Role is what a caller of the admin API may do. Each role includes the ones
// below it.
type Role int

// The roles, weakest first. Public is not a token role: it marks endpoints
// that need no token at all.
const (
	Public   Role = iota // no token needed (/healthz, /readyz)
	Viewer               // read status, config, history, health, events, metrics
	Operator             // also reload, patch, rollback, plugin control
	Admin                // also the audit log and key management
)

var roleNames = []string{"public", "viewer", "operator", "admin"}

// String returns the role's name.
func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// ParseRole parses a token role: viewer, operator or admin.
func ParseRole(s string) (Role, error) {
	i := slices.Index(roleNames, s)
	if i <= int(Public) {
		return 0, Errorf(CodeInvalid, "unknown role %q (want viewer, operator or admin)", s)
	}
	return Role(i), nil
}

// MarshalText encodes the role by name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText decodes a role name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	*r = v
	return err
}
