//go:build !linux

package main

import (
	"context"

	"github.com/cybercorp/hotreload"
)

// startExec is Linux-only: process supervision needs pidfds.
func (d *daemon) startExec(context.Context, string, string) error {
	return hotreload.Errorf(hotreload.CodeInvalid, "--exec needs Linux")
}
