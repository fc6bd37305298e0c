package checkfile

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/health"
)

// File is a parsed checks file.
type File struct {
	// Gate holds the gate settings, nil when the file has none.
	Gate *GateSettings `yaml:"gate"`
	// Defaults apply to every check that leaves a field out.
	Defaults Options `yaml:"defaults"`
	// Checks are the checks, in file order.
	Checks []Spec `yaml:"checks"`
}

// GateSettings are the gate's settings in a file; zero fields keep the
// health package's defaults.
type GateSettings struct {
	Window            time.Duration `yaml:"window" json:"window,omitempty"`
	Rounds            int           `yaml:"rounds" json:"rounds,omitempty"`
	MaxFailing        float64       `yaml:"max_failing" json:"max_failing,omitempty"`
	MaxMemory         float64       `yaml:"max_memory" json:"max_memory,omitempty"`
	MaxLatency        time.Duration `yaml:"max_latency" json:"max_latency,omitempty"`
	MaxExceptionRate  float64       `yaml:"max_exception_rate" json:"max_exception_rate,omitempty"`
	MinSamples        int           `yaml:"min_samples" json:"min_samples,omitempty"`
	IgnorePreexisting *bool         `yaml:"ignore_preexisting" json:"ignore_preexisting,omitempty"`
}

// Apply returns base with the file's settings over it.
func (s GateSettings) Apply(base health.GateOptions) health.GateOptions {
	set := func(dst *float64, v float64) {
		if v != 0 {
			*dst = v
		}
	}
	if s.Window != 0 {
		base.Window = s.Window
	}
	if s.Rounds != 0 {
		base.Rounds = s.Rounds
	}
	if s.MaxLatency != 0 {
		base.MaxLatency = s.MaxLatency
	}
	if s.MinSamples != 0 {
		base.MinSamples = s.MinSamples
	}
	set(&base.MaxFailing, s.MaxFailing)
	set(&base.MaxMemory, s.MaxMemory)
	set(&base.MaxExceptionRate, s.MaxExceptionRate)
	if s.IgnorePreexisting != nil {
		base.IgnorePreexisting = *s.IgnorePreexisting
	}
	return base
}

// Options are a check's monitor options in a file.
type Options struct {
	Interval         time.Duration `yaml:"interval" json:"interval,omitempty"`
	Timeout          time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	Critical         bool          `yaml:"critical" json:"critical,omitempty"`
	FailureThreshold int           `yaml:"failure_threshold" json:"failure_threshold,omitempty"`
	SuccessThreshold int           `yaml:"success_threshold" json:"success_threshold,omitempty"`
}

// Spec is one check in a file. Which fields apply depends on Kind.
type Spec struct {
	Name    string `yaml:"name" json:"name,omitempty"`
	Kind    string `yaml:"kind" json:"kind,omitempty"`
	Options `yaml:",inline"`

	URL        string        `yaml:"url" json:"url,omitempty"`                 // http, websocket
	Status     int           `yaml:"status" json:"status,omitempty"`           // http
	MaxLatency time.Duration `yaml:"max_latency" json:"max_latency,omitempty"` // http
	DSN        string        `yaml:"dsn" json:"dsn,omitempty"`                 // sql
	Query      string        `yaml:"query" json:"query,omitempty"`             // sql
	Path       string        `yaml:"path" json:"path,omitempty"`               // disk
	Window     time.Duration `yaml:"window" json:"window,omitempty"`           // cpu
	Max        float64       `yaml:"max" json:"max,omitempty"`                 // memory, cpu, disk
}

// kinds lists the check kinds a file may use, and the fields each allows
// besides name, kind and the options.
var kinds = map[string][]string{
	"http":      {"url", "status", "max_latency"},
	"websocket": {"url"},
	"sql":       {"dsn", "query"},
	"memory":    {"max"},
	"cpu":       {"window", "max"},
	"disk":      {"path", "max"},
}

// required names the field each kind cannot do without.
var required = map[string]string{"http": "url", "websocket": "url", "sql": "dsn", "disk": "path"}

