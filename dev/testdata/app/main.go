// Command app is the sample server the dev loop tests edit: it takes the
// supervisor's socket with listen.Serve and answers every request with its
// version, its pid and the request path.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/cybercorp/hotreload/listen"
)

// stamp is set with -ldflags "-X main.stamp=..." by tests that swap
// prebuilt binaries.
var stamp = ""

func main() {
	if d, err := time.ParseDuration(os.Getenv("APP_START_DELAY")); err == nil {
		time.Sleep(d) // a slow start: the old process must keep serving meanwhile
	}
	if d, err := time.ParseDuration(os.Getenv("APP_EXIT_AFTER")); err == nil {
		time.AfterFunc(d, func() { log.Fatal("APP_EXIT_AFTER: crashing on purpose") })
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(d) // an in-flight request across a swap
		}
		fmt.Fprintf(w, "%s%s pid=%d\n", version, stamp, os.Getpid())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := listen.Serve(srv); err != nil {
		log.Fatal(err)
	}
}
