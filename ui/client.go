package ui

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/httpjson"
)

// Client protocols as ClientInfo reports them.
const (
	protoHotreload  = Protocol
	protoLiveReload = "livereload/7"
)

const (
	helloTimeout   = 10 * time.Second
	readLimit      = 64 << 10
	closeGoingAway = websocket.StatusGoingAway
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

// client is one connected socket: a bounded queue and the state its acks
// report. It holds no goroutine while idle: a writer goroutine runs only
// while the queue is not empty, and pings run from a runtime timer.
type client struct {
	h    *Hub
	conn *websocket.Conn
	lr   bool // speaks LiveReload 7

	mu      sync.Mutex
	info    ClientInfo
	queue   []queued
	writing bool // a drain goroutine is running
	stopped bool
	code    websocket.StatusCode
	reason  string
	ping    *time.Timer
	busy    sync.WaitGroup // drain, ping and close goroutines; Add only under mu before stopped
}

type queued struct {
	seq uint64
	key string
	msg []byte
}

func newClient(h *Hub, conn *websocket.Conn, r *http.Request, protocol string) *client {
	return &client{
		h:    h,
		conn: conn,
		lr:   protocol == protoLiveReload,
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

// enqueue puts an event on the queue without blocking, replacing a queued
// one with the same key, and starts the writer if it is idle. A full queue
// shuts the client with CloseResync.
func (c *client) enqueue(ev event) {
	msg := ev.msg
	if c.lr {
		msg = ev.lr
	}
	if msg == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	if i := slices.IndexFunc(c.queue, func(q queued) bool { return q.key == ev.key }); i >= 0 {
		c.queue = slices.Delete(c.queue, i, i+1)
		c.info.Merged++
	}
	if len(c.queue) >= c.h.opts.QueueSize {
		c.h.log.Warn("ui client fell behind; closing it to resync", "client", c.id(), "queued", len(c.queue))
		c.shutLocked(CloseResync, "fell behind: reconnect to resync")
		return
	}
	c.queue = append(c.queue, queued{seq: ev.seq, key: ev.key, msg: msg})
	c.info.Sent = ev.seq
	if !c.writing {
		c.writing = true
		c.busy.Add(1)
		go c.drain()
	}
}

// start arms the ping timer of a registered client.
func (c *client) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.ping = time.AfterFunc(c.h.opts.PingInterval, c.pingOnce)
	}
}

// pingOnce runs on the timer's goroutine: it pings and re-arms.
func (c *client) pingOnce() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.busy.Add(1)
	c.mu.Unlock()
	defer c.busy.Done()
	if err := c.write(func(ctx context.Context) error { return c.conn.Ping(ctx) }); err != nil {
		c.shut(websocket.StatusGoingAway, "ping failed")
		return
	}
	c.mu.Lock()
	if !c.stopped {
		c.ping.Reset(c.h.opts.PingInterval)
	}
	c.mu.Unlock()
}

// shut stops the client once: the socket is closed with the code after the
// write in flight, if any.
func (c *client) shut(code websocket.StatusCode, reason ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shutLocked(code, reason...)
}

func (c *client) shutLocked(code websocket.StatusCode, reason ...string) {
	if c.stopped {
		return
	}
	c.stopped = true
	c.code = code
	if len(reason) > 0 {
		c.reason = reason[0]
	}
	c.queue = nil
	if c.ping != nil {
		c.ping.Stop()
	}
	if !c.writing { // else the writer closes when its write returns
		c.busy.Add(1)
		go c.closeConn()
	}
}

// closeConn closes the socket with the shut code (a close handshake of at
// most five seconds).
func (c *client) closeConn() {
	defer c.busy.Done()
	c.mu.Lock()
	code, reason := c.code, c.reason
	c.mu.Unlock()
	_ = c.conn.Close(code, reason)
}

// drain writes queued messages until the queue is empty, then ends; when
// the client is shut meanwhile, it closes the socket instead.
func (c *client) drain() {
	for {
		c.mu.Lock()
		if c.stopped {
			c.mu.Unlock()
			c.closeConn() // takes over drain's busy count
			return
		}
		batch := c.queue
		c.queue = nil
		if len(batch) == 0 {
			c.writing = false
			c.mu.Unlock()
			c.busy.Done()
			return
		}
		c.mu.Unlock()
		for _, q := range batch {
			err := c.write(func(ctx context.Context) error { return c.conn.Write(ctx, websocket.MessageText, q.msg) })
			if err != nil {
				c.shut(websocket.StatusGoingAway, "write failed")
				break
			}
			c.mu.Lock()
			stopped := c.stopped
			c.mu.Unlock()
			if stopped {
				break
			}
		}
	}
}

