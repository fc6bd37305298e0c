// Package testwait is how tests wait on a busy machine: for a condition,
// never for a fixed time, with every deadline multiplied by one factor.
//
// The factor is HOTRELOAD_TEST_SCALE (a positive number); without it, 3 when
// CI=true and 1 otherwise. A test that asserts a bound on time (a timed
// guarantee, not a wait) scales it too, so a shared CI core cannot fail it.
// The functions are safe for concurrent use.
package testwait

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// ScaleEnv names the environment variable that scales every test deadline.
const ScaleEnv = "HOTRELOAD_TEST_SCALE"

// Scale returns the factor every test deadline is multiplied by.
func Scale() float64 {
	if f, err := strconv.ParseFloat(os.Getenv(ScaleEnv), 64); err == nil && f > 0 {
		return f
	}
	if os.Getenv("CI") == "true" {
		return 3
	}
	return 1
}

// D returns d scaled by Scale.
func D(d time.Duration) time.Duration {
	return time.Duration(float64(d) * Scale())
}

// For waits until cond returns true, polling every 10 ms, and fails tb when
// the scaled deadline d passes first, saying what it waited for.
func For(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	Until(tb, what, d, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

// Until waits until check returns nil, polling every 10 ms, and fails tb
// with check's last error when the scaled deadline d passes first.
func Until(tb testing.TB, what string, d time.Duration, check func() error) {
	tb.Helper()
	deadline := time.Now().Add(D(d))
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			if err == errNotYet {
				tb.Fatalf("waited %s for %s", D(d), what)
			} else {
				tb.Fatalf("waited %s for %s: %v", D(d), what, err)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type notYet struct{}

func (notYet) Error() string { return "not yet" }

var errNotYet error = notYet{}
