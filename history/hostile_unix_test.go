//go:build unix

package history

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cybercorp/hotreload"
)

// TestHostileRecordsFilesAreSkipped: a named pipe and a file beyond the
// size bound, named like segments, are reported without blocking Open or
// being read into memory, and Put goes on in a new segment.
func TestHostileRecordsFilesAreSkipped(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	mustCommit(t, s, 1)
	s.Close()
	records := filepath.Join(dir, "records")
	if err := syscall.Mkfifo(filepath.Join(records, segmentName(7)), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(records, segmentName(8))
	if err := os.WriteFile(huge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, maxRecordsFile+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{})
	problems := s.Problems()
	if len(problems) != 2 {
		t.Fatalf("Problems() = %v, want two", problems)
	}
	wantCode(t, problems[0], hotreload.CodeInternal, segmentName(7), "not a regular file")
	wantCode(t, problems[1], hotreload.CodeInternal, segmentName(8), "reading log segment, skipped")
	mustCommit(t, s, 2)
	if s.logName != segmentName(9) {
		t.Fatalf("Put appended to %s, want a new segment %s", s.logName, segmentName(9))
	}
	if list, _ := s.List(ctx); len(list) != 2 {
		t.Fatalf("List = %v, want versions 1 and 2", list)
	}
}

// TestHostileObjectFileIsRefused: a named pipe in place of an object file
// is refused at once by Snapshot, never waited on, and so is a file larger
// than maxObjectFile.
func TestHostileObjectFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	snaps := map[string][]byte{"app": largeContent(1)}
	mustPut(t, s, attempt(1, hotreload.Committed, snaps), snaps)
	obj := filepath.Join(dir, "objects", hotreload.Digest(largeContent(1)))
	if err := os.Remove(obj); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(obj, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := s.Snapshot(context.Background(), 1, "app")
	wantCode(t, err, hotreload.CodeInternal, obj, "not a regular file")

	// A file beyond the bound, sparse: refused before it is read.
	if err := os.Remove(obj); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(obj, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(obj, maxObjectFile+1); err != nil {
		t.Fatal(err)
	}
	_, err = s.Snapshot(context.Background(), 1, "app")
	wantCode(t, err, hotreload.CodeInternal, obj, "more than the limit")
}
