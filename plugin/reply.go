package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cybercorp/hotreload"
)

// Reply is the HTTP reply hook's payload: what a plugin's call export
// receives and returns when it filters replies (see docs/plugins.md).
type Reply struct {
	Status int               `json:"status,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	Body   string            `json:"body"`
}

// FilterReply passes r through plugin name's call export and returns the
// reply it answers. An answer with no status keeps r's status.
func (h *Host) FilterReply(ctx context.Context, name string, r Reply) (Reply, error) {
	in, err := json.Marshal(r)
	if err != nil {
		return r, fmt.Errorf("encoding the reply for plugin %q: %w", name, err)
	}
	out, err := h.Call(ctx, name, in)
	if err != nil {
		return r, err
	}
	var got Reply
	if err := json.Unmarshal(out, &got); err != nil {
		return r, hotreload.Errorf(hotreload.CodeInvalid, "plugin %q answered a reply that is not a JSON reply object: %w", name, err)
	}
	if got.Status == 0 {
		got.Status = r.Status
	}
	return got, nil
}

// Middleware passes every reply of next through plugin name's call export
// (FilterReply). It buffers the whole reply, so use it on routes that answer
// small bodies, not streams. When the plugin is not loaded or fails, the
// reply goes out unchanged: a plugin never breaks the route it decorates.
func (h *Host) Middleware(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &replyRecorder{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		reply := Reply{Status: rec.status, Header: map[string]string{}, Body: rec.body.String()}
		for k := range rec.header {
			reply.Header[k] = rec.header.Get(k)
		}
		out, err := h.FilterReply(r.Context(), name, reply)
		if err != nil {
			h.log.Debug("reply left unchanged", "plugin", name, "err", err)
			out = reply
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		for k, v := range out.Header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(out.Body)))
		w.WriteHeader(out.Status)
		_, _ = w.Write([]byte(out.Body))
	})
}

// replyRecorder buffers a handler's reply.
type replyRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *replyRecorder) Header() http.Header { return r.header }

func (r *replyRecorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *replyRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
