package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/cybercorp/hotreload/internal/testwait"
)

// rawPeer is a client that writes and reads single frames, for what a
// WebSocket library will not send: unmasked frames, pings, early bytes.
type rawPeer struct {
	t    *testing.T
	conn net.Conn
	r    io.Reader
}

func dialRaw(t *testing.T, srv *httptest.Server) *rawPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, wsURL(srv, "/ws"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &rawPeer{t: t, conn: conn, r: conn}
	if br != nil {
		p.r = io.MultiReader(br, conn)
	}
	p.write(ws.MaskFrame(ws.NewTextFrame([]byte(`{"type":"hello","protocol":"hotreload/1"}`))))
	if f := p.frame(); f.Header.OpCode != ws.OpText || !strings.Contains(string(f.Payload), `"welcome"`) {
		t.Fatalf("first frame %v %q, want the welcome", f.Header.OpCode, f.Payload)
	}
	return p
}

func (p *rawPeer) write(f ws.Frame) {
	p.t.Helper()
	if err := ws.WriteFrame(p.conn, f); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) frame() ws.Frame {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(testwait.D(5 * time.Second)))
	f, err := readFrame(p.r)
	if err != nil {
		p.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

// readFrame reads one frame the hub sent, of at most 1 MiB.
func readFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > 1<<20 {
		return ws.Frame{}, fmt.Errorf("a frame of %d bytes", h.Length)
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	_, err = io.ReadFull(r, f.Payload)
	return f, err
}

// closeCode reads frames until the close frame and returns its code.
func (p *rawPeer) closeCode() ws.StatusCode {
	p.t.Helper()
	for {
		if f := p.frame(); f.Header.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(f.Payload)
			return code
		}
	}
}

func TestPingsArePongedAndSent(t *testing.T) {
	_, srv := testHub(t, Options{PingInterval: 50 * time.Millisecond})
	p := dialRaw(t, srv)
	p.write(ws.MaskFrame(ws.NewPingFrame([]byte("x"))))
	var pinged, ponged bool
	for !pinged || !ponged {
		switch f := p.frame(); f.Header.OpCode {
		case ws.OpPing:
			pinged = true
		case ws.OpPong:
			ponged = true
		default:
			t.Fatalf("unexpected frame %v %q", f.Header.OpCode, f.Payload)
		}
	}
}

func TestFramesThatBreakTheProtocolClose(t *testing.T) {
	_, srv := testHub(t, Options{})
	for _, tc := range []struct {
		name  string
		frame ws.Frame
		code  ws.StatusCode
	}{
		{"Unmasked", ws.NewTextFrame([]byte(`{}`)), ws.StatusProtocolError},
		{"TooLarge", ws.MaskFrame(ws.NewTextFrame(make([]byte, readLimit+1))), ws.StatusMessageTooBig},
		{"ContinuationFirst", ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte(`{}`))), ws.StatusProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := dialRaw(t, srv)
			p.write(tc.frame)
			if code := p.closeCode(); code != tc.code {
				t.Fatalf("closed with %d, want %d", code, tc.code)
			}
		})
	}
}

func TestFragmentedAckIsReassembled(t *testing.T) {
	h, srv := testHub(t, Options{})
	p := dialRaw(t, srv)
	ack := []byte(`{"type":"ack","seq":7,"key":"styles:/a.css","version":"v7","status":"applied"}`)
	p.write(ws.MaskFrame(ws.NewFrame(ws.OpText, false, ack[:10])))
	p.write(ws.MaskFrame(ws.NewPingFrame(nil))) // a control frame may come between fragments
	p.write(ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, ack[10:])))
	testwait.For(t, "the fragmented ack", 5*time.Second, func() bool {
		cs := h.Clients()
		return len(cs) == 1 && cs[0].Acked == 7 && cs[0].Version == "v7"
	})
}

