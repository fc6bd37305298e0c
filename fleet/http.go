package fleet

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cybercorp/hotreload"
)

// Handler answers GET /api/v1/fleet with the Fleet at prefix as JSON, read
// from etcd on each request (at most 5 s). When etcd does not answer it
// answers 503 with the API's error body.
func Handler(c *clientv3.Client, prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		f, err := Read(ctx, c, prefix)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
}

func writeError(w http.ResponseWriter, err error) {
	code := hotreload.ErrorCode(err)
	msg := err.Error()
	type detail struct {
		Code    hotreload.Code         `json:"code"`
		Message string                 `json:"message"`
		Details []hotreload.FieldError `json:"details"`
	}
	writeJSON(w, hotreload.HTTPStatus(code), map[string]detail{"error": {Code: code, Message: msg, Details: []hotreload.FieldError{}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the answer failed","details":[]}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
