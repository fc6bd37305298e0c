package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/cybercorp/hotreload/admin"
)

func init() { register(newDiffCmd) }

func newDiffCmd() *cobra.Command {
	var flags *clientFlags
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Show what changed between two versions",
		Long: `diff compares two recorded versions target by target
(GET /api/v1/history/A/diff/B) and prints every changed path as a JSON
Pointer: "+" added, "-" removed, "~" changed with the old and new value.
Secrets are redacted. A target whose content was not kept, or is not JSON,
shows its digests and why no paths are listed.`,
		Example: `  hotreload diff 3 4
  hotreload diff 3 7 --json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if v, err := strconv.ParseUint(a, 10, 64); err != nil || v == 0 {
					return fmt.Errorf("version %q is not a positive integer", a)
				}
			}
			c, err := flags.client(cmd)
			if err != nil {
				return err
			}
			var d admin.DiffAnswer
			raw, err := c.call("GET", "/api/v1/history/"+args[0]+"/diff/"+args[1], nil, nil, &d)
			if err != nil {
				return c.fail(err)
			}
			if flags.json {
				return c.printJSON(raw)
			}
			if len(d.Targets) == 0 {
				fmt.Fprintf(c.stdout, "versions %d and %d are the same\n", d.From, d.To)
				return nil
			}
			for _, t := range d.Targets {
				fmt.Fprintf(c.stdout, "%s: %s -> %s\n", t.Target, dash(abbrev(t.OldDigest)), dash(abbrev(t.NewDigest)))
				if t.Reason != "" {
					fmt.Fprintf(c.stdout, "  (%s)\n", t.Reason)
				}
				for _, ch := range t.Changes {
					fmt.Fprintln(c.stdout, "  "+change(ch))
				}
			}
			return nil
		},
	}
	flags = addClientFlags(cmd)
	return cmd
}
