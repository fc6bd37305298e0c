package health

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/cybercorp/hotreload"
)

// ServeHealth answers GET (and HEAD) /api/v1/health with the Summary as
// JSON: every check's state, last result, latency and last error. The
// status is 200 whatever the checks say; ?fresh=1 runs every check first
// (bounded by their timeouts and the request's context).
func (m *Monitor) ServeHealth(w http.ResponseWriter, r *http.Request) {
	if !allowRead(w, r) {
		return
	}
	var s Summary
	if r.URL.Query().Get("fresh") == "1" {
		s = m.CheckAll(r.Context())
	} else {
		s = m.Summary()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s)
}

// ServeLive answers /healthz: 200 "ok" while the process can serve HTTP at
// all (Kubernetes liveness; dependencies are not consulted, so a broken
// database never gets the process restarted).
func (m *Monitor) ServeLive(w http.ResponseWriter, r *http.Request) {
	if !allowRead(w, r) {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}

// ServeReady answers /readyz (Kubernetes readiness): 200 "ok" when every
// critical check passes, else 503 listing the critical checks that do not.
// With ?verbose every check is listed as "[+]name ok" or
// "[-]name state: error", like the Kubernetes API server.
func (m *Monitor) ServeReady(w http.ResponseWriter, r *http.Request) {
	if !allowRead(w, r) {
		return
	}
	s := m.Summary()
	ready := true
	var b strings.Builder
	for _, st := range s.Checks {
		ok := st.State == StatePassing
		if st.Critical && !ok {
			ready = false
		}
		switch {
		case ok:
			fmt.Fprintf(&b, "[+]%s ok\n", st.Name)
		case st.Critical:
			fmt.Fprintf(&b, "[-]%s %s: %s\n", st.Name, st.State, st.LastError)
		default:
			fmt.Fprintf(&b, "[-]%s %s (not critical): %s\n", st.Name, st.State, st.LastError)
		}
	}
	_, verbose := r.URL.Query()["verbose"]
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		for line := range strings.Lines(b.String()) {
			if verbose || strings.HasPrefix(line, "[-]") && !strings.Contains(line, "(not critical)") {
				fmt.Fprint(w, line)
			}
		}
		fmt.Fprintln(w, "readyz check failed")
		return
	}
	if verbose {
		fmt.Fprint(w, b.String())
	}
	fmt.Fprintln(w, "ok")
}

// allowRead answers 405 in the API's error format unless r is a GET or
// HEAD.
func allowRead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMethodNotAllowed)
	_ = json.NewEncoder(w).Encode(map[string]*hotreload.Error{
		"error": {Code: hotreload.CodeInvalid, Message: fmt.Sprintf("method %s not allowed; use GET", r.Method)},
	})
	return false
}
