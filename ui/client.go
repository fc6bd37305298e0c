package ui

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/httpjson"
)

// Client protocols as ClientInfo reports them.
const (
	protoHotreload  = Protocol
	protoLiveReload = "livereload/7"
)

const (
	helloTimeout = 10 * time.Second
	readLimit    = 64 << 10
)

// Ack is a client's report about one update it received.
type Ack struct {
	// Seq is the update's sequence number (0 for a resync entry).
	Seq uint64 `json:"seq"`
	// Key is the update's key, such as "styles:/ui/app.css".
	Key string `json:"key,omitempty"`
	// Version is the UI version the update belongs to.
	Version string `json:"version,omitempty"`
	// Status is AckApplied, AckFailed or AckFellBack.
	Status string `json:"status"`
	// Error says why a failed update failed.
	Error string `json:"error,omitempty"`
	// Time is when the hub received the ack.
	Time time.Time `json:"time"`
}

// ClientInfo describes one connected client for the dashboard.
type ClientInfo struct {
	// ID is the client's id (kept per tab in sessionStorage).
	ID string `json:"id"`
	// Protocol is "hotreload/1" or "livereload/7".
	Protocol string `json:"protocol"`
	// Remote and UserAgent describe the connection.
	Remote    string `json:"remote"`
	UserAgent string `json:"user_agent,omitempty"`
	// Page is the URL of the page the client runs in.
	Page string `json:"page,omitempty"`
	// Connected is when the socket was accepted.
	Connected time.Time `json:"connected"`
	// Sent is the sequence number of the last message queued to it.
	Sent uint64 `json:"sent_seq"`
	// Acked is the highest sequence number it acknowledged.
	Acked uint64 `json:"acked_seq"`
	// Version is the UI version it last reported running.
	Version string `json:"version,omitempty"`
	// Last is its last acknowledgement.
	Last *Ack `json:"last_ack,omitempty"`
	// Queued is how many messages wait in its queue; Merged how many were
	// replaced by a newer one for the same key.
	Queued int    `json:"queued"`
	Merged uint64 `json:"merged"`
}

// client is one connected socket: a bounded queue of prepared frames and
// the state its acks report. A reader goroutine (Hub.run) reads it; the
// hub's writers flush its queue, one at a time.
type client struct {
	h         *Hub
	conn      net.Conn
	early     []byte // what the client sent before the upgrade was answered
	lr        bool   // speaks LiveReload 7
	onMessage func([]byte)

	// The read side: the poller's (or the reader goroutine's) alone.
	in    inbound
	raw   syscall.RawConn
	fd    int
	token uint64 // the poller's handle, set under its lock; 0 when a goroutine reads

	mu        sync.Mutex
	info      ClientInfo
	queue     []queued
	spare     []queued // the other queue buffer, swapped in by flush
	scheduled bool     // on the writers' queue or being flushed
	stopped   bool
	closing   []byte // the close frame still to write once stopped
	written   bool   // stopped, and the writers are done with it
	readEnded bool   // nothing more is read from it
	gone      bool   // the socket is closed
	closer    *time.Timer

	deadline time.Time // the socket's write deadline; only its writer touches it
}

type queued struct {
	seq   uint64
	key   string
	frame []byte
}

func newClient(h *Hub, conn net.Conn, early []byte, r *http.Request, protocol string) *client {
	return &client{
		h:     h,
		conn:  conn,
		early: early,
		lr:    protocol == protoLiveReload,
		info: ClientInfo{
			Protocol:  protocol,
			Remote:    r.RemoteAddr,
			UserAgent: r.UserAgent(),
			Connected: time.Now().UTC(),
		},
	}
}

// id returns the client id; it is set once before the client is registered.
func (c *client) id() string { return c.info.ID }