// CheckOptions returns the spec's monitor options over the defaults.
func (s Spec) CheckOptions(d Options) health.CheckOptions {
	o := health.CheckOptions{
		Interval: d.Interval, Timeout: d.Timeout, Critical: s.Critical,
		FailureThreshold: d.FailureThreshold, SuccessThreshold: d.SuccessThreshold,
	}
	if s.Interval != 0 {
		o.Interval = s.Interval
	}
	if s.Timeout != 0 {
		o.Timeout = s.Timeout
	}
	if s.FailureThreshold != 0 {
		o.FailureThreshold = s.FailureThreshold
	}
	if s.SuccessThreshold != 0 {
		o.SuccessThreshold = s.SuccessThreshold
	}
	return o
}

// set returns the kind-specific fields that are not zero.
func (s Spec) set() []string {
	var out []string
	for name, zero := range map[string]bool{
		"url": s.URL == "", "status": s.Status == 0, "max_latency": s.MaxLatency == 0,
		"dsn": s.DSN == "", "query": s.Query == "", "path": s.Path == "",
		"window": s.Window == 0, "max": s.Max == 0,
	} {
		if !zero {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Parse decodes and validates a checks file. name is used in error
// positions. Every problem is reported, each as a detail of one CodeInvalid
// *hotreload.Error with its JSON Pointer, line and column. An empty file is
// valid and declares no checks.
func Parse(name string, data []byte) (*File, error) {
	var af *ast.File
	err := guard(func() (err error) { af, err = parser.ParseBytes(data, 0); return err })
	if err != nil {
		return nil, yamlError(name, err, nil)
	}
	f := &File{}
	if len(af.Docs) > 1 {
		return nil, problems(name, []hotreload.FieldError{at(name, af.Docs[1].Body, "", "a checks file holds one YAML document")})
	}
	if len(af.Docs) == 1 && af.Docs[0].Body != nil {
		body := af.Docs[0].Body
		if _, isMap := body.(*ast.MappingNode); !isMap {
			if _, isMapValue := body.(*ast.MappingValueNode); !isMapValue {
				return nil, problems(name, []hotreload.FieldError{at(name, body, "", "the file must be a mapping with gate, defaults and checks")})
			}
		}
		if err := guard(func() error { return yaml.NodeToValue(body, f, yaml.DisallowUnknownField()) }); err != nil {
			return nil, yamlError(name, err, body)
		}
	}
	if errs := f.validate(name, af); len(errs) > 0 {
		return nil, problems(name, errs)
	}
	return f, nil
}

// guard runs a go-yaml call, turning a panic of the library (it has a few
// on odd tagged input) into an error, so bad input never crashes a reload.
func guard(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the YAML decoder failed on this input (%v); check tags (!...) and anchors", p)
		}
	}()
	return f()
}

// validate checks what the YAML types cannot say.
func (f *File) validate(name string, af *ast.File) []hotreload.FieldError {
	var errs []hotreload.FieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, at(name, lookup(af, path), path, fmt.Sprintf(format, args...)))
	}
	if g := f.Gate; g != nil {
		if _, err := health.NewGate(health.NewMonitor(health.MonitorOptions{}), g.Apply(health.GateOptions{})); err != nil {
			msg := strings.TrimPrefix(err.Error(), "health: gate options: ")
			add(keyPath("/gate", reflect.TypeFor[GateSettings](), msg), "%s", msg)
		}
	}
	if err := f.Defaults.check(); err != nil {
		add(keyPath("/defaults", reflect.TypeFor[Options](), err.Error()), "%v", err)
	}
	if f.Defaults.Critical {
		add("/defaults/critical", "critical does not apply to defaults: mark each critical check")
	}
	seen := map[string]int{}
	for i, s := range f.Checks {
		p := fmt.Sprintf("/checks/%d", i)
		if err := health.ValidateName(s.Name); err != nil {
			add(p+"/name", "%v", err)
		} else if j, dup := seen[s.Name]; dup {
			add(p+"/name", "check %q is declared twice (first at /checks/%d)", s.Name, j)
		}
		seen[s.Name] = i
		allowed, known := kinds[s.Kind]
		if !known {
			add(p+"/kind", "kind %q is not one of %s", s.Kind, strings.Join(kindNames(), ", "))
			continue
		}
		for _, field := range s.set() {
			if !slices.Contains(allowed, field) {
				add(p+"/"+field, "%s does not apply to %s checks", field, s.Kind)
			}
		}
		if err := s.Options.check(); err != nil {
			add(keyPath(p, reflect.TypeFor[Options](), err.Error()), "%v", err)
		}
		if field := required[s.Kind]; field != "" && !slices.Contains(s.set(), field) {
			add(p+"/"+field, "%s checks need %s", s.Kind, field)
			continue
		}
		if err := s.validate(f.Defaults); err != nil {
			for _, d := range hotreload.ErrorDetails(err) {
				add(p+d.Path, "%s", d.Message)
			}
			if len(hotreload.ErrorDetails(err)) == 0 {
				add(p, "%v", err)
			}
		}
	}
	return errs
}

