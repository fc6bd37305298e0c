package plugin

import (
	"fmt"
	"time"
)

// health counts a plugin's consecutive failures (crashed or timed-out calls,
// failed loads). After threshold of them the plugin is quarantined for a
// backoff that doubles with every quarantine in a row, up to maxBackoff; a
// success clears it. While quarantined, calls fail at once and the directory
// sync does not retry the plugin; when the backoff ends, the next attempt is
// a probe: one more failure quarantines it again.
type health struct {
	failures int       // consecutive failures
	strikes  int       // quarantines in a row
	until    time.Time // end of the current quarantine
	lastErr  string
	lastAt   time.Time
	degraded bool // the last call failed
}

const maxBackoff = 5 * time.Minute

// fail records a failure at now; it returns true when it starts a
// quarantine.
func (h *health) fail(now time.Time, err error, threshold int, backoff time.Duration) bool {
	h.failures++
	h.lastErr, h.lastAt = err.Error(), now
	if h.failures < threshold {
		return false
	}
	h.strikes++
	d := backoff << (h.strikes - 1)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	h.until = now.Add(d)
	return true
}

// succeed clears failures and quarantine.
func (h *health) succeed() {
	h.failures, h.strikes, h.until, h.degraded = 0, 0, time.Time{}, false
}

func (h *health) quarantined(now time.Time) bool { return now.Before(h.until) }

// quarantineError is the error a call to a quarantined plugin gets.
func (h *health) quarantineError(name string) string {
	return fmt.Sprintf("plugin %q is quarantined until %s after %d consecutive failures; last: %s",
		name, h.until.UTC().Format(time.RFC3339), h.failures, h.lastErr)
}
