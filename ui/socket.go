package ui

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gobwas/ws"
)

// The hub speaks WebSocket (RFC 6455) through gobwas/ws's frame codec
// rather than a connection type of a higher-level library: a broadcast
// encodes its frame once and every client's writer writes those same bytes
// to its socket, with no per-write context, lock or buffer of the library
// (docs/benchmarks.md#ui measured the difference). A socket keeps no
// buffer of its own: clients send little (a hello, acks), and what they
// send is read by one poller goroutine for all of them (poller_linux.go).

// Close codes the hub uses besides its own (CloseResync, CloseProtocol).
const (
	closeNormal      = ws.StatusNormalClosure
	closeGoingAway   = ws.StatusGoingAway
	closeWireError   = ws.StatusProtocolError
	closeMessageSize = ws.StatusMessageTooBig
)

// textFrame encodes msg as one unmasked text frame, ready to be written to
// any number of sockets.
func textFrame(msg []byte) []byte {
	return ws.MustCompileFrame(ws.NewTextFrame(msg))
}

// closeFrame encodes a close frame with code and reason (cut to what a
// control frame can hold).
func closeFrame(code ws.StatusCode, reason string) []byte {
	return ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(code, truncate(reason, ws.MaxControlFramePayloadSize-2))))
}

var (
	pingFrame = ws.MustCompileFrame(ws.NewPingFrame(nil))
	pongFrame = ws.MustCompileFrame(ws.NewPongFrame(nil))
)

// upgrade checks the request's Origin against the page's own host and
// patterns, then answers the WebSocket handshake, selecting Subprotocol
// when the client offers it. It returns the connection and the bytes the
// client sent after its request that net/http had already read. On
// failure the client has been answered.
func upgrade(w http.ResponseWriter, r *http.Request, patterns []string) (net.Conn, []byte, error) {
	if err := checkOrigin(r, patterns); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return nil, nil, err
	}
	u := ws.HTTPUpgrader{Protocol: func(p string) bool { return p == Subprotocol }}
	conn, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, nil, err
	}
	var early []byte
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		early = append([]byte(nil), b...)
	}
	return conn, early, nil
}

// checkOrigin allows a request without Origin (not from a browser), from
// the page's own host, or from a host matching one of patterns
// (path.Match syntax, case-insensitive).
func checkOrigin(r *http.Request, patterns []string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("the origin %q is not a URL", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, p := range patterns {
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); err != nil {
			return fmt.Errorf("origin pattern %q: %w", p, err)
		} else if ok {
			return nil
		}
	}
	return fmt.Errorf("the origin %q is not allowed", origin)
}

// errEOF is the end of a socket the client closed without a close frame.
var errEOF = errors.New("the client went away")

// peerClosed is the error of a read that met the client's close frame.
type peerClosed struct{ code ws.StatusCode }

func (e peerClosed) Error() string { return fmt.Sprintf("the client closed the socket (%d)", e.code) }

// wireError is a frame or message that breaks RFC 6455 or the size limit:
// the socket is closed with code.
type wireError struct {
	code ws.StatusCode
	err  error
}

func (e wireError) Error() string { return e.err.Error() }
