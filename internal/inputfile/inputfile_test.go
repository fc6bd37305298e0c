package inputfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "a: 1\n")
	if b, err := Read(good, Options{}); err != nil || string(b) != "a: 1\n" {
		t.Fatalf("Read = %q, %v", b, err)
	}

	// A Kubernetes ConfigMap mount: links that stay in the directory.
	data := filepath.Join(dir, "..2026_12_03")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	write("..2026_12_03/app.yaml", "b: 2\n")
	must(t, os.Symlink("..2026_12_03", filepath.Join(dir, "..data")))
	must(t, os.Symlink("..data/app.yaml", filepath.Join(dir, "app.yaml")))
	if b, err := Read(filepath.Join(dir, "app.yaml"), Options{}); err != nil || string(b) != "b: 2\n" {
		t.Fatalf("Read through ..data = %q, %v", b, err)
	}

	fifo := filepath.Join(dir, "fifo.yaml")
	must(t, syscall.Mkfifo(fifo, 0o644))
	outside := t.TempDir()
	secret := filepath.Join(outside, "shadow")
	must(t, os.WriteFile(secret, []byte("root:x:0:0\n"), 0o600))
	must(t, os.Symlink(secret, filepath.Join(dir, "out.yaml")))
	must(t, os.Symlink("/dev/zero", filepath.Join(dir, "zero.yaml")))
	big := write("big.yaml", strings.Repeat("x", 2048))

	for _, tc := range []struct {
		path string
		opts Options
		want string
	}{
		{fifo, Options{}, "is a named pipe (FIFO), not a regular file"},
		{filepath.Join(dir, "zero.yaml"), Options{AllowOutsideLinks: true}, "is a character device, not a regular file"},
		{filepath.Join(dir, "zero.yaml"), Options{}, "leads out of its directory"},
		{filepath.Join(dir, "out.yaml"), Options{}, "allow it with --allow-outside-links"},
		{dir, Options{AllowOutsideLinks: true}, "is a directory"},
		{big, Options{MaxBytes: 1024}, "is 2.0 KiB, more than the limit of 1.0 KiB"},
		{filepath.Join(dir, "missing.yaml"), Options{}, "no such file"},
	} {
		start := time.Now()
		b, err := Read(tc.path, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Read(%s) = %d bytes, %v; want an error containing %q", tc.path, len(b), err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "root:x") {
			t.Errorf("error quotes the file: %v", err)
		}
		var copied bytes.Buffer
		if err := Copy(&copied, tc.path, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) || copied.Len() > 0 {
			t.Errorf("Copy(%s) = %d bytes, %v; want nothing and an error containing %q", tc.path, copied.Len(), err, tc.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Read and Copy of %s took %s", tc.path, d)
		}
	}
	var copied bytes.Buffer
	if err := Copy(&copied, good, Options{}); err != nil || copied.String() != "a: 1\n" {
		t.Fatalf("Copy = %q, %v", copied.String(), err)
	}
	if b, err := Read(filepath.Join(dir, "out.yaml"), Options{AllowOutsideLinks: true}); err != nil || string(b) != "root:x:0:0\n" {
		t.Fatalf("allowed outside link: %q, %v", b, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckPrivate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens.json")
	must(t, os.WriteFile(file, []byte("{}"), 0o600))
	if err := CheckPrivate(file); err != nil {
		t.Fatal(err)
	}
	must(t, os.Chmod(file, 0o666))
	if err := CheckPrivate(file); err == nil || !strings.Contains(err.Error(), "(mode 0666): run chmod go-w "+file) {
		t.Fatalf("world-writable: %v", err)
	}
	must(t, os.Chmod(file, 0o620))
	if err := CheckPrivate(file); err == nil || !strings.Contains(err.Error(), "group") {
		t.Fatalf("group-writable: %v", err)
	}
	// Read checks the file it opened.
	var np *NotPrivateError
	if _, err := Read(file, Options{Private: true}); !errors.As(err, &np) {
		t.Fatalf("Read of a group-writable file with Private: %v", err)
	}
	must(t, os.Chmod(file, 0o600))
	if b, err := Read(file, Options{Private: true}); err != nil || string(b) != "{}" {
		t.Fatalf("Read of a private file = %q, %v", b, err)
	}
	if os.Geteuid() == 0 {
		must(t, os.Chown(file, 12345, 0))
		if err := CheckPrivate(file); err == nil || !strings.Contains(err.Error(), "owned by uid 12345") {
			t.Fatalf("owned by another user: %v", err)
		}
	}
}

// A file swapped for a link out of its directory between the check of
// its path and the open is refused by the check of what was opened.
func TestInsideChecksWhatWasOpened(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.yaml")
	must(t, os.WriteFile(path, []byte("a: 1\n"), 0o644))
	if err := inside(path, ""); err != nil {
		t.Fatal(err)
	}
	if err := inside(path, filepath.Join(t.TempDir(), "shadow")); err == nil || !strings.Contains(err.Error(), "leads out of its directory") {
		t.Fatalf("opened outside: %v", err)
	}
}
