package testwait

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestScale(t *testing.T) {
	t.Run("Env", func(t *testing.T) {
		t.Setenv(ScaleEnv, "2.5")
		if got := D(time.Second); got != 2500*time.Millisecond {
			t.Fatalf("D(1s) = %s with %s=2.5, want 2.5s", got, ScaleEnv)
		}
	})
	t.Run("CI", func(t *testing.T) {
		t.Setenv(ScaleEnv, "")
		t.Setenv("CI", "true")
		if got := Scale(); got != 3 {
			t.Fatalf("Scale() = %v with CI=true, want 3", got)
		}
	})
	t.Run("Default", func(t *testing.T) {
		t.Setenv(ScaleEnv, "bogus")
		t.Setenv("CI", "")
		if got := Scale(); got != 1 {
			t.Fatalf("Scale() = %v, want 1", got)
		}
	})
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	Until(t, "three polls", time.Second, func() error {
		if n++; n < 3 {
			return errors.New("too early")
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("polled %d times, want 3", n)
	}
}

func TestForFailsAtTheDeadline(t *testing.T) {
	ft := &fakeTB{TB: t}
	For(ft, "never", 30*time.Millisecond, func() bool { return false })
	if !ft.failed {
		t.Fatal("For did not fail when the condition never held")
	}
}

// fakeTB records Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }

func TestOutputIsSafeForConcurrentUse(t *testing.T) {
	var o Output
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				o.Write([]byte("ab"))
				_ = o.Tail(3)
			}
		}()
	}
	wg.Wait()
	if got := len(o.String()); got != 800 {
		t.Errorf("wrote 800 bytes, read %d", got)
	}
	if got := o.Tail(3); got != "bab" {
		t.Errorf("Tail(3) = %q, want %q", got, "bab")
	}
	if got := o.Tail(1000); got != o.String() {
		t.Errorf("Tail beyond the length is not everything")
	}
}
