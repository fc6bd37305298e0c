package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// deps is what a program is built from: the directories of its non-standard
// packages and the files they embed.
type deps struct {
	dirs     map[string]bool
	embedded map[string]bool
	packages map[string]string // directory to import path
}

// listedPackage is the part of `go list -json` output deps reads.
type listedPackage struct {
	ImportPath string
	Dir        string
	Standard   bool
	EmbedFiles []string
}

// listDeps runs `go list -deps -json PKG` in dir with the extra environment
// env (GOOS and GOARCH for a plugin) and returns the program's deps.
func listDeps(ctx context.Context, dir, pkg string, env []string) (*deps, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-e", "-deps", "-json=ImportPath,Dir,Standard,EmbedFiles", pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stopGroup(cmd)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, BuildError(dir, "go list -deps "+pkg, stderr.Bytes(), err)
	}
	d := &deps{dirs: map[string]bool{}, embedded: map[string]bool{}, packages: map[string]string{}}
	dec := json.NewDecoder(&out)
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if p.Standard || p.Dir == "" {
			continue
		}
		d.dirs[p.Dir] = true
		d.packages[p.Dir] = p.ImportPath
		for _, f := range p.EmbedFiles {
			d.embedded[filepath.Join(p.Dir, f)] = true
		}
	}
	return d, nil
}

// affects returns the import paths of the program's packages that the
// changed files belong to, and whether any of them concerns the program: a
// non-test Go file in one of its package directories, a file embedded by one, or go.mod,
// go.sum or go.work. A nil deps (never listed, or the last listing failed)
// is affected by everything.
func (d *deps) affects(paths []string) (pkgs []string, hit bool) {
	if d == nil {
		return nil, len(paths) > 0
	}
	seen := map[string]bool{}
	for _, p := range paths {
		switch filepath.Base(p) {
		case "go.mod", "go.sum", "go.work", "go.work.sum":
			hit = true
			continue
		}
		dir := filepath.Dir(p)
		if d.dirs[dir] && filepath.Ext(p) == ".go" && !strings.HasSuffix(p, "_test.go") || d.embedded[p] {
			hit = true
			if ip := d.packages[dir]; ip != "" && !seen[ip] {
				seen[ip] = true
				pkgs = append(pkgs, ip)
			}
		}
	}
	return pkgs, hit
}
