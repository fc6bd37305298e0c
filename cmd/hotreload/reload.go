package main

import (
	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload/admin"
)

func init() { register(newReloadCmd) }

func newReloadCmd() *cobra.Command {
	var targets []string
	var flags *clientFlags
	cmd := &cobra.Command{
		Use:   "reload [--target NAME]...",
		Short: "Reload from the sources through the running daemon's pipeline",
		Long: `reload asks the running daemon (POST /api/v1/reload) to read its sources
again and run them through the pipeline: validate, back up, apply, health
gate, commit or roll back. It waits for the transaction to end and prints
its result: the API answers at once (202 Accepted) while the candidate is in
its health window, and reload then follows the version's history record,
with a progress line on standard error, until the outcome is known (within
--timeout).

Exit status: 0 when the reload committed or nothing changed, 1 when it was
rejected, rolled back or superseded by a newer change, or the API refused
the request.`,
		Example: `  # reload everything on the local daemon
  hotreload reload

  # reload one target of a remote daemon, as a script would
  HOTRELOAD_ADDR=10.0.0.5:7070 HOTRELOAD_TOKEN=$(cat token) hotreload reload --target config --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.client(cmd)
			if err != nil {
				return err
			}
			return c.transact("/api/v1/reload", admin.ReloadRequest{Targets: targets})
		},
	}
	flags = addClientFlags(cmd)
	cmd.Flags().StringArrayVar(&targets, "target", nil, "reload only this target (repeatable)")
	return cmd
}
