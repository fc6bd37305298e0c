package plugin

import (
	"fmt"
	"time"
)

// breaker counts a plugin's consecutive failures of one kind. After
// threshold of them it opens (the plugin is quarantined) for a backoff that
// doubles with every opening in a row, up to maxBackoff; a success resets
// it. When the backoff ends the next attempt is a probe: one more failure
// opens it again, for twice as long.
//
// A slot has two: calls (crashed or timed-out calls; while open, calls fail
// at once) and loads (failed loads and reconfigurations; while open, the
// directory sync does not retry the plugin, and its live version, if any,
// keeps serving).
type breaker struct {
	failures int       // consecutive failures
	strikes  int       // openings in a row
	until    time.Time // end of the current quarantine
}

const maxBackoff = 5 * time.Minute

// fail records a failure at now; it returns true when it opens the breaker.
func (b *breaker) fail(now time.Time, threshold int, backoff time.Duration) bool {
	b.failures++
	if b.failures < threshold {
		return false
	}
	b.strikes++
	d := backoff << (b.strikes - 1)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	b.until = now.Add(d)
	return true
}

func (b *breaker) reset() { *b = breaker{} }

func (b *breaker) open(now time.Time) bool { return now.Before(b.until) }

// quarantineError is the message a call to a plugin in call quarantine
// gets.
func quarantineError(name string, b breaker, lastErr string) string {
	return fmt.Sprintf("plugin %q is quarantined until %s after %d consecutive failures; last: %s",
		name, b.until.UTC().Format(time.RFC3339), b.failures, lastErr)
}
