package admin

import (
	"io"
	"log/slog"

	"github.com/cybercorp/hotreload"
)

// Mode is how the daemon runs: dev or prod.
type Mode string

// The two modes.
const (
	// Dev watches everything, logs verbose text, serves the debug
	// endpoints and may run the admin API open on loopback.
	Dev Mode = "dev"
	// Prod reloads only on request, logs JSON, and needs a token for
	// every endpoint but /healthz and /readyz.
	Prod Mode = "prod"
)

// ParseMode parses "dev" or "prod".
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Dev, Prod:
		return Mode(s), nil
	}
	return "", hotreload.Errorf(hotreload.CodeInvalid, "unknown mode %q (want dev or prod)", s)
}

// LogHandler returns the mode's log handler writing to w: text at debug
// level in dev, JSON at info level in prod. Wrap it with
// secret.Decrypter.LogHandler so that no decrypted value is ever logged.
func LogHandler(w io.Writer, mode Mode) slog.Handler {
	if mode == Prod {
		return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	}
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
}
