// Command hotreload is the daemon, the dev loop and the admin client of the
// hotreload engine. Each subcommand lives in a file of its own and registers
// itself with register.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// commands holds the constructors of every subcommand, filled by register.
var commands []func() *cobra.Command

// register adds a subcommand constructor; each subcommand file calls it from
// an init function.
func register(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

// exitError carries an exit code out of a subcommand without a message of
// its own (the subcommand already printed what went wrong).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "hotreload",
		Short: "Change a service's configuration, plugins, UI and code while it keeps serving",
		Long: `hotreload validates every change, backs it up, applies it atomically,
checks the service's health and commits it, or rolls back to the last known
good state by itself.

Start with "hotreload demo" to see it work on an embedded example.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	return root
}

func main() {
	// The first SIGINT or SIGTERM cancels the command's context: it stops
	// what it does and returns. A second one exits at once.
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "hotreload: second signal: exiting at once")
		os.Exit(130)
	}()
	err := newRootCmd().ExecuteContext(ctx)
	signal.Stop(sigs)
	cancel()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "hotreload:", err)
		os.Exit(1)
	}
}
