package main

import (
	"context"
	"net"
	"sync"
)

// group owns everything the daemon starts, as Prometheus' run.Group does:
// each piece is registered where it is started, and one Stop ends them all
// in reverse order, each once, whether the daemon served for days or failed
// half-way through its start. Nothing else starts or stops a piece.
type group struct {
	mu    sync.Mutex
	stops []func()
}

// Defer registers stop to run at Stop, before everything registered
// earlier.
func (g *group) Defer(stop func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stops = append(g.stops, stop)
}

// Go runs fn on its own goroutine with a context that keeps ctx's values but
// ends only at Stop, which then waits for fn to return.
func (g *group) Go(ctx context.Context, fn func(context.Context)) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	g.Defer(func() { cancel(); <-done })
}

// Stop runs the registered stops, newest first. Later calls do nothing.
func (g *group) Stop() {
	g.mu.Lock()
	stops := g.stops
	g.stops = nil
	g.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}

// onceListener is a listener closed at most once, by whichever of its
// owner's stop or an http.Server's Shutdown comes first.
type onceListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
