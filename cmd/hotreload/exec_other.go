//go:build !linux

package main

import (
	"context"

	"github.com/cybercorp/hotreload"
)

// execParts is Linux-only: process supervision needs pidfds.
func execParts(context.Context, *services, string, string) ([]any, error) {
	return nil, hotreload.Errorf(hotreload.CodeInvalid, "--exec needs Linux")
}
