package config

import (
	"errors"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/cybercorp/hotreload/internal/jsondiff"
)

// decodeTOML decodes a TOML document. BurntSushi/toml keeps the positions of
// keys to itself, so they are recomputed from the source by tomlScanner.
func decodeTOML(file string, src []byte) (Document, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(src), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Document{}, syntaxError(file, pe.Position.Line, pe.Position.Col, tomlKeyPointer(pe.LastKey), pe.Message)
		}
		return Document{}, syntaxError(file, 0, 0, "", err.Error())
	}
	pos := scanTOML(file, src)
	v, ptr, err := normalize(raw, "")
	if err != nil {
		p := pos.Locate(ptr)
		return Document{}, syntaxError(file, p.Line, p.Column, ptr, err.Error())
	}
	return located(v, pos), nil
}

// tomlKeyPointer turns the dotted key of a TOML parse error into a JSON
// Pointer (best effort: a quoted key holding a dot is split).
func tomlKeyPointer(key string) string {
	if key == "" {
		return ""
	}
	ptr := ""
	for _, k := range strings.Split(key, ".") {
		ptr = jsondiff.Join(ptr, strings.Trim(k, `"'`))
	}
	return ptr
}

// formatTime renders a date or time the way TOML wrote it: local dates,
// times and date-times keep their own form, the rest is RFC 3339.
func formatTime(t time.Time) string {
	switch t.Location().String() {
	case "datetime-local":
		return t.Format("2006-01-02T15:04:05.999999999")
	case "date-local":
		return t.Format("2006-01-02")
	case "time-local":
		return t.Format("15:04:05.999999999")
	}
	return t.Format(time.RFC3339Nano)
}
