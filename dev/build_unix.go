//go:build unix

package dev

import (
	"os/exec"
	"syscall"
	"time"
)

// stopGroup makes cmd lead its own process group and, when its context
// ends, kills the whole group: go build's compilers and linker with it.
func stopGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}
