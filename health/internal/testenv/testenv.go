// Package testenv gives the health tests what they need from the machine:
// the PostgreSQL server .ci/postgres.sh started (named by
// HOTRELOAD_TEST_POSTGRES_DSN) and free ports. It holds no state and starts
// nothing.
package testenv

import (
	"net"
	"os"
	"strconv"
	"testing"
)

// PostgresDSN returns the test server's DSN. Without one it fails the test
// when CI is "true" and skips it otherwise, saying how to start the server.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("HOTRELOAD_TEST_POSTGRES_DSN")
	if dsn == "" {
		msg := `HOTRELOAD_TEST_POSTGRES_DSN is not set: run eval "$(sudo .ci/postgres.sh)" (needs Debian's postgresql-15)`
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return dsn
}

// FreePort returns a 127.0.0.1 TCP port nothing listens on: it was just
// released, so connecting to it is refused.
func FreePort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
