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
	"github.com/cybercorp/hotreload/supervise"
)

// execParts are the app of serve --exec, run behind a socket the daemon
// owns as the process target "app", and its SIGUSR2 trigger: POST
// /api/v1/reload or SIGUSR2 upgrades it to the binary now on disk with a
// zero-drop swap, health-gated and rolled back to the previous binary when
// unhealthy.
func execParts(_ context.Context, s *services, command, addr string) ([]any, error) {
	argv := strings.Fields(command)
	if len(argv) == 0 {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "--exec is empty")
	}
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, hotreload.Errorf(hotreload.CodeInvalid, "--exec: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for the app on %s: %w", addr, err)
	}
	log := s.log
	proc, err := supervise.New(supervise.Options{
		Name:     "app",
		Binary:   bin,
		Args:     argv[1:],
		Listener: ln,
		BinDir:   filepath.Join(s.opts.DataDir, "process"),
		Logger:   log,
		OnExit: func(pid int, err error, in time.Duration) {
			log.Error("the app exited; restarting its binary", "pid", pid, "err", err, "in", in)
		},
		OnRestart: func(pid int, err error) {
			if err != nil {
				log.Error("restarting the app failed; trying again", "err", err)
			} else {
				log.Info("the app restarted", "pid", pid)
			}
		},
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	log.Info("app starting", "addr", ln.Addr().String(), "command", command)
	sigusr2 := hotreload.TriggerFunc(func(ctx context.Context, submit hotreload.SubmitFunc) error {
		supervise.ReloadOnSignal(ctx, syscall.SIGUSR2, func(ctx context.Context) {
			submitLogged(ctx, log, submit, hotreload.SourceSignal, proc.Name())
		})
		return nil
	})
	return []any{proc, sigusr2}, nil
}
