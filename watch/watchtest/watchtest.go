// Package watchtest holds the ways programs save a file, for tests and
// benchmarks of anything that watches files: the watcher itself, a config
// target reloaded by it, and peers compared with it.
//
// Its functions are meant for one goroutine per watched file; they fail the
// test through tb on any error.
package watchtest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Pattern is one way of saving a file.
type Pattern struct {
	// Name names the pattern in subtest names.
	Name string
	// Setup creates the file in dir with data, as a program using this
	// pattern would find it, and returns the path to watch.
	Setup func(tb testing.TB, dir string, data []byte) string
	// Save replaces the content of the file at path with data.
	Save func(tb testing.TB, path string, data []byte)
	// Atomic reports that a reader of path never sees a partial or empty
	// content during Save (it may see the file missing).
	Atomic bool
}

// Patterns are the save patterns every file watcher must handle.
var Patterns = []Pattern{
	InPlace, WriteFile, TruncateThenWrite, RenameOver, EditorRenamesAway,
	DeleteRecreate, ConfigMapSwap, DirectoryRecreate,
}

// seq numbers temporary names.
var seq atomic.Uint64

// MustWrite writes data to path, creating its directory.
func MustWrite(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func plainFile(tb testing.TB, dir string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, "config.yaml")
	MustWrite(tb, p, data)
	return p
}

// InPlace overwrites the bytes of the open file and trims it to length,
// never leaving it empty; with contents of one length, a reader sees the old
// or the new content only.
var InPlace = Pattern{
	Name:  "InPlaceWrite",
	Setup: plainFile,
	Save: func(tb testing.TB, path string, data []byte) {
		tb.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(data, 0); err != nil {
			tb.Fatal(err)
		}
		if err := f.Truncate(int64(len(data))); err != nil {
			tb.Fatal(err)
		}
	},
	Atomic: true,
}

// TruncateThenWrite opens the file with O_TRUNC and writes it in two
// halves with pauses, so a reader may see it empty and half written.
var TruncateThenWrite = Pattern{
	Name:  "TruncateThenWrite",
	Setup: plainFile,
	Save: func(tb testing.TB, path string, data []byte) {
		tb.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		pause()
		half := len(data) / 2
		if _, err := f.Write(data[:half]); err != nil {
			tb.Fatal(err)
		}
		pause()
		if _, err := f.Write(data[half:]); err != nil {
			tb.Fatal(err)
		}
	},
}

// WriteFile is os.WriteFile: truncate, then write at once, as most
// programs and scripts do.
var WriteFile = Pattern{
	Name:  "WriteFile",
	Setup: plainFile,
	Save: func(tb testing.TB, path string, data []byte) {
		tb.Helper()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	},
}

// RenameOver writes a temporary file beside the target and renames it
// over the target.
var RenameOver = Pattern{
	Name:  "TempFileRenamedOver",
	Setup: plainFile,
	Save: func(tb testing.TB, path string, data []byte) {
		tb.Helper()
		tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.tmp%d", filepath.Base(path), seq.Add(1)))
		MustWrite(tb, tmp, data)
		if err := os.Rename(tmp, path); err != nil {
			tb.Fatal(err)
		}
	},
	Atomic: true,
}

// EditorRenamesAway saves as vim does with backupcopy=no: probe the
// directory with a file named 4913, move the original to a backup, write a
// new file, remove the backup.
var EditorRenamesAway = Pattern{
	Name:  "EditorRenamesOriginalAway",
	Setup: plainFile,
	Save: func(tb testing.TB, path string, data []byte) {
		tb.Helper()
		probe := filepath.Join(filepath.Dir(path), "4913")
		MustWrite(tb, probe, nil)
		if err := os.Remove(probe); err != nil {
			tb.Fatal(err)
		}
		if err := os.Rename(path, path+"~"); err != nil {
			tb.Fatal(err)
		}
		MustWrite(tb, path, data)
		if err := os.Remove(path + "~"); err != nil {
			tb.Fatal(err)
		}
	},
	Atomic: true,
}

// DeleteRecreate removes the file and writes it again.
var DeleteRecreate = Pattern{
	Name:  "DeleteThenRecreate",
	Setup: plainFile,
	Save: func(tb testing.TB, path string, data []byte) {
		tb.Helper()
		if err := os.Remove(path); err != nil {
			tb.Fatal(err)
		}
		MustWrite(tb, path, data)
	},
	Atomic: true,
}

// ConfigMapSwap is the Kubernetes ConfigMap volume: the watched file is a
// symlink to "..data/config.yaml", "..data" a symlink to a timestamped
// directory; a save writes a new directory, points "..data_tmp" at it,
// renames that over "..data" and removes the old directory, as the
// kubelet's atomic writer does.
var ConfigMapSwap = Pattern{
	Name: "KubernetesConfigMap",
	Setup: func(tb testing.TB, dir string, data []byte) string {
		tb.Helper()
		swapData(tb, dir, data)
		p := filepath.Join(dir, "config.yaml")
		if err := os.Symlink("..data/config.yaml", p); err != nil {
			tb.Fatal(err)
		}
		return p
	},
	Save: func(tb testing.TB, path string, data []byte) {
		tb.Helper()
		swapData(tb, filepath.Dir(path), data)
	},
	Atomic: true,
}

func swapData(tb testing.TB, dir string, data []byte) {
	tb.Helper()
	ts := fmt.Sprintf("..2026_11_26_%06d", seq.Add(1))
	MustWrite(tb, filepath.Join(dir, ts, "config.yaml"), data)
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		tb.Fatal(err)
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			tb.Fatal(err)
		}
	}
}

// DirectoryRecreate removes the file's whole directory and creates it
// again with the new file.
var DirectoryRecreate = Pattern{
	Name: "DirectoryDeletedAndRecreated",
	Setup: func(tb testing.TB, dir string, data []byte) string {
		tb.Helper()
		return plainFile(tb, filepath.Join(dir, "conf"), data)
	},
	Save: func(tb testing.TB, path string, data []byte) {
		tb.Helper()
		if err := os.RemoveAll(filepath.Dir(path)); err != nil {
			tb.Fatal(err)
		}
		MustWrite(tb, path, data)
	},
	Atomic: true,
}

// pause gives a watcher time to see an intermediate state.
func pause() { time.Sleep(time.Millisecond) }
