package ui

import (
	"cmp"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
)

// Options configure a Hub. The zero value is a development hub: same-origin
// sockets only, no token.
type Options struct {
	// OriginPatterns lists the extra origins (host patterns such as
	// "localhost:*" or "*.example.com") allowed to open a socket; the page's
	// own origin is always allowed.
	OriginPatterns []string
	// Authorize, when set, checks every socket and clients request before
	// it is accepted (a token in prod); an error refuses it with the
	// error's code (CodeUnauthorized when it has none). TokenFromRequest
	// reads the token a browser can send.
	Authorize func(r *http.Request) error
	// History is how many recent messages the ring keeps for clients that
	// reconnect; zero means 256.
	History int
	// QueueSize bounds each client's send queue after merging; zero means
	// 64. A client whose queue is full is closed with CloseResync.
	QueueSize int
	// WriteTimeout bounds one write to a client; zero means 5 s. A writer
	// stays on a stuck socket at most this long (and at least half of it).
	WriteTimeout time.Duration
	// Writers bounds the goroutines that write to the sockets; zero means
	// 8. Each takes the next clients with frames queued. At most one per P
	// (GOMAXPROCS) but one, and at least one, is put to work by new frames,
	// so that a broadcast leaves a P to the rest of the process; another
	// one is each time those at work are stuck on sockets for 20 ms, and
	// takes over the clients they had yet to write to. So a stuck socket
	// holds one writer for at most WriteTimeout while the others, and its
	// other clients, go on.
	Writers int
	// PingInterval is how often an idle client is pinged; zero means 30 s.
	PingInterval time.Duration
	// Roots lists the watched folders (config, plugins; NewAssets adds its
	// own). The overlay shows a file under one of them relative to it and
	// any other absolute path by its base name, so that no server path
	// reaches a browser.
	Roots []string
	// Logger logs connections and drops; nil discards.
	Logger *slog.Logger
}

// Hub is the WebSocket channel to the browsers. Create it with NewHub and
// mount its handlers with Register; Close it when done.
type Hub struct {
	opts  Options
	log   *slog.Logger
	epoch string

	mu      sync.Mutex
	seq     uint64
	ring    []event // oldest first, at most opts.History
	state   map[string]Update
	current string                 // UI version of the last update carrying one
	errors  []hotreload.FieldError // as the overlay shows them
	roots   roots
	clients map[string]*client
	closed  bool
	ping    *time.Timer    // pings every client; armed with the first one
	wg      sync.WaitGroup // registered clients whose socket is open

	pollOnce sync.Once
	poll     *poller        // reads every client; nil where there is no epoll
	noPoll   bool           // tests: read with a goroutine per client
	readers  sync.WaitGroup // reader goroutines, without a poller

	writers writers
}

// event is one numbered message in the ring, encoded once for every
// protocol as a frame ready for every socket.
type event struct {
	seq     uint64
	to      string // client id for a message to one client, "" for all
	key     string
	frame   []byte // hotreload/1
	lrFrame []byte // LiveReload 7, nil when it has no equivalent
}

// NewHub returns a hub with no clients.
func NewHub(opts Options) *Hub {
	if opts.History <= 0 {
		opts.History = 256
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 64
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 5 * time.Second
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 30 * time.Second
	}
	if opts.Writers <= 0 {
		opts.Writers = 8
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		opts:    opts,
		log:     log,
		epoch:   strconv.FormatInt(time.Now().UnixNano(), 36),
		state:   map[string]Update{},
		clients: map[string]*client{},
	}
	for _, dir := range opts.Roots {
		h.roots.add(dir)
	}
	h.writers.max = opts.Writers
	h.writers.cond.L = &h.writers.mu
	return h
}

// addRoot adds a watched folder to Options.Roots.
func (h *Hub) addRoot(dir string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roots.add(dir)
}

// Broadcast sends an update to every client and records it as the current
// state of its key (except page reloads and messages, which have no state).
// It returns the update's sequence number, or a CodeInvalid error when Data
// is not valid JSON.
func (h *Hub) Broadcast(u Update) (uint64, error) {
	return h.publish("", u)
}

// broadcast sends an update that carries no Data, which cannot fail.
func (h *Hub) broadcast(u Update) uint64 {
	seq, _ := h.publish("", u)
	return seq
}

