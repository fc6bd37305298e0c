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
	f, limit, err := open(path, opts)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, grew(path, limit)
	}
	return b, nil
}

// Copy writes the content of the regular file at path to w, within the
// bounds of opts, without holding it in memory: for programs, which may be
// far larger than a config. Its errors are Read's; w may have received
// part of the file when it fails.
func Copy(w io.Writer, path string, opts Options) error {
	f, limit, err := open(path, opts)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, limit+1))
	if err != nil {
		return err
	}
	if n > limit {
		return grew(path, limit)
	}
	return nil
}

func grew(path string, limit int64) error {
	return fmt.Errorf("%s grew past the limit of %s while it was read", path, size(limit))
}

// open opens the regular file at path for reading after the checks of
// opts, without blocking on a named pipe, and returns it with the size
// limit in force: the reader stops after limit+1 bytes and refuses the
// file if it got them (the file may grow after the check).
func open(path string, opts Options) (f *os.File, limit int64, err error) {
	limit = opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if !opts.AllowOutsideLinks {
		if err := inside(path, ""); err != nil {
			return nil, 0, err
		}
	}
	// O_NONBLOCK: opening a named pipe must not wait for a writer.
	f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	if err := check(f, path, limit, opts); err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, limit, nil
}

// check refuses the opened file f unless it is a regular file within the
// bounds of opts.
func check(f *os.File, path string, limit int64, opts Options) error {
	if !opts.AllowOutsideLinks {
		// A link swapped between the check and the open: check what was
		// opened, as the kernel names it.
		if opened, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err == nil {
			if err := inside(path, opened); err != nil {
				return err
			}
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, not a regular file", path, kind(fi.Mode()))
	}
	if opts.Private {
		if err := private(path, fi); err != nil {
			return err
		}
	}
	if fi.Size() > limit {
		return fmt.Errorf("%s is %s, more than the limit of %s", path, size(fi.Size()), size(limit))
	}
	return nil
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
