//go:build unix

package history

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/cybercorp/hotreload"
)

// lockDir takes an exclusive, non-blocking flock on path, so that only one
// Store has a directory open; the kernel releases it when the process dies.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInternal, "history: opening lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, hotreload.Errorf(hotreload.CodeUnavailable, "history: %s is held by another process: %w", path, err)
		}
		return nil, hotreload.Errorf(hotreload.CodeInternal, "history: locking %s: %w", path, err)
	}
	return f, nil
}

// unlockDir releases the lock taken by lockDir.
func unlockDir(f *os.File) error {
	if err := f.Close(); err != nil {
		return fmt.Errorf("history: releasing lock: %w", err)
	}
	return nil
}
