// Package dev is the dev loop: it rebuilds a Go program when its sources
// change and hands each build to the engine as a reload of a
// supervise.Process, which swaps the new process in behind the same
// listening socket, and it rebuilds Wasm plugins and hands them to the
// plugin host without restarting anything.
//
// Supervisor watches source folders with package watch (respecting
// .gitignore), maps changed files to the Go packages of the program and of
// each plugin (go list -deps), and rebuilds only what depends on them: the
// program as a transaction of the engine on its Process (build, start
// beside the old one, wait until ready, swap, stop the old one), a plugin
// with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, written
// atomically into the plugin directory. The program's build starts at the
// first change and starts over at each later one; the transaction takes
// the build in progress once the debounce ended. Errors go to the terminal
// (compiler messages as FieldErrors with file, line and column, see
// BuildError) and, through a ui.Hub, to the browser's overlay; browsers
// reload once the new process serves. The Supervisor is the daemon's
// hotreload.Trigger for the program (Watch).
//
// # Platforms
//
// Supervisor runs on Linux only, as supervise.Process does. The rest
// (Ignore, BuildError, GoBuild, ShellBuild) builds everywhere.
//
// # Concurrency and backpressure
//
// The Supervisor runs one transaction at a time; saves made meanwhile
// gather into the next batch, whose build starts at once and is cancelled
// by the next save, so a burst of saves costs one finished build, never a
// queue of them. It lists packages (go list) in the background.
package dev
