package ui

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testHub starts a hub behind a real HTTP server on 127.0.0.1.
func testHub(t *testing.T, opts Options) (*Hub, *httptest.Server) {
	t.Helper()
	h := NewHub(opts)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return h, srv
}

// peer is a test client speaking hotreload/1.
type peer struct {
	t    *testing.T
	conn *websocket.Conn
}

func wsURL(srv *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

func dial(t *testing.T, srv *httptest.Server, hello wire) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(srv, "/ws"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(64 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	hello.Type, hello.Protocol = typeHello, Protocol
	p := &peer{t: t, conn: conn}
	p.send(hello)
	return p
}

func (p *peer) send(v any) {
	p.t.Helper()
	b, _ := json.Marshal(v)
	if err := p.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// next reads one message, failing after two seconds.
func (p *peer) next() wire {
	p.t.Helper()
	m, err := p.read(2 * time.Second)
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return m
}

func (p *peer) read(d time.Duration) (wire, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, b, err := p.conn.Read(ctx)
	if err != nil {
		return wire{}, err
	}
	var m wire
	if err := json.Unmarshal(b, &m); err != nil {
		p.t.Fatalf("decoding %s: %v", b, err)
	}
	return m, nil
}

func (p *peer) welcome() wire {
	p.t.Helper()
	m := p.next()
	if m.Type != typeWelcome {
		p.t.Fatalf("first message = %s, want welcome", m.Type)
	}
	return m
}

func TestBroadcastReachesEveryClient(t *testing.T) {
	h, srv := testHub(t, Options{})
	a, b := dial(t, srv, wire{}), dial(t, srv, wire{})
	a.welcome()
	b.welcome()
	seq := h.ReloadStyles("/ui/app.css", "abc")
	for _, p := range []*peer{a, b} {
		m := p.next()
		if m.Type != typeUpdate || m.Seq != seq || m.Kind != KindStyles || m.Path != "/ui/app.css" || m.Hash != "abc" {
			t.Fatalf("got %+v (update %+v), want styles update seq %d", m, m.Update, seq)
		}
	}
}

func TestSendToReachesOnlyThatClient(t *testing.T) {
	h, srv := testHub(t, Options{})
	a, b := dial(t, srv, wire{ID: "tab-a"}), dial(t, srv, wire{ID: "tab-b"})
	if id := a.welcome().ID; id != "tab-a" {
		t.Fatalf("id = %q, want the requested tab-a", id)
	}
	b.welcome()
	if _, err := h.SendTo("tab-a", Update{Kind: KindMessage, Key: "note", Data: json.RawMessage(`{"hi":1}`)}); err != nil {
		t.Fatal(err)
	}
	if m := a.next(); m.Kind != KindMessage || string(m.Data) != `{"hi":1}` {
		t.Fatalf("tab-a got %+v", m.Update)
	}
	h.ReloadPage() // b's next message must be this, not the one for a
	if m := b.next(); m.Kind != KindPage {
		t.Fatalf("tab-b got %+v, want only the page reload", m.Update)
	}
	_, err := h.SendTo("nobody", Update{Kind: KindPage})
	if hotreload.ErrorCode(err) != hotreload.CodeNotFound {
		t.Fatalf("SendTo(unknown) = %v, want not_found", err)
	}
	if _, err := h.Broadcast(Update{Kind: KindMessage, Key: "x", Data: json.RawMessage(`{bad`)}); hotreload.ErrorCode(err) != hotreload.CodeInvalid {
		t.Fatalf("Broadcast(invalid data) = %v, want invalid", err)
	}
}

func TestDuplicateIDGetsANewOne(t *testing.T) {
	_, srv := testHub(t, Options{})
	a := dial(t, srv, wire{ID: "same"})
	a.welcome()
	b := dial(t, srv, wire{ID: "same"}) // a duplicated tab copies sessionStorage
	if id := b.welcome().ID; id == "same" || id == "" {
		t.Fatalf("second client id = %q, want a fresh one", id)
	}
}

func TestReconnectCatchesUp(t *testing.T) {
	h, srv := testHub(t, Options{})
	a := dial(t, srv, wire{ID: "tab"})
	w := a.welcome()
	h.ReloadStyles("/a.css", "1")
	last := a.next().Seq
	a.conn.Close(websocket.StatusNormalClosure, "")
	waitClients(t, h, 0)

	h.ReloadStyles("/a.css", "2")
	h.ReloadTheme(map[string]string{"--x": "red"})
	h.ReloadComponent("x-c", "/components/x-c.js", "3")

	b := dial(t, srv, wire{ID: "tab", Epoch: w.Epoch, Seq: last})
	b.welcome()
	var kinds []Kind
	prev := last
	for range 3 {
		m := b.next()
		if m.Type != typeUpdate || m.Seq <= prev {
			t.Fatalf("got %s seq %d after %d, want missed updates in order", m.Type, m.Seq, prev)
		}
		prev = m.Seq
		kinds = append(kinds, m.Kind)
	}
	if want := []Kind{KindStyles, KindTheme, KindComponent}; !equal(kinds, want) {
		t.Fatalf("replayed %v, want %v", kinds, want)
	}
}

func equal[T comparable](a, b []T) bool {
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

func waitClients(t *testing.T, h *Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for len(h.Clients()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients connected, want %d", len(h.Clients()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSnapshotWhenTheGapIsTooLarge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		epoch func(w wire) string
	}{
		{"RingOverrun", func(w wire) string { return w.Epoch }},
		{"ServerRestarted", func(wire) string { return "an-older-epoch" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, srv := testHub(t, Options{History: 4})
			a := dial(t, srv, wire{})
			w := a.welcome()
			a.conn.Close(websocket.StatusNormalClosure, "")
			waitClients(t, h, 0)
			for i := range 10 {
				h.ReloadStyles("/a.css", string(rune('a'+i)))
			}
			h.ReloadTheme(map[string]string{"--x": "blue"})
			seq := w.Seq
			if tc.name == "RingOverrun" {
				seq = 1
			}
			b := dial(t, srv, wire{Epoch: tc.epoch(w), Seq: seq})
			b.welcome()
			m := b.next()
			if m.Type != typeSnapshot || !m.Resync {
				t.Fatalf("got %s, want a snapshot", m.Type)
			}
			got := map[string]string{}
			for _, e := range m.Entries {
				got[e.Key] = e.Hash
			}
			if got["styles:/a.css"] != "j" || len(m.Entries) != 2 {
				t.Fatalf("snapshot entries %+v, want the latest styles and the theme", m.Entries)
			}
		})
	}
}

// clog makes the hub's writer for p block: p does not read while a message
// far larger than the socket buffers is being written to it.
func clog(t *testing.T, h *Hub, id string) {
	t.Helper()
	big := json.RawMessage(`"` + strings.Repeat("x", 16<<20) + `"`)
	if _, err := h.SendTo(id, Update{Kind: KindMessage, Key: "big", Data: big}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the writer takes it and blocks
}

func info(h *Hub, id string) (ClientInfo, bool) {
	for _, c := range h.Clients() {
		if c.ID == id {
			return c, true
		}
	}
	return ClientInfo{}, false
}

func TestQueuedUpdatesForTheSameKeyMerge(t *testing.T) {
	h, srv := testHub(t, Options{QueueSize: 4, WriteTimeout: 20 * time.Second})
	slow := dial(t, srv, wire{ID: "slow"})
	slow.welcome()
	clog(t, h, "slow")
	for i := range 100 {
		h.ReloadStyles("/a.css", string(rune('a'+i%26)))
	}
	c, ok := info(h, "slow")
	if !ok || c.Merged != 99 || c.Queued != 1 {
		t.Fatalf("client %+v (connected %v), want 99 merged and 1 queued", c, ok)
	}
	slow.conn.CloseNow()
}

func TestSlowClientIsClosedToResyncAndDoesNotSlowOthers(t *testing.T) {
	h, srv := testHub(t, Options{QueueSize: 16, WriteTimeout: 20 * time.Second})
	slow := dial(t, srv, wire{ID: "slow"})
	slow.welcome()
	fast := dial(t, srv, wire{ID: "fast"})
	fast.welcome()
	clog(t, h, "slow")

	// Distinct keys, so nothing merges: the slow client's queue overflows
	// while the fast one keeps up and gets each update at once.
	const n = 60
	var spent, worst time.Duration
	for i := range n {
		t0 := time.Now()
		h.broadcast(Update{Kind: KindStyles, Path: "/" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".css"})
		spent += time.Since(t0)
		fast.next()
		worst = max(worst, time.Since(t0))
	}
	if spent > 500*time.Millisecond || worst > time.Second {
		t.Fatalf("with a stuck client, %d broadcasts took %v and the worst delivery %v", n, spent, worst)
	}
	if _, ok := info(h, "fast"); !ok {
		t.Fatal("the fast client was dropped")
	}

	// The slow client gets what was being written, then CloseResync.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _, err := slow.conn.Read(ctx) // raw: decoding 16 MiB under -race is slow
		cancel()
		if err != nil {
			if code := websocket.CloseStatus(err); code != CloseResync {
				t.Fatalf("slow client ended with %v (code %d), want close code %d", err, code, CloseResync)
			}
			break
		}
	}
}

// Writers stuck on sockets that take nothing are each replaced by another
// after the stall watch sees no progress, until Options.Writers are
// stuck: with one P, one writer works at a time, yet two stuck clients do
// not keep a third from its update.
func TestStuckWritersAreReplaced(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	h, srv := testHub(t, Options{Writers: 3, WriteTimeout: 20 * time.Second})
	var slow []*peer
	for _, id := range []string{"slow1", "slow2"} {
		p := dial(t, srv, wire{ID: id})
		p.welcome()
		clog(t, h, id)
		slow = append(slow, p)
	}
	fast := dial(t, srv, wire{ID: "fast"})
	fast.welcome()
	h.ReloadStyles("/a.css", "1")
	if m := fast.next(); m.Type != typeUpdate || m.Update.Hash != "1" {
		t.Fatalf("got %+v, want the update", m)
	}
	h.writers.mu.Lock()
	started := h.writers.started
	h.writers.mu.Unlock()
	if started != 3 {
		t.Fatalf("%d writers started, want 3: one per stuck client and one more", started)
	}
	for _, p := range slow {
		p.conn.CloseNow()
	}
}

// A client that stops reading in the middle of a broadcast holds its
// writer for WriteTimeout, but not the clients of that writer's batch
// after it: the stall watch hands them to another writer.
func TestStuckClientDoesNotHoldItsBatchMates(t *testing.T) {
	bound := testwait.D(5 * time.Second)
	h, srv := testHub(t, Options{WriteTimeout: 4 * bound})
	slow := dial(t, srv, wire{ID: "slow"})
	slow.welcome()
	// Clients are pushed in the map's order: with 15 others, one or more
	// share the batch with the slow one and come after it in 15 runs of 16.
	var fast []*peer
	for i := range 15 {
		p := dial(t, srv, wire{ID: fmt.Sprintf("fast%d", i)})
		p.welcome()
		fast = append(fast, p)
	}
	// More than loopback's buffers hold: the write to the slow client blocks.
	big := json.RawMessage(`"` + strings.Repeat("x", 16<<20) + `"`)
	start := time.Now()
	h.broadcast(Update{Kind: KindMessage, Key: "big", Data: big})
	errs := make(chan error, len(fast))
	for _, p := range fast {
		go func() {
			// t.Context ends the readers when the test fails before them.
			ctx, cancel := context.WithTimeout(t.Context(), bound)
			defer cancel()
			_, r, err := p.conn.Reader(ctx)
			if err == nil {
				_, err = io.Copy(io.Discard, r)
			}
			errs <- err
		}()
	}
	for range fast {
		if err := <-errs; err != nil {
			t.Fatalf("a client beside the stuck one did not get the broadcast after %v: %v", time.Since(start), err)
		}
	}
	t.Logf("the 15 clients beside the stuck one got the broadcast in %v", time.Since(start))
	slow.conn.CloseNow()
}

func TestOriginIsChecked(t *testing.T) {
	_, srv := testHub(t, Options{OriginPatterns: []string{"trusted.example"}})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"http://evil.example", false},
		{"http://trusted.example", true},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, resp, err := websocket.Dial(ctx, wsURL(srv, "/ws"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {tc.origin}}})
		cancel()
		if tc.ok != (err == nil) {
			t.Fatalf("origin %s: err = %v, want ok=%v", tc.origin, err, tc.ok)
		}
		if err == nil {
			conn.CloseNow()
		} else if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %s: status %d, want 403", tc.origin, resp.StatusCode)
		}
	}
}

