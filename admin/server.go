package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/admin/auth"
	"github.com/cybercorp/hotreload/audit"
	"github.com/cybercorp/hotreload/events"
	"github.com/cybercorp/hotreload/ui"
)

// Engine is what the admin API needs of the reload engine
// (*hotreload.Engine implements it).
type Engine interface {
	Start(ctx context.Context, r hotreload.Request) (*hotreload.Ticket, error)
	StartRollback(ctx context.Context, version uint64, who hotreload.Actor) (*hotreload.Ticket, error)
	Status() hotreload.Status
	View(fn func(hotreload.Status))
}

// ConfigSource gives the live configuration document with its
// schema-marked secrets redacted (*config.Target implements it); nil
// before the first load.
type ConfigSource interface {
	Redacted() any
}

// Recorder records audit entries the engine never sees: requests refused
// before they reach it (*audit.Log implements it).
type Recorder interface {
	Append(ctx context.Context, e audit.Entry) error
}

// AuditReader is the optional ability of a Recorder to serve the log
// itself (*audit.Log has it): GET /api/v1/audit answers 404 without it.
type AuditReader interface {
	Read(ctx context.Context, limit int) (audit.Report, []audit.Entry, error)
}

// Options configure a Server. Engine and History are required.
type Options struct {
	// Mode is dev or prod; empty means prod.
	Mode Mode
	// MaxDenials is how many refused requests one remote address may make
	// in a DenialInterval before it is answered 429; zero means
	// DefaultMaxDenials, negative no limit.
	MaxDenials int
	// Listen is the address the server listens on; an open (tokenless)
	// server is only allowed on a loopback address.
	Listen string
	// Engine runs reloads, patches and rollbacks.
	Engine Engine
	// History answers the history endpoints.
	History hotreload.History
	// Config serves GET and PATCH /api/v1/config; nil answers 404.
	Config ConfigSource
	// ConfigTarget names the target PATCH /api/v1/config patches;
	// "config" when empty.
	ConfigTarget string
	// Bus feeds GET /api/v1/events and, in dev, the event trace; nil
	// answers 404 there.
	Bus *events.Bus
	// Tokens authenticates requests; nil runs open, which New allows only
	// in dev on a loopback address.
	Tokens *auth.Store
	// Audit records refused mutation attempts; nil records nothing.
	Audit Recorder
	// Redact redacts a config document further (decrypted secrets).
	Redact func(doc any) any
	// RedactChanges redacts the changes of a target in a diff.
	RedactChanges func(target string, changes []hotreload.PathChange) []hotreload.PathChange
	// Scrub cuts decrypted secrets out of every JSON answer and event.
	Scrub func(string) string
	// StatusParts adds parts to GET /api/v1/status by key, such as
	// "health" (the health monitor's state) and "alerts" (active alerts).
	StatusParts map[string]func(context.Context) any
	// AllowedHosts lists host names (besides IP addresses and localhost)
	// accepted in the Host header; "*" accepts any.
	AllowedHosts []string
	// AllowedOrigins lists browser origins (scheme://host:port) allowed
	// besides the server's own.
	AllowedOrigins []string
	// MaxBodyBytes limits request bodies; DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// TraceSize is how many events the dev event trace keeps; 256 when
	// zero.
	TraceSize int
	// Logger logs warnings and errors; nil discards.
	Logger *slog.Logger
}

// Route is one registered endpoint and the role it needs.
type Route struct {
	Pattern string    // a net/http pattern such as "GET /api/v1/status"
	Perm    auth.Role // the weakest role allowed; auth.Public for none
}

// Server is the admin API as an http.Handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	open    bool // no tokens: every request is auth.Anonymous
	hosts   map[string]bool
	origins map[string]bool
	mux     *http.ServeMux
	ctx     context.Context // cancelled by Close; ends event streams
	cancel  context.CancelFunc
	trace   *trace

	mu     sync.Mutex // guards routes
	routes []Route

	denials     denials       // refusals of the current interval
	denialsDone chan struct{} // closed when runDenials returns; nil without an audit log
}

