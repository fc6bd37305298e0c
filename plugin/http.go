package plugin

import (
	"net/http"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/internal/httpjson"
)

// Routes serves Handler(Options.Author): listing for viewers, control for
// operators.
func (h *Host) Routes() []hotreload.Route {
	a := h.Handler(h.opts.Author)
	return []hotreload.Route{
		{Pattern: "GET /api/v1/plugins", Role: hotreload.Viewer, Handler: a},
		{Pattern: "GET /api/v1/plugins/{name}", Role: hotreload.Viewer, Handler: a},
		{Pattern: "POST /api/v1/plugins/{name}/{action}", Role: hotreload.Operator, Handler: a},
	}
}

// Handler serves the plugin API:
//
//	GET  /api/v1/plugins                        {"plugins": [Info, ...]}
//	GET  /api/v1/plugins/{name}                 Info
//	POST /api/v1/plugins/{name}/{load|unload|reload}   the transaction's Outcome
//
// A rejected transaction answers 422, a rolled-back one 409; errors are
// {"error": {"code", "message", "details"}} with the status of their code.
// Authentication is the mounting server's job; author, when not nil, names
// the person asking (from that authentication) for history and audit.
func (h *Host) Handler(author func(*http.Request) string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/plugins", func(w http.ResponseWriter, r *http.Request) {
		list, err := h.List()
		if err != nil {
			httpjson.WriteError(w, hotreload.Errorf(hotreload.CodeInternal, "listing plugins: %w", err))
			return
		}
		if list == nil {
			list = []Info{}
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"plugins": list})
	})
	mux.HandleFunc("GET /api/v1/plugins/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !ValidName(name) {
			httpjson.WriteError(w, hotreload.Errorf(hotreload.CodeInvalid, "%q is not a valid plugin name", name))
			return
		}
		i, err := h.Info(name)
		if err != nil {
			httpjson.WriteError(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, i)
	})
	mux.HandleFunc("POST /api/v1/plugins/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !ValidName(name) {
			httpjson.WriteError(w, hotreload.Errorf(hotreload.CodeInvalid, "%q is not a valid plugin name", name))
			return
		}
		req := hotreload.Request{Source: hotreload.SourceAPI, Remote: r.RemoteAddr}
		if author != nil {
			req.Author = author(r)
		}
		var o hotreload.Outcome
		var err error
		switch action := r.PathValue("action"); action {
		case "load":
			o, err = h.Load(r.Context(), name, req)
		case "unload":
			o, err = h.Unload(r.Context(), name, req)
		case "reload":
			o, err = h.Reload(r.Context(), name, req)
		default:
			err = hotreload.Errorf(hotreload.CodeNotFound, "no plugin action %q: want load, unload or reload", action)
		}
		if err != nil {
			httpjson.WriteError(w, err)
			return
		}
		httpjson.Write(w, o.HTTPStatus(), o)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpjson.WriteError(w, hotreload.Errorf(hotreload.CodeNotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	return mux
}
