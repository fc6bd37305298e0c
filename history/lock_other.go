//go:build !unix

package history

import (
	"fmt"
	"os"

	"github.com/cybercorp/hotreload"
)

// lockDir opens the lock file. Without flock there is no exclusion between
// processes on this platform: run one Store per directory.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInternal, "history: opening lock file %s: %w", path, err)
	}
	return f, nil
}

// unlockDir closes the lock file.
func unlockDir(f *os.File) error {
	if err := f.Close(); err != nil {
		return fmt.Errorf("history: releasing lock: %w", err)
	}
	return nil
}