// New returns a Server with every built-in route registered. In dev it
// also serves /debug/pprof and /debug/events (the event trace). Close
// releases it.
func New(opts Options) (*Server, error) {
	if opts.Engine == nil || opts.History == nil {
		return nil, errors.New("admin: Options.Engine and Options.History are required")
	}
	if opts.Mode == "" {
		opts.Mode = Prod
	}
	if _, err := ParseMode(string(opts.Mode)); err != nil {
		return nil, err
	}
	if opts.ConfigTarget == "" {
		opts.ConfigTarget = "config"
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxDenials == 0 {
		opts.MaxDenials = DefaultMaxDenials
	}
	if opts.TraceSize <= 0 {
		opts.TraceSize = 256
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log, mux: http.NewServeMux(), hosts: map[string]bool{}, origins: map[string]bool{}}
	for _, h := range opts.AllowedHosts {
		s.hosts[strings.ToLower(h)] = true
	}
	for _, o := range opts.AllowedOrigins {
		s.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	if opts.Tokens == nil {
		switch {
		case opts.Mode == Prod:
			return nil, errors.New("admin: prod mode needs an auth file (--auth-file); create a token with: hotreload token add --auth-file FILE --role admin")
		case !loopback(opts.Listen):
			return nil, fmt.Errorf("admin: refusing to serve without tokens on %q, which is not a loopback address; give an auth file", opts.Listen)
		}
		s.open = true
		log.Warn("the admin API is open: every local request acts as admin; give --auth-file to require tokens", "listen", opts.Listen)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.denials.since = time.Now()
	if opts.Audit != nil {
		s.denialsDone = make(chan struct{})
		go s.runDenials()
	}
	s.routesBuiltIn()
	if opts.Mode == Dev {
		s.routesDebug()
	}
	return s, nil
}

// loopback reports whether addr (host:port) listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) routesBuiltIn() {
	s.handle("GET /api/v1/status", auth.Viewer, s.getStatus)
	s.handle("GET /api/v1/config", auth.Viewer, s.getConfig)
	s.handle("PATCH /api/v1/config", auth.Operator, s.patchConfig)
	s.handle("POST /api/v1/reload", auth.Operator, s.postReload)
	s.handle("POST /api/v1/rollback", auth.Operator, s.postRollback)
	s.handle("GET /api/v1/history", auth.Viewer, s.getHistory)
	s.handle("GET /api/v1/history/{version}", auth.Viewer, s.getVersion)
	s.handle("GET /api/v1/history/{a}/diff/{b}", auth.Viewer, s.getDiff)
	s.handle("GET /api/v1/events", auth.Viewer, s.getEvents)
	s.handle("POST /api/v1/session", auth.Public, s.postSession)
	s.handle("DELETE /api/v1/session", auth.Public, s.deleteSession)
	s.handle("GET /api/v1/whoami", auth.Viewer, s.getWhoami)
	s.handle("GET /api/v1/audit", auth.Admin, s.getAudit)
}

func (s *Server) routesDebug() {
	s.trace = newTrace(s.opts.Bus, s.opts.TraceSize)
	s.handle("GET /debug/events", auth.Admin, s.getTrace)
	s.Mount("GET /debug/pprof/", auth.Admin, http.HandlerFunc(pprof.Index))
	s.Mount("GET /debug/pprof/cmdline", auth.Admin, http.HandlerFunc(pprof.Cmdline))
	s.Mount("GET /debug/pprof/profile", auth.Admin, http.HandlerFunc(pprof.Profile))
	s.Mount("GET /debug/pprof/symbol", auth.Admin, http.HandlerFunc(pprof.Symbol))
	s.Mount("GET /debug/pprof/trace", auth.Admin, http.HandlerFunc(pprof.Trace))
}

// handlerFunc is a built-in handler: it returns an error instead of
// writing one.
type handlerFunc func(w http.ResponseWriter, r *http.Request, id auth.Identity) error

func (s *Server) handle(pattern string, perm auth.Role, h handlerFunc) {
	mut := mutation(pattern, perm)
	s.register(pattern, perm, func(w http.ResponseWriter, r *http.Request, id auth.Identity) {
		if err := h(w, r, id); err != nil {
			if mut {
				s.recordRefusal(r, id, pattern, err)
			}
			s.writeError(w, err)
		}
	})
}

// MutationTimeout is the write deadline of the answers of operator and
// admin routes (reload, patch, rollback, plugin control), which wait for a
// whole transaction and its health gate.
const MutationTimeout = 15 * time.Minute

// Mount serves h at pattern (a net/http pattern such as "GET /metrics" or
// "POST /api/v1/plugins/") for requests whose role is at least perm; use
// auth.Public for probes. It must be called before the server serves
// requests.
func (s *Server) Mount(pattern string, perm auth.Role, h http.Handler) {
	s.register(pattern, perm, func(w http.ResponseWriter, r *http.Request, _ auth.Identity) { h.ServeHTTP(w, r) })
}

// register puts the route behind the choke point.
func (s *Server) register(pattern string, perm auth.Role, h func(http.ResponseWriter, *http.Request, auth.Identity)) {
	s.mu.Lock()
	s.routes = append(s.routes, Route{Pattern: pattern, Perm: perm})
	s.mu.Unlock()
	mut := mutation(pattern, perm)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		id, err := s.authorize(r, perm)
		if err != nil {
			if s.denials.deny(r, pattern, err, s.opts.MaxDenials) {
				w.Header().Set("Retry-After", fmt.Sprint(int(DenialInterval.Seconds())))
				err = hotreload.Errorf(hotreload.CodeTooManyRequests, "too many refused requests from this address; try again later")
			}
			s.writeError(w, err)
			return
		}
		if mut {
			// A transaction waits for its health gate (90 s in prod by
			// default), longer than NewHTTPServer's write timeout.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(MutationTimeout))
		}
		h(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)), id)
	})
}

