// Package supervise runs a program behind a listening socket it owns and
// swaps in a new binary with no refused connection and no failed request:
// the process target of the dev loop (package dev) and of hotreload serve
// --exec.
//
// Process is a supervised program as a hotreload.Target of kind process.
// In ModeSocket it passes the socket to every child as fd 3 with systemd's
// socket-activation convention (LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES=http;
// a one-line /bin/sh shim sets LISTEN_PID to its own pid and execs the
// program, so the pid is right); in ModeProxy each child listens on a fresh
// loopback $PORT behind the Process's reverse proxy. Each child gets its
// own NOTIFY_SOCKET (a unixgram socket) and is ready when it sends READY=1
// (package listen does it), or in proxy mode when its port accepts or its
// health URL answers. Each child leads its own process group; stopping it
// is SIGTERM to the group, DrainTimeout, SIGKILL to the group, and every
// child is reaped. ReloadOnSignal turns a signal (serve's SIGUSR2) into
// reloads.
//
// # Failure paths
//
// A build that fails, a child that exits or does not say READY=1 within
// ReadyTimeout: Prepare stops and reaps the candidate and returns the error;
// the live child never noticed. Rollback after Apply starts the previous
// binary again, waits until it is ready, routes to it and only then stops
// the new child. A live child that exits by itself later has its process
// group killed at once, is reported through Options.OnExit and its binary
// is started again, with a growing delay while it keeps crashing
// (OnRestart).
//
// # Platforms
//
// Process runs on Linux only: it watches children through pidfds and has
// them sent SIGTERM if the supervisor dies (PR_SET_PDEATHSIG).
// ReloadOnSignal builds everywhere.
//
// # Concurrency and backpressure
//
// Prepare, Apply, Rollback and Commit are called by one transaction at a
// time (the engine's loop); a restart after a crash swaps under the same
// lock as Apply. Live, Close and the proxy are safe for concurrent use. A
// Process watches all its children from one goroutine (poll(2) on each
// child's pidfd, notify socket and output pipes), however many it starts.
package supervise
