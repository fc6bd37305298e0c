package health

import (
	"bufio"
	"math"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// The latency histogram: bucket i holds latencies in
// (minLatency·2^((i-1)/bucketsPerOctave), minLatency·2^(i/bucketsPerOctave)],
// bucket 0 everything up to minLatency, the last everything above. Sixteen
// buckets per octave keep quantiles within 4.4 %.
const (
	minLatency       = 100 * time.Microsecond
	bucketsPerOctave = 16
	latencyBuckets   = 21*bucketsPerOctave + 1 // up to about 210 s
)

// Traffic records the app's own requests and exceptions, the figures the
// gate's latency and exception-rate triggers read. Its counters only grow;
// the gate compares snapshots. Safe for concurrent use; the zero value is
// ready.
type Traffic struct {
	requests      atomic.Uint64
	serverErrors  atomic.Uint64
	exceptions    atomic.Uint64
	lastException atomic.Pointer[string]
	latency       [latencyBuckets]atomic.Uint64
}

// ReportException counts an exception the app caught (a failed job, a
// recovered panic); nil is ignored.
func (t *Traffic) ReportException(err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	t.lastException.Store(&msg)
	t.exceptions.Add(1)
}

// Observe records one request: its status and its response time.
func (t *Traffic) Observe(status int, latency time.Duration) {
	t.requests.Add(1)
	if status >= 500 {
		t.serverErrors.Add(1)
	}
	t.latency[latencyBucket(latency)].Add(1)
}

// Middleware records every request next serves: its status (a 5xx answer
// or a panic counts as an exception) and its response time, measured until
// the response header is written, so streams (SSE) count as fast when they
// start fast. Hijacked connections (WebSocket) are not recorded. A panic is
// recorded and re-raised; http.ErrAbortHandler is not counted.
func (t *Traffic) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &recordingWriter{ResponseWriter: w, start: time.Now()}
		defer func() {
			if p := recover(); p != nil {
				if p != http.ErrAbortHandler {
					rw.header(http.StatusInternalServerError)
					t.Observe(rw.status, rw.latency)
				}
				panic(p)
			}
			if rw.hijacked {
				return
			}
			rw.header(http.StatusOK)
			t.Observe(rw.status, rw.latency)
		}()
		next.ServeHTTP(rw, r)
	})
}

// Snapshot returns the counters so far.
func (t *Traffic) Snapshot() TrafficSnapshot {
	s := TrafficSnapshot{
		Requests:     t.requests.Load(),
		ServerErrors: t.serverErrors.Load(),
		Exceptions:   t.exceptions.Load(),
	}
	if p := t.lastException.Load(); p != nil {
		s.LastException = *p
	}
	for i := range t.latency {
		s.latency[i] = t.latency[i].Load()
	}
	return s
}

// TrafficSnapshot is the Traffic counters at one moment, or the difference
// between two moments.
type TrafficSnapshot struct {
	// Requests counts the requests served.
	Requests uint64
	// ServerErrors counts answers with a 5xx status (and panics).
	ServerErrors uint64
	// Exceptions counts ReportException calls.
	Exceptions uint64
	// LastException is the message of the last reported exception.
	LastException string
	latency       [latencyBuckets]uint64
}

// Sub returns what happened between earlier and s. LastException is s's.
func (s TrafficSnapshot) Sub(earlier TrafficSnapshot) TrafficSnapshot {
	d := TrafficSnapshot{
		Requests:      s.Requests - earlier.Requests,
		ServerErrors:  s.ServerErrors - earlier.ServerErrors,
		Exceptions:    s.Exceptions - earlier.Exceptions,
		LastException: s.LastException,
	}
	if d.Exceptions == 0 {
		d.LastException = ""
	}
	for i := range s.latency {
		d.latency[i] = s.latency[i] - earlier.latency[i]
	}
	return d
}

// Quantile returns the q-quantile (0 < q <= 1) of the recorded response
// times, rounded down to its bucket's lower bound (within 4.4 %), or 0
// without requests.
func (s TrafficSnapshot) Quantile(q float64) time.Duration {
	var total uint64
	for _, n := range s.latency {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, n := range s.latency {
		seen += n
		if seen >= rank && n > 0 {
			return bucketLowerBound(i)
		}
	}
	return bucketLowerBound(latencyBuckets - 1)
}

// Failures counts the window's exceptions: 5xx answers plus reported
// exceptions.
func (s TrafficSnapshot) Failures() uint64 { return s.ServerErrors + s.Exceptions }

// Samples is what an exception rate is measured over: the requests, or the
// failures when there were more (exceptions outside any request).
func (s TrafficSnapshot) Samples() uint64 { return max(s.Requests, s.Failures()) }

// ExceptionRate is Failures divided by Samples, 0 without samples.
func (s TrafficSnapshot) ExceptionRate() float64 {
	if s.Samples() == 0 {
		return 0
	}
	return float64(s.Failures()) / float64(s.Samples())
}

func latencyBucket(d time.Duration) int {
	if d <= minLatency {
		return 0
	}
	i := int(math.Ceil(bucketsPerOctave * math.Log2(float64(d)/float64(minLatency))))
	return min(i, latencyBuckets-1)
}

func bucketLowerBound(i int) time.Duration {
	if i == 0 {
		return 0
	}
	return time.Duration(float64(minLatency) * math.Exp2(float64(i-1)/bucketsPerOctave))
}

// recordingWriter notes the status and the time to the response header.
type recordingWriter struct {
	http.ResponseWriter
	start    time.Time
	status   int
	latency  time.Duration
	hijacked bool
}

// header notes a final status once.
func (w *recordingWriter) header(code int) {
	if w.status == 0 && code >= 200 {
		w.status, w.latency = code, time.Since(w.start)
	}
}

func (w *recordingWriter) WriteHeader(code int) {
	w.header(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.header(http.StatusOK)
	return w.ResponseWriter.Write(p)
}

// Flush implements http.Flusher.
func (w *recordingWriter) Flush() {
	w.header(http.StatusOK)
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker; a hijacked request is not recorded.
func (w *recordingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