// Routes lists the registered routes in registration order.
func (s *Server) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Route(nil), s.routes...)
}

// mutation reports whether a route changes state: an operator or admin
// route with a method other than GET. Refusals of mutations are audited.
func mutation(pattern string, perm auth.Role) bool {
	return perm >= auth.Operator && !strings.HasPrefix(pattern, "GET ")
}

type identityKey struct{}

// IdentityFrom returns the identity of an authorised request, for mounted
// handlers that record who acted.
func IdentityFrom(ctx context.Context) (auth.Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(auth.Identity)
	return id, ok
}

// SessionCookie is the cookie that carries a token for browsers (the
// dashboard, EventSource, WebSocket), set by POST /api/v1/session.
const SessionCookie = "hotreload_token"

// authorize is the one choke point every request passes: Host, Origin,
// then the token and its role. It returns the identity it found even when
// the role is too weak, for the audit record.
func (s *Server) authorize(r *http.Request, perm auth.Role) (auth.Identity, error) {
	if err := s.checkHost(r); err != nil {
		return auth.Identity{}, err
	}
	if err := s.checkOrigin(r); err != nil {
		return auth.Identity{}, err
	}
	if perm == auth.Public {
		return auth.Identity{}, nil
	}
	if s.open {
		return auth.Anonymous, nil
	}
	id, err := s.opts.Tokens.Authenticate(token(r))
	if err != nil {
		return auth.Identity{}, err
	}
	if id.Role < perm {
		return id, hotreload.Errorf(hotreload.CodeForbidden, "token %q has role %s; this needs %s", id.Name, id.Role, perm)
	}
	return id, nil
}

// token returns the bearer token of a request: the Authorization header,
// else the token a browser's WebSocket offers as a subprotocol (it can set
// no other header; ui.SubprotocolToken), else the session cookie. A token
// in the URL is never read: URLs reach access logs.
func token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if tok := ui.SubprotocolToken(r); tok != "" {
		return tok
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// recordRefusal writes the audit record of a mutation refused before the
// engine ran it. Refusals the engine itself audited are not repeated.
func (s *Server) recordRefusal(r *http.Request, id auth.Identity, pattern string, err error) {
	if s.opts.Audit == nil {
		return
	}
	e := audit.Entry{
		Kind: audit.KindDenied, Source: hotreload.SourceAPI, Actor: id.Name, Remote: r.RemoteAddr,
		Action: pattern, Result: string(hotreload.ErrorCode(err)), Reason: err.Error(),
		VersionBefore: s.opts.Engine.Status().Active,
	}
	if id.Name != "" {
		e.Role = id.Role.String()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), audit.DefaultTimeout)
	defer cancel()
	if aerr := s.opts.Audit.Append(ctx, e); aerr != nil {
		s.log.Error("recording a refused request in the audit log", "err", aerr)
	}
}

// ServeHTTP routes a request; unknown paths and methods get JSON errors
// (after the Host and Origin checks, so that they reveal nothing to a
// rebinding page either).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// No page of this server may be framed by another (clickjacking of a
	// dashboard session), nor leak its URLs to other sites.
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		if _, err := s.authorize(r, auth.Public); err != nil {
			s.writeError(w, err)
			return
		}
		s.notRouted(w, r, h)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Close ends the event streams and the dev event trace. Call it before
// http.Server.Shutdown so that shutdown does not wait for streaming
// clients.
func (s *Server) Close() error {
	s.cancel()
	if s.denialsDone != nil {
		<-s.denialsDone
	}
	if s.trace != nil {
		s.trace.close()
	}
	return nil
}