func TestTokenIsRequiredWhenAuthorizeIsSet(t *testing.T) {
	_, srv := testHub(t, Options{Authorize: func(r *http.Request) error {
		if TokenFromRequest(r) != "s3cret" {
			return errors.New("a valid token is required")
		}
		return nil
	}})
	resp, err := http.Get(srv.URL + "/api/v1/ui/clients")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error hotreload.Error `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || body.Error.Code != hotreload.CodeUnauthorized {
		t.Fatalf("no token: %d %+v, want 401 unauthorized", resp.StatusCode, body.Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name      string
		url       string
		protocols []string
		ok        bool
	}{
		{"NoToken", "/ws", []string{Subprotocol}, false},
		{"TokenInURLIsNotRead", "/ws?token=s3cret", []string{Subprotocol}, false},
		{"WrongToken", "/ws", []string{Subprotocol, TokenSubprotocolPrefix + "d3Jvbmc"}, false},
		{"BadBase64", "/ws", []string{Subprotocol, TokenSubprotocolPrefix + "!!"}, false},
		{"TokenAsSubprotocol", "/ws", []string{Subprotocol, TokenSubprotocolPrefix + base64.RawURLEncoding.EncodeToString([]byte("s3cret"))}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, resp, err := websocket.Dial(ctx, wsURL(srv, tc.url), &websocket.DialOptions{Subprotocols: tc.protocols})
			if !tc.ok {
				if err == nil {
					conn.CloseNow()
					t.Fatal("socket accepted")
				}
				if resp == nil || resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("refused with %v, want 401", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("socket with token: %v", err)
			}
			defer conn.CloseNow()
			// The hub selects hotreload.v1, never the token.
			if got := conn.Subprotocol(); got != Subprotocol {
				t.Fatalf("selected subprotocol %q, want %q", got, Subprotocol)
			}
		})
	}
}

func TestAcksShowWhichVersionAClientRuns(t *testing.T) {
	h, srv := testHub(t, Options{})
	a := dial(t, srv, wire{ID: "tab", Page: "http://app/"})
	a.welcome()
	seq := h.broadcast(Update{Kind: KindStyles, Path: "/a.css", Hash: "h1", Version: "v2"})
	a.next()
	a.send(wire{Type: typeAck, Seq: seq, Status: AckApplied, Update: &Update{Key: "styles:/a.css", Version: "v2"}})
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, _ := info(h, "tab")
		if c.Version == "v2" && c.Acked == seq && c.Last != nil && c.Last.Status == AckApplied {
			if c.Page != "http://app/" || c.Protocol != Protocol {
				t.Fatalf("client info %+v", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client info %+v, want version v2 acked at %d", c, seq)
		}
		time.Sleep(5 * time.Millisecond)
	}

	resp, err := http.Get(srv.URL + "/api/v1/ui/clients")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Version string       `json:"version"`
		Clients []ClientInfo `json:"clients"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Version != "v2" || len(body.Clients) != 1 || body.Clients[0].Version != "v2" {
		t.Fatalf("GET /api/v1/ui/clients = %+v", body)
	}
}

