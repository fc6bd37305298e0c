package health

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/cybercorp/hotreload/health/internal/testenv"
)

// runCheck runs c through a monitor with the given timeout and returns its
// status.
func runCheck(tb testing.TB, c Check, timeout time.Duration) Status {
	tb.Helper()
	m := NewMonitor(MonitorOptions{})
	mustAdd(tb, m, "c", c, CheckOptions{Timeout: timeout})
	m.CheckAll(tb.(interface{ Context() context.Context }).Context())
	return mustStatus(tb, m, "c")
}

func wantState(tb testing.TB, st Status, state State, errPart string) {
	tb.Helper()
	if st.State != state || !strings.Contains(st.LastError, errPart) {
		tb.Errorf("state %s, error %q; want %s with %q", st.State, st.LastError, state, errPart)
	}
}

func TestSQLCheckPostgres(t *testing.T) {
	leakCheck(t)
	dsn := testenv.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t.Run("Passes", func(t *testing.T) {
		st := runCheck(t, SQLCheck{DB: db, Query: "SELECT 1 FROM pg_database WHERE datname = current_database()"}, 5*time.Second)
		wantState(t, st, StatePassing, "")
	})
	t.Run("BadQueryFails", func(t *testing.T) {
		st := runCheck(t, SQLCheck{DB: db, Query: "SELECT * FROM no_such_table"}, 5*time.Second)
		wantState(t, st, StateFailing, `running "SELECT * FROM no_such_table"`)
	})
	t.Run("UnreachableFails", func(t *testing.T) {
		// The same server's DSN on a port where nothing listens: the test
		// stops nothing it did not start.
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = "127.0.0.1:" + testenv.FreePort(t)
		bad, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		st := runCheck(t, SQLCheck{DB: bad, Query: "SELECT 1"}, 5*time.Second)
		wantState(t, st, StateFailing, "pinging the database")
		if st.Latency > 4*time.Second {
			t.Errorf("a refused connection took %s", st.Latency)
		}
	})
	t.Run("NoDatabase", func(t *testing.T) {
		wantState(t, runCheck(t, SQLCheck{}, time.Second), StateFailing, "no database")
	})
}

func TestHTTPCheck(t *testing.T) {
	leakCheck(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(150 * time.Millisecond)
		case "/broken":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/created":
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()
	client := srv.Client()
	for _, tc := range []struct {
		name  string
		check HTTPCheck
		state State
		err   string
	}{
		{"OK", HTTPCheck{URL: srv.URL + "/"}, StatePassing, ""},
		{"ServerError", HTTPCheck{URL: srv.URL + "/broken"}, StateFailing, "status 503"},
		{"WrongStatus", HTTPCheck{URL: srv.URL + "/", Status: http.StatusCreated}, StateFailing, "status 200, want 201"},
		{"ExpectedStatus", HTTPCheck{URL: srv.URL + "/created", Status: http.StatusCreated}, StatePassing, ""},
		{"SlowerThanMax", HTTPCheck{URL: srv.URL + "/slow", MaxLatency: 50 * time.Millisecond}, StateFailing, "slower than 50ms"},
		{"SlowWithinMax", HTTPCheck{URL: srv.URL + "/slow"}, StatePassing, ""},
		{"Unreachable", HTTPCheck{URL: "http://127.0.0.1:" + testenv.FreePort(t)}, StateFailing, "connection refused"},
		{"BadURL", HTTPCheck{URL: "ftp://x"}, StateFailing, "not an absolute http or https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.check.Client == nil {
				tc.check.Client = client
			}
			wantState(t, runCheck(t, tc.check, 2*time.Second), tc.state, tc.err)
		})
	}
	t.Run("TimeoutBeatsMaxLatency", func(t *testing.T) {
		st := runCheck(t, HTTPCheck{URL: srv.URL + "/slow", Client: client}, 50*time.Millisecond)
		wantState(t, st, StateFailing, "timed out after 50ms")
	})
	client.CloseIdleConnections()
}

// wsServer is a real WebSocket endpoint that answers pings.
func wsServer(tb testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for { // reading answers pings and sees the close
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func TestWebSocketCheck(t *testing.T) {
	leakCheck(t)
	ws := wsServer(t)
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	wantState(t, runCheck(t, WebSocketCheck{URL: "ws" + strings.TrimPrefix(ws.URL, "http")}, 2*time.Second), StatePassing, "")
	wantState(t, runCheck(t, WebSocketCheck{URL: plain.URL}, 2*time.Second), StateFailing, "dialing")
	wantState(t, runCheck(t, WebSocketCheck{URL: "ws://127.0.0.1:" + testenv.FreePort(t)}, 2*time.Second), StateFailing, "connection refused")
	wantState(t, runCheck(t, WebSocketCheck{URL: "mailto:x"}, time.Second), StateFailing, "not an absolute ws, wss, http or https URL")
	// A server that accepts but never reads cannot answer the ping.
	stop := make(chan struct{})
	mute := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		<-stop
	}))
	defer mute.Close()
	defer close(stop)
	wantState(t, runCheck(t, WebSocketCheck{URL: mute.URL}, 200*time.Millisecond), StateFailing, "timed out after 200ms")
}

// fakeCgroup lays out proc and sys files for a cgroup v2 under a temp root.
func fakeCgroup(tb testing.TB, current, max, inactive string) string {
	tb.Helper()
	root := tb.TempDir()
	files := map[string]string{
		"proc/self/cgroup":    "0::/kubepods/pod1\n",
		"proc/self/mountinfo": "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n",
	}
	if current != "" {
		files["sys/fs/cgroup/kubepods/pod1/memory.current"] = current + "\n"
		files["sys/fs/cgroup/kubepods/pod1/memory.max"] = max + "\n"
		files["sys/fs/cgroup/kubepods/pod1/memory.stat"] = "anon 1\ninactive_file " + inactive + "\nactive_file 3\n"
	}
	write(tb, root, files)
	return root
}

