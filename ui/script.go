package ui

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
)

//go:embed hotreload.js
var script []byte

var scriptETag = func() string {
	sum := sha256.Sum256(script)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

// Script serves the embedded browser client (GET /hotreload.js). A page
// loads it with <script src="/hotreload.js" data-token="..."></script>; see
// docs/ui.md for the API it exposes as window.hotreload.
var Script http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", scriptETag)
	if r.Header.Get("If-None-Match") == scriptETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(script)
})