func TestBadHelloIsClosedWithProtocolCode(t *testing.T) {
	_, srv := testHub(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(srv, "/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"hello","protocol":"hotreload/0"}`))
	_, _, err = conn.Read(ctx)
	if websocket.CloseStatus(err) != CloseProtocol {
		t.Fatalf("read after a bad hello: %v, want close code %d", err, CloseProtocol)
	}
}

func TestErrorsAreShownAndCleared(t *testing.T) {
	h, srv := testHub(t, Options{})
	a := dial(t, srv, wire{})
	a.welcome()
	fe := hotreload.FieldError{File: "ui/app.css", Line: 3, Column: 7, Message: "\"{\" is never closed"}
	h.Observe(hotreload.Outcome{Result: hotreload.Rejected, Errors: []hotreload.FieldError{fe}})
	if m := a.next(); m.Type != typeError || len(m.Errors) != 1 || m.Errors[0] != fe {
		t.Fatalf("got %+v, want the error", m)
	}
	// A page opened now sees the error at once.
	b := dial(t, srv, wire{})
	if w := b.welcome(); len(w.Errors) != 1 {
		t.Fatalf("welcome errors %+v", w.Errors)
	}
	for _, r := range []hotreload.Result{hotreload.Committed, hotreload.Unchanged} {
		h.Observe(hotreload.Outcome{Result: hotreload.Rejected, Reason: "build failed"})
		if m := a.next(); m.Type != typeError || m.Errors[0].Message != "build failed" {
			t.Fatalf("got %+v, want the reason as the error", m)
		}
		h.Observe(hotreload.Outcome{Result: r})
		if m := a.next(); m.Type != typeClear {
			t.Fatalf("after %s: got %s, want clear", r, m.Type)
		}
	}
	if seq := h.Seq(); h.Clear() != seq {
		t.Fatal("Clear with nothing shown sent a message")
	}
}

func TestOverlayShowsNoServerPath(t *testing.T) {
	root := t.TempDir()
	h, srv := testHub(t, Options{Roots: []string{filepath.Join(root, "config")}})
	NewAssets(AssetsOptions{Dir: filepath.Join(root, "ui"), Hub: h})
	a := dial(t, srv, wire{})
	a.welcome()
	h.Observe(hotreload.Outcome{Result: hotreload.Rejected, Errors: []hotreload.FieldError{
		{File: filepath.Join(root, "ui", "components", "x-a.js"), Line: 2, Column: 1, Message: "unclosed"},
		{File: filepath.Join(root, "config", "app.yaml"), Line: 1, Message: "reading " + filepath.Join(root, "config", "app.yaml") + ": bad"},
		{File: "/etc/hotreload/other.yaml", Message: "elsewhere"},
		{File: "relative/app.css", Message: "kept"},
		{File: filepath.Join(root, "ui") + "-evil/x.css", Message: "a sibling that shares the prefix"},
	}})
	m := a.next()
	var got []string
	for _, e := range m.Errors {
		got = append(got, e.File+" "+e.Message)
	}
	want := []string{
		"components/x-a.js unclosed",
		"app.yaml reading app.yaml: bad",
		"other.yaml elsewhere",
		"relative/app.css kept",
		"x.css a sibling that shares the prefix",
	}
	if !equal(got, want) {
		t.Fatalf("overlay shows\n%q\nwant\n%q", got, want)
	}
}

func TestCloseSendsGoingAway(t *testing.T) {
	h, srv := testHub(t, Options{})
	a := dial(t, srv, wire{})
	a.welcome()
	closed := make(chan struct{})
	go func() { h.Close(); close(closed) }()
	if _, err := a.read(3 * time.Second); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("after Close: %v, want going away", err)
	}
	<-closed
}

// FuzzClientMessages feeds arbitrary bytes to the parsers of what a browser
// sends: the hello and the acks that follow.
func FuzzClientMessages(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","protocol":"hotreload/1","id":"a","seq":3,"epoch":"x","version":"v"}`,
		`{"type":"ack","seq":9,"key":"styles:/a.css","version":"v2","status":"applied"}`,
		`{"type":"ack","status":"failed","error":"boom"}`,
		`{"type":"hello"}`, `[]`, `{"seq":-1}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if h, err := parseHello(data); err == nil && (h.Type != typeHello || h.Protocol != Protocol) {
			t.Fatalf("accepted %q", data)
		}
		c := &client{}
		var m wire
		if json.Unmarshal(data, &m) == nil && m.Type == typeAck {
			c.ack(m)
			if c.info.Last != nil && len(c.info.Last.Error) > 1024 {
				t.Fatal("ack error not truncated")
			}
		}
	})
}