// write creates files (path to content) under root.
func write(tb testing.TB, root string, files map[string]string) {
	tb.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestReadMemory(t *testing.T) {
	t.Run("CgroupLimit", func(t *testing.T) {
		u, err := readMemory(t.Context(), fakeCgroup(t, "1000", "2000", "100"))
		if err != nil {
			t.Fatal(err)
		}
		if u != (MemoryUsage{Used: 900, Limit: 2000, Source: "cgroup"}) {
			t.Errorf("usage %+v, want 900 of 2000 from the cgroup", u)
		}
	})
	t.Run("CgroupWithoutLimit", func(t *testing.T) {
		u, err := readMemory(t.Context(), fakeCgroup(t, "1000", "max", "0"))
		if err != nil {
			t.Fatal(err)
		}
		if u.Source != "cgroup" || u.Used != 1000 || u.Limit < 1<<20 {
			t.Errorf("usage %+v, want 1000 bytes against the host's total", u)
		}
	})
	t.Run("NoCgroup", func(t *testing.T) {
		u, err := readMemory(t.Context(), fakeCgroup(t, "", "", ""))
		if err != nil {
			t.Fatal(err)
		}
		if u.Source != "host" || u.Used == 0 || u.Limit < u.Used {
			t.Errorf("usage %+v, want the host's", u)
		}
	})
	t.Run("Garbage", func(t *testing.T) {
		_, err := readMemory(t.Context(), fakeCgroup(t, "lots", "max", "0"))
		if err == nil || !strings.Contains(err.Error(), "memory.current") {
			t.Errorf("err %v, want a parse error naming memory.current", err)
		}
	})
	t.Run("CgroupV1", func(t *testing.T) {
		root := t.TempDir()
		write(t, root, map[string]string{
			"proc/self/cgroup":    "12:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n",
			"proc/self/mountinfo": "30 23 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n31 23 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
			"sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes": "3000\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "4000\n",
			"sys/fs/cgroup/memory/docker/abc/memory.stat":           "cache 5\ntotal_inactive_file 1000\n",
		})
		u, err := readMemory(t.Context(), root)
		if err != nil {
			t.Fatal(err)
		}
		if u != (MemoryUsage{Used: 2000, Limit: 4000, Source: "cgroup-v1"}) {
			t.Errorf("usage %+v, want 2000 of 4000 from the v1 cgroup", u)
		}
	})
	t.Run("CgroupV1Unlimited", func(t *testing.T) {
		root := t.TempDir()
		write(t, root, map[string]string{
			"proc/self/cgroup":                           "4:memory:/\n",
			"proc/self/mountinfo":                        "30 23 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
			"sys/fs/cgroup/memory/memory.usage_in_bytes": "3000\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		})
		u, err := readMemory(t.Context(), root)
		if err != nil {
			t.Fatal(err)
		}
		if u.Source != "cgroup-v1" || u.Used != 3000 || u.Limit < 1<<20 || u.Limit > 1<<50 {
			t.Errorf("usage %+v, want 3000 bytes against the host's total", u)
		}
	})
	t.Run("ThisMachine", func(t *testing.T) {
		u, err := ReadMemory(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("this machine: %s", u)
		if f := u.Fraction(); f <= 0 || f > 1 {
			t.Errorf("usage %s: fraction %g out of (0, 1]", u, f)
		}
	})
}

func TestSystemChecks(t *testing.T) {
	at := func(f float64) MemoryReader {
		return func(context.Context) (MemoryUsage, error) {
			return MemoryUsage{Used: uint64(f * 1000), Limit: 1000, Source: "cgroup"}, nil
		}
	}
	wantState(t, runCheck(t, MemoryCheck{Read: at(0.5)}, time.Second), StatePassing, "")
	wantState(t, runCheck(t, MemoryCheck{Read: at(0.95)}, time.Second), StateFailing, "memory at 95% of")
	wantState(t, runCheck(t, MemoryCheck{Read: at(0.95), Max: 0.99}, time.Second), StatePassing, "")
	wantState(t, runCheck(t, MemoryCheck{Max: 1}, time.Second), StatePassing, "")
	wantState(t, runCheck(t, MemoryCheck{Max: 2}, time.Second), StateFailing, "max 2 is not a fraction")

	wantState(t, runCheck(t, CPUCheck{Window: 100 * time.Millisecond, Max: 1}, time.Second), StatePassing, "")
	busy(t, 200*time.Millisecond)
	wantState(t, runCheck(t, CPUCheck{Window: 100 * time.Millisecond, Max: 1e-6}, time.Second), StateFailing, "CPU at")
	wantState(t, runCheck(t, CPUCheck{Window: time.Second}, 50*time.Millisecond), StateFailing, "timed out")

	dir := t.TempDir()
	wantState(t, runCheck(t, DiskCheck{Path: dir, Max: 1}, time.Second), StatePassing, "")
	wantState(t, runCheck(t, DiskCheck{Path: dir, Max: 1e-9}, time.Second), StateFailing, "disk of "+dir+" at")
	wantState(t, runCheck(t, DiskCheck{Path: filepath.Join(dir, "missing")}, time.Second), StateFailing, "reading disk usage")
}

// busy keeps one core busy for d, in the background.
func busy(tb testing.TB, d time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for end := time.Now().Add(d); time.Now().Before(end); {
		}
	}()
	tb.Cleanup(func() { <-done })
}
