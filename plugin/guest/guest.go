// Package guest is the plugin author's side of the hotreload plugin ABI: a
// plugin is an ordinary Go main package that registers a value with Register
// from an init function and is built with the Go toolchain alone:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o shout.wasm .
//
// The package exports, with //go:wasmexport, every function the host calls
// (alloc, initialize, update_config, get_status, call, cleanup; see
// docs/plugins.md) and turns them into calls on the registered Plugin.
//
// Concurrency: a Wasm instance is single-threaded and the host never calls
// one instance twice at once, so a Plugin needs no locks. The host runs
// several instances of a plugin side by side (a pool); they share nothing,
// so state kept in a Plugin is per instance. A panic is not recovered: it
// crashes the instance, the host reports the panic message and replaces the
// instance with a fresh one.
package guest

// Plugin is what a plugin implements: the host's hook. Call receives the
// hook's JSON input and returns its JSON output. The input slice is only
// valid until Call returns.
type Plugin interface {
	Call(input []byte) ([]byte, error)
}

// Initializer is implemented by plugins that read their configuration.
// Initialize receives the plugin's section of the host's configuration as
// JSON (at least "{}") once, before any call; an error fails the load.
type Initializer interface {
	Initialize(config []byte) error
}

// Updater is implemented by plugins that can take a new configuration
// without losing their state. Without it, the host's update_config calls
// Initialize again.
type Updater interface {
	UpdateConfig(config []byte) error
}

// StatusReporter is implemented by plugins that report their own health.
// Without it, the plugin is always StateOK.
type StatusReporter interface {
	Status() Status
}

// CleanerUpper is implemented by plugins that release something before
// their instance is closed.
type CleanerUpper interface {
	Cleanup() error
}

// Status is a plugin's health as get_status returns it.
type Status struct {
	// State is StateOK, StateDegraded or StateFailed. The host loads a
	// new version only when its first status is StateOK.
	State string `json:"state"`
	// Message says what is wrong, if anything.
	Message string `json:"message,omitempty"`
}

// The states a Status reports.
const (
	StateOK       = "ok"
	StateDegraded = "degraded"
	StateFailed   = "failed"
)

// registered is the plugin the exports call; Register sets it.
var registered Plugin

// Register makes p the plugin the host calls. Call it once, from an init
// function of the main package (a c-shared Wasm module runs init functions
// but not main).
func Register(p Plugin) {
	if registered != nil {
		panic("guest.Register called twice")
	}
	registered = p
}
