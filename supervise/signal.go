package supervise

import (
	"context"
	"os"
	"os/signal"
)

// ReloadOnSignal calls reload each time this process receives sig (SIGUSR2
// for `hotreload serve --exec`: the binary was replaced, upgrade it) until
// ctx is done, then returns. Signals that arrive while a reload runs are
// coalesced into one more reload. Run it on its own goroutine; reload
// typically submits an engine transaction for the Process target:
//
//	go supervise.ReloadOnSignal(ctx, syscall.SIGUSR2, func(ctx context.Context) {
//		e.Reload(ctx, hotreload.Request{Source: hotreload.SourceSignal, Targets: []string{proc.Name()}})
//	})
func ReloadOnSignal(ctx context.Context, sig os.Signal, reload func(context.Context)) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, sig)
	defer signal.Stop(c)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c:
			reload(ctx)
		}
	}
}
