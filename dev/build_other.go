//go:build !unix

package dev

import (
	"os/exec"
	"time"
)

// stopGroup bounds the wait for cmd's output once its context ends.
func stopGroup(cmd *exec.Cmd) { cmd.WaitDelay = 5 * time.Second }