// A client may send its hello right behind the upgrade request, before
// the answer: net/http has then read it already, and the hub must not lose
// it.
func TestHelloInTheSamePacketAsTheUpgrade(t *testing.T) {
	_, srv := testHub(t, Options{})
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /ws HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + Subprotocol + "\r\n\r\n"
	hello, err := ws.CompileFrame(ws.MaskFrame(ws.NewTextFrame([]byte(`{"type":"hello","protocol":"hotreload/1","id":"early"}`))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(append([]byte(req), hello...)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(testwait.D(5 * time.Second)))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Protocol") != Subprotocol {
		t.Fatalf("upgrade answered %d with subprotocol %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	f, err := readFrame(br)
	if err != nil {
		t.Fatal(err)
	}
	var m wire
	if err := json.Unmarshal(f.Payload, &m); err != nil || m.Type != typeWelcome || m.ID != "early" {
		t.Fatalf("got %q, want the welcome of client early", f.Payload)
	}
}

func TestClientCloseIsAnswered(t *testing.T) {
	h, srv := testHub(t, Options{})
	p := dial(t, srv, wire{})
	p.welcome()
	// coder/websocket's Close waits for the hub's close frame.
	if err := p.conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("closing: %v", err)
	}
	waitClients(t, h, 0)
}

// A broadcast queues one prepared frame per client; a pool of writers
// delivers them. No goroutine is started per message or client: beyond
// the writers, which start as they are needed up to Options.Writers, and
// the stall watch's timer, their number does not grow.
func TestBroadcastStartsNoGoroutine(t *testing.T) {
	const writers = 4
	h, srv := testHub(t, Options{Writers: writers})
	const n = 40
	peers := make([]*peer, n)
	for i := range peers {
		peers[i] = dial(t, srv, wire{})
		peers[i].welcome()
	}
	before := runtime.NumGoroutine()
	for i := range 20 {
		h.ReloadStyles("/a.css", string(rune('a'+i)))
		if g := runtime.NumGoroutine(); g > before+writers+1 {
			t.Fatalf("broadcast %d: %d goroutines, %d before", i, g, before)
		}
		for _, p := range peers {
			if m := p.next(); m.Type != typeUpdate {
				t.Fatalf("got %s, want the update", m.Type)
			}
		}
	}
}

// Idle clients hold no goroutine: one poller reads them all (on Linux).
func TestIdleClientsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the poller is epoll's")
	}
	_, srv := testHub(t, Options{Writers: 2})
	dial(t, srv, wire{}).welcome() // starts the poller and the writers
	before := runtime.NumGoroutine()
	const n = 40
	for range n {
		dial(t, srv, wire{}).welcome()
	}
	// Each test peer (coder/websocket) runs one goroutine of its own.
	if g := runtime.NumGoroutine(); g > before+n+n/4 {
		t.Fatalf("%d goroutines after %d more clients, %d before", g, n, before)
	}
}

// Without a poller each client is read by a goroutine; the protocol works
// the same.
func TestWithoutPoller(t *testing.T) {
	h := NewHub(Options{})
	h.noPoll = true
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a := dial(t, srv, wire{})
	a.welcome()
	b := dialRaw(t, srv)
	h.ReloadStyles("/a.css", "1")
	if m := a.next(); m.Type != typeUpdate || m.Update.Hash != "1" {
		t.Fatalf("got %+v, want the update", m)
	}
	if f := b.frame(); !strings.Contains(string(f.Payload), `"hash":"1"`) {
		t.Fatalf("raw client got %q", f.Payload)
	}
	b.write(ws.MaskFrame(ws.NewTextFrame([]byte(`{"type":"ack","seq":1,"status":"applied","version":"v1"}`))))
	testwait.For(t, "the ack", 5*time.Second, func() bool {
		for _, c := range h.Clients() {
			if c.Acked == 1 {
				return true
			}
		}
		return false
	})
	if err := a.conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("closing: %v", err)
	}
	waitClients(t, h, 1)
	closed := make(chan struct{})
	go func() { h.Close(); close(closed) }()
	if code := b.closeCode(); code != ws.StatusGoingAway {
		t.Fatalf("closed with %d, want going away", code)
	}
	b.write(ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, ""))))
	<-closed
}

// FuzzInbound feeds arbitrary bytes, in arbitrary pieces, to the parser of
// what a client sends: it never panics, and never keeps more than one
// frame's header and readLimit bytes.
func FuzzInbound(f *testing.F) {
	hello, _ := ws.CompileFrame(ws.MaskFrame(ws.NewTextFrame([]byte(`{"type":"hello"}`))))
	ping, _ := ws.CompileFrame(ws.MaskFrame(ws.NewPingFrame([]byte("p"))))
	f.Add(hello, 3)
	f.Add(append(ping, hello...), 1)
	f.Add([]byte{0x81, 0xfe, 0xff, 0xff}, 2)
	f.Fuzz(func(t *testing.T, data []byte, piece int) {
		if piece < 1 {
			piece = 1
		}
		var in inbound
		for len(data) > 0 {
			n := min(piece, len(data))
			if err := in.feed(data[:n], func([]byte) {}, func() {}); err != nil {
				return
			}
			data = data[n:]
			if len(in.buf) > ws.MaxHeaderSize+readLimit || len(in.msg) > readLimit {
				t.Fatalf("kept %d and %d bytes", len(in.buf), len(in.msg))
			}
		}
	})
}

// A broadcast puts at most one writer per P but one to work, and at least
// one, leaving a P to the rest of the process.
func TestBroadcastLeavesAP(t *testing.T) {
	for _, tc := range []struct{ procs, want int }{{1, 1}, {2, 1}, {3, 2}, {8, 7}} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", tc.procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.procs))
			w := &writers{max: 8}
			w.cond.L = &w.mu
			defer w.close()
			cs := make([]*client, 8*writerBatch) // nothing queued: each flush returns at once
			for i := range cs {
				cs[i] = &client{}
			}
			w.push(cs...)
			w.mu.Lock()
			started := w.started
			w.mu.Unlock()
			if started != tc.want {
				t.Fatalf("%d writers put to work for %d batches, want %d", started, len(cs)/writerBatch, tc.want)
			}
		})
	}
}
