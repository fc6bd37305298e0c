package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin/auth"
	"github.com/cybercorp/hotreload/audit"
	"github.com/cybercorp/hotreload/history"
)

// StatusAnswer is the answer of GET /api/v1/status, to which the
// Options.StatusParts are added by key (health, alerts).
type StatusAnswer struct {
	Mode Mode `json:"mode"`
	hotreload.Status
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	st := s.opts.Engine.Status()
	if st.Last != nil {
		last := s.redactOutcome(*st.Last)
		st.Last = &last
	}
	// Flatten the parts beside the engine's fields.
	b, err := json.Marshal(StatusAnswer{Mode: s.opts.Mode, Status: st})
	if err != nil {
		return err
	}
	body := map[string]any{}
	if err := json.Unmarshal(b, &body); err != nil {
		return err
	}
	for k, part := range s.opts.StatusParts {
		body[k] = part(r.Context())
	}
	s.writeJSON(w, http.StatusOK, body)
	return nil
}

// ConfigAnswer is the answer of GET /api/v1/config: the live document and
// the version it belongs to. While a change is in its health window that is
// the pending version (State "pending"), and Active is the last committed
// one.
type ConfigAnswer struct {
	Version uint64 `json:"version"`
	State   string `json:"state"`
	Active  uint64 `json:"active"`
	Data    any    `json:"data"`
}

// currentConfig reads the live document and the live version together
// (Engine.View), so the version and the ETag always name the version the
// document belongs to.
func (s *Server) currentConfig() (ConfigAnswer, error) {
	if s.opts.Config == nil {
		return ConfigAnswer{}, hotreload.Errorf(hotreload.CodeNotFound, "this server manages no configuration")
	}
	var c ConfigAnswer
	s.opts.Engine.View(func(st hotreload.Status) {
		c = ConfigAnswer{Version: st.Live, State: st.State, Active: st.Active, Data: s.opts.Config.Redacted()}
	})
	if c.Data == nil {
		return ConfigAnswer{}, hotreload.Errorf(hotreload.CodeNotFound, "no configuration is loaded yet")
	}
	if s.opts.Redact != nil {
		c.Data = s.opts.Redact(c.Data)
	}
	return c, nil
}

// etag is the entity tag of a version in a state: "N" once committed,
// "N-pending" while in its health window, so a client polling with
// If-None-Match learns of the commit.
func etag(v uint64, state string) string {
	if state == hotreload.StatePending {
		return `"` + strconv.FormatUint(v, 10) + `-pending"`
	}
	return `"` + strconv.FormatUint(v, 10) + `"`
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	c, err := s.currentConfig()
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(c.Version, c.State))
	if match := r.Header.Get("If-None-Match"); match != "" && match == etag(c.Version, c.State) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	s.writeJSON(w, http.StatusOK, c)
	return nil
}

// parseIfMatch parses an If-Match header: "N", "N-pending", W/"N" or *.
// ok is false for *, which matches any version. Both tags of a version
// match it: If-Match is checked against the live version, pending or not.
func parseIfMatch(h string) (version uint64, ok bool, err error) {
	h = strings.TrimSpace(h)
	if h == "*" {
		return 0, false, nil
	}
	v, perr := strconv.ParseUint(strings.TrimSuffix(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), "-pending"), 10, 64)
	if perr != nil || !strings.HasSuffix(h, `"`) {
		return 0, false, hotreload.Errorf(hotreload.CodeInvalid, `If-Match must be an ETag such as "12", got %q`, h)
	}
	return v, true, nil
}

func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	if s.opts.Config == nil {
		return hotreload.Errorf(hotreload.CodeNotFound, "this server manages no configuration")
	}
	wait, err := preferWait(r.Header)
	if err != nil {
		return err
	}
	var check func(uint64) error
	switch h := r.Header.Get("If-Match"); {
	case h != "":
		want, ok, err := parseIfMatch(h)
		if err != nil {
			return err
		}
		if ok {
			check = func(live uint64) error {
				if live != want {
					return hotreload.Errorf(hotreload.CodePrecondition, "stale If-Match: the configuration is at version %d, not %d; read it again and retry", live, want)
				}
				return nil
			}
		}
	case s.opts.Mode == Prod:
		return hotreload.Errorf(hotreload.CodePrecondition, `If-Match is required in prod: read GET /api/v1/config and send its ETag (or "*")`)
	}
	if err := checkContentType(r, "application/merge-patch+json", "application/json"); err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var patch map[string]any
	if err := decodeJSON(body, &patch); err != nil {
		return err
	}
	if patch == nil {
		return hotreload.Errorf(hotreload.CodeInvalid, "a merge patch must be a JSON object")
	}
	t, err := s.opts.Engine.Start(r.Context(), hotreload.Request{
		Source: hotreload.SourceAPI, Author: id.Name, Remote: r.RemoteAddr, Check: check,
		Candidates: []hotreload.Candidate{{Target: s.opts.ConfigTarget, Patch: body}},
	})
	if err != nil {
		return err
	}
	return s.answer(w, r, t, wait)
}

