// Package inputfile reads the files an operator points hotreload at without
// trusting them: only regular files are read (a named pipe or a device is
// refused without blocking), never more than a size limit, and a path whose
// symbolic links lead out of the directory it was named in is refused
// unless that is allowed. Its functions are safe for concurrent use.
package inputfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultMaxBytes is the size limit when none is given: 16 MiB, far beyond
// any real configuration.
const DefaultMaxBytes = 16 << 20

// Options bound a read.
type Options struct {
	// MaxBytes is the largest file read; DefaultMaxBytes when zero.
	MaxBytes int64
	// AllowOutsideLinks reads a path whose symbolic links resolve outside
	// the directory that holds it (by default refused: a link such as
	// config.yaml -> /etc/shadow would show lines of that file in errors).
	AllowOutsideLinks bool
	// Private refuses a file that others could change (see CheckPrivate),
	// checked on the file opened, so it cannot be swapped in between.
	Private bool
}

// Read returns the content of the regular file at path within the bounds
// of opts. Its errors say what the file is and what was expected.
func Read(path string, opts Options) ([]byte, error) {
	max := opts.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	if !opts.AllowOutsideLinks {
		if err := inside(path, ""); err != nil {
			return nil, err
		}
	}
	// O_NONBLOCK: opening a named pipe must not wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !opts.AllowOutsideLinks {
		// A link swapped between the check and the open: check what was
		// opened, as the kernel names it.
		if opened, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err == nil {
			if err := inside(path, opened); err != nil {
				return nil, err
			}
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", path, kind(fi.Mode()))
	}
	if opts.Private {
		if err := private(path, fi); err != nil {
			return nil, err
		}
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is %s, more than the limit of %s", path, size(fi.Size()), size(max))
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s grew past the limit of %s while it was read", path, size(max))
	}
	return b, nil
}

// inside refuses a path whose symbolic links resolve outside the directory
// it names. Links within it, such as Kubernetes' ..data, are fine. real is
// where path resolves, or empty to resolve it now.
func inside(path, real string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return nil // opening it says what is wrong
	}
	if real == "" {
		if real, err = filepath.EvalSymlinks(abs); err != nil {
			return nil
		}
	}
	if rel, err := filepath.Rel(dir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s is a symbolic link that leads out of its directory %s (to %s); allow it with --allow-outside-links", path, filepath.Dir(abs), real)
	}
	return nil
}

// kind names what a non-regular file is.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file (" + m.Type().String() + ")"
}

// size writes a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