// check reports negative options.
func (o Options) check() error {
	return health.CheckOptions{Interval: o.Interval, Timeout: o.Timeout,
		FailureThreshold: o.FailureThreshold, SuccessThreshold: o.SuccessThreshold}.Validate()
}

// validate builds the spec's check without opening anything and validates
// it; a cpu window must also end before the timeout.
func (s Spec) validate(d Options) error {
	c, err := s.check(nil)
	if err != nil {
		return err
	}
	if v, ok := c.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	if s.Kind == "cpu" {
		timeout := s.CheckOptions(d).Timeout
		if timeout == 0 {
			timeout = health.DefaultTimeout
		}
		if window := max(s.Window, time.Second); window >= timeout {
			return &hotreload.Error{Code: hotreload.CodeInvalid, Message: "cpu check: invalid window",
				Details: []hotreload.FieldError{{Path: "/window", Message: fmt.Sprintf("window %s must be shorter than the timeout %s", window, timeout)}}}
		}
	}
	return nil
}

// keyPath returns the pointer of the setting an options error is about,
// under base: the health package's messages start with the option's name in
// words ("max memory 90 is ...", "failure threshold -1 is ..."), which is
// its YAML key with spaces for underscores. base alone when none matches.
func keyPath(base string, t reflect.Type, msg string) string {
	for i := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if key != "" && strings.HasPrefix(msg, strings.ReplaceAll(key, "_", " ")+" ") {
			return base + "/" + key
		}
	}
	return base
}

func kindNames() []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// lookup returns the node at a JSON Pointer, or its nearest existing
// ancestor.
func lookup(af *ast.File, pointer string) ast.Node {
	if len(af.Docs) == 0 {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	for n := len(parts); n >= 0; n-- {
		q := "$"
		for _, p := range parts[:n] {
			if p == "" {
				continue
			}
			if p[0] >= '0' && p[0] <= '9' {
				q += "[" + p + "]"
			} else {
				q += "." + p
			}
		}
		path, err := yaml.PathString(q)
		if err != nil {
			continue
		}
		if node, err := path.FilterFile(af); err == nil && node != nil {
			return node
		}
	}
	return af.Docs[0].Body
}

// at returns a FieldError at node's position.
func at(file string, node ast.Node, pointer, msg string) hotreload.FieldError {
	fe := hotreload.FieldError{File: file, Path: pointer, Message: msg}
	if node != nil {
		if tk := node.GetToken(); tk != nil && tk.Position != nil {
			fe.Line, fe.Column = tk.Position.Line, tk.Position.Column
		}
	}
	return fe
}

// yamlError turns a go-yaml error into one with a position. Some decode
// errors (a bad duration) carry none: then the first scalar under body
// that the message quotes gives it.
func yamlError(file string, err error, body ast.Node) error {
	fe := hotreload.FieldError{File: file, Message: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		fe.Message = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			fe.Line, fe.Column = tk.Position.Line, tk.Position.Column
		}
	} else if body != nil {
		ast.Walk(quotedScalar{msg: fe.Message, found: &fe}, body)
	}
	return problems(file, []hotreload.FieldError{fe})
}

// quotedScalar finds the first scalar whose quoted value a message holds,
// and sets found's position to it.
type quotedScalar struct {
	msg   string
	found *hotreload.FieldError
}

func (q quotedScalar) Visit(n ast.Node) ast.Visitor {
	if q.found.Line > 0 {
		return nil
	}
	if s, ok := n.(*ast.StringNode); ok && strings.Contains(q.msg, strconv.Quote(s.Value)) {
		if tk := s.GetToken(); tk != nil && tk.Position != nil {
			q.found.Line, q.found.Column = tk.Position.Line, tk.Position.Column
		}
		return nil
	}
	return q
}

func problems(file string, errs []hotreload.FieldError) error {
	return &hotreload.Error{
		Code:    hotreload.CodeInvalid,
		Message: fmt.Sprintf("reading checks file %q: %d problem(s)", file, len(errs)),
		Details: errs,
	}
}