// ReloadRequest is the optional body of POST /api/v1/reload.
type ReloadRequest struct {
	// Targets restricts the reload; all targets when empty.
	Targets []string `json:"targets,omitempty"`
}

func (s *Server) postReload(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	wait, err := preferWait(r.Header)
	if err != nil {
		return err
	}
	var req ReloadRequest
	if err := s.decodeStrict(w, r, &req, true); err != nil {
		return err
	}
	t, err := s.opts.Engine.Start(r.Context(), hotreload.Request{Source: hotreload.SourceAPI, Author: id.Name, Remote: r.RemoteAddr, Targets: req.Targets})
	if err != nil {
		return err
	}
	return s.answer(w, r, t, wait)
}

// RollbackRequest is the optional body of POST /api/v1/rollback.
type RollbackRequest struct {
	// Version to restore; 0 or absent means the committed version before
	// the active one.
	Version uint64 `json:"version"`
}

func (s *Server) postRollback(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	wait, err := preferWait(r.Header)
	if err != nil {
		return err
	}
	var req RollbackRequest
	if err := s.decodeStrict(w, r, &req, true); err != nil {
		return err
	}
	t, err := s.opts.Engine.StartRollback(r.Context(), req.Version, hotreload.Actor{Source: hotreload.SourceRollback, Author: id.Name, Remote: r.RemoteAddr})
	if err != nil {
		return err
	}
	return s.answer(w, r, t, wait)
}

// DefaultWait is how long a mutation waits for its outcome when the
// request has no Prefer: wait=N; MaxWait bounds what a client may ask.
const (
	DefaultWait = 10 * time.Second
	MaxWait     = 10 * time.Minute
)

// preferWait returns the wait a request prefers (RFC 7240 "Prefer:
// wait=N", in seconds), DefaultWait without one, at most MaxWait.
func preferWait(h http.Header) (time.Duration, error) {
	for _, v := range h.Values("Prefer") {
		for _, pref := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(pref), "=")
			if !strings.EqualFold(strings.TrimSpace(name), "wait") {
				continue
			}
			n, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(val), `"`), 10, 32)
			if err != nil {
				return 0, hotreload.Errorf(hotreload.CodeInvalid, "Prefer: wait=%s: the wait must be a number of seconds", val)
			}
			return min(time.Duration(n)*time.Second, MaxWait), nil
		}
	}
	return DefaultWait, nil
}

// answer waits for a transaction up to the wait the request prefers and
// answers its outcome with the status DESIGN.md gives (422 rejected, 409
// rolled back or superseded, else 200). A transaction still in its health
// window then is answered 202 Accepted with its pending version and
// Location: /api/v1/history/N, where its outcome shows once it ends. (A
// request still queued or validating when the wait is over is answered as
// soon as its candidate is live: those steps have their own deadlines.)
func (s *Server) answer(w http.ResponseWriter, r *http.Request, t *hotreload.Ticket, wait time.Duration) error {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-t.Done():
	case <-timer.C:
		select {
		case <-t.Live():
		case <-r.Context().Done():
			return r.Context().Err()
		}
	case <-r.Context().Done():
		return r.Context().Err()
	}
	o, err := t.Outcome()
	if err != nil {
		return err
	}
	if r.Header.Get("Prefer") != "" {
		w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(int(wait/time.Second)))
	}
	switch o.Result {
	case hotreload.Pending:
		w.Header().Set("Location", "/api/v1/history/"+strconv.FormatUint(o.Version, 10))
		w.Header().Set("ETag", etag(o.Version, hotreload.StatePending))
	case hotreload.Committed:
		w.Header().Set("ETag", etag(o.Version, hotreload.StateCommitted))
	default:
		st := s.opts.Engine.Status()
		w.Header().Set("ETag", etag(st.Live, st.State))
	}
	s.writeJSON(w, o.HTTPStatus(), s.redactOutcome(o))
	return nil
}

