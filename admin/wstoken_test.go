package admin_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/cybercorp/hotreload/admin/auth"
	"github.com/cybercorp/hotreload/ui"
)

// A browser's WebSocket can set no header but Sec-WebSocket-Protocol: the
// token travels there, and never in the URL.
func TestTokenAsWebSocketSubprotocol(t *testing.T) {
	s := newStack(t, stackOptions{})
	tok := s.tokens[auth.Viewer]
	offered := ui.Subprotocol + ", " + ui.TokenSubprotocolPrefix + base64.RawURLEncoding.EncodeToString([]byte(tok))
	if status, _, body := s.do("GET", "/api/v1/whoami", auth.Public, "", "Sec-WebSocket-Protocol", offered); status != 200 || !strings.Contains(string(body), `"viewer"`) {
		t.Fatalf("whoami with the token as a subprotocol = %d %s", status, body)
	}
	if status, _, _ := s.do("GET", "/api/v1/whoami", auth.Public, "", "Sec-WebSocket-Protocol", ui.Subprotocol+", "+ui.TokenSubprotocolPrefix+"%%%"); status != 401 {
		t.Fatalf("whoami with an undecodable subprotocol token = %d, want 401", status)
	}
	if status, _, _ := s.do("GET", "/api/v1/whoami?token="+tok, auth.Public, ""); status != 401 {
		t.Fatalf("whoami with the token in the URL = %d, want 401", status)
	}
}
