package dev

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/cybercorp/hotreload"
)

// GoBuild returns a Build function that runs `go build -o OUT PKG` in dir
// with the extra environment env (GOOS=..., CGO_ENABLED=...) and flags.
func GoBuild(dir, pkg string, env []string, flags ...string) func(ctx context.Context, out string) error {
	return func(ctx context.Context, out string) error {
		args := append([]string{"build", "-o", out}, flags...)
		args = append(args, pkg)
		return run(ctx, dir, env, "go", args...)
	}
}

// ShellBuild returns a Build function that runs command with sh -c in dir;
// the command finds the path to write the program to in $OUT.
func ShellBuild(dir, command string) func(ctx context.Context, out string) error {
	return func(ctx context.Context, out string) error {
		return run(ctx, dir, []string{"OUT=" + out}, "/bin/sh", "-c", command)
	}
}

// run runs a build command and turns a failure into a BuildError.
func run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	stopGroup(cmd) // a build cut short leaves no compiler or linker running
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return BuildError(dir, strings.Join(append([]string{name}, args...), " "), out.Bytes(), err)
	}
	return nil
}

// compilerLine matches the compiler's FILE:LINE[:COL]: MESSAGE lines.
var compilerLine = regexp.MustCompile(`^(\S+?\.go):(\d+)(?::(\d+))?: (.+)$`)

// BuildError turns a failed build's output into a *hotreload.Error of code
// invalid whose Details hold one FieldError per compiler message, with the
// file relative to dir as the compiler printed it made absolute. Output
// with no compiler message gives one detail per non-empty line.
func BuildError(dir, command string, output []byte, err error) error {
	e := hotreload.Errorf(hotreload.CodeInvalid, "build failed (%s): %v", command, err)
	var other []hotreload.FieldError
	for _, line := range strings.Split(string(output), "\n") {
		line = strings.TrimRight(line, "\r")
		m := compilerLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
				other = append(other, hotreload.FieldError{Message: s})
			}
			continue
		}
		file := m[1]
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		ln, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		e.Details = append(e.Details, hotreload.FieldError{File: file, Line: ln, Column: col, Message: m[4]})
	}
	if len(e.Details) == 0 {
		e.Details = other
	}
	if len(e.Details) == 0 {
		e.Details = []hotreload.FieldError{{Message: fmt.Sprintf("%s: %v", command, err)}}
	}
	return e
}
