//go:build linux

package supervise

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBinaryDigest builds a program three times with go build: a comment
// edited within its line gives a binary that differs only in its build ID,
// which the digest ignores; a changed string gives another digest.
func TestBinaryDigest(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/digest\n\ngo 1.26\n")
	src := filepath.Join(dir, "main.go")
	build := func(body string) (string, []byte) {
		t.Helper()
		writeFile(t, src, "package main\n\nimport \"fmt\"\n\n"+body+"\nfunc main() { fmt.Println(greeting) }\n")
		out := filepath.Join(t.TempDir(), "prog")
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		id, err := binaryDigest(out)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return id, data
	}
	a, binA := build("// greeting is said.\nconst greeting = \"hi\"\n")
	b, binB := build("// greeting is spoken.\nconst greeting = \"hi\"\n")
	c, _ := build("// greeting is spoken.\nconst greeting = \"hello\"\n")
	if string(binA) == string(binB) {
		t.Fatal("the comment edit gave the same bytes: the test no longer covers build IDs")
	}
	if a != b {
		t.Errorf("a comment edit changed the digest: %s, then %s", a, b)
	}
	if b == c {
		t.Errorf("a changed constant kept the digest %s", b)
	}
	notELF := filepath.Join(t.TempDir(), "script")
	writeFile(t, notELF, "#!/bin/sh\nexec true\n")
	if _, err := binaryDigest(notELF); err != nil {
		t.Errorf("a script: %v", err)
	}
}
