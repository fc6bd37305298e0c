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
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return checkPositive(cmd.Flags())
		},
	}
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	return root
}

// positive annotates the duration flags whose zero would only mean "the
// default": they must be more than zero.
const positive = "hotreload-positive"

// positiveDuration registers a duration flag that must be more than zero.
func positiveDuration(f *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	f.DurationVar(p, name, value, usage)
	_ = f.SetAnnotation(name, positive, []string{"true"})
}

// checkPositive refuses a positive-only duration flag set to zero or less,
// instead of letting zero silently mean the default.
func checkPositive(f *pflag.FlagSet) error {
	var err error
	f.VisitAll(func(fl *pflag.Flag) {
		if _, ok := fl.Annotations[positive]; !ok || err != nil {
			return
		}
		if d, _ := time.ParseDuration(fl.Value.String()); d <= 0 {
			err = fmt.Errorf("--%s %s: must be more than 0", fl.Name, fl.Value)
		}
	})
	return err
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
