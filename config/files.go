package config

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/inputfile"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// DecodeFiles reads and decodes files, each in the format of its
// extension, within the default bounds of Limits. It reports the problems
// of every file, not only the first.
func DecodeFiles(files ...string) ([]Document, error) {
	return Limits{}.decodeFiles(files...)
}

// DecodeFile reads and decodes one file in the format of its extension,
// within the default bounds of Limits.
func DecodeFile(file string) (Document, error) {
	return Limits{}.decodeFile(file)
}

// Limits bound what a config file may be.
type Limits struct {
	// MaxBytes is the largest file read. When zero it is 16 MiB for JSON
	// and TOML, and DefaultMaxYAMLBytes for YAML.
	MaxBytes int64
	// AllowOutsideLinks reads a file whose symbolic links lead out of the
	// directory it is named in (refused by default; links inside it, as
	// Kubernetes' ..data, are fine).
	AllowOutsideLinks bool
}

// DefaultMaxYAMLBytes is the default size limit of a YAML file, as
// Kubernetes limits a ConfigMap: go-yaml takes about 160 bytes of memory
// and a microsecond of CPU per byte of input, so 1 MiB already costs about
// 160 MB at its peak.
const DefaultMaxYAMLBytes = 1 << 20

func (l Limits) decodeFiles(files ...string) ([]Document, error) {
	var (
		docs    []Document
		details []hotreload.FieldError
		cause   error
	)
	for _, f := range files {
		d, err := l.decodeFile(f)
		if err != nil {
			details = append(details, hotreload.ErrorDetails(err)...)
			cause = err
			continue
		}
		docs = append(docs, d)
	}
	if cause == nil {
		return docs, nil
	}
	if len(files) == 1 {
		return nil, cause
	}
	return nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: "config files do not parse", Details: details}
}

func (l Limits) decodeFile(file string) (Document, error) {
	format, err := FormatOf(file)
	if err != nil {
		return Document{}, err
	}
	src, err := l.read(file)
	if err != nil {
		return Document{}, err
	}
	return Decode(file, src, format)
}

// read reads a config file within the limits; its error is located at the
// file.
func (l Limits) read(file string) ([]byte, error) {
	max := l.MaxBytes
	if f, _ := FormatOf(file); max <= 0 && f == YAML {
		max = DefaultMaxYAMLBytes
	}
	src, err := inputfile.Read(file, inputfile.Options{MaxBytes: max, AllowOutsideLinks: l.AllowOutsideLinks})
	if err != nil {
		msg := err.Error()
		var pe *os.PathError
		if errors.As(err, &pe) {
			msg = pe.Op + ": " + pe.Err.Error()
		}
		return nil, &hotreload.Error{Code: hotreload.CodeInvalid, Message: fmt.Sprintf("reading config file %q", file),
			Details: []hotreload.FieldError{{File: file, Message: msg}}, Err: err}
	}
	return src, nil
}

// Merge merges documents in order (later values override earlier ones,
// objects merge key by key); each value keeps the position of the document
// that supplied it.
func Merge(docs ...Document) Document {
	if len(docs) == 1 {
		return docs[0]
	}
	docs = slices.Clone(docs)
	values := make([]any, len(docs))
	for i, d := range docs {
		values[i] = d.Value
	}
	v := jsondiff.Merge(values...)
	merged := lazily(v, func() Positions {
		layers := make([]Positions, len(docs))
		for i, d := range docs {
			layers[i] = d.Positions()
		}
		return mergePositions(v, layers...)
	})
	for _, d := range docs {
		merged.size += d.size
	}
	return merged
}
