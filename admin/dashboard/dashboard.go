// Package dashboard serves the operator's dashboard of the hotreload daemon
// (GET /): a single page of embedded HTML, CSS and JavaScript that needs no
// network beyond the daemon itself. It shows targets and versions, what is
// happening now (a change pending in its health window with the window's
// progress and checks, a frozen engine with an unfreeze button), trends of
// the last hour or day drawn as inline SVG (reload durations, results,
// rollbacks with their reasons), the alert rules' values beside their
// thresholds, health, plugins, the UI clients and the versions they
// acknowledged, the fleet when the daemon is a member, the live event
// stream and the history with diffs, and has reload and rollback buttons.
//
// The page reads the admin API (/api/v1/status, /trends, /history,
// /history/{A}/diff/{B}, /health, /plugins, /fleet, /events, /ui/clients,
// POST /unfreeze) and
// signs in through POST /api/v1/session, whose cookie also carries the
// token for the event stream. The files hold no data, so the handler is
// meant to be mounted public; every request the page makes is authorised
// by the admin server.
//
// # Concurrency
//
// Handler is stateless and safe for concurrent use; the files are
// immutable and embedded in the binary.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Prefix is the URL path of the dashboard's assets; the page itself is at /.
const Prefix = "/dashboard/"

// asset is one embedded file with its ETag.
type asset struct {
	data []byte
	etag string
}

var assets = func() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(p, "static/")] = asset{data: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: reading the embedded files: " + err.Error())
	}
	return out
}()

// Handler serves the page at "/" (and "/index.html") and its assets under
// Prefix. Mount it for GET / and GET /dashboard/; any other path answers
// 404.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	switch {
	case r.URL.Path == "/" || r.URL.Path == "/index.html":
		name = "index.html"
	case !ok || name == "index.html":
		http.NotFound(w, r)
		return
	}
	a, found := assets[path.Clean(name)]
	if !found || path.Clean(name) != name {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.data))
}
