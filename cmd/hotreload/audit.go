package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload/audit"
)

func init() { register(newAuditCmd) }

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit verify",
		Short: "Check the audit log's integrity",
		Long: `audit works on the audit log of a data directory (DATA_DIR/audit.log): one
JSON line per mutation attempt, each HMAC-SHA256 chained to the one before
with the key in DATA_DIR/audit.key.`,
		Example: `  hotreload audit verify --data-dir /var/lib/hotreload`,
	}
	var dataDir, keyFile string
	var asJSON bool
	verify := &cobra.Command{
		Use:   "verify --data-dir DIR [--key FILE]",
		Short: "Exit 0 if the audit log is intact, else name every bad line and exit 1",
		Long: `verify recomputes the HMAC chain of the audit log and compares its end with
the head record. It names every line that was edited, deleted, inserted or
reordered, and records cut off the end.

Exit status: 0 when the log is intact, 1 when it is not or cannot be read.`,
		Example: `  hotreload audit verify --data-dir /var/lib/hotreload
  hotreload audit verify --data-dir ./data --key /secure/audit.key --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := audit.VerifyDir(dataDir, keyFile)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "hotreload audit verify:", err)
				return exitError{1}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(out, string(b))
			} else {
				for _, p := range rep.Problems {
					fmt.Fprintln(out, p.String())
				}
				if rep.OK() {
					fmt.Fprintf(out, "audit log intact: %d records\n", rep.Records)
				} else {
					fmt.Fprintf(out, "audit log TAMPERED: %d problems in %d records\n", len(rep.Problems), rep.Records)
				}
			}
			if !rep.OK() {
				return exitError{1}
			}
			return nil
		},
	}
	verify.Flags().StringVar(&dataDir, "data-dir", "", "the daemon's data directory")
	verify.Flags().StringVar(&keyFile, "key", "", "the HMAC key (default DATA_DIR/audit.key)")
	verify.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	_ = verify.MarkFlagRequired("data-dir")
	cmd.AddCommand(verify)
	return cmd
}