// enqueue puts an event's frame on the queue without blocking, replacing a
// queued one with the same key. A full queue shuts the client with
// CloseResync. It reports whether the client must be pushed to the
// writers.
func (c *client) enqueue(ev event) bool {
	frame := ev.frame
	if c.lr {
		frame = ev.lrFrame
	}
	if frame == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false
	}
	if i := slices.IndexFunc(c.queue, func(q queued) bool { return q.key == ev.key }); i >= 0 {
		c.queue = slices.Delete(c.queue, i, i+1)
		if ev.seq != 0 {
			c.info.Merged++
		}
	}
	if len(c.queue) >= c.h.opts.QueueSize {
		c.h.log.Warn("ui client fell behind; closing it to resync", "client", c.id(), "queued", len(c.queue))
		return c.shutLocked(CloseResync, "fell behind: reconnect to resync")
	}
	c.queue = append(c.queue, queued{seq: ev.seq, key: ev.key, frame: frame})
	if ev.seq != 0 {
		c.info.Sent = ev.seq
	}
	return c.scheduleLocked()
}

// send queues a frame and pushes the client to the writers.
func (c *client) send(ev event) {
	if c.enqueue(ev) {
		c.h.writers.push(c)
	}
}

// scheduleLocked marks the client scheduled and reports whether it must
// be pushed to the writers (it was not already). c.mu must be held.
func (c *client) scheduleLocked() bool {
	if c.scheduled {
		return false
	}
	c.scheduled = true
	return true
}

// shut stops the client once: the writers send a close frame with code
// after the write in flight, if any, and the reader closes the socket.
func (c *client) shut(code ws.StatusCode, reason string) {
	c.mu.Lock()
	push := c.shutLocked(code, reason)
	c.mu.Unlock()
	if push {
		c.h.writers.push(c)
	}
}

// shutLocked is shut with c.mu held; it reports whether the client must be
// pushed to the writers.
func (c *client) shutLocked(code ws.StatusCode, reason string) bool {
	if c.stopped {
		return false
	}
	c.stopped = true
	c.queue, c.spare = nil, nil
	if code != 0 {
		c.closing = closeFrame(code, reason)
	}
	return c.scheduleLocked()
}

// closeWait bounds how long the hub waits for the client's answer to its
// close frame.
const closeWait = 5 * time.Second

// flush runs on a writer: it writes the queued frames until the queue is
// empty. Of a stopped client it writes the close frame, then closes the
// socket when the client's answer has come, or closeWait after. A failed
// write closes the socket.
func (c *client) flush() {
	for {
		c.mu.Lock()
		if c.stopped {
			frame := c.closing
			c.closing, c.scheduled = nil, false
			c.mu.Unlock()
			sent := frame != nil && c.write(frame) == nil
			c.mu.Lock()
			c.written = true
			now := c.readEnded || !sent
			if !now && !c.gone {
				c.closer = time.AfterFunc(closeWait, c.closeConn)
			}
			c.mu.Unlock()
			if now {
				c.closeConn()
			}
			return
		}
		batch := c.queue
		if len(batch) == 0 {
			c.scheduled = false
			c.mu.Unlock()
			return
		}
		c.queue = c.spare[:0]
		c.spare = nil
		c.mu.Unlock()

		var err error
		if len(batch) == 1 {
			err = c.write(batch[0].frame)
		} else {
			bufs := make(net.Buffers, len(batch))
			for i, q := range batch {
				bufs[i] = q.frame
			}
			err = c.writeBuffers(bufs)
		}
		clear(batch)
		c.mu.Lock()
		if !c.stopped {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
		if err != nil {
			// Part of a frame may have gone out: no close frame can follow.
			c.h.log.Info("writing to a ui client failed; closing it", "client", c.id(), "err", err)
			c.shut(0, "")
		}
	}
}

// write writes one frame within Options.WriteTimeout.
func (c *client) write(frame []byte) error {
	if err := c.armDeadline(); err != nil {
		return err
	}
	_, err := c.conn.Write(frame)
	return err
}

// writeBuffers writes several frames in one system call where it can.
func (c *client) writeBuffers(bufs net.Buffers) error {
	if err := c.armDeadline(); err != nil {
		return err
	}
	_, err := bufs.WriteTo(c.conn)
	return err
}

// armDeadline makes sure the socket's write deadline is at least half of
// Options.WriteTimeout away (and at most all of it), moving it only when it
// is nearer: most writes then skip the deadline's timer update. Only the
// socket's one writer calls it.
func (c *client) armDeadline() error {
	now := time.Now()
	if c.deadline.Sub(now) >= c.h.opts.WriteTimeout/2 {
		return nil
	}
	c.deadline = now.Add(c.h.opts.WriteTimeout)
	return c.conn.SetWriteDeadline(c.deadline)
}

// snapshot returns the client's info.
func (c *client) snapshot() ClientInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	info := c.info
	info.Queued = len(c.queue)
	if info.Last != nil {
		last := *info.Last
		info.Last = &last
	}
	return info
}

