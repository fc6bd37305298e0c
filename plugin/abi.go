package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// The plugin ABI (docs/plugins.md): the exports the host calls. Arguments
// are JSON the host writes into the buffer alloc returns; every function
// but alloc returns address<<32 | length of a result buffer whose first
// byte is resultOK or resultError.
const (
	exportAlloc        = "alloc"
	exportInitialize   = "initialize"
	exportUpdateConfig = "update_config"
	exportCall         = "call"
	exportStatus       = "get_status"
	exportCleanup      = "cleanup"
	exportMemory       = "memory"
	// startFunction is the WASI reactor's initializer (Go's c-shared
	// runtime and init functions), run at instantiation when present.
	startFunction = "_initialize"
)

// Result buffer tags.
const (
	resultOK    = 0
	resultError = 1
)

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// abiExports lists every required function export with its signature.
var abiExports = []struct {
	name            string
	params, results []api.ValueType
}{
	{exportAlloc, []api.ValueType{i32}, []api.ValueType{i32}},
	{exportInitialize, []api.ValueType{i32, i32}, []api.ValueType{i64}},
	{exportUpdateConfig, []api.ValueType{i32, i32}, []api.ValueType{i64}},
	{exportCall, []api.ValueType{i32, i32}, []api.ValueType{i64}},
	{exportStatus, nil, []api.ValueType{i64}},
	{exportCleanup, nil, []api.ValueType{i64}},
}

// checkExports reports every missing or mistyped ABI export of a compiled
// module in one error.
func checkExports(code wazero.CompiledModule) error {
	funcs := code.ExportedFunctions()
	var problems []string
	for _, want := range abiExports {
		f, ok := funcs[want.name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing %s", signature(want.name, want.params, want.results)))
		case !sameTypes(f.ParamTypes(), want.params) || !sameTypes(f.ResultTypes(), want.results):
			problems = append(problems, fmt.Sprintf("%s is %s", signature(want.name, want.params, want.results),
				signature(want.name, f.ParamTypes(), f.ResultTypes())))
		}
	}
	if _, ok := code.ExportedMemories()[exportMemory]; !ok {
		problems = append(problems, `missing memory export "memory"`)
	}
	if len(problems) > 0 {
		return fmt.Errorf("the module does not implement the plugin ABI: %s", strings.Join(problems, "; "))
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func signature(name string, params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	sig := fmt.Sprintf("%s(%s)", name, names(params))
	if len(results) > 0 {
		sig += " -> " + names(results)
	}
	return sig
}

// A pluginError is an error the plugin itself returned (a result tagged
// resultError): the instance is healthy.
type pluginError struct{ msg string }

func (e *pluginError) Error() string { return e.msg }

// A crash is a failure of the instance itself: a trap, a Go panic or fatal
// error (which exits the module), a timeout. The instance is closed.
type crash struct {
	// timeout is set when the host's deadline ended the function.
	timeout bool
	// cancelled is set when the caller's context ended it: not the
	// plugin's fault.
	cancelled bool
	msg       string
}

func (e *crash) Error() string { return e.msg }

// isCrash reports whether err says the instance crashed.
func isCrash(err error) bool {
	var c *crash
	return errors.As(err, &c)
}

// classify turns an error from a wazero call into a *crash with a precise
// message: the Go panic or fatal error line the module printed, the trap, or
// why the call was stopped. A non-nil cause says the watchdog stopped the
// call (errTimedOut, or the caller's error): whatever wazero reports then
// (the unreachable trap at a loop header, see wasmloop) is that stop.
func classify(err error, cause error, timeout string, output string) *crash {
	var c *crash
	if errors.As(err, &c) {
		return c
	}
	switch {
	case cause == nil:
	case errors.Is(cause, errTimedOut):
		return &crash{timeout: true, msg: fmt.Sprintf("exceeded its time limit of %s and was stopped", timeout)}
	case errors.Is(cause, context.DeadlineExceeded):
		return &crash{cancelled: true, msg: "stopped: the caller's deadline passed"}
	default:
		return &crash{cancelled: true, msg: "stopped: the caller cancelled"}
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		if line := fatalLine(output); line != "" {
			return &crash{msg: fmt.Sprintf("%s (the instance exited with code %d)", line, exit.ExitCode())}
		}
		return &crash{msg: fmt.Sprintf("the instance exited with code %d", exit.ExitCode())}
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] // the first line names the trap; the rest is the wasm stack
	}
	if line := fatalLine(output); line != "" {
		return &crash{msg: fmt.Sprintf("%s (the instance trapped: %s)", line, msg)}
	}
	return &crash{msg: "the instance trapped: " + msg}
}

// fatalLine finds the line a Go program prints when it dies ("panic: ...",
// "fatal error: ...") in the module's output.
func fatalLine(output string) string {
	for _, prefix := range []string{"panic: ", "fatal error: ", "runtime: "} {
		if i := strings.Index(output, prefix); i >= 0 {
			line := output[i:]
			if j := strings.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			return strings.TrimSpace(line)
		}
	}
	return ""
}
