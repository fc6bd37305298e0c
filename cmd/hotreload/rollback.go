package main

import (
	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload/admin"
)

func init() { register(newRollbackCmd) }

func newRollbackCmd() *cobra.Command {
	var to uint64
	var flags *clientFlags
	cmd := &cobra.Command{
		Use:   "rollback [--to VERSION]",
		Short: "Restore a committed version through the running daemon's pipeline",
		Long: `rollback asks the running daemon (POST /api/v1/rollback) to restore every
target to its state at a committed version: with --to that version, without
it the committed version before the live one (while a change is in its
health window, the last committed version). The restore is a new
transaction, health-gated like any other, and gets a new version number; a
single config file is written back with the restored content, and a source
hotreload cannot write (etcd, several files) is pinned: status shows the
target "pinned" until the source changes. rollback waits for the outcome,
with a progress line on standard error during the health window.

Exit status: 0 when the restore committed, 1 when it was rolled back or
superseded, or the API refused it (an unknown or uncommitted version, a
missing role).`,
		Example: `  # undo the last change
  hotreload rollback

  # go back to version 12 (see hotreload history)
  hotreload rollback --to 12`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.client(cmd)
			if err != nil {
				return err
			}
			return c.transact("/api/v1/rollback", admin.RollbackRequest{Version: to})
		},
	}
	flags = addClientFlags(cmd)
	cmd.Flags().Uint64Var(&to, "to", 0, "the committed version to restore (default: the one before the active version)")
	return cmd
}
