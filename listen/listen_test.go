package listen

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseEnv(t *testing.T) {
	for _, tc := range []struct {
		name             string
		fds, pid, names  string
		wantN            int
		wantNames        []string
		wantErrSubstring string
	}{
		{name: "Unset"},
		{name: "OK", fds: "2", pid: "42", names: "http:admin", wantN: 2, wantNames: []string{"http", "admin"}},
		{name: "NoNames", fds: "1", pid: "42", wantN: 1, wantNames: []string{"unknown"}},
		{name: "ShortNames", fds: "2", pid: "42", names: "http", wantN: 2, wantNames: []string{"http", "unknown"}},
		{name: "OtherProcess", fds: "1", pid: "41"},
		{name: "ErrCount", fds: "x", pid: "42", wantErrSubstring: `LISTEN_FDS="x"`},
		{name: "ErrNegative", fds: "-1", pid: "42", wantErrSubstring: "LISTEN_FDS"},
		{name: "ErrNoPID", fds: "1", wantErrSubstring: "without LISTEN_PID"},
		{name: "ErrPID", fds: "1", pid: "me", wantErrSubstring: `LISTEN_PID="me"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, names, err := parseEnv(tc.fds, tc.pid, tc.names, 42)
			if tc.wantErrSubstring != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSubstring) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErrSubstring)
				}
				return
			}
			if err != nil || n != tc.wantN || !slices.Equal(names, tc.wantNames) {
				t.Fatalf("got %d %q %v, want %d %q", n, names, err, tc.wantN, tc.wantNames)
			}
		})
	}
}

func FuzzParseEnv(f *testing.F) {
	f.Add("1", "1", "http")
	f.Add("99999999999999999999", "1", "")
	f.Add("3", "1", ":::")
	f.Fuzz(func(t *testing.T, fds, pid, names string) {
		n, got, err := parseEnv(fds, pid, names, 1)
		if err == nil && len(got) != n {
			t.Fatalf("%d descriptors but %d names", n, len(got))
		}
	})
}

// The helper process: a real program that takes the socket passed as fd 3
// and answers one request on it.
func TestMain(m *testing.M) {
	if os.Getenv("LISTEN_HELPER") == "1" {
		helper()
		return
	}
	os.Exit(m.Run())
}

func helper() {
	ln, err := Listener()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, k := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
		if v, ok := os.LookupEnv(k); ok {
			fmt.Fprintf(os.Stderr, "%s=%s left in the environment\n", k, v)
			os.Exit(3)
		}
	}
	if err := Ready(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	conn, err := ln.Accept()
	if err != nil {
		os.Exit(5)
	}
	// Read the request before answering: closing a socket with unread
	// data resets the connection.
	if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
		os.Exit(6)
	}
	fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhelper")
	conn.Close()
}

// TestListenerTakesThePassedSocket passes a listening socket to a real
// process the way the supervisor does (fd 3, LISTEN_FDS, LISTEN_PID set by
// a shell that then execs the program) and gets its answer and READY=1.
func TestListenerTakesThePassedSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sock := filepath.Join(t.TempDir(), "notify.sock")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()

	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$@"`, "sh", os.Args[0], "-test.run=^$")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Env = append(os.Environ(), "LISTEN_HELPER=1", "LISTEN_FDS=1", "LISTEN_FDNAMES=http", "NOTIFY_SOCKET="+sock)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill() // it has exited already unless the test failed
		cmd.Wait()
	}()
	notify.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 256)
	n, err := notify.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "READY=1") {
		t.Fatalf("notification %q, %v", buf[:n], err)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "helper" {
		t.Fatalf("body %q", body)
	}
}

func TestListenFallsBackToPort(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	t.Setenv("PORT", fmt.Sprint(port))
	ln, err := Listen("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := ln.Addr().String(); got != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("listening on %s, want port %d", got, port)
	}
	t.Setenv("PORT", "http")
	if _, err := Listen(""); err == nil || !strings.Contains(err.Error(), `PORT="http"`) {
		t.Fatalf("error %v, want one naming PORT", err)
	}
}
