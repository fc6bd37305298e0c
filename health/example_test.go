package health_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/health"
)

// A service declares its checks in code, feeds the gate from its own
// handlers, and hands the gate to the engine.
func Example() {
	ctx := context.Background()
	upstream := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer upstream.Close()

	mon := health.NewMonitor(health.MonitorOptions{})
	_ = mon.Add("upstream", health.HTTPCheck{URL: upstream.URL, MaxLatency: 2 * time.Second},
		health.CheckOptions{Critical: true, Interval: 10 * time.Second})
	_ = mon.Add("cache", health.CheckFunc(func(context.Context) error { return errors.New("connection refused") }),
		health.CheckOptions{FailureThreshold: 3})

	traffic := &health.Traffic{}
	handler := traffic.Middleware(http.NotFoundHandler()) // serve this instead of the bare mux
	_ = handler

	gate, _ := health.NewGate(mon, health.GateOptions{Window: 100 * time.Millisecond, Traffic: traffic})
	_ = hotreload.Options{Gate: gate} // hotreload.New(hotreload.Options{History: ..., Gate: gate})

	s := mon.CheckAll(ctx)
	for _, c := range s.Checks {
		line := c.Name + ": " + string(c.State)
		if c.LastError != "" {
			line += " (" + c.LastError + ")"
		}
		fmt.Println(line)
	}
	ready, _ := mon.Ready()
	fmt.Println("ready:", ready)
	fmt.Println("service:", s.State) // one of two failing is not more than half
	// Output:
	// cache: failing (connection refused)
	// upstream: passing
	// ready: true
	// service: passing
}
