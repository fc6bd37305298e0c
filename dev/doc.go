// Package dev is the dev loop and the process supervisor: it rebuilds a Go
// program when its sources change and swaps the new process in behind the
// same listening socket, so that no connection is refused and no request
// fails, and it rebuilds Wasm plugins and hands them to the plugin host
// without restarting anything.
//
// # Parts
//
//   - Process is a supervised program as a hotreload.Target of kind
//     process. It owns the listening socket. In ModeSocket it passes the
//     socket to every child as fd 3 with systemd's socket-activation
//     convention (LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES=http; a one-line
//     /bin/sh shim sets LISTEN_PID to its own pid and execs the program, so
//     the pid is right); in ModeProxy each child listens on a fresh
//     loopback $PORT behind the Process's reverse proxy. Each child gets
//     its own NOTIFY_SOCKET (a unixgram socket) and is ready when it sends
//     READY=1 (package listen does it), or in proxy mode when its port
//     accepts or its health URL answers. Each child leads its own process
//     group; stopping it is SIGTERM to the group, DrainTimeout, SIGKILL to
//     the group, and every child is reaped.
//   - Supervisor is the dev loop: it watches source folders with package
//     watch (respecting .gitignore), maps changed files to the Go packages
//     of the program and of each plugin (go list -deps), and rebuilds only
//     what depends on them: the program as a transaction of the engine on
//     its Process (build, start beside the old one, wait until ready, swap,
//     stop the old one), a plugin with GOOS=wasip1 GOARCH=wasm go build
//     -buildmode=c-shared, written atomically into the plugin directory.
//     The program's build starts at the first change and starts over at
//     each later one; the transaction takes the build in progress once the
//     debounce ended. Errors go to the terminal and, through a ui.Hub, to
//     the browser's overlay; browsers reload once the new process serves.
//
// # Failure paths
//
// A build that fails, a child that exits or does not say READY=1 within
// ReadyTimeout: Prepare stops and reaps the candidate and returns the error
// (compiler messages as FieldErrors with file, line and column); the live
// child never noticed. A live child that exits by itself later has its
// process group killed at once, is reported through ProcessOptions.OnExit
// and its binary is started again, with a growing delay while it keeps
// crashing (OnRestart).
//
// # Platforms
//
// Process and Supervisor run on Linux only: they watch children through
// pidfds and have them sent SIGTERM if the supervisor dies
// (PR_SET_PDEATHSIG). The rest (Ignore, BuildError, GoBuild, ShellBuild,
// ReloadOnSignal) builds everywhere.
//
// # Concurrency and backpressure
//
// Prepare, Apply, Rollback and Commit are called by one transaction at a
// time (the engine's loop); a restart after a crash swaps under the same
// lock as Apply. Live, Close and the proxy are safe for concurrent use. The
// Supervisor runs one transaction at a time; saves made meanwhile gather
// into the next batch, whose build starts at once and is cancelled by the
// next save, so a burst of saves costs one finished build, never a queue of
// them. It lists packages (go list) in the background. A Process watches
// all its children from one goroutine (poll(2) on each child's pidfd, notify
// socket and output pipes), however many it starts.
package dev
