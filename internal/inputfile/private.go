package inputfile

import (
	"fmt"
	"os"
	"syscall"
)

// CheckPrivate refuses, as sshd's StrictModes does, a file or directory
// that others could change: one writable by its group or by everyone, or
// owned by a user other than this process's or root. Whoever can write the
// auth file, the age identity or the data dir controls the service. The
// error says the command that fixes it.
func CheckPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%s is writable by its group or by everyone (mode %04o): run chmod go-w %s, or start with --insecure-permissions", path, perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid := os.Geteuid(); int(st.Uid) != uid && st.Uid != 0 {
			return fmt.Errorf("%s is owned by uid %d, not by this user (uid %d) or root: run chown %d %s, or start with --insecure-permissions", path, st.Uid, uid, uid, path)
		}
	}
	return nil
}