// SendTo sends an update to the client with the given id only. It fails
// with CodeNotFound when no such client is connected and with CodeInvalid
// when Data is not valid JSON.
func (h *Hub) SendTo(id string, u Update) (uint64, error) {
	h.mu.Lock()
	_, ok := h.clients[id]
	h.mu.Unlock()
	if !ok {
		return 0, hotreload.Errorf(hotreload.CodeNotFound, "no UI client %q is connected", id)
	}
	return h.publish(id, u)
}

// ReloadStyles tells browsers that the stylesheet at path changed to the
// content with the given hash.
func (h *Hub) ReloadStyles(path, hash string) uint64 {
	return h.broadcast(Update{Kind: KindStyles, Path: path, Hash: hash})
}

// ReloadTheme replaces the theme's custom properties in every browser.
func (h *Hub) ReloadTheme(props map[string]string) uint64 {
	return h.broadcast(Update{Kind: KindTheme, Key: string(KindTheme), Theme: props})
}

// ReloadComponent tells browsers to re-import the module at path that
// defines the custom element name, keeping its instances.
func (h *Hub) ReloadComponent(name, path, hash string) uint64 {
	return h.broadcast(Update{Kind: KindComponent, Key: "component:" + name, Name: name, Path: path, Hash: hash})
}

// ReloadPage tells browsers to reload the whole page.
func (h *Hub) ReloadPage() uint64 {
	return h.broadcast(Update{Kind: KindPage, Key: string(KindPage)})
}

// Error shows the errors in every browser's overlay until Clear; an empty
// list is the same as Clear. File names are shown relative to
// Options.Roots.
func (h *Hub) Error(errs []hotreload.FieldError) uint64 {
	if len(errs) == 0 {
		return h.Clear()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errors = h.roots.shown(errs)
	return h.appendLocked("", typeKeyErrors, wire{Type: typeError, Errors: h.errors}, nil)
}

// Clear hides the error overlay; it sends nothing when no error is shown.
func (h *Hub) Clear() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.errors == nil {
		return h.seq
	}
	h.errors = nil
	return h.appendLocked("", typeKeyErrors, wire{Type: typeClear}, nil)
}

// Observe shows a rejected transaction's errors in the overlay and clears
// them once a candidate is valid again (committed, or unchanged: the source
// was put back as it is live); it implements hotreload.Observer so that
// config, plugin and build errors reach the browser too.
func (h *Hub) Observe(o hotreload.Outcome) {
	switch o.Result {
	case hotreload.Rejected:
		errs := o.Errors
		if len(errs) == 0 {
			errs = []hotreload.FieldError{{Message: o.Reason}}
		}
		h.Error(errs)
	case hotreload.Committed, hotreload.Unchanged:
		h.Clear()
	}
}

// typeKeyErrors is the merge key of error and clear messages: only the
// latest matters.
const typeKeyErrors = "errors"

func (h *Hub) publish(to string, u Update) (uint64, error) {
	if u.Data != nil && !json.Valid(u.Data) {
		return 0, hotreload.Errorf(hotreload.CodeInvalid, "the data of UI update %q is not valid JSON", u.key())
	}
	u.Key = u.key()
	h.mu.Lock()
	defer h.mu.Unlock()
	if to == "" && u.Kind != KindPage && u.Kind != KindMessage {
		h.state[u.Key] = u
	}
	if to == "" && u.Version != "" {
		h.current = u.Version
	}
	return h.appendLocked(to, u.Key, wire{Type: typeUpdate, Update: &u}, liveReloadOf(u)), nil
}

// appendLocked numbers a message, keeps it in the ring and queues it for its
// clients. h.mu must be held.
func (h *Hub) appendLocked(to, key string, w wire, lr []byte) uint64 {
	h.seq++
	w.Seq = h.seq
	msg, _ := json.Marshal(w) // strings, maps and checked JSON: cannot fail
	ev := event{seq: h.seq, to: to, key: key, frame: textFrame(msg)}
	if lr != nil {
		ev.lrFrame = textFrame(lr)
	}
	if len(h.ring) == h.opts.History {
		copy(h.ring, h.ring[1:])
		h.ring = h.ring[:len(h.ring)-1]
	}
	h.ring = append(h.ring, ev)
	if h.closed {
		return ev.seq
	}
	if to != "" {
		if c := h.clients[to]; c != nil {
			c.send(ev)
		}
		return ev.seq
	}
	h.sendAllLocked(ev)
	return ev.seq
}

