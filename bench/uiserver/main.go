// Command uiserver is the hotreload side of the UI broadcast benchmark
// (ui_test.go): it serves a ui.Hub on 127.0.0.1, prints its address, and
// obeys commands on standard input, one a line: "broadcast" sends a styles
// update to every client, "mem" prints the resident set size in bytes
// after a garbage collection. The benchmark runs it as a separate process
// so that its memory is the hub's alone.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/cybercorp/hotreload/ui"
)

func main() {
	hub := ui.NewHub(ui.Options{})
	mux := http.NewServeMux()
	hub.Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "uiserver:", err)
		os.Exit(1)
	}
	go http.Serve(ln, mux)
	fmt.Println(ln.Addr().String())

	in := bufio.NewScanner(os.Stdin)
	n := 0
	for in.Scan() {
		switch in.Text() {
		case "broadcast":
			n++
			hub.ReloadStyles("/ui/app.css", strconv.Itoa(n))
		case "mem":
			runtime.GC()
			fmt.Println(rss())
		}
	}
}

// rss reads the resident set size from /proc/self/status.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}
