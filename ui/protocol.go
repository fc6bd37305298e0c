package ui

import (
	"encoding/json"

	"github.com/cybercorp/hotreload"
)

// Protocol is the name and version of the hub's own WebSocket protocol. A
// client announces it in its hello; the hub refuses any other.
const Protocol = "hotreload/1"

// Subprotocol is the WebSocket subprotocol (Sec-WebSocket-Protocol) of
// hotreload/1. The hub selects it whenever a client offers it; the
// browser client always does.
const Subprotocol = "hotreload.v1"

// TokenSubprotocolPrefix starts the second subprotocol a browser offers to
// carry its token: "hotreload.token." followed by the token's UTF-8 bytes
// in unpadded base64url. A browser's WebSocket can set no header but this
// one, and unlike a query parameter it never reaches a URL, a proxy's
// access log or a Referer. The hub never selects it.
const TokenSubprotocolPrefix = "hotreload.token."

// LiveReloadProtocol is the LiveReload protocol version the hub speaks at
// /livereload.
const LiveReloadProtocol = "http://livereload.com/protocols/official-7"

// Close codes the hub sends, in the range RFC 6455 leaves to applications.
const (
	// CloseResync closes a client that fell behind: it should reconnect
	// with its last sequence number and catch up.
	CloseResync = 4000
	// CloseProtocol closes a client that broke the protocol (no hello, a
	// wrong version); reconnecting the same way will not help.
	CloseProtocol = 4001
)

// Kind says what an update reloads, which decides how the browser applies
// it.
type Kind string

// The kinds of updates.
const (
	KindStyles    Kind = "styles"    // a stylesheet: swapped in place
	KindTheme     Kind = "theme"     // theme custom properties: swapped atomically
	KindComponent Kind = "component" // a custom element module: re-imported, instances kept
	KindModule    Kind = "module"    // another JS module: re-imported if it accepts, else full reload
	KindPage      Kind = "page"      // anything else: full reload keeping scroll and form values
	KindMessage   Kind = "message"   // application data, dispatched as a DOM event
)

// Update is one change to push to browsers.
type Update struct {
	// Kind says how the browser applies the update.
	Kind Kind `json:"kind"`
	// Key identifies what changes, so that a newer update replaces an
	// older one still queued; empty means Kind + ":" + Path.
	Key string `json:"key"`
	// Path is the URL path of the changed file, if any.
	Path string `json:"path,omitempty"`
	// Hash is the content hash of the new file; the browser appends it as
	// a query to bypass caches. Empty for a removed file.
	Hash string `json:"hash,omitempty"`
	// Name is the custom element name of a component update.
	Name string `json:"name,omitempty"`
	// Theme holds the theme's custom properties for a theme update.
	Theme map[string]string `json:"theme,omitempty"`
	// Version names the UI version this update belongs to (the digest of
	// the assets snapshot); clients acknowledge it.
	Version string `json:"version,omitempty"`
	// Data is application data for a message update.
	Data json.RawMessage `json:"data,omitempty"`
}

// key returns the update's merge key.
func (u Update) key() string {
	if u.Key != "" {
		return u.Key
	}
	return string(u.Kind) + ":" + u.Path
}

// wire is every message of the hotreload/1 protocol, in both directions.
type wire struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq,omitempty"`

	// hello (client) and welcome (hub)
	Protocol string `json:"protocol,omitempty"`
	ID       string `json:"id,omitempty"`
	Epoch    string `json:"epoch,omitempty"`
	Page     string `json:"page,omitempty"`

	// update
	*Update `json:",omitempty"`

	// welcome and snapshot: the current state
	Entries []Update               `json:"entries,omitempty"`
	Resync  bool                   `json:"resync,omitempty"`
	Errors  []hotreload.FieldError `json:"errors,omitempty"`
	Current string                 `json:"current,omitempty"`

	// ack (client)
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Message types of the hotreload/1 protocol.
const (
	typeHello    = "hello"    // client: protocol, id, epoch, seq (last seen), page
	typeWelcome  = "welcome"  // hub: id, epoch, seq (current), entries, errors, current version
	typeUpdate   = "update"   // hub: seq + Update
	typeSnapshot = "snapshot" // hub: entries, replacing missed updates
	typeError    = "error"    // hub: errors to show in the overlay
	typeClear    = "clear"    // hub: hide the overlay
	typeAck      = "ack"      // client: seq, key, version, status, error
)

// Ack statuses a client reports.
const (
	AckApplied  = "applied"   // patched in place
	AckFailed   = "failed"    // could not apply; the page runs the old version
	AckFellBack = "fell_back" // fell back to a full page reload
)

// liveReload is every message of LiveReload protocol 7 the hub reads or
// writes.
type liveReload struct {
	Command    string   `json:"command"`
	Protocols  []string `json:"protocols,omitempty"`
	ServerName string   `json:"serverName,omitempty"`
	Path       string   `json:"path,omitempty"`
	LiveCSS    *bool    `json:"liveCSS,omitempty"`
	LiveImg    *bool    `json:"liveImg,omitempty"`
	URL        string   `json:"url,omitempty"`
}
