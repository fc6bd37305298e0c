package fleet

import (
	"context"
	"net/http"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cybercorp/hotreload/internal/httpjson"
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
			httpjson.WriteError(w, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		httpjson.Write(w, http.StatusOK, f)
	})
}
