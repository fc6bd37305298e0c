package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestLiveReloadProtocol7(t *testing.T) {
	h, srv := testHub(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(srv, "/livereload"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	// What livereload.js sends first.
	hello := `{"command":"hello","protocols":["http://livereload.com/protocols/official-6","http://livereload.com/protocols/official-7"]}`
	if err := conn.Write(ctx, websocket.MessageText, []byte(hello)); err != nil {
		t.Fatal(err)
	}
	var m liveReload
	read := func() {
		t.Helper()
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m = liveReload{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
	}
	read()
	if m.Command != "hello" || len(m.Protocols) != 1 || m.Protocols[0] != LiveReloadProtocol || m.ServerName == "" {
		t.Fatalf("server hello %+v", m)
	}
	conn.Write(ctx, websocket.MessageText, []byte(`{"command":"info","plugins":{},"url":"http://app/page"}`))
	waitClients(t, h, 1)

	h.ReloadStyles("/ui/app.css", "abc")
	read()
	if m.Command != "reload" || m.Path != "/ui/app.css" || m.LiveCSS == nil || !*m.LiveCSS {
		t.Fatalf("got %+v, want a live CSS reload", m)
	}
	h.Error(nil)                                     // no LiveReload equivalent: nothing sent
	h.broadcast(Update{Kind: KindMessage, Key: "x"}) // neither
	h.ReloadPage()
	read()
	if m.Command != "reload" || m.Path != "index.html" {
		t.Fatalf("got %+v, want a page reload", m)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		cs := h.Clients()
		if len(cs) == 1 && cs[0].Protocol == protoLiveReload && cs[0].Page == "http://app/page" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clients %+v", cs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLiveReloadRefusesOtherProtocols(t *testing.T) {
	_, srv := testHub(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(srv, "/livereload"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.Write(ctx, websocket.MessageText, []byte(`{"command":"hello","protocols":["http://livereload.com/protocols/official-6"]}`))
	if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != CloseProtocol {
		t.Fatalf("got %v, want close code %d", err, CloseProtocol)
	}
}

func TestLiveReloadScriptNameServesTheClient(t *testing.T) {
	_, srv := testHub(t, Options{})
	// What a LiveReload browser extension injects.
	resp, err := http.Get(srv.URL + "/livereload.js?ext=Chrome&extver=2.1.0&host=localhost&port=35729")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, script) || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("GET /livereload.js: %d %q, want the hotreload client", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
