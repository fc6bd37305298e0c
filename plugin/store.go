package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/atomicfile"
)

// blobStore keeps every module the host loaded, by SHA-256, so a snapshot
// in history can restore a module after its file changed or went away. It
// writes to dir when set and keeps the bytes in memory otherwise. Safe for
// concurrent use.
type blobStore struct {
	dir string
	mu  sync.Mutex
	mem map[string][]byte
}

func (s *blobStore) path(sum string) string { return filepath.Join(s.dir, sum+".wasm") }

// put stores wasm under its digest sum.
func (s *blobStore) put(sum string, wasm []byte) error {
	if s.dir == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.mem == nil {
			s.mem = map[string][]byte{}
		}
		s.mem[sum] = wasm
		return nil
	}
	if _, err := os.Stat(s.path(sum)); err == nil {
		return nil
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("storing module %s: %w", sum, err)
	}
	if err := atomicfile.Write(s.path(sum), wasm, 0o644); err != nil {
		return fmt.Errorf("storing module %s: %w", sum, err)
	}
	return nil
}

// get returns the module stored under sum, checking its digest.
func (s *blobStore) get(sum string) ([]byte, error) {
	var wasm []byte
	if s.dir == "" {
		s.mu.Lock()
		wasm = s.mem[sum]
		s.mu.Unlock()
	} else {
		b, err := os.ReadFile(s.path(sum))
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("reading stored module %s: %w", sum, err)
		}
		wasm = b
	}
	if wasm == nil {
		return nil, hotreload.Errorf(hotreload.CodeNotFound, "module sha256 %s is not in the plugin store", sum)
	}
	if got := hotreload.Digest(wasm); got != sum {
		return nil, hotreload.Errorf(hotreload.CodeInternal, "stored module %s is corrupt: its sha256 is %s", sum, got)
	}
	return wasm, nil
}
