//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cybercorp/hotreload"
	"github.com/cybercorp/hotreload/dev"
)

// startExec runs the app of serve --exec behind a socket the daemon owns, as
// the process target "app": POST /api/v1/reload (or SIGUSR2) upgrades it to
// the binary now on disk with a zero-drop swap, health-gated and rolled back
// to the previous binary when unhealthy.
func (d *daemon) startExec(ctx context.Context, command, addr string) error {
	argv := strings.Fields(command)
	if len(argv) == 0 {
		return hotreload.Errorf(hotreload.CodeInvalid, "--exec is empty")
	}
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		return hotreload.Errorf(hotreload.CodeInvalid, "--exec: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for the app on %s: %w", addr, err)
	}
	proc, err := dev.NewProcess(dev.ProcessOptions{
		Name:     "app",
		Binary:   bin,
		Args:     argv[1:],
		Listener: ln,
		BinDir:   filepath.Join(d.opts.DataDir, "process"),
		Logger:   d.log,
		OnExit: func(pid int, err error, in time.Duration) {
			d.log.Error("the app exited; restarting its binary", "pid", pid, "err", err, "in", in)
		},
		OnRestart: func(pid int, err error) {
			if err != nil {
				d.log.Error("restarting the app failed; trying again", "err", err)
			} else {
				d.log.Info("the app restarted", "pid", pid)
			}
		},
	})
	if err != nil {
		ln.Close()
		return err
	}
	d.metrics.Track(proc.Name())
	if _, err := d.engine.Add(ctx, proc); err != nil {
		_ = proc.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("starting the app: %w", err)
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		dev.ReloadOnSignal(sctx, syscall.SIGUSR2, func(ctx context.Context) {
			d.reload(ctx, "signal", proc.Name())
		})
	}()
	d.closers = append(d.closers, func() {
		stop()
		<-done
		if err := proc.Close(context.Background()); err != nil {
			d.log.Error("stopping the app", "err", err)
		}
	})
	d.log.Info("app started", "addr", ln.Addr().String(), "command", command)
	return nil
}
