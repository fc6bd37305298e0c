package auth

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cybercorp/hotreload/internal/testwait"
)

// An auth file that is a named pipe is refused at once, never waited on.
func TestReadFileRefusesAPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(path); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is a named pipe (FIFO), not a regular file") {
			t.Fatalf("ReadFile = %v", err)
		}
	case <-time.After(testwait.D(10 * time.Second)):
		t.Fatal("ReadFile waits on a named pipe")
	}
}
