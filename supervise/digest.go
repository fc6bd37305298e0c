package supervise

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"

	"github.com/cybercorp/hotreload"
)

// maxBinary bounds the size of a program binaryDigest reads.
const maxBinary = 1 << 30

// buildIDNotes are the ELF sections that carry a Go build ID, or a hash of
// it: they change with every edit of the source, a comment included, while
// the code does not.
var buildIDNotes = []string{".note.go.buildid", ".note.gnu.build-id"}

// binaryDigest returns the SHA-256 (hex) of the program at path with its
// build IDs zeroed: two builds of sources that differ only in what the
// compiler drops (a comment edited within its line) have the same digest,
// so the engine sees the candidate as unchanged and nothing restarts. A
// file that is not ELF is hashed whole.
func binaryDigest(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if info.Size() > maxBinary {
		return "", fmt.Errorf("%s: %d bytes, more than the %d a program may have", path, info.Size(), maxBinary)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if f, err := elf.NewFile(bytes.NewReader(data)); err == nil {
		for _, name := range buildIDNotes {
			s := f.Section(name)
			if s == nil || s.Type == elf.SHT_NOBITS || s.Offset+s.Size > uint64(len(data)) {
				continue
			}
			clear(data[s.Offset : s.Offset+s.Size])
		}
	}
	return hotreload.Digest(data), nil
}
