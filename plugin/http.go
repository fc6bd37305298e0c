package plugin

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cybercorp/hotreload"
)

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
			writeError(w, hotreload.Errorf(hotreload.CodeInternal, "listing plugins: %w", err))
			return
		}
		if list == nil {
			list = []Info{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"plugins": list})
	})
	mux.HandleFunc("GET /api/v1/plugins/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !ValidName(name) {
			writeError(w, hotreload.Errorf(hotreload.CodeInvalid, "%q is not a valid plugin name", name))
			return
		}
		i, err := h.Info(name)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, i)
	})
	mux.HandleFunc("POST /api/v1/plugins/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !ValidName(name) {
			writeError(w, hotreload.Errorf(hotreload.CodeInvalid, "%q is not a valid plugin name", name))
			return
		}
		req := hotreload.Request{Source: "api", Remote: r.RemoteAddr}
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
			writeError(w, err)
			return
		}
		status := http.StatusOK
		switch o.Result {
		case hotreload.Rejected:
			status = http.StatusUnprocessableEntity
		case hotreload.RolledBack:
			status = http.StatusConflict
		}
		writeJSON(w, status, o)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, hotreload.Errorf(hotreload.CodeNotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, err error) {
	code := hotreload.ErrorCode(err)
	msg, _, _ := strings.Cut(err.Error(), "\n") // the details follow, one per line
	writeJSON(w, hotreload.HTTPStatus(code), map[string]any{"error": hotreload.Error{
		Code: code, Message: msg, Details: hotreload.ErrorDetails(err),
	}})
}
