package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/httpjson"
)

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes
// is zero.
const DefaultMaxBodyBytes = 1 << 20

// NewHTTPServer returns an http.Server for the admin handler with timeouts
// that keep slow or idle clients from holding connections: 5 s to send the
// headers, 30 s for the body, 60 s to write an answer (event streams and
// mutations lift it for themselves), 2 min idle, 64 KiB of headers. When h
// is a *Server, Shutdown closes it first, so that open event streams end
// instead of holding the shutdown.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if s, ok := h.(*Server); ok {
		srv.RegisterOnShutdown(func() { s.Close() })
	}
	return srv
}

// writeError answers err as {"error": {...}} with the status its code maps
// to.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	code := hotreload.ErrorCode(err)
	if code == hotreload.CodeInternal && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The client went away or gave up while the request waited for
		// the engine; a transaction already started still runs to its end.
		err = hotreload.Errorf(hotreload.CodeUnavailable, "the request ended before the engine answered: %w", err)
		code = hotreload.CodeUnavailable
	}
	if code == hotreload.CodeInternal {
		s.log.Error("admin API internal error", "err", err)
	}
	s.writeJSON(w, hotreload.HTTPStatus(code), httpjson.Body(err))
}

// writeJSON answers v as JSON, with every known secret scrubbed.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := s.encode(v)
	if err != nil {
		s.log.Error("encoding an admin API answer", "err", err)
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"encoding the answer failed","details":[]}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// encode marshals v and scrubs decrypted secrets out of the text.
func (s *Server) encode(v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if s.opts.Scrub != nil {
		body = []byte(s.opts.Scrub(string(body)))
	}
	return body, nil
}

// readBody reads the request body within the size limit; a body over the
// limit is CodeTooLarge.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, hotreload.Errorf(hotreload.CodeTooLarge, "the request body is larger than %d bytes", s.opts.MaxBodyBytes)
	}
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "reading the request body: %w", err)
	}
	return body, nil
}

// checkContentType requires one of the media types (parameters ignored).
func checkContentType(r *http.Request, types ...string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil {
		for _, t := range types {
			if mt == t {
				return nil
			}
		}
	}
	return hotreload.Errorf(hotreload.CodeUnsupportedType, "Content-Type must be %s", strings.Join(types, " or "))
}

// decodeStrict decodes a JSON body into v, rejecting unknown fields and
// trailing data. An empty body leaves v as it is when allowEmpty is set.
func (s *Server) decodeStrict(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return hotreload.Errorf(hotreload.CodeInvalid, "a JSON body is required")
	}
	if err := checkContentType(r, "application/json"); err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes exactly one JSON value into v, rejecting unknown
// fields, and reports syntax errors with their line and column.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return hotreload.Errorf(hotreload.CodeInvalid, "the request body holds more than one JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a CodeInvalid error with its
// position in the body.
func jsonError(body []byte, err error) error {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	}
	fe := hotreload.FieldError{File: "body", Message: strings.TrimPrefix(err.Error(), "json: ")}
	if off >= 0 {
		fe.Line, fe.Column = position(body, off)
	}
	return &hotreload.Error{Code: hotreload.CodeInvalid, Message: "invalid JSON body", Details: []hotreload.FieldError{fe}}
}

// position converts a byte offset into a 1-based line and column.
func position(body []byte, off int64) (line, col int) {
	off = min(off, int64(len(body)))
	before := body[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, max(col, 1)
}

// checkHost refuses a Host that is not an IP address, localhost or an
// allowed name: a page on attacker.example resolving to 127.0.0.1 (DNS
// rebinding) sends Host: attacker.example.
func (s *Server) checkHost(r *http.Request) error {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" || net.ParseIP(host) != nil || host == "localhost" || s.hosts["*"] || s.hosts[host] {
		return nil
	}
	return hotreload.Errorf(hotreload.CodeForbidden, "host %q is not allowed: use an IP address or localhost, or list the name in the allowed hosts", r.Host)
}

// checkOrigin refuses requests a browser makes on behalf of another site:
// an Origin other than this server's own (or an allowed one), or, when
// the browser sends no Origin, Sec-Fetch-Site: cross-site.
func (s *Server) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			return hotreload.Errorf(hotreload.CodeForbidden, "cross-site requests are not allowed")
		}
		return nil
	}
	u, err := url.Parse(origin)
	if err == nil && u.Host != "" && (strings.EqualFold(u.Host, r.Host) || s.origins[strings.ToLower(origin)]) {
		return nil
	}
	return hotreload.Errorf(hotreload.CodeForbidden, "origin %q is not allowed", origin)
}

// statusRecorder keeps the status a handler wrote, for the fallback
// answers of the mux.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

// notRouted answers a request no route matched as a JSON error, keeping
// the mux's status (404, or 405 with its Allow header).
func (s *Server) notRouted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &statusRecorder{header: http.Header{}, status: http.StatusOK}
	h.ServeHTTP(rec, r)
	if rec.status >= 300 && rec.status < 400 { // the mux's trailing-slash redirect
		h.ServeHTTP(w, r)
		return
	}
	if allow := rec.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	code, msg := hotreload.CodeNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)
	if rec.status == http.StatusMethodNotAllowed {
		s.writeJSON(w, http.StatusMethodNotAllowed, httpjson.Body(hotreload.Errorf(hotreload.CodeInvalid,
			"method %s is not allowed on %s", r.Method, r.URL.Path)))
		return
	}
	s.writeError(w, hotreload.Errorf(code, "%s", msg))
}