// sendAllLocked queues ev for every client and pushes those that need it
// to the writers at once. h.mu must be held.
func (h *Hub) sendAllLocked(ev event) {
	push := make([]*client, 0, len(h.clients))
	for _, c := range h.clients {
		if c.enqueue(ev) {
			push = append(push, c)
		}
	}
	h.writers.push(push...)
}

// startPings arms the ping timer once.
func (h *Hub) startPings() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ping == nil && !h.closed {
		h.ping = time.AfterFunc(h.opts.PingInterval, h.pingAll)
	}
}

// pingAll runs on the timer: it queues a ping for every client (a
// connection that died unseen then fails its write and is closed) and
// re-arms.
func (h *Hub) pingAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.sendAllLocked(event{key: "ping", frame: pingFrame, lrFrame: pingFrame})
	h.ping.Reset(h.opts.PingInterval)
}

// liveReloadOf encodes the LiveReload 7 equivalent of an update, or nil.
func liveReloadOf(u Update) []byte {
	var path string
	switch u.Kind {
	case KindStyles, KindComponent, KindModule:
		path = u.Path
	case KindTheme:
		path = "theme.json"
	case KindPage:
		path = "index.html"
	default:
		return nil
	}
	yes := true
	b, _ := json.Marshal(liveReload{Command: "reload", Path: path, LiveCSS: &yes, LiveImg: &yes})
	return b
}

// resumeLocked queues for a new client what it needs after the welcome: the
// messages it missed since lastSeq, or a snapshot when the ring no longer
// holds them or the hub restarted. h.mu must be held.
func (h *Hub) resumeLocked(c *client, epoch string, lastSeq uint64) {
	if lastSeq == 0 && epoch == "" {
		return // a fresh page: it loaded the current files
	}
	oldest := h.seq + 1
	if len(h.ring) > 0 {
		oldest = h.ring[0].seq
	}
	if epoch == h.epoch && lastSeq <= h.seq && lastSeq+1 >= oldest {
		for _, ev := range h.ring {
			if ev.seq > lastSeq && (ev.to == "" || ev.to == c.id()) {
				c.enqueue(ev)
			}
		}
		return
	}
	msg, _ := json.Marshal(wire{Type: typeSnapshot, Seq: h.seq, Resync: true, Entries: h.entriesLocked(), Errors: h.errors, Current: h.current})
	c.enqueue(event{seq: h.seq, to: c.id(), key: "snapshot", frame: textFrame(msg)})
}

func (h *Hub) entriesLocked() []Update {
	out := slices.Collect(maps.Values(h.state))
	slices.SortFunc(out, func(a, b Update) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// setState records the current version of every key without sending
// anything, so that new and resyncing clients compare against it. Keys
// absent from entries are forgotten.
func (h *Hub) setState(entries []Update, version string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.state)
	for _, u := range entries {
		u.Key = u.key()
		h.state[u.Key] = u
	}
	h.current = version
}

// Seq returns the sequence number of the last message.
func (h *Hub) Seq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Close closes every client with "going away" (they reconnect with backoff)
// and refuses new ones. It waits for every socket to be closed (at most
// WriteTimeout and closeWait) and for the poller and writer goroutines to
// end.
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	if h.ping != nil {
		h.ping.Stop()
	}
	cs := make([]*client, 0, len(h.clients))
	for _, c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.shut(closeGoingAway, "")
	}
	h.wg.Wait()
	h.readers.Wait()
	h.pollOnce.Do(func() {}) // no poller starts after this
	if h.poll != nil {
		h.poll.close()
	}
	h.writers.close()
	return nil
}

// poller returns the hub's poller, started on first use; nil where epoll
// is not available.
func (h *Hub) poller() *poller {
	h.pollOnce.Do(func() {
		if h.noPoll {
			return
		}
		p, err := newPoller()
		if err != nil {
			h.log.Info("reading ui sockets with a goroutine each", "err", err)
			return
		}
		h.poll = p
	})
	return h.poll
}
