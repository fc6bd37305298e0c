package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cybercorp/hotreload/config"
	"github.com/cybercorp/hotreload/internal/jsondiff"

	"github.com/cybercorp/hotreload"
)

// Manifest describes a plugin. It sits beside the module as NAME.json; a
// module without one gets the defaults (no config schema, default limits).
type Manifest struct {
	// Name must equal the module's file name without ".wasm".
	Name string `json:"name"`
	// Version is the plugin's own version, shown in listings.
	Version string `json:"version,omitempty"`
	// Description says what the plugin does.
	Description string `json:"description,omitempty"`
	// ConfigSchema is the JSON Schema its configuration section must
	// satisfy before initialize or update_config sees it.
	ConfigSchema json.RawMessage `json:"config_schema,omitempty"`
	// Limits bound what one instance may use.
	Limits Limits `json:"limits"`
}

// Limits bound a plugin's instances. Zero values take the defaults.
type Limits struct {
	// MemoryPages caps each instance's linear memory in 64 KiB pages;
	// default 512 (32 MiB), at most 65536 (4 GiB).
	MemoryPages uint32 `json:"memory_pages,omitempty"`
	// CallTimeout ends a call that runs longer; default 1s.
	CallTimeout Duration `json:"call_timeout,omitempty"`
	// InitTimeout ends initialize, update_config, get_status or cleanup
	// when they run longer; default 5s.
	InitTimeout Duration `json:"init_timeout,omitempty"`
	// PoolSize is how many instances serve calls side by side; default 2,
	// at most 64.
	PoolSize int `json:"pool_size,omitempty"`
}

// Default and maximum limits.
const (
	DefaultMemoryPages = 512
	DefaultCallTimeout = time.Second
	DefaultInitTimeout = 5 * time.Second
	DefaultPoolSize    = 2
	maxMemoryPages     = 65536
	maxPoolSize        = 64
)

// Duration is a time.Duration written as a Go duration string ("250ms").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"250ms\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// nameRE is what a plugin name may be: it appears in file names, URLs and
// JSON Pointers.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// ValidName reports whether name can name a plugin: a lower-case letter,
// then up to 62 lower-case letters, digits, '-' or '_'.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// ParseManifest decodes and checks the manifest of plugin name read from
// file, and fills in default limits. Errors are *hotreload.Error with code
// invalid and one detail per problem.
func ParseManifest(file, name string, data []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, manifestError(file, "", decodeMessage(err))
	}
	if dec.More() {
		return Manifest{}, manifestError(file, "", "unexpected data after the manifest object")
	}
	if m.Name == "" {
		m.Name = name
	}
	m.Limits = m.Limits.withDefaults()
	if err := m.check(file, name); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// defaultManifest is the manifest of a module that has none.
func defaultManifest(name string) Manifest {
	return Manifest{Name: name, Limits: Limits{}.withDefaults()}
}

func (l Limits) withDefaults() Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = DefaultMemoryPages
	}
	if l.CallTimeout == 0 {
		l.CallTimeout = Duration(DefaultCallTimeout)
	}
	if l.InitTimeout == 0 {
		l.InitTimeout = Duration(DefaultInitTimeout)
	}
	if l.PoolSize == 0 {
		l.PoolSize = DefaultPoolSize
	}
	return l
}

// check validates a manifest with defaults filled.
func (m Manifest) check(file, name string) error {
	var details []hotreload.FieldError
	add := func(path, format string, args ...any) {
		details = append(details, hotreload.FieldError{File: file, Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if m.Name != name {
		add("/name", "name %q does not match the module's file name %q", m.Name, name)
	}
	if m.Limits.MemoryPages > maxMemoryPages {
		add("/limits/memory_pages", "%d pages is over the maximum of %d", m.Limits.MemoryPages, maxMemoryPages)
	}
	if m.Limits.CallTimeout < 0 {
		add("/limits/call_timeout", "must be positive")
	}
	if m.Limits.InitTimeout < 0 {
		add("/limits/init_timeout", "must be positive")
	}
	if m.Limits.PoolSize < 0 || m.Limits.PoolSize > maxPoolSize {
		add("/limits/pool_size", "%d is outside 1..%d", m.Limits.PoolSize, maxPoolSize)
	}
	if len(m.ConfigSchema) > 0 {
		if _, err := m.schema(); err != nil {
			add("/config_schema", "%v", err)
		}
	}
	if len(details) == 0 {
		return nil
	}
	return &hotreload.Error{Code: hotreload.CodeInvalid, Message: fmt.Sprintf("invalid plugin manifest %s", file), Details: details}
}

// schema compiles the manifest's config schema, as config does a config's
// (secrets marked, costly schemas refused) but standing alone: it refers to
// no file and nothing on the network. Nil when it has none.
func (m Manifest) schema() (*config.Schema, error) {
	if len(m.ConfigSchema) == 0 {
		return nil, nil
	}
	return config.CompileStandaloneSchema(m.Name+".json config_schema", m.ConfigSchema)
}

// validateConfig checks a plugin's config (canonical JSON) against its
// schema; path is where the section sits in the main config, for messages.
// A message about a value the schema marks secret shows [REDACTED].
func validateConfig(s *config.Schema, path string, cfg []byte) error {
	if s == nil {
		return nil
	}
	doc, err := config.Decode(path, cfg, config.JSON)
	if err != nil {
		return hotreload.Errorf(hotreload.CodeInvalid, "reading the config at %s: %w", path, err)
	}
	details := s.Validate(doc, false)
	if len(details) == 0 {
		return nil
	}
	for i, d := range details {
		// Positions in the canonical JSON mean nothing to the reader.
		details[i] = hotreload.FieldError{Path: path + d.Path, Message: d.Message}
	}
	return &hotreload.Error{Code: hotreload.CodeInvalid, Message: fmt.Sprintf("the config at %s does not match the plugin's schema", path), Details: details}
}

// SecretPaths returns the JSON Pointers, in doc (the main config), of the
// values that a live plugin's config schema marks secret ("writeOnly" or
// "x-secret"), so that they are redacted and sealed like the config's own.
func (h *Host) SecretPaths(doc any) []string {
	var out []string
	for _, s := range *h.slots.Load() {
		v := s.live.Load()
		if v == nil || v.schema == nil {
			continue
		}
		at := h.configPath(s.name)
		for _, p := range v.schema.SecretPaths(jsondiff.At(doc, at)) {
			out = append(out, at+p)
		}
	}
	return out
}

func manifestError(file, path, msg string) error {
	return &hotreload.Error{
		Code:    hotreload.CodeInvalid,
		Message: fmt.Sprintf("invalid plugin manifest %s", file),
		Details: []hotreload.FieldError{{File: file, Path: path, Message: msg}},
	}
}

// decodeMessage turns an encoding/json error into a message naming the
// field where it can.
func decodeMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("/%s: want %s, got %s", strings.ReplaceAll(te.Field, ".", "/"), te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("at byte %d: %v", se.Offset, err)
	}
	return err.Error()
}
