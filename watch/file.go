package watch

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// content is what the watcher knows of a file: whether it exists and the
// hash of its bytes.
type content struct {
	exists bool
	sum    [sha256.Size]byte
}

var emptySum = sha256.Sum256(nil)

// empty reports an existing file with no bytes.
func (c content) empty() bool { return c.exists && c.sum == emptySum }

// file is one watched file.
type file struct {
	path     string
	explicit bool // named in Options.Files; never forgotten

	seen content // latest settled observation
	told content // last delivered to the consumer, or the baseline
	data []byte  // the bytes of seen, kept with Options.Contents until delivered

	// heldSince is set while the file is observed missing or emptied and
	// that state waits for the grace period before it counts.
	heldSince time.Time

	// targetDir is the directory of the symlink's final target when the
	// path is a symlink ("" otherwise); link reports a symlink.
	link      bool
	targetDir string
}

// observation is one look at a file.
type observation struct {
	content
	data      []byte // the bytes hashed, when asked for
	link      bool
	targetDir string
	// unstable reports that the file changed size or time while it was
	// read: a write was under way, and its event is still to come.
	unstable bool
}

// maxHashed is the largest file whose content is hashed: far beyond any
// config (hotreload refuses configs over 16 MiB by default).
const maxHashed = 64 << 20

// observe hashes the file at path, following symlinks, and keeps its bytes
// when keep is set. A missing file, or a dangling symlink, is reported as not
// existing, without error.
func observe(path string, keep bool) (observation, error) {
	var o observation
	li, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return o, err
	}
	if li.Mode()&fs.ModeSymlink != 0 {
		o.link = true
		o.targetDir = linkTargetDir(path)
	}
	// O_NONBLOCK: a named pipe put in the file's place must not block.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return o, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return o, err
	}
	if fi.IsDir() {
		return o, errors.New("is a directory, not a file")
	}
	o.exists = true
	if !fi.Mode().IsRegular() || fi.Size() > maxHashed {
		// A pipe, a device or a huge file is not read: its change is
		// seen from its metadata, and whoever reads it says what is wrong.
		o.sum = sha256.Sum256(fmt.Appendf(nil, "%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano()))
		return o, nil
	}
	var n int64
	if keep {
		buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
		if n, err = buf.ReadFrom(f); err != nil {
			return o, err
		}
		o.data = buf.Bytes()
		o.sum = sha256.Sum256(o.data)
	} else {
		h := sha256.New()
		if n, err = io.Copy(h, f); err != nil {
			return o, err
		}
		h.Sum(o.sum[:0])
	}
	after, err := f.Stat()
	if err != nil {
		return o, err
	}
	o.unstable = n != fi.Size() || after.Size() != fi.Size() || !after.ModTime().Equal(fi.ModTime())
	return o, nil
}

// linkTargetDir returns the directory holding the final target of the
// symlink at path, or "" when that is the symlink's own directory or cannot
// be resolved.
func linkTargetDir(path string) string {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	dir := filepath.Dir(real)
	a, errA := os.Stat(dir)
	b, errB := os.Stat(filepath.Dir(path))
	if errA != nil || errB != nil || os.SameFile(a, b) {
		return ""
	}
	return dir
}