func (s *Server) redactOutcome(o hotreload.Outcome) hotreload.Outcome {
	if s.opts.RedactChanges == nil || len(o.Targets) == 0 {
		return o
	}
	targets := make([]hotreload.TargetOutcome, len(o.Targets))
	for i, t := range o.Targets {
		t.Changes = s.opts.RedactChanges(t.Target, t.Changes)
		targets[i] = t
	}
	o.Targets = targets
	return o
}

// HistoryAnswer is the answer of GET /api/v1/history.
type HistoryAnswer struct {
	Active   uint64             `json:"active"`
	Versions []hotreload.Record `json:"versions"`
}

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	recs, err := s.opts.History.List(r.Context())
	if err != nil {
		return fmt.Errorf("listing history: %w", err)
	}
	if recs == nil {
		recs = []hotreload.Record{}
	}
	s.writeJSON(w, http.StatusOK, HistoryAnswer{Active: s.opts.Engine.Status().Active, Versions: recs})
	return nil
}

func pathVersion(r *http.Request, name string) (uint64, error) {
	v, err := strconv.ParseUint(r.PathValue(name), 10, 64)
	if err != nil || v == 0 {
		return 0, hotreload.Errorf(hotreload.CodeInvalid, "version %q is not a positive integer", r.PathValue(name))
	}
	return v, nil
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	v, err := pathVersion(r, "version")
	if err != nil {
		return err
	}
	rec, err := s.opts.History.Get(r.Context(), v)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, rec)
	return nil
}

// DiffAnswer is the answer of GET /api/v1/history/{A}/diff/{B}.
type DiffAnswer struct {
	From    uint64               `json:"from"`
	To      uint64               `json:"to"`
	Targets []history.TargetDiff `json:"targets"`
}

func (s *Server) getDiff(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	a, err := pathVersion(r, "a")
	if err != nil {
		return err
	}
	b, err := pathVersion(r, "b")
	if err != nil {
		return err
	}
	diffs, err := history.Diff(r.Context(), s.opts.History, a, b)
	if err != nil {
		return err
	}
	if diffs == nil {
		diffs = []history.TargetDiff{}
	}
	if s.opts.RedactChanges != nil {
		for i := range diffs {
			diffs[i].Changes = s.opts.RedactChanges(diffs[i].Target, diffs[i].Changes)
		}
	}
	s.writeJSON(w, http.StatusOK, DiffAnswer{From: a, To: b, Targets: diffs})
	return nil
}

// SessionRequest is the body of POST /api/v1/session.
type SessionRequest struct {
	Token string `json:"token"`
}

// postSession checks a token and sets it as an HttpOnly, SameSite=Strict
// cookie, so that a browser (the dashboard, EventSource, WebSocket) can
// authenticate without script access to the token.
func (s *Server) postSession(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	var req SessionRequest
	if err := s.decodeStrict(w, r, &req, false); err != nil {
		return err
	}
	id := auth.Anonymous
	if !s.open {
		var err error
		if id, err = s.opts.Tokens.Authenticate(req.Token); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: req.Token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	s.writeJSON(w, http.StatusOK, id)
	return nil
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getWhoami(w http.ResponseWriter, r *http.Request, id auth.Identity) error {
	s.writeJSON(w, http.StatusOK, id)
	return nil
}

// AuditAnswer is the answer of GET /api/v1/audit: the log's verification
// and its last records.
type AuditAnswer struct {
	Verify  audit.Report  `json:"verify"`
	Records []audit.Entry `json:"records"`
}

// maxAuditRecords bounds GET /api/v1/audit?limit=N.
const maxAuditRecords = 10000

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	reader, ok := s.opts.Audit.(AuditReader)
	if !ok {
		return hotreload.Errorf(hotreload.CodeNotFound, "this server keeps no audit log")
	}
	limit := 100
	if q := r.URL.Query().Get("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > maxAuditRecords {
			return hotreload.Errorf(hotreload.CodeInvalid, "limit must be an integer from 1 to %d, got %q", maxAuditRecords, q)
		}
		limit = n
	}
	rep, recs, err := reader.Read(r.Context(), limit)
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []audit.Entry{}
	}
	if rep.Problems == nil {
		rep.Problems = []audit.Problem{}
	}
	s.writeJSON(w, http.StatusOK, AuditAnswer{Verify: rep, Records: recs})
	return nil
}
