package hotreload

import (
	"testing"
	"time"
)

// MaxRecordings and MaxRecordingBytes are maxRecordings and
// maxRecordingBytes for the tests of package hotreload_test.
const (
	MaxRecordings     = maxRecordings
	MaxRecordingBytes = maxRecordingBytes
)

// SetGroupDelay sets groupDelay until the end of t.
func SetGroupDelay(t testing.TB, d time.Duration) {
	old := groupDelay
	groupDelay = d
	t.Cleanup(func() { groupDelay = old })
}
