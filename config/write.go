package config

import (
	"bytes"
	"encoding/json"
	"os"

	"github.com/BurntSushi/toml"
	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/atomicfile"
	"github.com/goccy/go-yaml"
)

// fileWrite is a document encoded for its file, written on commit.
type fileWrite struct {
	file string
	data []byte
	mode os.FileMode
}

// newFileWrite encodes doc in the format of file. It fails when the format
// cannot hold the document (TOML has no null).
func newFileWrite(file string, doc any) (*fileWrite, error) {
	data, err := Encode(doc, mustFormat(file))
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "the patched config cannot be written back to %q: %w", file, err)
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(file); err == nil {
		mode = fi.Mode().Perm()
	}
	return &fileWrite{file: file, data: data, mode: mode}, nil
}

func mustFormat(file string) Format {
	f, _ := FormatOf(file)
	return f
}

// run replaces the file atomically and durably.
func (w *fileWrite) run() error {
	if err := atomicfile.Write(w.file, w.data, w.mode); err != nil {
		return hotreload.Errorf(hotreload.CodeInternal, "writing the patched config back: %w", err)
	}
	return nil
}

// Encode renders a document in a format: JSON indented by two spaces, YAML
// in block style, TOML with tables. Keys come out sorted; comments of the
// original file are not kept.
func Encode(doc any, f Format) ([]byte, error) {
	switch f {
	case YAML:
		return yaml.MarshalWithOptions(doc, yaml.Indent(2))
	case TOML:
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(doc); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
