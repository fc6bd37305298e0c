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
		Use:   "audit verify|accept-gap",
		Short: "Check the audit log's integrity",
		Long: `audit works on the audit log of a data directory (DATA_DIR/audit.log): one
JSON line per mutation attempt, each HMAC-SHA256 chained to the one before
with the key in DATA_DIR/audit.key.`,
		Example: `  hotreload audit verify --data-dir /var/lib/hotreload
  hotreload audit accept-gap --data-dir /var/lib/hotreload --reason "alice: disk restored from backup"`,
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
	cmd.AddCommand(verify, newAcceptGapCmd())
	return cmd
}

func newAcceptGapCmd() *cobra.Command {
	var dataDir, keyFile, reason string
	cmd := &cobra.Command{
		Use:   "accept-gap --data-dir DIR --reason TEXT",
		Short: "Record that the audit log lost records at its end, so the daemon accepts mutations again",
		Long: `When the audit log does not end where its head says (acknowledged records
were deleted or cut off), the daemon starts but refuses every mutation and
/readyz answers 503. accept-gap, run with the daemon stopped, appends a signed
record that names the gap and your reason, and makes the head match again.
It never hides the gap: the record stays in the log.

Exit status: 0 when the gap was recorded, 1 when there is none or on error.`,
		Example: `  hotreload audit verify --data-dir /var/lib/hotreload
  hotreload audit accept-gap --data-dir /var/lib/hotreload --reason "alice: disk restored from backup"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := audit.AcceptGap(dataDir, keyFile, reason)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "hotreload audit accept-gap:", err)
				return exitError{1}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "gap recorded as record %d: %s\n", e.Seq, e.Reason)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "the daemon's data directory")
	cmd.Flags().StringVar(&keyFile, "key", "", "the HMAC key (default DATA_DIR/audit.key)")
	cmd.Flags().StringVar(&reason, "reason", "", "who accepts the gap and why (kept in the record)")
	_ = cmd.MarkFlagRequired("data-dir")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}