// ack records an acknowledgement.
func (c *client) ack(w wire) {
	switch w.Status {
	case AckApplied, AckFailed, AckFellBack:
	default:
		return
	}
	a := Ack{Seq: w.Seq, Status: w.Status, Error: truncate(w.Error, 1024), Time: time.Now().UTC()}
	if w.Update != nil {
		a.Key = truncate(w.Update.Key, 256)
		a.Version = truncate(w.Update.Version, 128)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.info.Acked = max(c.info.Acked, a.Seq)
	if a.Status != AckFailed && a.Version != "" {
		c.info.Version = a.Version
	}
	c.info.Last = &a
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ServeWS accepts a browser on the hotreload/1 protocol (GET /ws).
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request) {
	c := h.accept(w, r, protoHotreload)
	if c == nil {
		return
	}
	hello, err := readHello(c, parseHello)
	if err != nil {
		h.log.Info("refused a ui client", "remote", r.RemoteAddr, "err", err)
		c.refuse(CloseProtocol, "expected a hello with protocol "+Protocol)
		return
	}
	c.info.Page = truncate(hello.Page, 2048)
	var version string
	if hello.Update != nil {
		version = hello.Update.Version
	}
	h.mu.Lock()
	if !h.registerLocked(c, hello.ID) {
		h.mu.Unlock()
		c.refuse(closeGoingAway, "shutting down")
		return
	}
	c.info.Version = truncate(version, 128)
	if hello.Seq == 0 && hello.Epoch == "" {
		c.info.Version = h.current
	}
	welcome, _ := json.Marshal(wire{
		Type: typeWelcome, Seq: h.seq, Protocol: Protocol, ID: c.id(), Epoch: h.epoch,
		Entries: h.entriesLocked(), Errors: h.errors, Current: h.current,
	})
	c.enqueue(event{seq: h.seq, to: c.id(), key: typeWelcome, frame: textFrame(welcome)})
	h.resumeLocked(c, hello.Epoch, hello.Seq)
	c.onMessage = func(data []byte) {
		var m wire
		if json.Unmarshal(data, &m) == nil && m.Type == typeAck {
			c.ack(m)
		}
	}
	h.mu.Unlock()
	h.writers.push(c)
	h.startReading(c)
}

// ServeLiveReload accepts a LiveReload 7 client (GET /livereload): the
// browser extensions and livereload.js.
func (h *Hub) ServeLiveReload(w http.ResponseWriter, r *http.Request) {
	c := h.accept(w, r, protoLiveReload)
	if c == nil {
		return
	}
	_, err := readHello(c, func(data []byte) (liveReload, error) {
		var hello liveReload
		if err := json.Unmarshal(data, &hello); err != nil || hello.Command != "hello" || !slices.Contains(hello.Protocols, LiveReloadProtocol) {
			return hello, errors.New("expected a hello offering " + LiveReloadProtocol)
		}
		return hello, nil
	})
	if err != nil {
		c.refuse(CloseProtocol, "expected a hello offering "+LiveReloadProtocol)
		return
	}
	c.onMessage = func(data []byte) {
		var m liveReload
		if json.Unmarshal(data, &m) == nil && m.Command == "info" && m.URL != "" {
			c.mu.Lock()
			c.info.Page = truncate(m.URL, 2048)
			c.mu.Unlock()
		}
	}
	reply, _ := json.Marshal(liveReload{Command: "hello", Protocols: []string{LiveReloadProtocol}, ServerName: "hotreload"})
	if err := c.write(textFrame(reply)); err != nil {
		c.conn.Close()
		return
	}
	h.mu.Lock()
	ok := h.registerLocked(c, "")
	h.mu.Unlock()
	if !ok {
		c.refuse(closeGoingAway, "shutting down")
		return
	}
	h.startReading(c)
}

// refuse closes a socket no writer knows yet with a close frame, on the
// handler's goroutine.
func (c *client) refuse(code ws.StatusCode, reason string) {
	_ = c.write(closeFrame(code, reason))
	c.conn.Close()
}

// accept authorizes and upgrades a request; it answers and returns nil on
// failure.
func (h *Hub) accept(w http.ResponseWriter, r *http.Request, protocol string) *client {
	if !h.authorize(w, r) {
		return nil
	}
	conn, early, err := upgrade(w, r, h.opts.OriginPatterns)
	if err != nil {
		h.log.Info("refused a ui socket", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return nil
	}
	return newClient(h, conn, early, r, protocol)
}

// readHello reads and parses the client's first message within
// helloTimeout, on the handler's goroutine.
func readHello[T any](c *client, parse func([]byte) (T, error)) (T, error) {
	var zero T
	var first []byte
	got := func(m []byte) {
		if first == nil {
			first = append([]byte{}, m...)
		}
	}
	early := c.early
	c.early = nil
	if err := c.in.feed(early, got, func() {}); err != nil {
		return zero, err
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(helloTimeout))
	buf := make([]byte, 1024)
	for first == nil {
		n, err := c.conn.Read(buf)
		if ferr := c.in.feed(buf[:n], got, func() {}); ferr != nil {
			return zero, ferr
		}
		if err != nil && first == nil {
			return zero, err
		}
	}
	_ = c.conn.SetReadDeadline(time.Time{})
	return parse(first)
}

// parseHello decodes and checks a client's first message.
func parseHello(data []byte) (wire, error) {
	var hello wire
	if err := json.Unmarshal(data, &hello); err != nil {
		return hello, errors.New("the first message must be a JSON hello")
	}
	if hello.Type != typeHello || hello.Protocol != Protocol {
		return hello, errors.New("expected a hello with protocol " + Protocol)
	}
	return hello, nil
}

var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// registerLocked gives the client an id (the one it asked for when valid and
// free) and adds it. It returns false when the hub is closed. h.mu must be
// held.
func (h *Hub) registerLocked(c *client, want string) bool {
	if h.closed {
		return false
	}
	id := want
	if !validID.MatchString(id) || h.clients[id] != nil {
		id = newID()
	}
	c.info.ID = id
	h.clients[id] = c
	h.wg.Add(1)
	return true
}

// startReading hands a registered client to the poller, or, where there
// is none, to a reader goroutine of its own.
func (h *Hub) startReading(c *client) {
	h.startPings()
	if p := h.poller(); p != nil && p.add(c) == nil {
		return
	}
	h.mu.Lock()
	closed := h.closed // Close waits for readers: none may start after
	if !closed {
		h.readers.Add(1)
	}
	h.mu.Unlock()
	if !closed {
		go h.readLoop(c)
	}
}

// readLoop reads a client on a goroutine until the socket ends.
func (h *Hub) readLoop(c *client) {
	defer h.readers.Done()
	buf := make([]byte, 1024)
	for {
		n, err := c.conn.Read(buf)
		if n > 0 {
			if ferr := c.received(buf[:n]); ferr != nil {
				err = ferr
			}
		}
		if err != nil {
			c.readEnd(err)
			return
		}
	}
}

// received handles bytes the client sent.
func (c *client) received(data []byte) error {
	return c.in.feed(data, c.onMessage, func() { c.send(event{key: "pong", frame: pongFrame, lrFrame: pongFrame}) })
}

// readEnd ends the read side of a client: at its close frame (answered
// with the same code), a protocol violation (closed with its code), or a
// socket that ended. The socket is closed once the writers are done with
// it.
func (c *client) readEnd(err error) {
	h := c.h
	h.mu.Lock()
	if h.clients[c.id()] == c {
		delete(h.clients, c.id())
	}
	h.mu.Unlock()
	var code ws.StatusCode
	var reason string
	var closed peerClosed
	var broke wireError
	switch {
	case errors.As(err, &closed):
		code = closed.code
	case errors.As(err, &broke):
		h.log.Info("closing a ui client that broke the protocol", "client", c.id(), "err", err)
		code, reason = broke.code, broke.Error()
	}
	c.mu.Lock()
	c.readEnded = true
	written := c.written
	push := c.shutLocked(code, reason)
	c.mu.Unlock()
	if push {
		h.writers.push(c)
	}
	if written {
		c.closeConn()
	}
}

// closeConn closes the socket once and unregisters the client.
func (c *client) closeConn() {
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		return
	}
	c.gone = true
	if c.closer != nil {
		c.closer.Stop()
	}
	c.mu.Unlock()
	h := c.h
	if p := h.poller(); p != nil {
		p.remove(c) // under the poller's lock: see remove
	} else {
		c.conn.Close()
	}
	h.mu.Lock()
	if h.clients[c.id()] == c {
		delete(h.clients, c.id())
	}
	h.mu.Unlock()
	h.wg.Done()
}

func newID() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Clients lists the connected clients, oldest first.
func (h *Hub) Clients() []ClientInfo {
	h.mu.Lock()
	cs := make([]*client, 0, len(h.clients))
	for _, c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	out := make([]ClientInfo, len(cs))
	for i, c := range cs {
		out[i] = c.snapshot()
	}
	slices.SortFunc(out, func(a, b ClientInfo) int {
		if d := a.Connected.Compare(b.Connected); d != 0 {
			return d
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// ServeClients answers GET /api/v1/ui/clients with
// {"seq": N, "version": V, "clients": [ClientInfo...]}.
func (h *Hub) ServeClients(w http.ResponseWriter, r *http.Request) {
	if !h.authorize(w, r) {
		return
	}
	h.mu.Lock()
	seq, version := h.seq, h.current
	h.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusOK, map[string]any{"seq": seq, "version": version, "clients": h.Clients()})
}

// authorize runs Options.Authorize; it answers and returns false on refusal.
func (h *Hub) authorize(w http.ResponseWriter, r *http.Request) bool {
	if h.opts.Authorize == nil {
		return true
	}
	err := h.opts.Authorize(r)
	if err == nil {
		return true
	}
	var e *hotreload.Error
	if !errors.As(err, &e) {
		err = &hotreload.Error{Code: hotreload.CodeUnauthorized, Message: err.Error(), Err: err}
	}
	httpjson.WriteError(w, err)
	return false
}

// TokenFromRequest returns the bearer token of an Authorization header,
// or else the token a browser offers as a subprotocol (SubprotocolToken).
// A token in the URL is never read: URLs reach access logs.
func TokenFromRequest(r *http.Request) string {
	if v, ok := cutBearer(r.Header.Get("Authorization")); ok {
		return v
	}
	return SubprotocolToken(r)
}

// SubprotocolToken returns the token of a WebSocket upgrade request
// offered as the subprotocol TokenSubprotocolPrefix + base64url(token), or
// "" when there is none or it does not decode.
func SubprotocolToken(r *http.Request) string {
	for _, line := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(line, ",") {
			enc, ok := strings.CutPrefix(strings.TrimSpace(p), TokenSubprotocolPrefix)
			if !ok {
				continue
			}
			tok, err := base64.RawURLEncoding.DecodeString(enc)
			if err != nil {
				return ""
			}
			return string(tok)
		}
	}
	return ""
}

func cutBearer(h string) (string, bool) {
	const p = "Bearer "
	if len(h) > len(p) && (h[:len(p)] == p || h[:len(p)] == "bearer ") {
		return h[len(p):], true
	}
	return "", false
}

// Register mounts the hub on mux: GET /ws, GET /livereload, GET
// /hotreload.js, GET /livereload.js and GET /api/v1/ui/clients.
//
// /livereload.js serves the hotreload client too: the LiveReload browser
// extensions inject the script of that name from the server they connect
// to, so on a server they know (such as one listening on LiveReload's port
// 35729) they get the full client.
func (h *Hub) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /ws", h.ServeWS)
	mux.HandleFunc("GET /livereload", h.ServeLiveReload)
	mux.Handle("GET /hotreload.js", Script)
	mux.Handle("GET /livereload.js", Script)
	mux.HandleFunc("GET /api/v1/ui/clients", h.ServeClients)
}
