package health

import (
	"bufio"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTrafficQuantile(t *testing.T) {
	var tr Traffic
	for i := 1; i <= 100; i++ {
		tr.Observe(http.StatusOK, time.Duration(i)*10*time.Millisecond) // 10ms..1s
	}
	s := tr.Snapshot()
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.95, 950 * time.Millisecond}, {1, time.Second}} {
		got := s.Quantile(tc.q)
		if got > tc.want || float64(got) < 0.95*float64(tc.want) {
			t.Errorf("p%g = %s, want within 5%% below %s", tc.q*100, got, tc.want)
		}
	}
	if got := (TrafficSnapshot{}).Quantile(0.95); got != 0 {
		t.Errorf("empty p95 = %s", got)
	}
	var huge Traffic
	huge.Observe(http.StatusOK, time.Hour)
	if got := huge.Snapshot().Quantile(1); got < 200*time.Second {
		t.Errorf("an hour-long request reads %s, want the top bucket (over 200s)", got)
	}
}

func TestTrafficSub(t *testing.T) {
	var tr Traffic
	tr.Observe(http.StatusOK, time.Millisecond)
	tr.ReportException(errors.New("old"))
	before := tr.Snapshot()
	tr.Observe(http.StatusInternalServerError, time.Second)
	tr.ReportException(nil) // ignored
	d := tr.Snapshot().Sub(before)
	if d.Requests != 1 || d.ServerErrors != 1 || d.Exceptions != 0 || d.LastException != "" {
		t.Errorf("diff %+v, want one failed request and no exception", d)
	}
	if d.ExceptionRate() != 1 || d.Samples() != 1 || d.Quantile(0.5) < 900*time.Millisecond {
		t.Errorf("rate %g over %d, p50 %s", d.ExceptionRate(), d.Samples(), d.Quantile(0.5))
	}
	// Exceptions outside requests still make a rate.
	var jobs Traffic
	for range 4 {
		jobs.ReportException(errors.New("job failed"))
	}
	if s := jobs.Snapshot(); s.ExceptionRate() != 1 || s.Samples() != 4 || s.LastException != "job failed" {
		t.Errorf("jobs: rate %g over %d, last %q", s.ExceptionRate(), s.Samples(), s.LastException)
	}
}

func TestMiddleware(t *testing.T) {
	var tr Traffic
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hi")) })
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusServiceUnavailable) })
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("handler bug") })
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // the header goes out now: the response time ends here
		time.Sleep(100 * time.Millisecond)
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_ = rw.Flush()
	})
	srv := httptest.NewUnstartedServer(tr.Middleware(mux))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the panics are on purpose
	srv.Start()
	defer srv.Close()
	// POST, because the client retries a GET whose connection closed
	// without an answer, as after a panic.
	get := func(path string) {
		resp, err := srv.Client().Post(srv.URL+path, "text/plain", nil)
		if err == nil {
			_, _ = bufio.NewReader(resp.Body).ReadString(0)
			resp.Body.Close()
		}
	}
	for _, p := range []string{"/ok", "/teapot", "/empty", "/fail", "/panic", "/abort", "/stream", "/hijack"} {
		get(p)
	}
	s := tr.Snapshot()
	// ok, teapot, empty, fail, panic, stream: 6; abort and hijack are not recorded.
	if s.Requests != 6 || s.ServerErrors != 2 {
		t.Errorf("%d requests with %d server errors, want 6 with 2 (503, panic)", s.Requests, s.ServerErrors)
	}
	if p := s.Quantile(1); p > 50*time.Millisecond {
		t.Errorf("slowest response time %s: the stream should count until its header", p)
	}
}

func BenchmarkMiddleware(b *testing.B) {
	var tr Traffic
	h := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := httptest.NewRecorder()
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
}
