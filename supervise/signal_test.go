package supervise

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

func TestReloadOnSignal(t *testing.T) {
	// Keep the test binary from dying of a SIGUSR2 sent before
	// ReloadOnSignal's Notify is in place.
	guard := make(chan os.Signal, 10)
	signal.Notify(guard, syscall.SIGUSR2)
	defer signal.Stop(guard)
	ctx, cancel := context.WithCancel(context.Background())
	reloads := make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		ReloadOnSignal(ctx, syscall.SIGUSR2, func(context.Context) { reloads <- struct{}{} })
		close(done)
	}()
	// Notify is in place once a signal is seen; resend until then.
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR2); err != nil {
			t.Fatal(err)
		}
		select {
		case <-reloads:
			got = true
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("no reload after SIGUSR2")
		}
	}
	cancel()
	<-done
}