func (c *client) write(fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.h.opts.WriteTimeout)
	defer cancel()
	return fn(ctx)
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
	conn := h.accept(w, r)
	if conn == nil {
		return
	}
	hello, err := readHello(r.Context(), conn)
	if err != nil {
		h.log.Info("refused a ui client", "remote", r.RemoteAddr, "err", err)
		closeNow(conn, CloseProtocol, "expected a hello with protocol "+Protocol)
		return
	}
	c := newClient(h, conn, r, protoHotreload)
	c.info.Page = truncate(hello.Page, 2048)
	var version string
	if hello.Update != nil {
		version = hello.Update.Version
	}
	h.mu.Lock()
	if !h.registerLocked(c, hello.ID) {
		h.mu.Unlock()
		closeNow(conn, closeGoingAway, "shutting down")
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
	c.enqueue(event{seq: h.seq, to: c.id(), key: typeWelcome, msg: welcome})
	h.resumeLocked(c, hello.Epoch, hello.Seq)
	h.mu.Unlock()
	go h.run(c, func(data []byte) {
		var m wire
		if json.Unmarshal(data, &m) == nil && m.Type == typeAck {
			c.ack(m)
		}
	})
}

// ServeLiveReload accepts a LiveReload 7 client (GET /livereload): the
// browser extensions and livereload.js.
func (h *Hub) ServeLiveReload(w http.ResponseWriter, r *http.Request) {
	conn := h.accept(w, r)
	if conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), helloTimeout)
	var hello liveReload
	_, data, err := conn.Read(ctx)
	cancel()
	if err == nil {
		err = json.Unmarshal(data, &hello)
	}
	if err != nil || hello.Command != "hello" || !slices.Contains(hello.Protocols, LiveReloadProtocol) {
		closeNow(conn, CloseProtocol, "expected a hello offering "+LiveReloadProtocol)
		return
	}
	reply, _ := json.Marshal(liveReload{Command: "hello", Protocols: []string{LiveReloadProtocol}, ServerName: "hotreload"})
	if err := writeNow(r.Context(), conn, reply, h.opts.WriteTimeout); err != nil {
		conn.CloseNow()
		return
	}
	c := newClient(h, conn, r, protoLiveReload)
	h.mu.Lock()
	ok := h.registerLocked(c, "")
	h.mu.Unlock()
	if !ok {
		closeNow(conn, closeGoingAway, "shutting down")
		return
	}
	go h.run(c, func(data []byte) {
		var m liveReload
		if json.Unmarshal(data, &m) == nil && m.Command == "info" && m.URL != "" {
			c.mu.Lock()
			c.info.Page = truncate(m.URL, 2048)
			c.mu.Unlock()
		}
	})
}

// closeNow closes a socket no client owns yet: with a close handshake when
// the peer answers, at once when it does not.
func closeNow(conn *websocket.Conn, code websocket.StatusCode, reason string) {
	if err := conn.Close(code, reason); err != nil {
		conn.CloseNow()
	}
}

func writeNow(ctx context.Context, conn *websocket.Conn, msg []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, msg)
}

// accept authorizes and upgrades a request; it answers and returns nil on
// failure.
func (h *Hub) accept(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	if !h.authorize(w, r) {
		return nil
	}
	conn, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{OriginPatterns: h.opts.OriginPatterns, Subprotocols: []string{Subprotocol}})
	if err != nil {
		h.log.Info("refused a ui socket", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return nil
	}
	conn.SetReadLimit(readLimit)
	return conn
}

func readHello(ctx context.Context, conn *websocket.Conn) (wire, error) {
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	_, data, err := conn.Read(ctx)
	if err != nil {
		return wire{}, err
	}
	return parseHello(data)
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

// run reads from a registered client until the socket ends, then
// unregisters it. It runs on a goroutine of its own, so that the HTTP
// handler returns and net/http frees the request and its goroutine.
func (h *Hub) run(c *client, onMessage func([]byte)) {
	defer h.wg.Done()
	c.start()
	ctx := context.Background()
	for {
		_, data, err := c.conn.Read(ctx)
		if err != nil {
			break
		}
		onMessage(data)
	}
	h.mu.Lock()
	if h.clients[c.id()] == c {
		delete(h.clients, c.id())
	}
	h.mu.Unlock()
	c.shut(websocket.StatusNormalClosure)
	c.busy.Wait()
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
